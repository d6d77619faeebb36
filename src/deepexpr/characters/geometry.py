"""Feature geometry of a character's face, in face units, from its style and rig.

Face units: head half-width 1, origin at the head centre, y down. Every facial feature is a
function of the style and the rig's action units; `_View` projects face-unit points into
the (supersampled) image for one head pose: features at depth z shift by z sin(yaw) on an
ellipsoidal head, while the silhouette only follows roll and a small shift. The 49
landmarks come from the same feature points as the drawing, so they are exact.
"""

from __future__ import annotations

import bisect
import functools
import math

import numpy as np

from deepexpr.characters.style import CharacterStyle

# Rig -> geometry gains (face units per unit of AU). Chosen so each AU reads clearly.
BROW_INNER_RAISE = 0.2  # AU1
BROW_OUTER_RAISE = 0.18  # AU2
BROW_LOWER = 0.13  # AU4 (more at the inner end)
BROW_PULL_IN = 0.09  # AU4 inner ends toward the midline
JAW_DROP = 0.3  # AU26
MOUTH_STRETCH = 0.42  # AU27
LIPS_PART = 0.035  # AU25
# The stand-in humans (ground truth of the rig estimator) draw the mouth-opening AUs apart
# (FACS): AU25 parts the lips on its own (teeth show, the chin stays), the jaw's drop
# (AU26/27) opens them only partly, AU27 also stretches the lips thin. Version of that
# drawing (recorded in the stand-in caches; other families do not change with it):
STANDIN_MOUTH_VERSION = 2  # 2: AU25/26/27 drawn apart (1: AU25 = 0.035 beside a 0.3-0.42 jaw)
STANDIN_LIPS_PART = 0.1  # AU25 alone: the lips' gap (head half-widths)
STANDIN_UPPER_LIP_SHARE = 0.4  # of AU25's gap, made by the upper lip rising (AU16 moves the lower only)
STANDIN_JAW_PARTS_LIPS = 0.6  # AU26: share of the jaw's drop that opens the lips (AU27: all of it)
STANDIN_STRETCH_THIN = 0.35  # AU27: the red of the lips stretched thinner


_DEPTH_W = np.array([0.8, 1 / 2.25])  # ellipsoid: z^2 = 1 - 0.8 x^2 - (y / 1.5)^2
_U13 = np.linspace(-1.0, 1.0, 13)  # curve parameter of eyes and lips (image-left -> right)
_U9 = np.linspace(-1.0, 1.0, 9)  # curve parameter of brows
_U7 = np.linspace(-1.0, 1.0, 7)
_U13_RAMP = np.linspace(0.0, 1.0, 13)
_Z_LIPS = 0.06 * (1 - _U13 * _U13)  # lips stand off the face surface
_Z_LIPS_OUTER = np.concatenate([_Z_LIPS, _Z_LIPS[::-1][1:-1]])  # closed outer lip outline
_CURL_ANGLES = np.linspace(math.pi * 0.92, math.pi * 2.08, 17)
_CURL_RADII = 0.2 + 0.05 * np.random.default_rng(7).uniform(size=17)
_CURL_FRONT = np.linspace(-0.6, 0.6, 6)


def _xy(x, y) -> np.ndarray:
    """(N, 2) array from x and y (faster than np.stack for the small arrays used here)."""
    out = np.empty((len(x), 2))
    out[:, 0] = x
    out[:, 1] = y
    return out


@functools.lru_cache(maxsize=64)
def _unit_arc(n: int, start: float, stop: float) -> tuple[np.ndarray, np.ndarray]:
    closed = stop - start >= 2 * math.pi - 1e-9
    t = np.linspace(start, stop, n, endpoint=not closed)
    return np.cos(t), np.sin(t)


def _ellipse(cx, cy, rx, ry, n=28, start=0.0, stop=2 * math.pi):
    c, s = _unit_arc(n, start, stop)
    return _xy(cx + rx * c, cy + ry * s)


class _View:
    """Face units -> supersampled image coordinates for one head pose.

    Rotations are linear, so the projection of a face point (x, y, z) is one 3x2 matrix:
    yaw about the vertical axis, then pitch, then roll in the image plane, then scale.
    """

    def __init__(self, style: CharacterStyle, rig: dict, size: int, ss: int):
        S = self.scale = style.head_scale * size * ss
        self.cx = style.head_x * size * ss
        self.cy = style.head_y * size * ss
        yaw, pitch, roll = (math.radians(rig[k]) for k in ("head_yaw", "head_pitch", "head_roll"))
        sy, cyw = math.sin(yaw), math.cos(yaw)
        sp, cp = math.sin(pitch), math.cos(pitch)
        sr, cr = math.sin(roll), math.cos(roll)
        self.sy, self.sp = sy, sp
        # x1 = x cos(yaw) + z sin(yaw); z1 = -x sin(yaw) + z cos(yaw)
        # y1 = y cos(pitch) + (z1 - 0.8) sin(pitch)  (the pivot sits behind the face)
        # (X, Y) = centre + S * R(roll) (x1, y1)
        self.A = np.array([[S * (cyw * cr + sy * sp * sr), S * (cyw * sr - sy * sp * cr)],
                           [S * (-cp * sr), S * (cp * cr)]])
        self.b = np.array([S * (sy * cr - cyw * sp * sr), S * (sy * sr + cyw * sp * cr)])
        self.c = np.array([self.cx + S * 0.8 * sp * sr, self.cy - S * 0.8 * sp * cr])
        self.R = np.array([[S * cr, S * sr], [-S * sr, S * cr]])
        shift = np.array([0.12 * sy, 0.06 * sp])
        self.c_shell = np.array([self.cx, self.cy]) + shift @ self.R

    def face(self, xy: np.ndarray, z_extra=0.0) -> np.ndarray:
        """Project points on the face surface (they turn with yaw and pitch).

        The surface is an ellipsoid flattened at the back: z = 0.95 sqrt(1 - 0.8 x^2 - (y/1.5)^2).
        """
        if xy.__class__ is not np.ndarray or xy.ndim != 2:
            xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        # ndarray.dot and in-place ufuncs: the same arithmetic as `@` with fewer calls
        # (this runs ~20 times a frame on a few dozen points, so call overhead is its cost).
        z = (xy * xy).dot(_DEPTH_W)
        np.subtract(1.0, z, out=z)
        np.maximum(z, 0.04, out=z)
        np.sqrt(z, out=z)
        z *= 0.95
        if z_extra.__class__ is not float or z_extra != 0.0:
            z += z_extra
        out = xy.dot(self.A)
        out += z[:, None] * self.b
        out += self.c
        return out

    def shell(self, xy: np.ndarray) -> np.ndarray:
        """Project silhouette points (outline, hair, ears): roll and a small pose shift only."""
        return np.asarray(xy, dtype=np.float64).reshape(-1, 2) @ self.R + self.c_shell

    def body(self, xy: np.ndarray) -> np.ndarray:
        """Project body points (neck, shoulders): they do not follow the head."""
        return np.asarray(xy, dtype=np.float64).reshape(-1, 2) * self.scale + (self.cx, self.cy)


_EYE_LOWER_RATIO = {"round": 1.0, "dot": 1.0, "almond": 0.7, "anime": 0.85, "bead": 1.0}
_EYE_POWER = {"round": 0.5, "dot": 0.5, "almond": 0.85, "anime": 0.6, "bead": 0.5}


@functools.lru_cache(maxsize=16)
def _eye_weights(eye_style: str, side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rig-independent weights along the lids (13 points): the lid profile, u * side, and
    how much the sad droop acts (more at the outer corner)."""
    u = _U13
    return (1.0 - u * u) ** _EYE_POWER[eye_style], u * side, 0.5 + 0.5 * u * side


def _eye_geometry(style: CharacterStyle, r: dict, side: int) -> dict:
    """One eye: corners, lid curves, iris. side -1 = image left (subject's right)."""
    ew = 0.2 * style.eye_size
    eh = ew * style.eye_aspect
    cx, cy = side * style.eye_spacing, style.eye_y
    # AU6 (cheek raiser): cartoon eyes narrow from both lids; a stand-in human's lower lid
    # and cheek rise while the upper lid stays, as FACS describes it (real photos look so)
    up6, lo6 = (0.04, 0.62) if style.family == "standin_human" else (0.22, 0.55)
    open_up = 1.0 + 0.5 * r["AU5"] - 0.42 * r["AU7"] - up6 * r["AU6"] - 0.12 * r["AU4"] \
        - 0.12 * r["AU9"] + 0.1 * r["AU1"] * r["AU2"] - 0.18 * max(r["gaze_y"], 0.0)
    open_lo = 1.0 - lo6 * r["AU6"] - 0.45 * r["AU7"] - 0.2 * r["AU9"] + 0.2 * r["AU5"]
    # Sad eyes: inner brows up without the outer ones or a lid raise make the upper lids
    # heavier and slant them down towards the outer corners.
    sad = r["AU1"] * (1.0 - r["AU2"]) * (1.0 - r["AU5"])
    open_up -= 0.15 * sad
    open_up, open_lo = max(open_up, 0.06), max(open_lo, 0.05)
    lo_ratio = _EYE_LOWER_RATIO[style.eye_style]
    prof, u_side, sad_w = _eye_weights(style.eye_style, side)
    corner_y = cy - style.eye_tilt * u_side
    x = cx + _U13 * ew
    upper = _xy(x, corner_y - open_up * eh * prof + 0.35 * sad * eh * prof * sad_w)
    lower = _xy(x, corner_y + open_lo * eh * lo_ratio * prof)
    iris_r = style.iris_size * ew
    iris = (cx + r["gaze_x"] * 0.42 * ew, cy + r["gaze_y"] * 0.3 * eh - 0.08 * eh * (open_up - 1))
    return {"upper": upper, "lower": lower, "iris": iris, "iris_r": iris_r, "ew": ew, "eh": eh,
            "open": open_up * eh + open_lo * eh * lo_ratio}


def _eye_landmark_parts(eye: dict) -> tuple[np.ndarray, np.ndarray]:
    """Six eye points in 49-point order: the curves run image-left -> right, so for both
    eyes the order is corner, two upper points, corner, two lower points (right eye: outer
    first; left eye: inner first). u = -1, -1/3, 1/3, 1 are curve indices 0, 4, 8, 12."""
    return eye["upper"][::4], eye["lower"][8:3:-4]  # upper 0, 4, 8, 12; lower 8, 4


@functools.lru_cache(maxsize=4)
def _brow_weights(side: int) -> tuple[np.ndarray, ...]:
    """Rig-independent weights along a brow (9 points, image-left -> right)."""
    u = _U9
    w_in = (1.0 + u * (-side)) / 2.0  # 1 at the inner (midline) end
    return (w_in, 0.25 + 0.75 * w_in, 0.25 + 0.75 * (1 - w_in), 0.35 + 0.65 * w_in, 1 - w_in,
            1.0 - u * u)


def _brow_geometry(style: CharacterStyle, r: dict, side: int, eye: dict) -> np.ndarray:
    """Brow centre line at 9 points from image-left to image-right."""
    u = _U9
    w_in, inner_w, outer_w, lower_w, w_out, arch_w = _brow_weights(side)
    ew, eh = eye["ew"], eye["eh"]
    half = ew * style.brow_length
    cx = side * style.eye_spacing
    base = style.eye_y - eh - style.brow_gap - style.brow_thickness
    raise_ = BROW_INNER_RAISE * r["AU1"] * inner_w + BROW_OUTER_RAISE * r["AU2"] * outer_w
    lower = BROW_LOWER * r["AU4"] * lower_w + 0.04 * r["AU9"] * w_in
    arch = style.brow_arch * arch_w * (1.0 + 0.6 * r["AU2"] - 0.5 * r["AU4"])
    x = cx + u * half - side * BROW_PULL_IN * r["AU4"] * w_in + side * 0.02 * r["AU2"] * w_out
    y = base - arch - raise_ + lower
    return _xy(x, y)


def _mouth_geometry(style: CharacterStyle, r: dict) -> dict:
    """Lip curves (inner/outer, 13 points each from image-left to image-right corner)."""
    if style.family == "standin_human":
        return _standin_mouth_geometry(style, r)
    my, mw = style.mouth_y, style.mouth_width
    jaw = JAW_DROP * r["AU26"] + MOUTH_STRETCH * r["AU27"]
    gap = jaw + LIPS_PART * r["AU25"]
    w = mw * (1 + 0.34 * r["AU12"] + 0.32 * r["AU20"] - 0.14 * r["AU23"] - 0.1 * r["AU24"]
              - 0.15 * r["AU27"] - 0.05 * r["AU26"] + 0.08 * r["AU10"] - 0.06 * r["AU17"])
    corner = (my - 0.15 * r["AU12"] + 0.13 * r["AU15"] + 0.025 * r["AU20"] - 0.03 * r["AU10"]
              + 0.3 * jaw + 0.03 * r["AU17"] + 0.02 * r["AU16"] + 0.025 * r["AU24"])
    um = my - 0.07 * r["AU10"] - 0.02 * r["AU9"] - 0.1 * gap - 0.02 * r["AU17"]
    lm = my + 0.9 * gap + 0.05 * r["AU16"] - 0.04 * r["AU17"]
    lm = max(lm, um)
    u = _U13
    au = np.abs(u)
    p_up = 1.8 + 1.6 * r["AU10"] + 1.5 * r["AU20"]
    p_lo = 1.8 + 1.2 * r["AU20"] - 0.3 * min(gap / 0.2, 1.0)
    inner_up = um + (corner - um) * au ** p_up
    inner_lo = lm + (corner - lm) * au ** p_lo
    thick = style.lip_thickness if style.mouth_style == "lips" else 0.03
    press = max(0.25, 1 - 0.6 * r["AU24"] - 0.45 * r["AU23"] - 0.3 * r["AU20"] - 0.2 * r["AU12"])
    bow = 0.012 * np.exp(-((u / 0.16) ** 2)) if style.mouth_style == "lips" else 0.0
    outer_up = inner_up - thick * press * (1 - au ** 2) ** 0.6 + bow
    outer_lo = inner_lo + (thick * 1.25 * press + 0.005 * r["AU17"]) * (1 - au ** 2) ** 0.6
    x = u * w
    return {"inner_up": _xy(x, inner_up), "inner_lo": _xy(x, inner_lo),
            "outer_up": _xy(x, outer_up), "outer_lo": _xy(x, outer_lo),
            "gap": gap, "jaw": jaw, "w": w, "corner": corner}


def _standin_mouth_geometry(style: CharacterStyle, r: dict) -> dict:
    """The stand-in humans' lips (ground truth of the rig estimator): the lip AUs drawn as
    FACS describes them, so no one is a copy of another. AU16 pulls the lower lip down and
    out across its width (stretched, everted, lower teeth; the upper lip stays: AU25 parts both), AU17
    pushes the lower lip and chin up (the lip line arches, the corners stay: AU15 lowers
    them), AU23 thins the red of both lips (the corners stay: -AU20 moves them in), AU24
    presses the lips flat together (thinned, a little longer, the lower lip pushed up; no
    down-curve). AU25 parts the lips with the chin still (the upper lip rises too), the jaw
    (AU26) drops the chin and opens the lips by `STANDIN_JAW_PARTS_LIPS` of its drop, AU27
    drops it further, opens the lips by all of it and thins them (`STANDIN_MOUTH_VERSION`).
    "jaw" is the chin outline's drop (AU17 raises it)."""
    my, mw = style.mouth_y, style.mouth_width
    jaw = JAW_DROP * r["AU26"] + MOUTH_STRETCH * r["AU27"]
    jaw_gap = STANDIN_JAW_PARTS_LIPS * JAW_DROP * r["AU26"] + MOUTH_STRETCH * r["AU27"]
    lips_gap = STANDIN_LIPS_PART * r["AU25"]
    gap = jaw_gap + lips_gap
    w = mw * (1 + 0.34 * r["AU12"] + 0.32 * r["AU20"] - 0.03 * r["AU23"] + 0.02 * r["AU24"] + 0.05 * r["AU16"]
              - 0.15 * r["AU27"] - 0.05 * r["AU26"] + 0.08 * r["AU10"])
    corner = my - 0.15 * r["AU12"] + 0.13 * r["AU15"] + 0.025 * r["AU20"] - 0.03 * r["AU10"] + 0.3 * jaw
    lift = 0.05 * r["AU17"] + 0.012 * r["AU24"]  # the lower lip pushes the closed line up
    up_share = STANDIN_UPPER_LIP_SHARE
    um = my - 0.07 * r["AU10"] - 0.02 * r["AU9"] - 0.1 * jaw_gap - up_share * lips_gap - lift
    lm = max(my + 0.9 * jaw_gap + (1 - up_share) * lips_gap + 0.06 * r["AU16"] - lift, um)
    u = _U13
    au = np.abs(u)
    p_up = 1.8 + 1.6 * r["AU10"] + 1.5 * r["AU20"]
    p_lo = 1.8 + 1.2 * r["AU20"] - 0.3 * min(gap / 0.2, 1.0) + 2.5 * r["AU16"]  # AU16: square
    inner_up = um + (corner - um) * au ** p_up
    inner_lo = lm + (corner - lm) * au ** p_lo
    thick = style.lip_thickness
    stretch = 0.3 * r["AU20"] + 0.2 * r["AU12"] + STANDIN_STRETCH_THIN * r["AU27"]
    thin_up = max(0.2, 1 - 0.65 * r["AU23"] - 0.6 * r["AU24"] - stretch)
    thin_lo = max(0.2, 1 - 0.65 * r["AU23"] - 0.4 * r["AU24"] - stretch + 0.6 * r["AU16"] + 0.25 * r["AU17"])
    bow = 0.012 * (1 - 0.8 * max(r["AU23"], r["AU24"])) * np.exp(-((u / 0.16) ** 2))
    prof = (1 - au ** 2) ** 0.6
    outer_up = inner_up - thick * thin_up * prof + bow
    outer_lo = inner_lo + thick * 1.25 * thin_lo * prof
    x = u * w
    return {"inner_up": _xy(x, inner_up), "inner_lo": _xy(x, inner_lo),
            "outer_up": _xy(x, outer_up), "outer_lo": _xy(x, outer_lo),
            "gap": gap, "jaw": jaw - 0.04 * r["AU17"], "w": w, "corner": corner}


def _nose_geometry(style: CharacterStyle, r: dict) -> tuple[np.ndarray, np.ndarray]:
    """Nose bridge (4 points, top -> tip) and base (5 points, image-left -> right)."""
    ns = style.nose_size
    top = style.eye_y - 0.02
    k = np.arange(4) / 3.0
    bridge = _xy(np.zeros(4), top + (style.nose_y - top) * k)
    lift = 0.045 * r["AU9"] + 0.02 * r["AU10"]
    widen = 1 + 0.18 * r["AU9"] + 0.06 * r["AU10"]
    bx = np.array([-0.11, -0.055, 0.0, 0.055, 0.11]) * ns * widen
    by = style.nose_y + 0.07 * ns + np.array([0.0, 0.015, 0.025, 0.015, 0.0]) * ns - lift
    bridge[3, 1] -= 0.6 * lift
    return bridge, _xy(bx, by)


def _z_bridge(style):
    return _z_bridge_of(style.nose_size)


def _z_base(style):
    return _z_base_of(style.nose_size)


def _z_bridge_of(nose_size: float) -> np.ndarray:
    return 0.28 * nose_size * np.arange(4) / 3.0


def _z_base_of(nose_size: float) -> np.ndarray:
    return np.array([0.05, 0.1, 0.14, 0.1, 0.05]) * nose_size


def _geometry(style: CharacterStyle, r: dict) -> dict:
    """All feature geometry of a pose, in face units."""
    eyes = {k: _eye_geometry(style, r, k) for k in (-1, 1)}
    bridge, base = _nose_geometry(style, r)
    return {"eyes": eyes, "brows": {k: _brow_geometry(style, r, k, eyes[k]) for k in (-1, 1)},
            "bridge": bridge, "base": base, "mouth": _mouth_geometry(style, r)}


# Lip landmarks as curve slices: outer upper 0, 2, .., 12; outer lower 10, 8, .., 2;
# inner upper 3, 6, 9; inner lower 9, 6, 3.
_OUTER_UP, _OUTER_LO = slice(0, 13, 2), slice(10, 1, -2)
_INNER, _INNER_REV = slice(3, 10, 3), slice(9, 2, -3)


@functools.lru_cache(maxsize=256)
def _landmark_depth(nose_size: float) -> np.ndarray:
    """Depth offsets (49,) of the landmarks: nose points stand out, lips a little."""
    zl = _Z_LIPS
    return np.concatenate([np.zeros(10), _z_bridge_of(nose_size), _z_base_of(nose_size), np.zeros(12),
                           zl[_OUTER_UP], zl[_OUTER_LO], zl[_INNER], zl[_INNER_REV]])


def _landmark_points(style, g: dict) -> tuple[np.ndarray, np.ndarray]:
    """The 49 landmarks in face units (49, 2) and their depth offsets (49,)."""
    eyes, brows, mouth = g["eyes"], g["brows"], g["mouth"]
    xy = np.concatenate([
        brows[-1][::2], brows[1][::2], g["bridge"], g["base"],
        *_eye_landmark_parts(eyes[-1]), *_eye_landmark_parts(eyes[1]),
        mouth["outer_up"][_OUTER_UP], mouth["outer_lo"][_OUTER_LO],
        mouth["inner_up"][_INNER], mouth["inner_lo"][_INNER_REV],
    ])
    return xy, _landmark_depth(style.nose_size)


def _landmarks(style, g: dict, view: _View, ss: int) -> np.ndarray:
    lm = view.face(*_landmark_points(style, g))  # one projection for all 49 points
    return ((lm - (ss - 1) / 2.0) / ss).astype(np.float32)




def _head_outline(style: CharacterStyle, jaw: float, n: int = 72) -> np.ndarray:
    x, y, drop = _head_outline_parts(style.top_exponent, style.jaw_exponent, style.jaw_width,
                                     style.head_height, style.jaw_height, style.mouth_y, n)
    y = y + 0.85 * jaw * drop
    return _xy(x, y)


@functools.lru_cache(maxsize=256)
def _head_outline_parts(top_exponent, jaw_exponent, jaw_width, head_height, jaw_height, mouth_y, n):
    """Rest outline (x, y) of the head and how much each point follows the jaw (read-only)."""
    c, s = _unit_arc(n, 0.0, 2 * math.pi)
    upper = s < 0
    nt, nj = 2.0 / top_exponent, 2.0 / jaw_exponent
    x = np.where(upper, np.sign(c) * np.abs(c) ** nt,
                 np.sign(c) * np.abs(c) ** nj * (1 - (1 - jaw_width) * np.abs(s) ** 1.6))
    y = np.where(upper, -head_height * np.abs(s) ** nt, jaw_height * np.abs(s) ** nj)
    start = mouth_y - 0.1
    drop = np.clip((y - start) / max(jaw_height - start, 1e-3), 0, 1)
    return x, y, drop


# ----------------------------------------------------------------------------------------------
# Shapes clipped to feature regions (face units).
# ----------------------------------------------------------------------------------------------
def _band(xs: np.ndarray, top: np.ndarray, bot: np.ndarray) -> np.ndarray | None:
    """Polygon of the region top(x) < y < bot(x) over samples xs (face units), or None.

    Clipping shapes to the eye or the mouth this way (both regions are graphs over x)
    costs a few vector operations instead of a mask composite.
    """
    ok = np.flatnonzero(top < bot - 1e-4)
    if len(ok) < 2:
        return None
    i0, i1 = ok[0], ok[-1] + 1
    x = xs[i0:i1]
    return np.concatenate([_xy(x, top[i0:i1]), _xy(x[::-1], bot[i0:i1][::-1])])


_G = np.linspace(0.0, 1.0, 15)


def _disc_in(cx, cy, rx, ry, xs_lo, xs_hi, ex, eu, el):
    """Ellipse (cx, cy, rx, ry) clipped to the region between curves eu and el sampled at ex."""
    lo, hi = max(cx - rx, xs_lo), min(cx + rx, xs_hi)
    if hi <= lo:
        return None
    xs = lo + (hi - lo) * _G
    h = ry * np.sqrt(np.maximum(1.0 - ((xs - cx) * (1.0 / rx)) ** 2, 0.0))
    top = np.maximum(cy - h, np.interp(xs, ex, eu))
    bot = np.minimum(cy + h, np.interp(xs, ex, el))
    return _band(xs, top, bot)


def _inside(cx, cy, rad, ex: list, eu: list, el: list) -> bool:
    """Whether a small disc lies wholly between the lid curves (then it needs no clipping).

    Curves are Python lists; the interpolation is `np.interp`'s formula, in plain floats
    (three points per curve cost less this way than an array call)."""
    if cx - rad <= ex[0] or cx + rad >= ex[-1]:
        return False
    for x in (cx - rad, cx, cx + rad):
        j = bisect.bisect_right(ex, x) - 1
        dx = ex[j + 1] - ex[j]
        if not ((eu[j + 1] - eu[j]) / dx * (x - ex[j]) + eu[j] < cy - rad):
            return False
        if not ((el[j + 1] - el[j]) / dx * (x - ex[j]) + el[j] > cy + rad):
            return False
    return True


def _clip_halfplane(poly: np.ndarray, normal: tuple[float, float], k: float) -> np.ndarray | None:
    """Part of a closed convex polygon where normal . p >= k (vectorised, one run inside)."""
    d = poly @ np.asarray(normal) - k
    inside = d >= 0
    n = len(poly)
    count = int(inside.sum())
    if count == n:
        return poly
    if count < 2:
        return None
    starts = np.flatnonzero(inside & ~np.roll(inside, 1))  # first inside point of the run
    i0 = int(starts[0])
    run = (i0 + np.arange(count)) % n
    before, after = (i0 - 1) % n, (run[-1] + 1) % n
    a0, b0 = poly[before], poly[i0]
    enter = a0 + (b0 - a0) * (d[before] / (d[before] - d[i0]))
    a1, b1 = poly[run[-1]], poly[after]
    leave = a1 + (b1 - a1) * (d[run[-1]] / (d[run[-1]] - d[after]))
    return np.concatenate([enter[None], poly[run], leave[None]])


def _thick_curve(center: np.ndarray, half: np.ndarray) -> np.ndarray:
    """Polygon around a curve with a per-point half-thickness (vertical offset): the top
    edge left to right, then the bottom edge back."""
    n = len(center)
    out = np.empty((2 * n, 2))
    out[:n, 0] = center[:, 0]
    out[n:, 0] = center[::-1, 0]
    out[:n, 1] = center[:, 1] - half
    out[n:, 1] = (center[:, 1] + half)[::-1]
    return out

