"""Reading photos for the face pipeline: any format PIL reads, EXIF orientation applied,
grey / RGBA / 16-bit brought to RGB uint8 (`deepexpr.models.preprocess.to_rgb_uint8`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepexpr.errors import InputError


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3), upright as its EXIF orientation says.

    Raises:
        InputError: the file is missing, a directory, or not a readable image.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    from deepexpr.models.preprocess import to_rgb_uint8

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file; pass an existing image (JPEG, PNG, ...)")
    if not path.is_file():
        raise InputError(f"{path}: not a file; pass an image file")
    try:
        with Image.open(path) as im:
            im.load()  # decode now: truncated files fail here, not later
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                return to_rgb_uint8(np.asarray(im.convert("RGBA")))  # composited on white
            return to_rgb_uint8(im)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise InputError(f"{path}: not a readable image ({type(err).__name__}: {err}); "
                         "pass a JPEG, PNG or other common image file") from err


def as_rgb(image) -> np.ndarray:
    """A path, PIL image or array (grey, RGB, RGBA, 16-bit, float) -> RGB uint8 (H, W, 3)."""
    from deepexpr.models.preprocess import to_rgb_uint8

    if isinstance(image, (str, Path)):
        return load_image(image)
    try:
        return to_rgb_uint8(image)
    except ValueError as err:
        raise InputError(f"image: {err}; pass an HxW, HxWx3 or HxWx4 image") from err
