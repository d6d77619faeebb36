"""Command inputs: files, folders and globs expanded into a list of images and videos.

    >>> from deepexpr.inputs import expand_inputs
    >>> items, errors = expand_inputs(["photos/", "clips/*.mp4", "me.jpg"])
    >>> [(i.path, i.kind) for i in items]           # kind: "image" or "video"

Folders are searched recursively, sorted, images only; a glob may match images, videos and
folders. A folder with no image or a glob matching nothing is a one-line
error in `errors`; the other inputs are still returned. A missing file is kept as an item:
its reader reports it in its place among the results. Pixel limits are `deepexpr.io`'s
(`read_image(path, max_pixels=...)`, `check_pixels` for video frames).
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp",
                            ".ppm", ".pgm", ".pbm", ".pnm", ".jfif", ".jp2", ".tga", ".ico"})
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg",
                            ".wmv", ".flv", ".3gp", ".ts", ".mts", ".m2ts", ".ogv", ".y4m",
                            # audio containers: read as videos so an audio-only file gets a clear error
                            ".mp3", ".wav", ".m4a", ".aac", ".ogg", ".flac", ".opus"})
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class InputItem:
    """One input file and how to read it."""

    path: str
    kind: str  # "image" or "video"


def is_video(path: str | os.PathLike) -> bool:
    """True when the file's suffix is a video (or audio) container read through ffmpeg."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def _item(path: str) -> InputItem:
    return InputItem(path, "video" if is_video(path) else "image")


def images_in_folder(folder: str | os.PathLike) -> list[str]:
    """Image files under a folder, recursively, sorted by path (hidden files skipped)."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [os.path.join(root, f) for f in files
                  if not f.startswith(".") and Path(f).suffix.lower() in IMAGE_SUFFIXES]
    return sorted(found)


def expand_inputs(args, videos: bool = True) -> tuple[list[InputItem], list[str]]:
    """Files, folders and globs -> (input items in order, one-line errors).

    Args:
        args: paths as given on the command line.
        videos: when False, video files are reported as errors (the command takes images only).

    Returns:
        (items without duplicates, in the order given; error messages for inputs that gave nothing)
    """
    items, errors, seen = [], [], set()

    def add(path: str):
        if path in seen:
            return
        seen.add(path)
        item = _item(path)
        if item.kind == "video" and not videos:
            errors.append(f"{path}: a video; this command takes images (extract frames first)")
        else:
            items.append(item)

    for arg in map(str, args):
        if os.path.isdir(arg):
            found = images_in_folder(arg)
            if not found:
                errors.append(f"{arg}: folder has no images ({', '.join(sorted(IMAGE_SUFFIXES)[:6])}, ...); "
                              "pass a folder of photos")
            for p in found:
                add(p)
        elif os.path.exists(arg) or not _GLOB_CHARS & set(arg):
            add(arg)  # a missing file stays an item: its reader reports it in that item's row
        else:
            matches = sorted(glob.glob(arg, recursive=True))
            files = [p for m in matches for p in (images_in_folder(m) if os.path.isdir(m) else [m])
                     if os.path.isdir(m) or Path(p).suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES]
            if not files:
                errors.append(f"{arg}: the pattern matches no image or video; check the pattern "
                              "(quote it so the shell does not expand it)")
            for p in files:
                add(p)
    return items, errors
