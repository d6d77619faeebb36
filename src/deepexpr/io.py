"""Small file helpers: the one image reader, atomic writes and the version stamp recorded in
every output."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None):
    """Yield a temporary path beside `path`; rename it onto `path` only on success.

    An interrupted run never leaves a half-written `path`. The temporary name keeps the
    final suffix (libraries pick the format from it).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = suffix if suffix is not None else "".join(path.suffixes)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | os.PathLike, obj) -> None:
    """Write `obj` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=_json_default) + "\n")


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write text atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def save_image(path: str | os.PathLike, image) -> None:
    """Save a PIL image or HxWxC uint8 array atomically (format from the suffix)."""
    import numpy as np
    from PIL import Image

    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    with atomic_path(path) as tmp:
        image.save(tmp, format=_pil_format(Path(path).suffix))


def _pil_format(suffix: str) -> str:
    return {".jpg": "JPEG", ".jpeg": "JPEG", ".gif": "GIF", ".bmp": "BMP"}.get(suffix.lower(), "PNG")


def _json_default(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def versions(dists=("numpy", "torch", "pillow", "mediapipe")) -> dict[str, str]:
    """Versions of the software that made an output (recorded in manifests and checkpoints).

    Read from package metadata, not by importing: importing torch and mediapipe costs seconds.

    Args:
        dists: the distributions to record besides deepexpr and Python.
    """
    from importlib import metadata

    from deepexpr.version import __version__

    out = {"deepexpr": __version__, "python": platform.python_version()}
    for dist in dists:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[dist] = metadata.version(dist)
    return out


def cache_dir() -> Path:
    """Where converted third-party weights and default indexes live (never in the repo).

    `$DEEPEXPR_CACHE`, else `$XDG_CACHE_HOME/deepexpr`, else `~/.cache/deepexpr`.
    """
    root = os.environ.get("DEEPEXPR_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "deepexpr"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


MAX_PIXELS = 50_000_000  # default pixel cap of `read_image` (50 MP: larger photos are refused)


def check_pixels(name, width: int, height: int, max_pixels: int | None = MAX_PIXELS) -> None:
    """The one pixel guard of images and video frames (checked from headers, before decoding).

    Raises:
        InputError: an empty frame size, or more than `max_pixels` pixels (None: no limit).
    """
    from deepexpr.errors import InputError, TooLargeError

    if width <= 0 or height <= 0:
        raise InputError(f"{name}: frame size {width}x{height} is empty; pass a valid image or video")
    if max_pixels and width * height > max_pixels:
        raise TooLargeError(f"{name}: {width}x{height} pixels is more than the {max_pixels:,}-pixel limit; "
                         "downscale it or raise --max-pixels")


def read_image(path: str | os.PathLike, max_pixels: int | None = MAX_PIXELS):
    """Read an image file as RGB uint8 (H, W, 3), upright as its EXIF orientation says.

    The one image reader of the package: any format PIL reads; grey, palette, 16-bit and
    float images brought to 8-bit RGB (`to_rgb_uint8`); transparency composited on white.

    Args:
        path: the image file.
        max_pixels: refuse images with more pixels than this (None: PIL's own
            decompression-bomb limit only).

    Returns:
        np.ndarray: (H, W, 3) uint8.

    Raises:
        InputError: the file is missing, empty, a directory, not a readable image or too
            large (`TooLargeError`; the message names the file).
    """
    from deepexpr.errors import InputError

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file; pass an existing image (JPEG, PNG, ...)")
    if not path.is_file():
        raise InputError(f"{path}: not a file; pass an image file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty image file; re-create or delete the file")
    return _decode_image(path, path, max_pixels)


def read_image_bytes(data: bytes, name: str = "image", max_pixels: int | None = MAX_PIXELS,
                     formats: list[str] | None = None):
    """`read_image` for an image held in memory (an upload, a webcam frame): same decoding,
    same pixel guard (checked from the header before decoding), same one-line errors.

    Args:
        data: the encoded image.
        name: what to call it in messages ("upload", "frame").
        max_pixels: as `read_image`.
        formats: PIL format names to accept (None: any PIL reads).

    Returns:
        np.ndarray: (H, W, 3) uint8.
    """
    import io

    from deepexpr.errors import InputError

    if not data:
        raise InputError(f"{name}: empty image; send a JPEG, PNG or other common image")
    rgb = _decode_plain_jpeg(data, name, max_pixels, formats)
    return rgb if rgb is not None else _decode_image(io.BytesIO(data), name, max_pixels, formats)


def _decode_plain_jpeg(data: bytes, name, max_pixels: int | None, formats: list[str] | None):
    """A complete RGB or grey JPEG without an EXIF rotation (webcam frames, most uploads),
    decoded by OpenCV straight into an (H, W, 3) uint8 array; None for anything else, which
    the PIL path then decodes (or refuses, with its messages).

    Why: the same pixels as the PIL path (both are libjpeg-turbo; tests/test_studio_speed.py checks),
    but ~3x faster (a 640x480 frame: ~1 ms instead of ~3), as PIL copies the image three
    times on the way to an array (EXIF transpose, convert, tobytes).
    """
    import io

    import numpy as np
    from PIL import Image

    if not data.startswith(b"\xff\xd8\xff") or not data.endswith(b"\xff\xd9") or \
            (formats is not None and "JPEG" not in formats):
        return None  # not a JPEG, or truncated / trailing bytes: PIL decides
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG"]) as im:  # the header only
            size, mode, orientation = im.size, im.mode, im.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - any header problem: the PIL path reports it
        return None
    check_pixels(name, size[0], size[1], max_pixels)
    if mode not in ("RGB", "L") or orientation not in (None, 1):
        return None
    import cv2

    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if bgr is None or bgr.shape[:2] != (size[1], size[0]):
        return None
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _decode_image(source, name, max_pixels: int | None, formats: list[str] | None = None):
    """Decode a path or file object to RGB uint8 (H, W, 3) (see `read_image`)."""
    import numpy as np
    from PIL import Image, ImageOps, UnidentifiedImageError

    from deepexpr.errors import InputError, TooLargeError

    try:
        with Image.open(source, formats=formats) as im:
            check_pixels(name, im.width, im.height, max_pixels)  # from the header, before decoding
            im.load()  # decode now: truncated files fail here, not later
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                return to_rgb_uint8(np.asarray(im.convert("RGBA")))  # composited on white
            return to_rgb_uint8(im)
    except Image.DecompressionBombError as err:
        raise TooLargeError(f"{name}: too many pixels ({err}); pass a smaller image") from err
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise InputError(f"{name}: not a readable image ({type(err).__name__}: {err}); "
                         "pass a JPEG, PNG or other common image file") from err


def as_rgb(image):
    """A path, PIL image or array (grey, RGB, RGBA, 16-bit, float) -> RGB uint8 (H, W, 3).

    Raises:
        InputError: an unreadable file or an array of another shape.
    """
    from deepexpr.errors import InputError

    if isinstance(image, (str, os.PathLike)):
        return read_image(image)
    try:
        return to_rgb_uint8(image)
    except ValueError as err:
        raise InputError(f"image: {err}; pass an HxW, HxWx3 or HxWx4 image") from err


def to_rgb_uint8(image):
    """Any image (PIL, grey HxW, RGBA, 16-bit, float in [0,1]) -> RGB uint8 HxWx3.

    Raises:
        ValueError: an array that is not HxW, HxWx1, HxWx3 or HxWx4.
    """
    import numpy as np
    from PIL import Image

    if isinstance(image, Image.Image):
        if image.mode in ("I;16", "I;16B", "I"):
            arr = np.asarray(image, dtype=np.float64)
            arr = arr / max(arr.max(), 1.0) * 255.0
            image = Image.fromarray(arr.astype(np.uint8))
        image = np.asarray(image.convert("RGB"))
    arr = np.asarray(image)
    if arr.dtype == np.uint16:
        arr = (arr / 257.0).round().astype(np.uint8)
    elif arr.dtype.kind == "f":
        arr = (np.clip(arr, 0.0, 1.0) * 255.0).round().astype(np.uint8)
    elif arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        alpha = arr[:, :, 3:4].astype(np.float32) / 255.0  # composite on white
        arr = (arr[:, :, :3] * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)
    elif arr.ndim == 3 and arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"expected an HxW, HxWx3 or HxWx4 image, got shape {arr.shape}")
    return np.ascontiguousarray(arr)
