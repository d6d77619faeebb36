"""Inputs: files, folders and globs expanded; io's max-pixels guard (header only, incl. decompression bombs)."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from deepexpr.errors import InputError
from deepexpr.inputs import expand_inputs
from deepexpr.io import check_pixels, read_image


def _png_header_only(path, width: int, height: int) -> None:
    """A PNG that declares width x height but holds almost no data (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
                     + chunk(b"IEND", b""))


def test_expand_folders_globs_and_videos(tmp_path):
    (tmp_path / "a" / "deep").mkdir(parents=True)
    for name in ("a/2.png", "a/deep/1.jpg", "a/notes.txt", "a/.hidden.png", "b.png"):
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / name, format="PNG")
    (tmp_path / "clip.mp4").write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    items, errors = expand_inputs([tmp_path / "a", str(tmp_path / "*.png"), tmp_path / "clip.mp4",
                                   tmp_path / "empty", str(tmp_path / "*.nothing"), tmp_path / "missing.jpg",
                                   tmp_path / "b.png"])
    paths = [i.path[len(str(tmp_path)) + 1:] for i in items]
    # folder: recursive, sorted, images only, hidden skipped; duplicates dropped; order kept
    assert paths == ["a/2.png", "a/deep/1.jpg", "b.png", "clip.mp4", "missing.jpg"]  # missing: its reader says so
    assert [i.kind for i in items] == ["image", "image", "image", "video", "image"]
    assert len(errors) == 2
    assert "folder has no images" in errors[0] and "matches no image" in errors[1]
    _, errors = expand_inputs([tmp_path / "clip.mp4"], videos=False)
    assert "a video" in errors[0]


def test_max_pixels_guard_and_bomb(tmp_path):
    _png_header_only(tmp_path / "big.png", 10_000, 6_000)  # 60 MP declared, tiny file
    with pytest.raises(InputError, match="10000x6000 pixels is more than the 50,000,000-pixel limit"):
        read_image(tmp_path / "big.png", max_pixels=50_000_000)  # refused from the header, nothing decoded
    with pytest.raises(InputError, match="not a readable image"):  # allowed: decoding the fake data fails
        read_image(tmp_path / "big.png", max_pixels=100_000_000)
    _png_header_only(tmp_path / "bomb.png", 40_000, 40_000)  # 1.6 GP: PIL calls it a bomb
    with pytest.raises(InputError, match="too many pixels|pixel limit"):
        read_image(tmp_path / "bomb.png", max_pixels=None)
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(InputError, match="not a readable image"):
        read_image(tmp_path / "bad.png")
    with pytest.raises(InputError, match="frame: 0x4 is empty|frame size 0x4 is empty"):
        check_pixels("frame", 0, 4)
    check_pixels("frame", 100, 100, max_pixels=10_000)  # exactly at the limit is allowed
    with pytest.raises(InputError, match="--max-pixels"):
        check_pixels("frame", 101, 100, max_pixels=10_000)


def test_recognize_batch_goes_on_past_an_oversized_file(tmp_path, capsys):
    from deepexpr.cli import main

    _png_header_only(tmp_path / "big.png", 9_000, 9_000)
    Image.fromarray(np.full((40, 40, 3), 200, np.uint8)).save(tmp_path / "ok.png")
    code = main(["recognize", str(tmp_path), "--domain", "character", "--format", "csv",
                 "--max-pixels", "1000000"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "big.png: 9000x9000" in err and "pixel limit" in err and len(err.strip().splitlines()) == 1
    assert any(line.startswith(str(tmp_path / "ok.png")) and ",," not in line.split(",")[5] for line in out.splitlines())
