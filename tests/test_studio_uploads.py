"""Untrusted upload bytes -> images (no models): sniffing, caps, modes, EXIF."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from deepexpr.studio.live import RateLimit
from deepexpr.studio.uploads import StudioError, decode_image, sniff_format


def _bytes(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "BMP", "WEBP"])
def test_formats_are_sniffed_and_decoded_to_rgb(fmt):
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[:, :15] = (200, 40, 40)
    data = _bytes(Image.fromarray(rgb), fmt)
    assert sniff_format(data) == fmt
    out = decode_image(data, 10_000)
    assert out.shape == (20, 30, 3) and out.dtype == np.uint8
    assert out[10, 5, 0] > 150 and out[10, 25, 0] < 60


def test_modes_and_exif_orientation():
    grey16 = Image.fromarray(np.full((8, 12), 40000, np.uint16))
    assert decode_image(_bytes(grey16, "PNG"), 1000).shape == (8, 12, 3)
    rgba = Image.fromarray(np.zeros((8, 12, 4), np.uint8))  # fully transparent: composited on white
    assert decode_image(_bytes(rgba, "PNG"), 1000).min() == 255
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    wide = Image.fromarray(np.zeros((10, 40, 3), np.uint8))
    assert decode_image(_bytes(wide, "JPEG", exif=exif), 1000).shape == (40, 10, 3)


@pytest.mark.parametrize(("data", "status"), [
    (b"", 422), (b"%PDF-1.4 not an image", 422), (b"\x89PNG\r\n\x1a\n\x00\x00", 422), (b"GIF89a", 422),
])
def test_bad_bytes(data, status):
    with pytest.raises(StudioError) as err:
        decode_image(data, 1000)
    assert err.value.status == status


def test_pixel_cap_is_checked_before_decoding():
    data = _bytes(Image.new("1", (5000, 4000)), "PNG")  # 20 MP in a few kB
    with pytest.raises(StudioError) as err:
        decode_image(data, 1_000_000)
    assert err.value.status == 413 and "5000x4000" in err.value.message


def test_rate_limit_refuses_bursts_then_refills(monkeypatch):
    now = [100.0]
    monkeypatch.setattr("deepexpr.studio.live.time.monotonic", lambda: now[0])
    limit = RateLimit(3)
    assert [limit.allow() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.4  # 1.2 tokens back
    assert limit.allow() and not limit.allow()


def _raw(fmt: str, pixels: np.ndarray, w: int, h: int) -> bytes:
    return b"DXRF" + fmt.encode() + w.to_bytes(2, "little") + h.to_bytes(2, "little") + pixels.tobytes()


def test_raw_camera_frames_decode_to_the_camera_picture_and_bad_ones_are_refused(astronaut):
    import cv2

    from deepexpr.studio.uploads import decode_frame

    rgb = cv2.resize(astronaut, (64, 48), interpolation=cv2.INTER_AREA)  # a real picture (4:2:0 keeps its colours)
    i420 = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
    got = decode_frame(_raw("I420", i420, 64, 48), 10_000)
    assert got.shape == (48, 64, 3) and np.abs(got.astype(int) - rgb).mean() < 6  # 4:2:0 blurs the colours a little
    rgba = np.dstack([rgb, np.full((48, 64), 255, np.uint8)])
    np.testing.assert_array_equal(decode_frame(_raw("RGBA", rgba, 64, 48), 10_000), rgb)
    np.testing.assert_array_equal(decode_frame(_raw("BGRX", rgba[..., [2, 1, 0, 3]].copy(), 64, 48), 10_000), rgb)
    assert decode_frame(_bytes(Image.fromarray(rgb), "PNG"), 10_000).shape == (48, 64, 3)  # encoded frames too
    for bad, status in ((_raw("I420", i420[:-1], 64, 48), 422),  # a byte short
                        (_raw("YUYV", i420, 64, 48), 422),  # a format the server does not take
                        (_raw("I420", i420, 64, 48)[:10], 422),  # header cut short
                        (_raw("I420", np.zeros(63 * 48 * 3 // 2, np.uint8), 63, 48), 422),  # odd 4:2:0 side
                        (_raw("RGBA", rgba, 64, 48), 413)):  # over the pixel cap
        with pytest.raises(StudioError) as err:
            decode_frame(bad, 10_000 if status == 422 else 64 * 48 - 1)
        assert err.value.status == status
