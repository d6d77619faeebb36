"""Small file helpers: atomic writes and version stamps recorded in every output."""

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


def versions() -> dict[str, str]:
    """Versions of the software that made an output (recorded in manifests and checkpoints).

    Read from package metadata, not by importing: importing torch and mediapipe costs seconds.
    """
    from importlib import metadata

    out = {"deepexpr": _own_version(), "python": platform.python_version()}
    for dist in ("numpy", "torch", "pillow", "mediapipe"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[dist] = metadata.version(dist)
    return out


def _own_version() -> str:
    from deepexpr import __version__

    return __version__


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
