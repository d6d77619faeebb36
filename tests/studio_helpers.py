"""Shared pieces of the studio tests: test-sized engine settings, real face frames, a y4m."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

# A small retrieval index (3 characters x 7 expressions x 4 frames), cached like the default one.
SMALL_INDEX = {"index_characters": "pip,mika,zorp", "index_per_expression": 4, "index_size": 96}


def astronaut() -> np.ndarray:
    """skimage's astronaut: a real, smiling face (512, 512, 3) uint8."""
    from skimage import data

    return data.astronaut()


def encode(image: np.ndarray, fmt: str = "JPEG") -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=fmt)
    return buf.getvalue()


def webcam_frames(count: int = 30, width: int = 640, height: int = 480) -> list[np.ndarray]:
    """640x480 frames of the astronaut's face drifting a few pixels (a fake webcam)."""
    from PIL import Image

    face = np.asarray(Image.fromarray(astronaut()).resize((400, 400)))
    frames = []
    for t in range(count):
        canvas = np.full((height, width, 3), 200, np.uint8)
        dx, dy = int(60 + 20 * np.sin(t / 5)), int(30 + 10 * np.cos(t / 7))
        canvas[dy:dy + 400, dx:dx + 400] = face
        frames.append(canvas)
    return frames


def write_y4m(path: Path, frames: list[np.ndarray], fps: int = 15) -> Path:
    """Frames as a YUV4MPEG2 file (4:2:0), what Chromium's fake camera reads."""
    import cv2

    h, w = frames[0].shape[:2]
    with open(path, "wb") as fh:
        fh.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            fh.write(b"FRAME\n")
            fh.write(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())  # Y, then U, then V planes
    return path
