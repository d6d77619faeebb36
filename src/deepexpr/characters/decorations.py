"""Expression decorations of the wide style space: what artists add to make a face read.

Tears and tear streams, sweat drops, anger veins, blush with hatching, face tint (red for
anger, blue or pale for fear, green for disgust), a shadow with gloom lines over the eyes,
and a green stream out of the mouth (vomiting, for disgust).

Renderer v7 (issue 12, session 5): real emoji colour fear and disgust (a blue or pale upper
face, a green face), so fear and disgust get their tint more often and in a few shades, and
disgust sometimes vomits; the tint colours stay class-consistent (the icon faces' skins are
no longer green or blue, see `widespace.py`).

Which decorations a frame gets follows its expression, read from the rig's action units
(`expression_cues`), but each one is a coin toss (`plan_decorations`): sadness usually gets
tears, yet sometimes none, and sweat or blush now and then turn up elsewhere, so a model
cannot rely on one cue. The coin tosses come from a generator seeded by the character's name
and the rig values (`frame_rng`): the same frame always gets the same decorations.

Shapes on the face are recorded in face units on a `_Recorder` (they turn with the head);
the tint and the shadow follow the head outline and are drawn on the `_Painter` directly.
"""

from __future__ import annotations

import zlib

import numpy as np

from deepexpr.characters.geometry import _U7, _clip_halfplane, _ellipse, _xy
from deepexpr.characters.painter import _mix, _Painter, _Recorder
from deepexpr.characters.rig import RIG_CONTROLS

DECORATIONS = ("tears", "stream", "sweat", "vein", "blush", "tint", "shadow", "vomit")
_TEAR = (150, 205, 255)
_TEAR_EDGE = (60, 120, 200)
_TINTS = {"anger": [(230, 40, 30), (200, 30, 40)],
          "fear": [(70, 110, 230), (120, 150, 235), (165, 180, 215)],  # blue, light blue, pale
          "disgust": [(80, 170, 60), (130, 190, 50), (100, 140, 70)],
          "sadness": [(90, 110, 200)]}
_VOMIT = (140, 195, 60)
_VOMIT_EDGE = (70, 120, 30)


def frame_rng(style, rig: dict) -> np.random.Generator:
    """The generator of one frame's decoration choices: seeded by the character's name and
    the rig values (to 1e-3), so a frame is drawn the same way every time."""
    key = [zlib.crc32(style.name.encode())]
    key += [int(round(rig[k] * 1000)) & 0xFFFFFFFF for k in RIG_CONTROLS]
    return np.random.default_rng(key)


def expression_cues(r: dict) -> dict[str, float]:
    """How strongly the action units show each emotion, each in [0, 1] (EMFACS prototypes:
    joy AU12, sadness AU1+15, surprise AU1+2+5 without AU4, fear AU1+5+20, anger AU4
    without AU1 or AU9, disgust AU9 or AU10 without AU4)."""
    return {
        "joy": r["AU12"] * (1 - r["AU15"]),
        "sadness": min(r["AU1"], r["AU15"]),
        "surprise": min(r["AU1"], r["AU2"], r["AU5"]) * (1 - r["AU4"]) * (1 - r["AU20"]),
        "fear": min(r["AU1"], r["AU5"], r["AU20"]),
        "anger": r["AU4"] * (1 - r["AU1"]) * (1 - r["AU9"]),
        "disgust": max(r["AU9"], 0.8 * r["AU10"] * (1 - r["AU4"])),
    }


def plan_decorations(style, r: dict, rng: np.random.Generator) -> dict:
    """The decorations of one frame: {name: parameters}, from the expression cues, the
    character's propensity (`style.decorations`, 0 = none) and coin tosses of `rng`."""
    d = float(style.decorations)
    if d <= 0:
        return {}
    c = expression_cues(r)
    toss = rng.uniform(size=15)  # always drawn, so one choice never shifts the others
    plan: dict = {}
    if toss[0] < d * (0.85 * c["sadness"] + 0.25 * c["fear"] + 0.15 * c["joy"] * r["AU6"]):
        plan["stream" if toss[1] < 0.4 * (c["sadness"] > 0.5) + 0.1 else "tears"] = {
            "side": 1 if toss[2] < 0.5 else -1, "both": toss[3] < 0.6}
    if toss[4] < d * (0.7 * c["fear"] + 0.3 * c["surprise"] + 0.35 * c["disgust"]
                      + 0.15 * c["sadness"] + 0.04):
        plan["sweat"] = {"side": 1 if toss[5] < 0.5 else -1, "size": 0.8 + 0.5 * toss[6]}
    if toss[7] < d * (0.7 * c["anger"] + 0.03):
        plan["vein"] = {"side": 1 if toss[5] >= 0.5 else -1, "size": 0.8 + 0.5 * toss[6]}
    if toss[8] < d * (0.55 * c["joy"] + 0.2 * c["surprise"] + 0.06):
        plan["blush"] = {"hatch": toss[3] < 0.5, "strength": 0.35 + 0.3 * toss[2]}
    tint = max(("anger", 0.5 * c["anger"]), ("fear", 0.85 * c["fear"]),
               ("disgust", 0.85 * c["disgust"]), ("sadness", 0.12 * c["sadness"]), key=lambda kv: kv[1])
    # icon faces are emoji, which nearly always colour fear and disgust: no propensity cut
    if toss[9] < (1.0 if style.art_style == "icon" else d) * tint[1]:
        shades = _TINTS[tint[0]]
        plan["tint"] = {"color": shades[int(toss[12] * len(shades))],
                        "whole": toss[10] < 0.3 + 0.15 * (tint[0] == "fear") or tint[0] == "disgust"}
    if toss[13] < d * 0.3 * c["disgust"]:
        plan["vomit"] = {"width": 0.8 + 0.4 * toss[14]}
    if toss[11] < d * (0.3 * c["fear"] + 0.25 * c["anger"] + 0.2 * c["sadness"] + 0.2 * c["disgust"]):
        plan["shadow"] = {"lines": toss[1] < 0.6}
    return plan


# ---- drawn on the painter, following the head outline (after the head, before the marks) ----
def draw_tint_and_shadow(p: _Painter, head_units: np.ndarray, plan: dict) -> None:
    """Face tint (a gradient from the top of the head down) and the shadow over the eyes."""
    s = p.s
    if s.art_style == "lineart":  # no fills in line art (its shadow is the gloom lines)
        return
    if "tint" in plan and "band" in plan["tint"]:  # emoji style (`emojiface.py`) only
        _band_tint(p, head_units, plan["tint"])
    elif "tint" in plan:
        bottom = s.jaw_height if plan["tint"]["whole"] else s.eye_y + 0.1
        _top_gradient(p, head_units, bottom, plan["tint"]["color"], 0.12, 0.6)
    if "shadow" in plan:
        eh = 0.2 * s.eye_size * s.eye_aspect
        _top_gradient(p, head_units, s.eye_y + 0.5 * eh, (40, 30, 70), 0.15, 0.5)


def _band_tint(p: _Painter, head_units: np.ndarray, tint: dict) -> None:
    """The emoji tint: a saturated colour over the forehead (down to `band` face units
    below the eye line) or the whole face, with a sharp or soft lower edge (`edge`)."""
    s = p.s
    bottom = s.jaw_height + 0.1 if tint["whole"] else s.eye_y + tint["band"]
    edge, strength, steps = float(tint["edge"]), float(tint["strength"]), 4
    for k in range(steps):  # from the lowest, faintest band up to the full colour
        y0 = bottom - edge * k / steps
        part = _clip_halfplane(head_units, (0.0, -1.0), -y0)
        if part is not None:
            amount = strength * (k + 1) / steps if edge > 0 else strength
            p.poly(p.view.shell(part), fill=_mix(p.skin, tint["color"], amount))


def _top_gradient(p: _Painter, head_units: np.ndarray, bottom: float, color: tuple,
                  weakest: float, strongest: float, steps: int = 6) -> None:
    """Bands of the head from its top down to `bottom`, mixed toward `color` more at the top."""
    top = -p.s.head_height
    for k in range(steps):
        y0 = bottom - (bottom - top) * 0.8 * k / steps
        part = _clip_halfplane(head_units, (0.0, -1.0), -y0)
        if part is not None:
            amount = weakest + (strongest - weakest) * k / max(steps - 1, 1)
            p.poly(p.view.shell(part), fill=_mix(p.skin, color, amount))


# ---- recorded on the face surface ----
def draw_marks(p: _Recorder, plan: dict) -> None:
    """Blush and gloom lines (under the hair and the features)."""
    s = p.s
    if "blush" in plan:
        col = _mix(p.skin, (255, 90, 110), plan["blush"]["strength"])
        eh = 0.2 * s.eye_size * s.eye_aspect
        for side in (-1, 1):
            cx, cy = side * (s.eye_spacing + 0.08), s.eye_y + eh + 0.16
            p.poly(_ellipse(cx, cy, 0.17, 0.085, 18), fill=col)
            if plan["blush"]["hatch"]:
                for k in (-1, 0, 1):
                    x = cx + 0.07 * k
                    p.line(np.array([[x + 0.03, cy - 0.05], [x - 0.03, cy + 0.05]]),
                           _mix(col, (200, 40, 60), 0.5), p.fine)
    if "shadow" in plan and plan["shadow"]["lines"]:
        eh = 0.2 * s.eye_size * s.eye_aspect
        col = _mix(p.skin, (30, 20, 60), 0.6)
        y1 = s.eye_y - eh - 0.28
        for x in np.linspace(-0.5, 0.5, 7):
            p.line(np.array([[x, y1 - 0.35 + 0.1 * abs(x)], [x, y1]]), col, p.fine)


def draw_front(p: _Recorder, eyes: dict, plan: dict, mouth: dict | None = None) -> None:
    """Tears, streams, sweat drops, anger veins and vomit (over everything else); `mouth`
    (the geometry's mouth dict) places the vomit."""
    s = p.s
    # thin enough to keep their shapes under thick-outline styles
    width = max(1, min(int(round(max(p.lw, p.fine) * 0.8)), int(round(0.022 * p.px))))
    for kind in ("tears", "stream"):
        if kind in plan:
            sides = (-1, 1) if plan[kind]["both"] else (plan[kind]["side"],)
            for side in sides:
                eye = eyes[side]
                start = eye["lower"][8 if side > 0 else 4]
                if kind == "tears":
                    _drop(p, start[0] + side * 0.04, start[1] + 0.12, 0.055, width)
                else:
                    _stream(p, start, s.jaw_height * 0.75, 0.045 + 0.25 * eye["ew"] * 0.3, width)
    if "sweat" in plan:
        side, k = plan["sweat"]["side"], plan["sweat"]["size"]
        _drop(p, side * 0.72, -0.35 * s.head_height, 0.09 * k, width)
    if "vein" in plan:
        side, k = plan["vein"]["side"], plan["vein"]["size"]
        _vein(p, side * 0.55, -0.6 * s.head_height, 0.11 * k, max(width, int(round(0.018 * p.px))))
    if "vomit" in plan and mouth is not None:
        _vomit(p, mouth, s.jaw_height, plan["vomit"]["width"], width)
    if "tongue" in plan and mouth is not None:  # emoji style (`emojiface.py`) only
        _tongue(p, mouth, plan["tongue"]["length"], width)
    if "hands" in plan:  # emoji style only: the screaming face's hands at the cheeks
        for side in (-1, 1):
            _hand(p, side, plan["hands"], width)


def _drop(p: _Recorder, cx: float, cy: float, rad: float, width: int) -> None:
    """A drop: round at the bottom, pointed at the top, with a highlight."""
    t = np.linspace(0, 2 * np.pi, 25)
    x = cx + rad * np.sin(t) * (0.35 + 0.65 * (1 - np.cos(t)) / 2)
    y = cy - rad * 1.2 * np.cos(t) * (np.cos(t) > 0) - rad * 0.9 * np.cos(t) * (np.cos(t) <= 0)
    drop = _xy(x, y + 0.4 * rad)
    p.poly(drop, fill=_TEAR, outline=_TEAR_EDGE, width=width, z=0.05)
    p.poly(_ellipse(cx - 0.35 * rad, cy + 0.5 * rad, 0.18 * rad, 0.28 * rad, 10), fill=(240, 250, 255), z=0.05)


def _stream(p: _Recorder, start: np.ndarray, bottom: float, half: float, width: int) -> None:
    """A tear stream from the lower lid down the cheek, waving a little."""
    ys = np.linspace(start[1] + 0.02, bottom, 9)
    wave = 0.02 * np.sin(np.linspace(0, 3 * np.pi, 9))
    grow = np.linspace(0.6, 1.0, 9)
    left = _xy(start[0] - half * grow + wave, ys)
    right = _xy(start[0] + half * grow + wave, ys)
    band = np.concatenate([left, right[::-1]])
    p.poly(band, fill=_TEAR, outline=_TEAR_EDGE, width=width, z=0.04)


def _vomit(p: _Recorder, mouth: dict, jaw: float, k: float, width: int) -> None:
    """A green stream out of the mouth, widening down over the chin."""
    lo, up = mouth["outer_lo"], mouth["outer_up"]
    cx = float(lo[:, 0].mean())
    top = float(0.5 * (up[:, 1].mean() + lo[:, 1].mean()))
    half0 = 0.3 * k * float(np.ptp(up[:, 0]) / 2 + 0.05)
    ys = np.linspace(top, jaw * 1.2, 9)
    grow = half0 * np.linspace(1.0, 2.2, 9)
    wave = 0.025 * np.sin(np.linspace(0, 2.5 * np.pi, 9))
    band = np.concatenate([_xy(cx - grow + wave, ys), _xy(cx + grow + wave, ys)[::-1]])
    p.poly(band, fill=_VOMIT, outline=_VOMIT_EDGE, width=width, z=0.06)


def _tongue(p: _Recorder, mouth: dict, length: float, width: int) -> None:
    """A tongue stuck out over the lower lip (emoji disgust): a rounded tab with a groove."""
    lo = mouth["outer_lo"]
    cx, top = float(lo[:, 0].mean()), float(lo[:, 1].max()) - 0.04
    half = max(0.3 * float(np.ptp(lo[:, 0])) / 2 + 0.05, 0.08)
    t = np.linspace(0, np.pi, 15)
    tab = np.concatenate([_xy(np.array([cx - half]), np.array([top])),
                          _xy(cx - half * np.cos(t), top + length + half * np.sin(t) * 0.9),
                          _xy(np.array([cx + half]), np.array([top]))])
    p.poly(tab, fill=(232, 96, 120), outline=_mix((232, 96, 120), (60, 10, 20), 0.6), width=width, z=0.07)
    p.line(np.array([[cx, top + 0.02], [cx, top + 0.55 * length + 0.3 * half]]),
           (170, 50, 70), max(1, width // 2), z=0.07)


def _hand(p: _Recorder, side: int, hands: dict, width: int) -> None:
    """An open hand pressed to one cheek, fingers up (the screaming face)."""
    s = p.s
    k, tone = float(hands["size"]), hands.get("tone", 0.1)
    fill = _mix(p.skin, (120, 70, 20), tone)
    cx, cy = side * float(hands["x"]), s.jaw_height * float(hands["y"])
    tilt = -side * 0.35  # fingers lean toward the temples
    for f in range(4):
        off = (f - 1.5) * 0.085 * k
        base = np.array([cx + off, cy - 0.1 * k])
        length = (0.3 - 0.04 * abs(f - 1.2)) * k
        tip = base + length * np.array([np.sin(tilt), -np.cos(tilt)])
        finger = _capsule(base, tip, 0.045 * k)
        p.poly(finger, fill=fill, outline=p.ink, width=width, z=0.08)
    p.poly(_ellipse(cx, cy + 0.06 * k, 0.2 * k, 0.22 * k, 20), fill=fill, outline=p.ink, width=width, z=0.08)


def _capsule(a: np.ndarray, b: np.ndarray, rad: float, n: int = 8) -> np.ndarray:
    """A stadium (rounded bar) from point a to point b: (2 n + 2, 2) face units."""
    d = (b - a) / max(float(np.hypot(*(b - a))), 1e-9)
    ang0 = np.arctan2(d[1], d[0])
    t1 = ang0 + np.linspace(-np.pi / 2, np.pi / 2, n + 1)
    t2 = ang0 + np.linspace(np.pi / 2, 3 * np.pi / 2, n + 1)
    return np.concatenate([_xy(b[0] + rad * np.cos(t1), b[1] + rad * np.sin(t1)),
                           _xy(a[0] + rad * np.cos(t2), a[1] + rad * np.sin(t2))])


def _vein(p: _Recorder, cx: float, cy: float, size: float, width: int) -> None:
    """The anger vein mark: four brackets bent toward a common centre."""
    bracket = np.array([[0.3, 1.0], [0.35, 0.35], [1.0, 0.3]]) * size
    for rot in range(4):
        c, sn = [(1, 0), (0, 1), (-1, 0), (0, -1)][rot]
        pts = bracket @ np.array([[c, sn], [-sn, c]])
        p.line(pts + np.array([cx, cy]), (215, 30, 40), width, z=0.04)


def icon_eye_kind(r: dict, eye: dict) -> str:
    """How a "bead" eye is drawn: "happy" (an arch), "shut" (a line) or "open" (a dot)."""
    openness = eye["open"] / max(2 * eye["eh"], 1e-6)
    if r["AU6"] > 0.5 and r["AU12"] > 0.5 and openness < 0.8:
        return "happy"
    return "shut" if openness < 0.3 else "open"


def draw_bead_eye(p: _Recorder, eye: dict, kind: str) -> None:
    """An eye as a dark dot (its size follows the lid opening), an arch or a line."""
    s = p.s
    up, lo = eye["upper"], eye["lower"]
    ew, eh = eye["ew"], eye["eh"]
    cx, cy = float(up[6, 0]), float((up[6, 1] + lo[6, 1]) / 2)
    col = tuple(int(s.iris_color[k:k + 2], 16) for k in (1, 3, 5))
    lw = max(p.fine + 1, int(round(max(p.lw, p.fine) * 1.5)))
    if kind == "happy":
        p.line(_xy(cx + 0.75 * ew * _U7, cy + 0.25 * eh - 0.7 * eh * (1 - _U7 ** 2)), col, lw)
        return
    if kind == "shut":
        p.line(_xy(cx + 0.7 * ew * _U7, np.full(7, cy)), col, lw)
        return
    openness = eye["open"] / max(2 * eye["eh"], 1e-6)
    rx = 0.5 * ew * (0.85 + 0.2 * min(openness, 1.5))
    ry = 0.62 * ew * min(openness, 1.4)
    p.poly(_ellipse(cx, cy, rx, ry, 20), fill=col)
    p.poly(_ellipse(cx - 0.3 * rx, cy - 0.35 * ry, 0.28 * rx, 0.28 * rx, 10), fill=(255, 255, 255))
