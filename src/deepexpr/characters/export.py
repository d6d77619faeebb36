"""Write a labelled character data set in the FERG-DB layout.

    DIR/<char>/<char>_<expr>/<char>_<expr>_<N>.png      N = 1, 2, ...
    DIR/landmarks.csv     path, character, expression, x0, y0, ..., x48, y48, rig controls
    DIR/manifest.json     versions, seed, settings (incl. every character's style), counts

Safety: every PNG is written to a temporary name and renamed; `manifest.json` is written
first with "complete": false and rewritten at the end. A re-run with the same settings
resumes (existing images are kept, their landmarks recomputed exactly from the rig); a
re-run with different settings, or a non-empty folder without a manifest, is refused.
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing as mp
import os
import struct
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepexpr.characters.render import face_landmarks, render_face_pil
from deepexpr.characters.rig import RIG_CONTROLS, sample_poses
from deepexpr.characters.style import CharacterStyle, resolve_characters
from deepexpr.errors import InputError
from deepexpr.expressions import EXPRESSIONS, canonical

# Bump when the drawing or the rig changes what a frame looks like. v6 added the wide style
# space (art_style != "classic"); classic frames are pixel-identical to v5. v7 (issue 12,
# session 5) changed wide frames only: fear/disgust tints, vomit, no green/blue icon skins.
# v8 (issue 17, session 6) changed stand-in humans only (AU6/16/17/23/24 drawn as FACS
# describes them); every other family is pixel-identical to v7.
RENDERER_VERSION = 8
CHUNK = 64  # frames per worker task
COORD_COLUMNS = [f"{a}{i}" for i in range(49) for a in ("x", "y")]


@dataclass
class ExportSettings:
    """What defines a data set: the same settings always give the same images."""

    characters: list[str]  # character names, in order
    per_expression: int  # frames per character and expression
    size: int  # image width/height in pixels
    seed: int  # seed of frame sampling (and of random:K characters)
    expressions: list[str]  # expression names, FERG order
    supersample: int = 2  # drawing scale before the box-filter reduction
    renderer: int = RENDERER_VERSION  # renderer version


def render_versions() -> dict[str, str]:
    """Versions of what draws the images: `deepexpr.io.versions` of NumPy and Pillow, plus the
    renderer's (importing torch or mediapipe just to stamp a manifest would cost seconds)."""
    from deepexpr.io import versions

    return {**versions(("numpy", "pillow")), "renderer": str(RENDERER_VERSION)}


def frame_path(char: str, expr: str, n: int) -> str:
    """Relative path of frame `n` (1-based) in the FERG-DB layout."""
    return f"{char}/{char}_{expr}/{char}_{expr}_{n}.png"


def _check_out_dir(out: Path, settings: dict) -> bool:
    """Return True to resume; raise InputError when `out` holds something else."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder; choose another --out")
    manifest = out / "manifest.json"
    if manifest.exists():
        try:
            old = json.loads(manifest.read_text())
        except ValueError:
            raise InputError(f"{manifest}: unreadable manifest; delete the folder or use a new --out") from None
        if old.get("settings") != settings:
            diff = sorted(k for k in set(old.get("settings", {})) | set(settings)
                          if old.get("settings", {}).get(k) != settings.get(k))
            raise InputError(
                f"{out}: holds a different data set (settings differ: {', '.join(diff)}); "
                "use a new --out folder or delete this one (never mixed)"
            )
        return True
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out}: folder is not empty and has no manifest.json; "
                         "use an empty or new --out folder")
    return False


def encode_png(img, compress_level: int = 1) -> bytes:
    """An 8-bit RGB PNG with every row unfiltered (filter type 0) and one zlib stream.

    Why not `Image.save`: PIL tries all five PNG row filters on every row (adaptive
    filtering), ~0.9 ms of a 128 px frame. Flat-colour cartoon frames compress best
    unfiltered anyway: at zlib level 1 this is ~5x faster and the files ~30% smaller.
    The pixels are the same; any PNG reader opens the file.

    Args:
        img: PIL RGB image or uint8 (H, W, 3) array.
        compress_level: zlib level 0-9.
    """
    rgb = np.asarray(img, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"encode_png: expected (H, W, 3) RGB, got shape {rgb.shape}")
    h, w = rgb.shape[:2]
    raw = np.zeros((h, 3 * w + 1), dtype=np.uint8)  # column 0: the row's filter byte (0)
    raw[:, 1:] = rgb.reshape(h, 3 * w)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8 bit, RGB, deflate, no interlace
    return b"".join([_PNG_SIGNATURE, _png_chunk(b"IHDR", ihdr),
                     _png_chunk(b"IDAT", zlib.compress(raw.tobytes(), int(compress_level))),
                     _png_chunk(b"IEND", b"")])


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def _save_png(img, path: Path, compress_level: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(encode_png(img, compress_level))
    os.replace(tmp, path)


def _render_chunk(task) -> list[tuple[str, str, int, str]]:
    """Worker: render frames [start, stop) of one (character, expression) and write them.

    The task carries those frames' rigs (sampled once per character and expression by
    the parent, not once per worker). Returns (character, expression, N, CSV line) per
    frame: the lines are formatted here, in the workers, so the parent only sorts and
    joins them.
    """
    style_dict, expr, start, rigs, root, size, ss, level = task
    style = CharacterStyle.from_dict(style_dict)
    rows = []
    for i, rig in enumerate(rigs, start):
        rel = frame_path(style.name, expr, i + 1)
        path = Path(root) / rel
        if _whole_png(path, size):
            lm = face_landmarks(style, rig, size, supersample=ss)
        else:
            img, lm = render_face_pil(style, rig, size, ss)
            _save_png(img, path, level)
        rows.append((style.name, expr, i + 1, _csv_line(rel, style.name, expr, lm, rig)))
    return rows


def _tasks(styles: list[CharacterStyle], exprs: list[str], cfg: ExportSettings, root: Path,
           compress_level: int):
    """Chunks of CHUNK frames, generated lazily (a pool draws them while workers render)."""
    for s in styles:
        style_dict = s.to_dict()
        for e in exprs:
            poses = sample_poses(s, e, cfg.per_expression, cfg.seed)
            for start in range(0, cfg.per_expression, CHUNK):
                yield (style_dict, e, start, poses[start:start + CHUNK], str(root), cfg.size,
                       cfg.supersample, compress_level)


def _whole_png(path: Path, size: int) -> bool:
    """A frame an earlier run finished: it decodes completely at the set's size (a truncated
    or damaged PNG from a kill or a full disk is rendered again, never kept)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            if im.size != (size, size) or im.format != "PNG":
                return False
            im.load()
        return True
    except (OSError, ValueError, SyntaxError):
        return False


# One %-format per row (names are folder-safe, so no CSV quoting is needed).
_CSV_FORMAT = "%s,%s,%s," + ",".join(["%.3f"] * 98 + ["%.4f"] * len(RIG_CONTROLS)) + "\n"


def _csv_line(rel: str, char: str, expr: str, lm: np.ndarray, rig: dict) -> str:
    return _CSV_FORMAT % (rel, char, expr, *np.asarray(lm, dtype=float).ravel().tolist(),
                          *[rig[c] for c in RIG_CONTROLS])


def _write_csv(path: Path, lines: list[str]) -> None:
    from deepexpr.io import write_text

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(
        ["path", "character", "expression", *COORD_COLUMNS, *RIG_CONTROLS])
    buf.write("".join(lines))
    write_text(path, buf.getvalue())


def render_dataset(out_dir, characters="all", per_expression: int = 100, size: int = 256,
                   seed: int = 0, workers: int = 1, expressions=None, supersample: int = 2,
                   compress_level: int = 1, show_progress: bool | None = None, space: str = "classic") -> dict:
    """Render a FERG-layout data set of labelled character frames.

    Args:
        out_dir: output folder (created; must be empty, new, or a resumable earlier run).
        characters: "all" (built-ins), "random:K", "a,b", or a list of names / JSON paths /
            CharacterStyle objects.
        per_expression: frames per character and expression (N = 1..per_expression).
        size: image size in pixels.
        seed: seed of the frame sampling and of random:K characters.
        workers: processes (1 = in this process).
        expressions: subset of expressions (default all seven).
        supersample: drawing scale before the box-filter reduction.
        compress_level: PNG zlib level (1 = fast; see `encode_png`).
        show_progress: force the progress bar on/off (default: when stderr is a terminal).
        space: style space of random:K characters: classic or wide (`characters.widespace`).

    Returns:
        The manifest dict (also written to out_dir/manifest.json).

    Raises:
        InputError: unknown characters or expressions, bad numbers, a folder holding a
            different data set.
    """
    from deepexpr.io import write_json

    styles, exprs = _check_arguments(characters, per_expression, size, seed, workers, expressions, space)
    out = Path(out_dir)
    cfg = ExportSettings([s.name for s in styles], int(per_expression), int(size), int(seed),
                         exprs, int(supersample))
    settings = {**cfg.__dict__, "styles": {s.name: s.to_dict() for s in styles}}
    settings = json.loads(json.dumps(settings))
    resumed = _prepare_out_dir(out, settings)
    manifest = {"format": "deepexpr-characters/1",
                "layout": "ROOT/<char>/<char>_<expr>/<char>_<expr>_<N>.png",
                "synthetic": True, "complete": False, "settings": settings,
                "versions": render_versions(), "started": _now()}
    write_json(out / "manifest.json", manifest)  # first: a non-empty folder needs a manifest
    _make_frame_dirs(out, styles, exprs)
    total = len(styles) * len(exprs) * cfg.per_expression
    t0 = time.perf_counter()
    rows = _render_all(_tasks(styles, exprs, cfg, out, int(compress_level)), total, int(workers),
                       show_progress)
    seconds = time.perf_counter() - t0
    order = {n: i for i, n in enumerate(cfg.characters)}
    eorder = {e: i for i, e in enumerate(exprs)}
    rows.sort(key=lambda r: (order[r[0]], eorder[r[1]], r[2]))
    _write_csv(out / "landmarks.csv", [r[3] for r in rows])
    manifest.update({
        "complete": True, "resumed": resumed, "seconds": round(seconds, 2),
        "images_per_second": round(total / max(seconds, 1e-9), 1),
        "counts": {"total": total, "per_character": {s.name: len(exprs) * cfg.per_expression
                                                      for s in styles},
                   "per_expression": {e: len(styles) * cfg.per_expression for e in exprs}},
        "finished": _now(),
    })
    write_json(out / "manifest.json", manifest)
    return manifest


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _check_arguments(characters, per_expression, size, seed, workers,
                     expressions, space: str = "classic") -> tuple[list[CharacterStyle], list[str]]:
    """The styles and canonical expression names of a `render_dataset` call, or InputError."""
    if int(per_expression) < 1:
        raise InputError(f"--per-expression {per_expression}: must be >= 1")
    if not 16 <= int(size) <= 2048:
        raise InputError(f"--size {size}: must be between 16 and 2048 pixels")
    if int(workers) < 1:
        raise InputError(f"--workers {workers}: must be >= 1")
    styles = resolve_characters(characters, seed, space)
    try:
        exprs = [canonical(e) for e in (expressions or EXPRESSIONS)]
    except ValueError as err:
        raise InputError(str(err)) from None
    return styles, exprs


def _prepare_out_dir(out: Path, settings: dict) -> bool:
    """Check `out` (see `_check_out_dir`), create it, drop stale temporary files of an
    interrupted run; True when resuming."""
    resumed = _check_out_dir(out, settings)
    out.mkdir(parents=True, exist_ok=True)
    if resumed:  # temporary files of an interrupted run are never valid frames
        for stale in out.glob("*/*/.*.png.tmp"):
            stale.unlink(missing_ok=True)
    return resumed


def _make_frame_dirs(out: Path, styles: list[CharacterStyle], exprs: list[str]) -> None:
    for s in styles:
        for e in exprs:
            (out / s.name / f"{s.name}_{e}").mkdir(parents=True, exist_ok=True)


def _render_all(tasks, total: int, workers: int, show_progress: bool | None) -> list[tuple]:
    """Run `_render_chunk` over `tasks` (in this process or a pool of `workers`); the rows
    of all frames, in completion order."""
    from deepexpr.progress import progress

    rows: list[tuple] = []
    bar = progress(total=total, desc="rendering", unit="img", disable=None if show_progress is None
                   else not show_progress)
    try:
        if workers == 1:
            for task in tasks:
                got = _render_chunk(task)
                rows += got
                bar.update(len(got))
        else:
            ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
            with ctx.Pool(workers) as pool:
                for got in pool.imap_unordered(_render_chunk, tasks):
                    rows += got
                    bar.update(len(got))
    finally:
        bar.close()
    return rows
