"""The wide style space: the choices and how a wide character is sampled.

The classic space (`random_characters(k, seed)`) draws one renderer's idea of a face. The
wide space (`random_characters(k, seed, space="wide")`, names "wide_<seed>_<i>") moves
toward what artist-drawn faces have: round icon faces that fill the frame (no hair, ears or
neck), thick-outline flat art, line art, manga (screentone, hatching), soft 3D shading,
chibi proportions and pixel art; expression decorations (tears, sweat, anger veins, blush,
face tint, shadow over the eyes; see `decorations.py`); framings and backgrounds. Since
renderer v7 a wide face is never green or blue by itself (`_cue_coloured`): those colours
are the decorations' tints for disgust and fear, as in real emoji.

A wide character starts from a classic random character (its own seed stream) and this
module overrides what its art style changes (`wide_overrides`). This module imports no other
part of the package, so `style.py` can build on it without an import cycle.
"""

from __future__ import annotations

import numpy as np

# "classic" (the default) is the classic renderer, pixel for pixel; the others go through
# `artstyles.render_wide`.
ART_STYLES = ("classic", "cel", "icon", "flat", "lineart", "manga", "soft3d", "pixel")
FRAMINGS = ("classic", "fill", "shoulders", "offcentre")
BACKDROPS = ("flat", "gradient", "noise", "pattern")
WIDE_EYE_STYLES = ("bead",)  # eyes as dots or lines: brows and mouth carry the expression
WIDE_MOUTH_STYLES = ("icon",)  # open "D" and square mouths, thick lines, teeth and tongue
WIDE_SHADINGS = ("gradient",)  # smooth radial shading (soft 3D, glossy icons)
STYLE_SPACES = ("classic", "wide")

# Art style weights of the wide space.
_ART_WEIGHTS = {"cel": 0.1, "icon": 0.22, "flat": 0.16, "lineart": 0.08, "manga": 0.14,
                "soft3d": 0.14, "pixel": 0.16}
# Yellow, skin and warm icon skins only (renderer v7): green, blue and red faces are the
# decorations' class-consistent tints (fear, disgust, anger), as in real emoji.
_ICON_SKINS = ["#ffcc4d", "#ffd23f", "#f9c03c", "#ffdb5c", "#f4b63f", "#ffe08a", "#f7d2b0",
               "#f2b8d8", "#ff9f6b", "#e8b890"]
# What replaces a classic creature's green or blue skin in the wide space (renderer v7).
_WARM_SKINS = ["#f7d2b0", "#e8b890", "#c68642", "#8d5524", "#ffdbac", "#f1c27d", "#ffcc4d",
               "#f2b8d8", "#ff9f6b"]
_BACKDROPS_LIGHT = ["#f4f1ea", "#dfeaf7", "#f7e3ea", "#e3f4e3", "#fff4cc", "#e8e0f4", "#ffffff",
                    "#d8e8ee", "#ffe6cc"]
_BACKDROPS_BOLD = ["#4a90d9", "#f28b82", "#81c995", "#fdd663", "#c58af9", "#78d9ec", "#ff9e80",
                   "#3a3a5a", "#2f2f2f"]


def _hex(rgb) -> str:
    return "#" + "".join(f"{int(max(0, min(255, v))):02x}" for v in rgb)


def _rgb(color: str) -> np.ndarray:
    return np.array([int(color[k:k + 2], 16) for k in (1, 3, 5)], dtype=float)


def _shade(color: str, f: float) -> str:
    return _hex(_rgb(color) * f)


def _jitter(rng: np.random.Generator, color: str, amount: float) -> str:
    return _hex(_rgb(color) * (1 + rng.uniform(-amount, amount)) + rng.normal(0, 255 * amount / 3, 3))


def wide_overrides(rng: np.random.Generator, base: dict) -> dict:
    """Field values that turn a classic random character (`base`, a style dict) into a
    wide-space one: art style, proportions, framing, backdrop, decoration propensity.

    Deterministic for the generator's state.
    """
    arts = list(_ART_WEIGHTS)
    art = arts[int(rng.choice(len(arts), p=np.array(list(_ART_WEIGHTS.values())) / sum(_ART_WEIGHTS.values())))]
    out = {"art_style": art, "decorations": float(rng.uniform(0.45, 1.0))}
    warm = _jitter(rng, _pick(rng, _WARM_SKINS), 0.04)  # always drawn: a stable stream
    if _cue_coloured(base["skin"]):  # green/blue creature skins would blur the tints' cue
        base = {**base, "skin": warm}
        out["skin"] = warm
    if art == "icon":
        out.update(_icon(rng, base))
    else:
        if rng.uniform() < 0.3:
            out.update(_chibi(rng))
        out.update(_framing(rng))
        out.update(_ART_FUNCS[art](rng, base))
    out.update(_backdrop(rng, art))
    if rng.uniform() < 0.22 and art != "icon":  # eyebrow-only acting: eyes as dots or lines
        out.update(eye_style="bead", eye_size=float(rng.uniform(0.6, 0.9)))
    out.update(_fit_mouth({**base, **out}))
    return out


def _cue_coloured(color: str) -> bool:
    """Green- or blue-dominated (the colours the decorations give fear and disgust)."""
    r, g, b = _rgb(color)
    return bool(g > r + 10 or b > r + 10)


def _fit_mouth(m: dict) -> dict:
    """Keep the mouth inside the jaw: room below it for the widest open mouth, and corners
    inside the jaw outline when it smiles wide (the landmarks stay on the face)."""
    jh, je, jw = m["jaw_height"], m["jaw_exponent"], m["jaw_width"]
    my = min(m["mouth_y"], jh - 0.45)
    y = min(my + 0.15, 0.95 * jh)
    s = (y / jh) ** (je / 2)
    half = np.sqrt(max(1 - s * s, 0.0)) ** (2 / je) * (1 - (1 - jw) * s ** 1.6)
    return {"mouth_y": float(my), "mouth_width": float(min(m["mouth_width"], 0.62 * half / 1.34)),
            "nose_y": float(min(m["nose_y"], my - 0.17))}


def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


def _icon(rng: np.random.Generator, base: dict) -> dict:
    """A round face that fills the frame: no hair, ears, neck or shoulders."""
    u = rng.uniform
    skin = _jitter(rng, _pick(rng, _ICON_SKINS), 0.04)
    eye = _pick(rng, ["bead", "bead", "round", "dot", "anime"])
    eye_size = {"bead": u(0.7, 1.0), "dot": u(0.7, 0.95)}.get(eye, u(0.9, 1.25))
    line = _shade(skin, u(0.25, 0.4)) if u() < 0.7 else "#3a2a22"
    return dict(
        family="creature", framing="fill", head_x=float(u(0.48, 0.52)),
        head_scale=float(u(0.4, 0.46)), head_y=float(u(0.48, 0.52)),
        head_height=float(u(0.95, 1.05)), jaw_height=float(u(0.92, 1.02)),
        jaw_width=float(u(0.8, 1.0)), top_exponent=2.0, jaw_exponent=float(u(2.0, 2.3)),
        skin=skin, line_color=line, outline=float(u(0.02, 0.06)),
        shading=_pick(rng, ["flat", "gradient", "gradient"]), hair_style="none", ear_style="none",
        extras=[], nose_style=_pick(rng, ["none", "none", "dot"]), nose_y=float(u(0.2, 0.28)),
        eye_style=eye, eye_size=float(eye_size), eye_aspect=float(u(0.8, 1.2)),
        eye_y=float(u(-0.12, 0.0)), eye_spacing=float(u(0.3, 0.38)),
        brow_length=float(u(0.9, 1.1)),
        iris_color="#2a1a10" if eye in ("bead", "dot") else base["iris_color"],
        brow_style=_pick(rng, ["thin", "thick", "block"]),
        brow_color=line, brow_gap=float(u(0.08, 0.14)), brow_thickness=float(u(0.025, 0.05)),
        mouth_style="icon", mouth_y=float(u(0.4, 0.5)), mouth_width=float(u(0.28, 0.4)),
        mouth_inside=_pick(rng, ["#5a1f24", "#3a1a1a", "#7a2a2a"]),
        lip_color=_pick(rng, ["#e0606a", "#d05a5a", "#f07a80"]),
    )


def _chibi(rng: np.random.Generator) -> dict:
    """Chibi proportions: a tall cranium, a short jaw, big low eyes, a small low mouth."""
    u = rng.uniform
    eye_y = float(u(0.05, 0.14))
    eye_size, eye_aspect = float(u(1.35, 1.7)), float(u(0.9, 1.1))
    eye_bottom = eye_y + 0.2 * eye_size * eye_aspect
    return dict(head_height=float(u(1.2, 1.4)), jaw_height=float(u(0.75, 0.88)),
                jaw_width=float(u(0.55, 0.8)), eye_style=_pick(rng, ["anime", "round", "anime"]),
                eye_size=eye_size, eye_aspect=eye_aspect, eye_y=eye_y,
                eye_spacing=float(u(0.42, 0.5)), nose_style=_pick(rng, ["none", "dot"]),
                nose_y=float(eye_bottom + 0.04), mouth_y=float(eye_bottom + u(0.12, 0.18)),
                mouth_width=float(u(0.16, 0.24)))


def _framing(rng: np.random.Generator) -> dict:
    u = rng.uniform
    framing = _pick(rng, ["classic", "fill", "fill", "shoulders", "offcentre"])
    if framing == "fill":
        return dict(framing=framing, head_scale=float(u(0.4, 0.46)), head_y=float(u(0.5, 0.56)),
                    head_x=float(u(0.47, 0.53)))
    if framing == "shoulders":
        return dict(framing=framing, head_scale=float(u(0.24, 0.28)), head_y=float(u(0.4, 0.46)),
                    head_x=0.5)
    if framing == "offcentre":
        return dict(framing=framing, head_scale=float(u(0.28, 0.34)), head_y=float(u(0.5, 0.56)),
                    head_x=float(_pick(rng, [-1, 1]) * u(0.06, 0.12) + 0.5))
    return dict(framing=framing)


def _art_cel(rng: np.random.Generator, base: dict) -> dict:
    return {}


def _art_flat(rng: np.random.Generator, base: dict) -> dict:
    """Flat colours with a thick dark outline."""
    return dict(outline=float(rng.uniform(0.045, 0.075)), shading="flat",
                line_color=_pick(rng, ["#1a1a1a", "#2a1a14", _shade(base["skin"], 0.25)]),
                mouth_style=_pick(rng, ["icon", "icon", base["mouth_style"]]))


def _art_lineart(rng: np.random.Generator, base: dict) -> dict:
    """Black lines on white (converted to grey at the end)."""
    paper = _pick(rng, ["#ffffff", "#fbf8f0", "#f4f4f4"])
    return dict(skin=paper, hair_color=_pick(rng, [paper, "#d8d8d8", "#3a3a3a"]), shirt=paper,
                line_color="#141414", iris_color="#1a1a1a", brow_color="#1a1a1a",
                outline=float(rng.uniform(0.02, 0.035)), shading="flat", background=paper,
                nose_color="#e8e8e8", ear_inner="#e0e0e0", accent="#a0a0a0",
                lip_color="#b0b0b0", mouth_inside="#3a3a3a",
                mouth_style=_pick(rng, ["icon", "line", "small"]), extras=[])


def _art_manga(rng: np.random.Generator, base: dict) -> dict:
    """Drawn in colour, printed in black and white with screentone or hatching."""
    paper = _hex(_rgb(base["skin"]) * 0.25 + 255 * 0.75)  # skin prints white or nearly
    return dict(eye_style=_pick(rng, ["anime", "anime", "almond", base["eye_style"]]),
                skin=paper, shading="shaded", line_color="#101010", brow_color="#101010",
                outline=float(rng.uniform(0.018, 0.03)),
                mouth_style=_pick(rng, ["icon", base["mouth_style"]]))


def _art_soft3d(rng: np.random.Generator, base: dict) -> dict:
    """Smooth radial shading, thin or no outline, big glossy eyes."""
    eye = _pick(rng, ["round", "anime", "round"])
    return dict(shading="gradient", outline=float(_pick(rng, [0.0, 0.0, 0.008])),
                eye_style=eye, eye_size=float(rng.uniform(1.1, 1.45)),
                line_color=_shade(base["skin"], 0.3))


def _art_pixel(rng: np.random.Generator, base: dict) -> dict:
    """Drawn on a small grid with a limited palette, shown with nearest-neighbour pixels.
    Dark lines and brows keep the features apart from the skin after the palette cut."""
    ink = _shade(base["skin"], 0.22)
    # Pixel avatars mostly fill the frame (features need cells); some show the shoulders.
    frame = (dict(framing="fill", head_scale=float(rng.uniform(0.4, 0.46)), head_y=float(rng.uniform(0.5, 0.56)))
             if rng.uniform() < 0.7 else {})
    return dict(**frame,pixel_grid=int(rng.integers(40, 65)), palette_size=int(rng.integers(10, 21)),
                outline=float(rng.uniform(0.035, 0.06)), shading=_pick(rng, ["flat", "shaded"]),
                line_color=ink, brow_color=_shade(base["brow_color"], 0.6),
                eye_style=_pick(rng, ["bead", "dot", "round", base["eye_style"]]),
                eye_size=float(rng.uniform(1.0, 1.3)), brow_thickness=float(rng.uniform(0.045, 0.07)),
                mouth_style=_pick(rng, ["icon", "icon", "toothy", "line"]))


_ART_FUNCS = {"cel": _art_cel, "flat": _art_flat, "lineart": _art_lineart, "manga": _art_manga,
              "soft3d": _art_soft3d, "pixel": _art_pixel}


def _backdrop(rng: np.random.Generator, art: str) -> dict:
    kind = _pick(rng, BACKDROPS)
    bold = rng.uniform() < 0.35 and art not in ("lineart", "manga")
    first = _pick(rng, _BACKDROPS_BOLD if bold else _BACKDROPS_LIGHT)
    second = _jitter(rng, first, 0.18) if kind != "pattern" else _shade(first, rng.uniform(0.82, 0.93))
    out = {"backdrop": kind, "backdrop_color": second}
    if art != "lineart":
        out["background"] = first
    return out
