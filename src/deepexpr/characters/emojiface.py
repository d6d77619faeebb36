"""Emoji-style character frames: round icon faces acting the way emoji act (issue 12).

Real emoji do not draw fear with fear's face. Their fearful, anxious and screaming faces
have surprise's shape (raised brows, wide eyes, open mouth) and differ from surprise by
cues: a saturated blue or pale forehead or face, a big sweat drop, hands pressed to the
cheeks, raised inner brows. Disgust is a green face, a stuck-out tongue, a wrinkled nose
and a wavy mouth; joy a wide grin with teeth and closed, arched eyes. The rig's EMFACS
frames (and the wide space's coin-toss decorations) never teach a model that convention,
so this module draws it as its own style family:

- `emoji_characters(k, seed)`: icon faces ("emoji_<seed>_<i>", the wide space's icon
  look: round face filling the frame, no hair or ears, bead/round/anime eyes);
- `emoji_rig(style, expr, rig, rng)`: the frame's pose, moved toward the emoji shape of
  its class (fear takes a *surprise* pose plus raised inner brows);
- `emoji_plan(expr, rng)`: the decorations, chosen by the frame's *label*, not read from
  its action units: fear always carries at least one cue (band or whole-face tint, drop,
  hands), surprise never carries one;
- `render_emoji_dataset(...)`: a FERG-layout data set of such frames (`deepexpr data
  emoji-faces`), resumable like `characters render`.

Nothing here changes how other characters are drawn: the new decorations (band tint,
hands, tongue) are drawn only when a plan names them, and `plan_decorations` never does,
so classic and wide frames stay pixel-identical (renderer version unchanged).
Frames are deterministic: each one's choices come from (seed, character, class, N).
"""

from __future__ import annotations

import json
import time
import zlib
from pathlib import Path

import numpy as np

from deepexpr.characters.artstyles import render_wide
from deepexpr.characters.export import frame_path
from deepexpr.characters.rig import check_rig, sample_poses
from deepexpr.characters.style import CharacterStyle, random_characters
from deepexpr.characters.widespace import _backdrop, _fit_mouth, _icon
from deepexpr.errors import InputError
from deepexpr.expressions import EXPRESSIONS, canonical

# Bump when a frame of this family changes; older versions stay drawable (`version=`).
# 2: fear's brows always worried (inner corners raised and drawn together, AU4), and a
# quarter of the fear frames are "anguished" (an open frown, AU15), which may carry no cue.
EMOJI_VERSION = 2
VERSIONS = (1, 2)
_FEAR_TINTS = ((88, 136, 232), (120, 168, 240), (150, 196, 246), (172, 160, 232), (206, 214, 236),
               (110, 120, 210))
_DISGUST_TINTS = ((112, 186, 70), (140, 202, 84), (90, 160, 62), (156, 206, 96))
_ANGER_TINTS = ((232, 70, 50), (214, 52, 46), (240, 110, 70))


def emoji_characters(k: int, seed: int = 0) -> list[CharacterStyle]:
    """`k` round icon faces "emoji_<seed>_<i>", the same for the same seed.

    Each starts from the wide space's character `i` of `seed` and takes the icon look
    (`widespace._icon`, with its own seed stream), so its skin, eyes, brows and outline
    vary like the wide space's icons.
    """
    if int(k) < 1:
        raise InputError(f"emoji faces: --characters {k} must be >= 1")
    out = []
    for i, base in enumerate(random_characters(int(k), int(seed), "wide")):
        rng = np.random.default_rng([int(seed), i, 0xE0])
        data = {**base.to_dict(), **_icon(rng, base.to_dict())}
        data.update(_backdrop(rng, "icon"))
        data.update(art_style="icon", decorations=1.0, name=f"emoji_{int(seed)}_{i}")
        data.update(_fit_mouth(data))
        out.append(CharacterStyle(**data))
    return out


def emoji_rig(style, expr: str, rig: dict, rng: np.random.Generator, version: int = EMOJI_VERSION) -> dict:
    """The frame's rig moved toward the emoji shape of `expr` (a new dict).

    Args:
        style: the character (its surprise poses give fear's shape).
        expr: the frame's class.
        rig: the frame's own pose (from `sample_poses(style, expr, ...)`).
        rng: the frame's generator.
        version: the family's drawing version (see EMOJI_VERSION).
    """
    r = dict(check_rig(rig))
    u = rng.uniform
    if expr == "fear":  # surprise's wide eyes and open mouth, inner brows raised
        r = dict(check_rig(sample_poses(style, "surprise", 1, int(rng.integers(1 << 30)))[0]))
        r["AU1"] = max(r["AU1"], u(0.75, 1.0))
        r["AU4"] = u(0.0, 0.4) if u() < 0.5 else 0.0
        r["AU20"] = u(0.0, 0.4)
        r["AU25"] = max(r["AU25"], 0.8)
        if version >= 2:  # worried brows always; an anguished open frown now and then
            r["AU4"], r["AU2"] = u(0.25, 0.6), r["AU2"] * u(0.4, 0.8)
            r["AU15"] = u(0.3, 0.7) if u() < 0.25 else 0.0
    elif expr == "joy" and u() < 0.7:  # a wide grin with teeth, eyes arched shut
        r["AU12"] = max(r["AU12"], u(0.8, 1.0))
        r["AU6"] = max(r["AU6"], u(0.7, 1.0))
        r["AU25"], r["AU26"] = 1.0, max(r["AU26"], u(0.15, 0.6))
    elif expr == "disgust":  # the wrinkled nose
        r["AU9"] = max(r["AU9"], u(0.5, 1.0))
    return r


def emoji_plan(expr: str, rng: np.random.Generator, anguished: bool = False) -> dict:
    """The decorations of one emoji-style frame, by its class (`decorations.py` format,
    plus the band tint, hands and tongue only this family draws). A fear frame carries at
    least one cue (tint, sweat drop, hands) unless it is `anguished` (version 2: its open
    frown and worried brows tell it apart from surprise; half of those get no cue)."""
    u = rng.uniform
    side = 1 if u() < 0.5 else -1
    plan: dict = {}
    if expr == "fear":
        cues = u(size=3) < (0.8, 0.5, 0.35)
        if anguished and u() < 0.5:
            cues[:] = False
        elif not cues.any():
            cues[int(rng.integers(3))] = True
        if cues[0]:
            plan["tint"] = _band(rng, _FEAR_TINTS, whole=0.35, strong=0.72)
        if cues[1]:
            plan["sweat"] = {"side": side, "size": float(u(1.3, 2.0))}
        if cues[2]:
            plan["hands"] = {"size": float(u(0.85, 1.15)), "x": float(u(0.72, 0.9)),
                             "y": float(u(0.4, 0.65)), "tone": float(u(0.0, 0.2))}
        if u() < 0.15:
            plan["shadow"] = {"lines": u() < 0.6}
    elif expr == "disgust":
        if u() < 0.75:
            plan["tint"] = _band(rng, _DISGUST_TINTS, whole=0.7)
        if u() < 0.4:
            plan["tongue"] = {"length": float(u(0.1, 0.22))}
        elif u() < 0.2:
            plan["vomit"] = {"width": float(u(0.8, 1.2))}
    elif expr == "anger":
        if u() < 0.5:
            plan["tint"] = _band(rng, _ANGER_TINTS, whole=0.6)
        if u() < 0.35:
            plan["vein"] = {"side": side, "size": float(u(0.8, 1.3))}
    elif expr == "joy":
        if u() < 0.4:
            plan["blush"] = {"hatch": u() < 0.3, "strength": float(u(0.35, 0.65))}
    elif expr == "sadness":
        k = u()
        if k < 0.45:
            plan["tears"] = {"side": side, "both": u() < 0.5}
        elif k < 0.65:
            plan["stream"] = {"side": side, "both": u() < 0.6}
    elif expr == "surprise" and u() < 0.15:
        plan["blush"] = {"hatch": False, "strength": float(u(0.3, 0.5))}
    return plan


def _band(rng: np.random.Generator, shades, whole: float, strong: float = 0.55) -> dict:
    """A tint: whole face (chance `whole`) or a forehead band, sharp or soft edged; its
    colour replaces `strong`-0.95 of the skin (blue over yellow turns grey when faint)."""
    u = rng.uniform
    return {"color": shades[int(rng.integers(len(shades)))], "whole": bool(u() < whole),
            "band": float(u(-0.1, 0.15)), "edge": float(0.0 if u() < 0.5 else u(0.05, 0.3)),
            "strength": float(u(strong, 0.95))}


def render_emoji_frame(style, expr: str, n: int, seed: int, size: int = 128,
                       supersample: int = 2, version: int = EMOJI_VERSION):
    """Frame `n` (1-based) of `style` acting `expr`: (PIL RGB image, (49, 2) landmarks, rig)."""
    if version not in VERSIONS:
        raise InputError(f"emoji faces: --version {version} is not one of {', '.join(map(str, VERSIONS))}")
    expr = canonical(expr)
    key = [int(seed), zlib.crc32(style.name.encode()), EXPRESSIONS.index(expr), int(n)]
    rng = np.random.default_rng(key)
    base = sample_poses(style, expr, 1, int(rng.integers(1 << 30)))[0]
    r = emoji_rig(style, expr, base, rng, version)
    plan = emoji_plan(expr, rng, anguished=version >= 2 and r["AU15"] > 0 and expr == "fear")
    img, lm = render_wide(style, r, int(size), max(1, int(supersample)), plan=plan)
    return img, lm, r


def render_emoji_dataset(out_dir, characters: int = 40, per_expression: int = 10, size: int = 128,
                         seed: int = 0, show_progress: bool | None = None,
                         version: int = EMOJI_VERSION) -> dict:
    """Write emoji-style frames in the FERG layout (+ landmarks.csv, manifest.json).

    Args:
        out_dir: output folder (new, empty, or an earlier run of the same settings to resume).
        characters: how many emoji faces (`emoji_characters(characters, seed)`).
        per_expression: frames per character and class.
        size: image side in pixels.
        seed: seed of the faces and of every frame's choices.
        show_progress: force the progress bar on/off (default: when stderr is a terminal).
        version: the family's drawing version (1 = the frames stage 12 was trained on).

    Returns:
        The manifest dict.

    Raises:
        InputError: bad numbers, or a folder holding something else.
    """
    from deepexpr.characters.export import _make_frame_dirs, _prepare_out_dir, _write_csv
    from deepexpr.io import write_json
    from deepexpr.progress import progress

    if int(per_expression) < 1 or not 16 <= int(size) <= 2048:
        raise InputError(f"emoji faces: --per-expression {per_expression} must be >= 1 and "
                         f"--size {size} between 16 and 2048")
    styles = emoji_characters(int(characters), int(seed))
    manifest = _new_manifest(styles, int(per_expression), int(size), int(seed), int(version))
    out = Path(out_dir)
    resumed = _prepare_out_dir(out, manifest["settings"])
    write_json(out / "manifest.json", manifest)
    _make_frame_dirs(out, styles, list(EXPRESSIONS))
    total = len(styles) * len(EXPRESSIONS) * int(per_expression)
    t0 = time.perf_counter()
    bar = progress(total=total, desc="emoji faces", unit="img",
                   disable=None if show_progress is None else not show_progress)
    try:
        lines = [_write_frame(out, s, e, n, seed, size, version, bar)
                 for s in styles for e in EXPRESSIONS for n in range(1, int(per_expression) + 1)]
    finally:
        bar.close()
    _write_csv(out / "landmarks.csv", lines)
    seconds = time.perf_counter() - t0
    manifest.update(complete=True, resumed=resumed, seconds=round(seconds, 2),
                    counts={"total": total, "per_expression": {e: len(styles) * int(per_expression)
                                                                for e in EXPRESSIONS}},
                    finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    write_json(out / "manifest.json", manifest)
    return manifest


def _new_manifest(styles, per_expression: int, size: int, seed: int, version: int) -> dict:
    """The manifest of a data set before its frames are drawn ("complete": false)."""
    from deepexpr.characters.export import render_versions

    settings = json.loads(json.dumps({
        "family": "emoji", "emoji_version": version, "characters": [s.name for s in styles],
        "per_expression": per_expression, "size": size, "seed": seed,
        "expressions": list(EXPRESSIONS), "supersample": 2,
        "styles": {s.name: s.to_dict() for s in styles}}))
    return {"format": "deepexpr-characters/1", "layout": "ROOT/<char>/<char>_<expr>/<char>_<expr>_<N>.png",
            "synthetic": True, "complete": False, "settings": settings,
            "versions": {**render_versions(), "emoji": str(version)},
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _write_frame(out: Path, style, expr: str, n: int, seed: int, size: int, version: int, bar) -> str:
    """Draw frame `n` and write it unless an earlier run did; its landmarks.csv line."""
    from deepexpr.characters.export import _csv_line, _save_png, _whole_png

    rel = frame_path(style.name, expr, n)
    img, lm, r = render_emoji_frame(style, expr, n, seed, size, version=version)
    if not _whole_png(out / rel, int(size)):
        _save_png(img, out / rel, 1)
    bar.update(1)
    return _csv_line(rel, style.name, expr, lm, r)


def emoji_sheet(root, columns: int = 10, cell: int = 96):
    """Rows = the seven classes, columns = the first `columns` faces' frame 1 (PIL image)."""
    from PIL import Image, ImageDraw

    root = Path(root)
    names = json.loads((root / "manifest.json").read_text())["settings"]["characters"][:columns]
    label_w = 70
    sheet = Image.new("RGB", (label_w + len(names) * cell, len(EXPRESSIONS) * cell), "white")
    draw = ImageDraw.Draw(sheet)
    for row, e in enumerate(EXPRESSIONS):
        draw.text((4, row * cell + cell // 2 - 6), e, fill="black")
        for col, name in enumerate(names):
            path = root / frame_path(name, e, 1)
            if path.exists():
                img = Image.open(path).convert("RGB").resize((cell, cell), Image.BILINEAR)
                sheet.paste(img, (label_w + col * cell, row * cell))
    return sheet

