"""Untrusted image bytes -> RGB arrays, with the studio's limits.

The format is sniffed from the bytes (magic numbers), never taken from the file name or the
client's content type, and only that format's decoder is tried. Decoding is the project's
one image reader on bytes (`deepexpr.io.read_image_bytes`: the pixel cap checked from the
header before decoding, so a decompression bomb costs nothing; EXIF orientation; grey /
RGBA / 16-bit to RGB uint8). Its errors become 413 (too many pixels) or 422 (anything else).

    >>> rgb = decode_image(data, max_pixels=40_000_000)   # (H, W, 3) uint8 or StudioError
"""

from __future__ import annotations

import io

import numpy as np

# Magic numbers of the formats the studio accepts (sniffed, not trusted from names).
_MAGIC = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
)


class StudioError(Exception):
    """A client error with an HTTP status and a one-line message (sent as JSON)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = int(status)
        self.message = message


def sniff_format(data: bytes) -> str | None:
    """The image format of `data` from its first bytes ("JPEG", "PNG", "WEBP", ...), or None."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def decode_image(data: bytes, max_pixels: int, what: str = "image") -> np.ndarray:
    """Decode uploaded bytes into RGB uint8 (H, W, 3).

    Args:
        data: the raw bytes as received.
        max_pixels: width x height above which the image is refused before decoding.
        what: name used in messages ("image", "frame").

    Raises:
        StudioError: 422 for empty, non-image or broken data; 413 when over `max_pixels`.
    """
    from deepexpr.errors import InputError, TooLargeError
    from deepexpr.io import read_image_bytes

    if not data:
        raise StudioError(422, f"{what}: empty upload; send a JPEG, PNG, GIF, BMP or WebP image")
    fmt = sniff_format(data)
    if fmt is None:
        raise StudioError(422, f"{what}: not an image (unrecognised content); send a JPEG, PNG, GIF, BMP or WebP image")
    try:
        return read_image_bytes(data, what, max_pixels, formats=[fmt])
    except TooLargeError as err:
        raise StudioError(413, f"{err}") from err
    except InputError as err:
        raise StudioError(422, f"{err}") from err


RAW_MAGIC = b"DXRF"  # a raw live frame: magic, format (4 ASCII), width, height (uint16 LE), pixels
RAW_HEADER = 12
REGION_MAGIC = b"DXRC"  # a region of a raw live frame (`decode_live_frame`)
REGION_HEADER = 20
OVERVIEW_MAGIC = b"DXRO"  # a region + the whole frame at half size (`decode_live_frame`)
# bytes per frame of each raw format (w, h even for the 4:2:0 ones) and its OpenCV conversion to RGB
_RAW = {"I420": (lambda w, h: w * h * 3 // 2, "COLOR_YUV2RGB_I420"),
        "NV12": (lambda w, h: w * h * 3 // 2, "COLOR_YUV2RGB_NV12"),
        "RGBA": (lambda w, h: w * h * 4, "COLOR_RGBA2RGB"), "RGBX": (lambda w, h: w * h * 4, "COLOR_RGBA2RGB"),
        "BGRA": (lambda w, h: w * h * 4, "COLOR_BGRA2RGB"), "BGRX": (lambda w, h: w * h * 4, "COLOR_BGRA2RGB")}


def decode_frame(data: bytes, max_pixels: int) -> np.ndarray:
    """A live frame: an encoded image (`decode_image`) or a raw camera frame, (H, W, 3) uint8 RGB.

    A raw frame is `RAW_MAGIC`, the pixel format ("I420", "NV12", "RGBA", "RGBX", "BGRA",
    "BGRX": a browser `VideoFrame`'s format), width and height (uint16 little-endian), then the
    tightly packed pixels (`VideoFrame.copyTo`). On loopback it costs both sides less than a
    JPEG: no encoding in the page, ~0.3 ms to convert here instead of ~1.4 ms to decode.

    Raises:
        StudioError: 422 for a malformed raw frame, 413 over `max_pixels`; see `decode_image`.
    """
    return decode_live_frame(data, max_pixels)[0]


def decode_live_frame(data: bytes, max_pixels: int) -> tuple[np.ndarray, list[int] | None]:
    """A live frame as `decode_frame`, or a region of one: (RGB (H, W, 3) uint8 of the whole
    frame's size, the region [x, y, w, h] its own pixels cover or None for a whole frame).

    A region frame is `REGION_MAGIC`, the pixel format, the whole frame's width and height,
    then the region's x, y, width and height (all uint16 little-endian), then the region's
    tightly packed pixels (`VideoFrame.copyTo(buffer, {rect})`; x, y, w, h even for the 4:2:0
    formats). Outside the region the picture is black: the server asks for a region that holds
    every pixel the next frame's face crops read (`deepexpr.studio.liveregion`). With
    `OVERVIEW_MAGIC` the region is followed by the whole frame at half size (same format,
    width and height halved, a multiple of 4 for 4:2:0): outside the region the picture is
    that overview scaled up (what the periodic face detector searches; it reads the frame at
    192 px anyway).

    Raises:
        StudioError: 422 for a malformed frame or a region outside the frame, 413 over `max_pixels`.
    """
    if not data.startswith((RAW_MAGIC, REGION_MAGIC, OVERVIEW_MAGIC)):
        return decode_image(data, max_pixels, what="frame"), None
    region, overview = not data.startswith(RAW_MAGIC), data.startswith(OVERVIEW_MAGIC)
    head = REGION_HEADER if region else RAW_HEADER
    if len(data) < head:
        raise StudioError(422, "raw frame: header cut short; send DXRF, format, width, height, pixels")
    fmt = data[4:8].decode("ascii", "replace")
    numbers = [int.from_bytes(data[k:k + 2], "little") for k in range(8, head, 2)]
    w, h = numbers[:2]
    x, y, rw, rh = numbers[2:] if region else (0, 0, w, h)
    if fmt not in _RAW:
        raise StudioError(422, f"raw frame: format {fmt!r} not accepted; use one of {', '.join(_RAW)} or JPEG")
    if w * h > max_pixels:
        raise StudioError(413, f"raw frame: {w}x{h} is over the {max_pixels:,}-pixel limit; send a smaller frame")
    yuv = fmt in ("I420", "NV12")
    if region and (x + rw > w or y + rh > h or (yuv and (x % 2 or y % 2))):
        raise StudioError(422, f"region frame: {rw}x{rh} at ({x}, {y}) is not inside the {w}x{h} frame "
                               "(4:2:0 formats need even corners)")
    end = len(data)
    if overview:  # the half-size whole frame after the region's pixels
        end -= _RAW[fmt][0](w // 2, h // 2)
        if end < head or w % 4 or h % 4:
            raise StudioError(422, f"overview frame: {len(data) - head} bytes do not make a {rw}x{rh} region and a "
                                   f"{w // 2}x{h // 2} overview (sides a multiple of 4)")
    rgb = _raw_rgb(data[:end] if overview else data, head, fmt, rw, rh)
    if not region:
        return rgb, None
    if overview:
        import cv2

        whole = cv2.resize(_raw_rgb(data, end, fmt, w // 2, h // 2), (w, h), interpolation=cv2.INTER_LINEAR)
    else:
        whole = np.zeros((h, w, 3), np.uint8)
    whole[y:y + rh, x:x + rw] = rgb
    return whole, [x, y, rw, rh]


def _raw_rgb(data: bytes, head: int, fmt: str, w: int, h: int) -> np.ndarray:
    """The (h, w, 3) RGB of a raw frame's pixels (after `head` header bytes), checked."""
    import cv2

    size, conversion = _RAW[fmt]
    yuv = fmt in ("I420", "NV12")
    if w < 2 or h < 2 or (yuv and (w % 2 or h % 2)) or len(data) - head != size(w, h):
        raise StudioError(422, f"raw frame: {len(data) - head} bytes do not make a {w}x{h} {fmt} frame "
                               "(4:2:0 formats need even sides)")
    pixels = np.frombuffer(data, np.uint8, offset=head)
    return cv2.cvtColor(pixels.reshape(h * 3 // 2, w) if yuv else pixels.reshape(h, w, 4), getattr(cv2, conversion))


def encode_image(image: np.ndarray, fmt: str = "PNG", quality: int = 85) -> bytes:
    """RGB uint8 (H, W, 3) -> PNG or JPEG bytes (JPEG: OpenCV's libjpeg-turbo, the same
    bytes as PIL's with its defaults at ~2/3 of the CPU: the live puppet's encoding)."""
    from PIL import Image

    if fmt == "JPEG" and image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8:
        import cv2

        bgr = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR)
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        if ok:
            return data.tobytes()
    buf = io.BytesIO()
    kwargs = {"quality": quality} if fmt == "JPEG" else {"compress_level": 1}
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def data_url(image: np.ndarray, fmt: str = "PNG", quality: int = 85) -> str:
    """RGB uint8 image as a `data:` URL (small images sent inside JSON)."""
    return bytes_data_url(encode_image(image, fmt, quality), "image/jpeg" if fmt == "JPEG" else "image/png")


def bytes_data_url(data: bytes, mime: str) -> str:
    """Encoded bytes as a `data:` URL."""
    import base64

    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")
