"""Draw a character's face for a rig pose, and return its 49 landmarks.

Geometry lives in face units (head half-width 1, origin at the head centre, y down).
Every facial feature is a function of the style and the rig's action units; the head pose
rotates feature points on an ellipsoidal head (features at depth z shift by z sin(yaw)),
while the silhouette, hair and ears only follow roll and a small shift (a cartoon head
keeps its outline when it turns). Landmarks come from the same feature points as the
drawing, so they are exact.

Anti-aliasing: shapes are drawn with PIL ImageDraw at `supersample` x the output size and
reduced with a box filter (`Image.reduce`). Landmark coordinates are output pixel indices
(pixel centres are integers), in `deepexpr.landmarks` order.

Speed (a 128 px frame costs ~2 ms, mostly Python and numpy call overhead on small arrays):
the drawing calls of a frame are recorded with their points in face units and projected in
two array operations, one for the face surface (with the 49 landmarks) and one for the
silhouette; shapes that do not depend on the rig (body, long hair, ears, hair cap) are
built once per character look and image size; PIL's core drawing object is called with
cached inks. Each fast path computes exactly what the plain code did (same arithmetic,
row by row), so frames are pixel-identical to renderer v5 (tests/test_characters_fastpaths.py).
"""

from __future__ import annotations

import bisect
import functools
import math
import threading

import numpy as np
from PIL import Image, ImageDraw

from deepexpr.characters.rig import check_rig
from deepexpr.characters.style import CharacterStyle

# Rig -> geometry gains (face units per unit of AU). Chosen so each AU reads clearly.
BROW_INNER_RAISE = 0.2  # AU1
BROW_OUTER_RAISE = 0.18  # AU2
BROW_LOWER = 0.13  # AU4 (more at the inner end)
BROW_PULL_IN = 0.09  # AU4 inner ends toward the midline
JAW_DROP = 0.3  # AU26
MOUTH_STRETCH = 0.42  # AU27
LIPS_PART = 0.035  # AU25


@functools.lru_cache(maxsize=512)
def _rgb(color: str) -> tuple[int, int, int]:
    return (int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16))


@functools.lru_cache(maxsize=4096)
def _mix(a: tuple, b: tuple, t: float) -> tuple[int, int, int]:
    t = min(1.0, max(0.0, t))
    return tuple(int(round(x * (1 - t) + y * t)) for x, y in zip(a, b))


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
        self.cx = 0.5 * size * ss
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


# ----------------------------------------------------------------------------------------------
# Geometry (face units) from style + rig.
# ----------------------------------------------------------------------------------------------
_EYE_LOWER_RATIO = {"round": 1.0, "dot": 1.0, "almond": 0.7, "anime": 0.85}
_EYE_POWER = {"round": 0.5, "dot": 0.5, "almond": 0.85, "anime": 0.6}


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
    open_up = 1.0 + 0.5 * r["AU5"] - 0.42 * r["AU7"] - 0.22 * r["AU6"] - 0.12 * r["AU4"] \
        - 0.12 * r["AU9"] + 0.1 * r["AU1"] * r["AU2"] - 0.18 * max(r["gaze_y"], 0.0)
    open_lo = 1.0 - 0.55 * r["AU6"] - 0.45 * r["AU7"] - 0.2 * r["AU9"] + 0.2 * r["AU5"]
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


def head_outline(style: CharacterStyle, rig: dict, size: int = 256,
                 supersample: int = 2) -> np.ndarray:
    """The drawn head silhouette (without ears and hair) as a float32 (N, 2) polygon in
    output pixels; every landmark lies inside it."""
    r = check_rig(rig)
    ss = max(1, int(supersample))
    view = _View(style, r, int(size), ss)
    jaw = _mouth_geometry(style, r)["jaw"]
    return ((view.shell(_head_outline(style, jaw)) - (ss - 1) / 2.0) / ss).astype(np.float32)


def face_landmarks(style: CharacterStyle, rig: dict, size: int = 256,
                   supersample: int = 2) -> np.ndarray:
    """The 49 landmarks of a pose without drawing it: exactly `render_face(...)[1]`.

    Returns:
        float32 (49, 2) image coordinates in output pixels.
    """
    r = check_rig(rig)
    ss = max(1, int(supersample))
    return _landmarks(style, _geometry(style, r), _View(style, r, int(size), ss), ss)


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


# ----------------------------------------------------------------------------------------------
# Drawing.
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


def _coord_at_angle(coord, angle: float, width: int) -> tuple[float, ...]:
    """A point near the rim of a wide line's joint (as ImageDraw.line computes it)."""
    x, y = coord
    angle -= 90
    distance = width / 2 - 1
    return tuple(p + (math.floor(p_d) if p_d > 0 else math.ceil(p_d))
                 for p, p_d in ((x, distance * math.cos(math.radians(angle))),
                                (y, distance * math.sin(math.radians(angle)))))


_MASKS = threading.local()  # per thread: canvas size -> (mask image, its core drawing object)


def _outline_mask(size: tuple[int, int]) -> tuple[Image.Image, object]:
    """A cleared mode "1" canvas and its core drawing object (ImageDraw.polygon makes a new
    one for every wide outline)."""
    masks = _MASKS.__dict__.setdefault("by_size", {})
    got = masks.get(size)
    if got is None:
        mask = Image.new("1", size)
        got = masks[size] = (mask, ImageDraw.Draw(mask).draw)
    else:
        got[0].paste(0, (0, 0, *size))
    return got


class _Painter:
    """The canvas of one frame and its drawing primitives.

    The primitives do what `ImageDraw.polygon / line / ellipse` do, pixel for pixel, but
    call PIL's core drawing object directly with each colour's ink looked up once: the
    public wrappers re-parse the colour on every call, a sizeable share of a 128 px frame.
    """

    def __init__(self, style: CharacterStyle, rig: dict, size: int, ss: int):
        self.s, self.r, self.size, self.ss = style, rig, size, ss
        self.view = _View(style, rig, size, ss)
        self.px = self.view.scale  # pixels per face unit
        # the character's whole look, as a cache key of what does not depend on the rig
        self.style_key = tuple(tuple(v) if isinstance(v, list) else v for v in vars(style).values())
        self.body_key = (style.background, style.skin, style.shirt, style.line_color, style.outline,
                         style.jaw_height, style.head_scale, style.head_y, size, ss)
        body = _BODY_CACHE.get(self.body_key)
        self.has_body = body is not None
        self.img = body.copy() if body is not None else Image.new("RGB", (size * ss, size * ss),
                                                                  _rgb(style.background))
        self.draw = ImageDraw.Draw(self.img)
        self.core = self.draw.draw  # PIL's ImagingDraw
        self._inks: dict = {}
        self.skin = _rgb(style.skin)
        self.ink = _rgb(style.line_color)
        self.lw = max(1, int(round(style.outline * self.px))) if style.outline > 0 else 0
        self.fine = max(1, int(round(max(style.outline, 0.016) * self.px * 0.8)))

    def _ink(self, color) -> int:
        ink = self._inks.get(color)
        if ink is None:
            ink = self._inks[color] = self.core.draw_ink(color)
        return ink

    # -- primitives --
    def poly(self, pts, fill=None, outline=None, width=0):
        xy = pts.ravel().tolist()
        fill_ink = None
        if fill is not None:
            fill_ink = self._ink(fill)
            self.core.draw_polygon(xy, fill_ink, 1)
        if outline is None or width < 1:
            return
        ink = self._ink(outline)
        if ink == fill_ink:
            return
        if width == 1:
            self.core.draw_polygon(xy, ink, 0, 1)
        else:  # as ImageDraw.polygon: a wide outline stays inside the polygon via a mask
            mask, mask_core = _outline_mask(self.img.size)
            mask_core.draw_polygon(xy, self._ink(1), 1)
            self.core.draw_polygon(xy, ink, 0, width * 2 - 1, mask.im)

    def line(self, pts, fill, width):
        self.polyline(pts.ravel().tolist(), fill, max(1, int(width)))
        if width >= 4:  # round caps
            rad = width / 2.0
            ink = self._ink(fill)
            for x, y in (pts[0].tolist(), pts[-1].tolist()):
                self.core.draw_ellipse((x - rad, y - rad, x + rad, y + rad), ink, 1)

    def closed_line(self, pts, fill, width):
        """Outline of a closed polygon (a polyline back to its first point)."""
        xy = pts.ravel().tolist()
        self.polyline(xy + xy[:2], fill, width)

    def polyline(self, xy: list, fill, width: int) -> None:
        ink = self._ink(fill)
        self.core.draw_lines(xy, ink, width)
        if width > 4:
            self._curve_joints(xy, ink, width)

    def _curve_joints(self, xy: list, ink: int, width: int) -> None:
        """Round joints of a wide polyline: `ImageDraw.line(..., joint="curve")`'s own
        arithmetic and calls, minus its per-joint wrapper overhead."""
        points = [(xy[i], xy[i + 1]) for i in range(0, len(xy), 2)]
        half = width / 2
        for i in range(1, len(points) - 1):
            point = points[i]
            angles = [math.degrees(math.atan2(end[0] - start[0], start[1] - end[1])) % 360
                      for start, end in ((points[i - 1], point), (point, points[i + 1]))]
            if angles[0] == angles[1]:  # a straight line: no joint
                continue
            flipped = ((angles[1] > angles[0] and angles[1] - 180 > angles[0])
                       or (angles[1] < angles[0] and angles[1] + 180 > angles[0]))
            coords = [(point[0] - half + 1, point[1] - half + 1),
                      (point[0] + half - 1, point[1] + half - 1)]
            if flipped:
                start, end = (angles[1] + 90, angles[0] + 90)
            else:
                start, end = (angles[0] - 90, angles[1] - 90)
            self.core.draw_pieslice(coords, start - 90, end - 90, ink, 1)
            if width > 8:  # cover potential gaps between the line and the joint
                turn = 90 if flipped else -90
                gap = [_coord_at_angle(point, angles[0] + turn, width), point,
                       _coord_at_angle(point, angles[1] + turn, width)]
                self.core.draw_lines(gap, ink, 3)

    def dot(self, p, rad, fill, outline=None, width=0):
        x, y = float(p[0]), float(p[1])
        box = (x - rad, y - rad, x + rad, y + rad)
        fill_ink = self._ink(fill)
        self.core.draw_ellipse(box, fill_ink, 1)
        if outline is not None and width > 0:
            ink = self._ink(outline)
            if ink != fill_ink:
                self.core.draw_ellipse(box, ink, 0, width)

    @property
    def edge(self):
        """Outline colour, or None for styles drawn without outlines."""
        return self.ink if self.lw else None


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


class _UnitView:
    """Stands in for `_View` while recording silhouette shapes: points stay in face units."""

    @staticmethod
    def shell(xy) -> np.ndarray:
        return np.asarray(xy, dtype=np.float64).reshape(-1, 2)


class _Recorder:
    """Records drawing calls with their points in face units, to project them all at once.

    Silhouette parts that do not depend on the rig (long hair, ears, horns, hair cap) are
    recorded once per character look and image size; a frame projects all their points in
    one `_View.shell` call and replays the calls on its `_Painter`. The facial features of
    a frame are recorded the same way and projected, with the landmarks, in one
    `_View.face` call (`_project_features`). Projections work row by row, so one call
    gives exactly the coordinates that many calls would.
    """

    view = _UnitView

    def __init__(self, p: _Painter):
        self.s, self.r, self.px, self.ss = p.s, p.r, p.px, p.ss
        self.lw, self.fine = p.lw, p.fine
        self.skin, self.ink, self.edge = p.skin, p.ink, p.edge
        self.pts: list[np.ndarray] = []
        self.zs: list = []  # depth offset (scalar or per point) of each part
        self.n = 0
        self.ops: list[tuple] = []

    def _add(self, pts, z) -> int:
        if pts.__class__ is not np.ndarray or pts.ndim != 2 or pts.dtype != np.float64:
            pts = _UnitView.shell(pts)
        self.pts.append(pts)
        self.zs.append(z)
        self.n += len(pts)
        return self.n - len(pts)

    def poly(self, pts, fill=None, outline=None, width=0, z=0.0):
        a = self._add(pts, z)
        self.ops.append((_Painter.poly, a, self.n, (fill, outline, width)))

    def line(self, pts, fill, width, z=0.0):
        a = self._add(pts, z)
        self.ops.append((_Painter.line, a, self.n, (fill, width)))

    def closed_line(self, pts, fill, width, z=0.0):
        a = self._add(pts, z)
        self.ops.append((_Painter.closed_line, a, self.n, (fill, width)))

    def dot(self, p, rad, fill, outline=None, width=0, z=0.0):
        a = self._add(p, z)
        self.ops.append((_Painter.dot, a, None, (rad, fill, outline, width)))

    def call(self, draw, pts, *args, z=0.0):
        """Record `draw(painter, projected pts, *args)`: for shapes built in pixels from
        projected points."""
        a = self._add(pts, z)
        self.ops.append((draw, a, self.n, args))

    def units(self) -> np.ndarray:
        return np.concatenate(self.pts) if self.pts else np.zeros((0, 2))


def _project_features(view: _View, recorders: list[_Recorder], xy: np.ndarray,
                      z: np.ndarray) -> np.ndarray:
    """Project the recorded face-surface points of `recorders`, then `xy` (depth `z`), in
    one `_View.face` call: rows in that order."""
    parts = [pts for rec in recorders for pts in rec.pts]
    parts.append(xy)
    pts = np.concatenate(parts)
    depth = np.zeros(len(pts))  # most parts lie on the surface; set the others
    a = 0
    for rec in recorders:
        for part, d in zip(rec.pts, rec.zs):
            b = a + len(part)
            if d.__class__ is np.ndarray or d != 0.0:
                depth[a:b] = d
            a = b
    depth[a:] = z
    return view.face(pts, depth)


def _replay(p: _Painter, ops: list[tuple], proj: np.ndarray, offset: int) -> None:
    for draw, a, b, args in ops:
        draw(p, proj[offset + a] if b is None else proj[offset + a:offset + b], *args)


_LAYERS: dict = {}


def _silhouette_layers(p: _Painter) -> tuple:
    """(units behind the head, units of the hair in front, their recorded calls), cached
    per character look and image size."""
    key = (p.style_key, p.size, p.ss)
    layers = _LAYERS.get(key)
    if layers is None:
        behind, front = _Recorder(p), _Recorder(p)
        _draw_back(behind)
        _draw_side_ears(behind)
        _draw_hair_front(front)
        layers = (behind.units(), front.units(), behind.ops, front.ops)
        if len(_LAYERS) > 256:
            _LAYERS.clear()
        _LAYERS[key] = layers
    return layers


def _draw_silhouette(p: _Painter, jaw: float) -> tuple[np.ndarray, list, int]:
    """Draw long hair, ears and the head; return the projected hair points and calls left
    to draw (the hair in front goes over the cheeks and expression lines)."""
    behind, front, behind_ops, front_ops = _silhouette_layers(p)
    units = _head_outline(p.s, jaw)
    nb, nh = len(behind), len(units)
    proj = p.view.shell(np.concatenate([behind, units, front]))
    _replay(p, behind_ops, proj, 0)
    _draw_head(p, units, proj[nb:nb + nh])
    return proj, front_ops, nb + nh


def _draw_body(p: _Painter) -> None:
    """Background, neck and shoulders: they do not depend on the rig, so they are drawn once
    per (look, size) and copied."""
    s = p.s
    if p.has_body:  # the canvas started as a copy of the cached body
        return
    neck_col = _mix(p.skin, (0, 0, 0), 0.12)
    neck = np.array([[-0.36, 0.4], [0.36, 0.4], [0.4, s.jaw_height + 0.55], [-0.4, s.jaw_height + 0.55]])
    p.poly(p.view.body(neck), fill=neck_col, outline=p.edge, width=p.lw)
    sh = _ellipse(0, s.jaw_height + 1.25, 1.75, 0.75, 40)
    p.poly(p.view.body(sh), fill=_rgb(s.shirt), outline=p.edge, width=p.lw)
    collar = _ellipse(0, s.jaw_height + 0.56, 0.42, 0.14, 20, 0, math.pi)
    p.line(p.view.body(collar), _mix(_rgb(s.shirt), (0, 0, 0), 0.3), p.fine)
    if len(_BODY_CACHE) > 64:
        _BODY_CACHE.clear()
    _BODY_CACHE[p.body_key] = p.img.copy()


_BODY_CACHE: dict = {}


def _draw_back(p: _Painter) -> None:
    """Everything behind the head: long hair, top ears, horns, antennae, bun."""
    s, v = p.s, p.view
    hair = _rgb(s.hair_color)
    hair_line = _mix(hair, (0, 0, 0), 0.35)
    hv = s.hair_volume
    if s.hair_style in ("long", "bob"):
        bottom = s.jaw_height + (0.9 if s.hair_style == "long" else 0.0)
        width = 1.0 + hv + (0.12 if s.hair_style == "long" else 0.08)
        top = _ellipse(0, 0, width, s.head_height + hv, 24, math.pi, 2 * math.pi)
        back = np.concatenate([top, [[width, bottom], [width * 0.85, bottom + 0.15],
                                     [-width * 0.85, bottom + 0.15], [-width, bottom]]])
        p.poly(v.shell(back), fill=hair, outline=hair_line if p.lw else None, width=p.lw)
    if s.hair_style == "bun":
        p.dot(v.shell(np.array([[0, -s.head_height - hv - 0.08]]))[0], 0.27 * p.px, hair,
              hair_line, max(p.lw, 1))
    if "horns" in s.extras:
        col = _mix(_rgb(s.accent), (255, 255, 255), 0.35)
        for side in (-1, 1):
            base_x = side * 0.5
            horn = np.array([[base_x - 0.16, -s.head_height * 0.75], [base_x + side * 0.25, -s.head_height - 0.5],
                             [base_x + 0.16, -s.head_height * 0.78]])
            p.poly(v.shell(horn), fill=col, outline=p.ink, width=max(p.lw, 1))
    if "antennae" in s.extras:
        for side in (-1, 1):
            stalk = np.array([[side * 0.2, -s.head_height * 0.9], [side * 0.35, -s.head_height - 0.35],
                              [side * 0.5, -s.head_height - 0.55]])
            sp = v.shell(stalk)
            p.line(sp, p.ink, max(p.lw, 2))
            p.dot(sp[-1], 0.09 * p.px, _rgb(s.accent), p.ink, max(p.lw, 1))
    es = s.ear_size
    inner = _rgb(s.ear_inner)
    if s.ear_style == "cat":
        for side in (-1, 1):
            ear = np.array([[side * 0.3, -s.head_height * 0.85], [side * 0.8, -s.head_height - 0.38 * es],
                            [side * 0.92, -s.head_height * 0.35]])
            p.poly(v.shell(ear), fill=p.skin, outline=p.edge, width=p.lw)
            cen = ear.mean(0)
            p.poly(v.shell(cen + 0.55 * (ear - cen)), fill=inner)
    elif s.ear_style in ("bear", "mouse"):
        rad = (0.27 if s.ear_style == "bear" else 0.4) * es
        pos = (0.72, -s.head_height * 0.8) if s.ear_style == "bear" else (0.82, -s.head_height * 0.68)
        for side in (-1, 1):
            c = v.shell(np.array([[side * pos[0], pos[1]]]))[0]
            p.dot(c, rad * p.px, p.skin, p.edge, p.lw)
            p.dot(c, rad * 0.6 * p.px, inner)


def _draw_side_ears(p: _Painter) -> None:
    s, v = p.s, p.view
    es = s.ear_size
    ear_y = s.eye_y + 0.2
    if s.ear_style == "human":
        for side in (-1, 1):
            ear = _ellipse(side * 0.97, ear_y, 0.14 * es, 0.22 * es, 20)
            p.poly(v.shell(ear), fill=p.skin, outline=p.edge, width=p.lw)
            arc = _ellipse(side * 0.98, ear_y, 0.07 * es, 0.13 * es, 10, -1.2, 1.2)
            arc[:, 0] = side * 0.98 + side * (arc[:, 0] - side * 0.98)
            p.line(v.shell(arc), _mix(p.skin, p.ink, 0.45), p.fine)
    elif s.ear_style == "elf":
        for side in (-1, 1):
            ear = np.array([[side * 0.93, ear_y - 0.2], [side * (1.45 + 0.1 * es), ear_y - 0.45 * es],
                            [side * 0.95, ear_y + 0.25]])
            p.poly(v.shell(ear), fill=p.skin, outline=p.edge, width=p.lw)
            cen = ear.mean(0)
            p.poly(v.shell(cen + 0.5 * (ear - cen)), fill=_rgb(s.ear_inner))


def _shade(p: _Painter, head_units: np.ndarray) -> None:
    """Cel shading (styles with shading="shaded"): two darker bands away from an upper-left
    light, and a soft highlight on the forehead."""
    normal = (0.94, 0.34)
    for k, amount in ((0.5, 0.07), (0.82, 0.14)):
        band = _clip_halfplane(head_units, normal, k)
        if band is not None:
            p.poly(p.view.shell(band), fill=_mix(p.skin, (40, 20, 30), amount))
    hl = _ellipse(-0.4, -0.6 * p.s.head_height, 0.22, 0.13, 20)
    p.poly(p.view.shell(hl), fill=_mix(p.skin, (255, 255, 255), 0.1))


def _draw_head(p: _Painter, units: np.ndarray, head: np.ndarray) -> np.ndarray:
    """The head silhouette (`units` in face units, `head` projected) with its shading."""
    s = p.s
    p.poly(head, fill=p.skin)
    if s.shading == "shaded":
        _shade(p, units)
    if p.lw:
        p.closed_line(head, p.ink, p.lw)
    return head


def _draw_hair_front(p: _Painter) -> None:
    s, v = p.s, p.view
    if s.hair_style in ("none",):
        return
    hair = _rgb(s.hair_color)
    hair_line = _mix(hair, (0, 0, 0), 0.35)
    hv, H = s.hair_volume, s.head_height
    eh = 0.2 * s.eye_size * s.eye_aspect
    # The fringe stays above the highest the brows can go (they carry the expression).
    brow_top = s.eye_y - eh - s.brow_gap - 2 * s.brow_thickness - s.brow_arch
    hairline = min(brow_top - 0.27, -0.3)
    hairline = max(hairline, -0.8 * H)
    t = np.linspace(math.pi * 1.02, math.pi * 1.98, 30)
    cap_top = _xy((1 + hv) * np.cos(t), -(H + hv) * np.abs(np.sin(t)) ** (2 / s.top_exponent))
    side_y = hairline + 0.25
    w = p.lw if p.lw else 0
    if s.hair_style == "curly":  # curls round the crown, then a row over the forehead
        tt = _CURL_ANGLES
        cx = (1.0 + hv * 0.3) * np.cos(tt)
        cy = np.minimum(-(H + hv * 0.2) * np.abs(np.sin(tt)) ** 0.9,
                        hairline + 0.05 * (np.arange(len(tt)) % 2))
        fx = _CURL_FRONT
        centres = v.shell(np.concatenate([_xy(cx, cy), _xy(fx, hairline - 0.05 - 0.15 * (1 - fx * fx))]))
        radii = np.concatenate([_CURL_RADII, np.full(len(fx), 0.17)]) * p.px
        for c, rad in zip(centres.tolist(), radii.tolist()):
            p.dot(c, rad, hair, hair_line, max(1, w))
        return
    if s.hair_style == "mohawk":
        xs = np.linspace(-0.18, 0.18, 7)
        top = _xy(xs, -H - 0.1 - 0.35 * (1 - (xs / 0.2) ** 2) * (np.arange(7) % 2 == 0)
                        - 0.12)
        strip = np.concatenate([[[-0.22, hairline]], top, [[0.22, hairline]]])
        p.poly(v.shell(strip), fill=hair, outline=hair_line, width=max(1, w))
        return
    xs = np.linspace(1.0, -1.0, 15)
    if s.hair_style == "spiky":
        fringe_y = hairline + 0.1 * (np.arange(15) % 2)
        k = np.arange(30)
        cap_top = cap_top * (1 + 0.16 * (k % 2 == 0)[:, None])
    elif s.hair_style in ("bob", "long"):
        fringe_y = hairline + 0.03 + 0.03 * np.cos(xs * 9)
    elif s.hair_style == "side":
        fringe_y = hairline - 0.05 + 0.15 * (xs + 1) / 2 * (xs > -0.3)
    elif s.hair_style == "bun":
        fringe_y = hairline - 0.08 * (1 - xs * xs)
    else:  # short
        fringe_y = hairline - 0.08 * (1 - xs * xs) + 0.04 * xs
    fringe_x = xs * (0.95 + 0.05 * hv)
    sides = [[1 + hv * 0.5, side_y]]
    back_sides = [[-1 - hv * 0.5, side_y]]
    cap = np.concatenate([back_sides, cap_top, sides, _xy(fringe_x, fringe_y)])
    p.poly(v.shell(cap), fill=hair, outline=hair_line, width=max(1, w))
    if s.hair_style in ("short", "side", "bob", "long"):  # a few strands
        for x0 in (-0.35, 0.05, 0.45):
            strand = np.array([[x0, -H * 0.75], [x0 + 0.1, hairline - 0.08]])
            p.line(v.shell(strand), hair_line, p.fine)


def _draw_cheeks_and_extras(p: _Recorder, eyes: dict, mouth: dict) -> None:
    s, r = p.s, p.r
    if "muzzle" in s.extras:
        cy = (s.nose_y + s.mouth_y) / 2 + 0.04 + 0.4 * mouth["jaw"]
        ry = (s.mouth_y - s.nose_y) / 2 + 0.2 + 0.45 * mouth["jaw"]
        rx = max(mouth["w"], s.mouth_width) + 0.17
        muz = _ellipse(0, cy, rx, ry, 32)
        p.poly(muz, fill=_mix(p.skin, (255, 245, 235), 0.45))
    if "blush" in s.extras or r["AU6"] > 0.3:
        strength = (0.35 if "blush" in s.extras else 0.0) + 0.4 * r["AU6"]
        col = _mix(p.skin, _rgb(s.accent if "blush" in s.extras else "#ff8080"), strength)
        for side in (-1, 1):
            e = eyes[side]
            cen = (side * (s.eye_spacing + 0.06), s.eye_y + e["eh"] + 0.2 - 0.05 * r["AU6"])
            p.poly(_ellipse(cen[0], cen[1], 0.16, 0.09, 18), fill=col)
    if "freckles" in s.extras:
        col = _mix(p.skin, _rgb(s.accent), 0.6)
        for side in (-1, 1):
            for dx, dy in ((0.0, 0.0), (0.09, 0.03), (-0.07, 0.05), (0.04, 0.09), (0.12, -0.04)):
                c = np.array([[side * (s.eye_spacing + dx * side), s.eye_y + 0.3 + dy]])
                p.dot(c, 0.018 * p.px, col)
    if "spots" in s.extras:
        col = _mix(p.skin, _rgb(s.accent), 0.55)
        for cx, cy, rr in ((-0.45, -0.7, 0.12), (0.35, -0.85, 0.09), (0.1, -0.6, 0.06),
                           (0.75, -0.3, 0.08)):
            p.poly(_ellipse(cx, cy, rr, rr * 0.8, 14), fill=col)


def _draw_wrinkles(p: _Recorder, eyes: dict, brows: dict, mouth: dict, base: np.ndarray) -> None:
    """Expression lines that make AUs read: forehead (AU1+2), furrow (AU4), nose (AU9), folds."""
    s, r = p.s, p.r
    if s.family == "standin_human":
        col_base = 0.35
    else:
        col_base = 0.5
    lift = min(r["AU1"], 1.0) * 0.5 + min(r["AU2"], 1.0) * 0.5
    if lift > 0.45:
        col = _mix(p.skin, p.ink, col_base * (lift - 0.3))
        top = min(brows[-1][:, 1].min(), brows[1][:, 1].min())
        for k in range(2):
            y = top - 0.09 - 0.07 * k
            arc = _xy(0.28 * _U7, y - 0.03 * (1 - _U7 ** 2))
            p.line(arc, col, p.fine)
    if r["AU4"] > 0.45:
        col = _mix(p.skin, p.ink, col_base * (r["AU4"] - 0.2))
        y0 = max(brows[-1][-1, 1], brows[1][0, 1])
        for x in (-0.05, 0.05):
            p.line(np.array([[x, y0 - 0.04], [x * 0.8, y0 + 0.08]]), col, p.fine)
    if r["AU9"] > 0.3:
        col = _mix(p.skin, p.ink, col_base * (r["AU9"] + 0.1))
        y0 = s.eye_y + 0.08
        for k in range(3):
            y = y0 + 0.045 * k
            arc = np.array([[-0.09, y + 0.015], [0.0, y - 0.01], [0.09, y + 0.015]])
            p.line(arc, col, p.fine, z=0.2 * s.nose_size * (0.3 + 0.2 * k))
    fold = max(r["AU12"], r["AU10"] * 1.1, r["AU9"] * 0.9)
    if fold > 0.4 and s.family != "animal":
        col = _mix(p.skin, p.ink, col_base * (fold - 0.15))
        for side in (-1, 1):
            a = base[0] if side < 0 else base[-1]
            c = mouth["outer_up"][0] if side < 0 else mouth["outer_up"][-1]
            pts = np.array([[a[0] + side * 0.05, a[1] - 0.02],
                            [c[0] + side * 0.12, (a[1] + c[1]) / 2 + 0.02],
                            [c[0] + side * 0.07, c[1] + 0.04]])
            p.line(pts, col, p.fine)
    if r["AU17"] > 0.35:
        col = _mix(p.skin, p.ink, col_base * (r["AU17"] - 0.1))
        y = mouth["outer_lo"][6, 1] + 0.07
        arc = _xy(0.1 * _U7, y + 0.02 * _U7 ** 2)
        p.line(arc, col, p.fine)


def _draw_eye(p: _Recorder, eye: dict, side: int) -> None:
    s = p.s
    up, lo = eye["upper"], eye["lower"]
    ex, eu, el = up[:, 0], up[:, 1], lo[:, 1]
    ix, iy = eye["iris"]
    ir = eye["iris_r"]
    ry = ir * (1.18 if s.eye_style == "anime" else 1.0)
    # Centres of pupil / highlight discs.
    if s.eye_style == "anime":
        centres = [(ix - 0.4 * ir, iy - 0.45 * ry), (ix + 0.4 * ir, iy + 0.42 * ry)]
    elif s.eye_style == "dot":
        centres = [(ix - 0.3 * eye["ew"], iy - 0.3 * eye["eh"])]
    else:
        centres = [(ix, iy), (ix - 0.38 * ir, iy - 0.4 * ir)]
    poly = np.concatenate([up, lo[::-1][1:-1]])
    iris_col = _rgb(s.iris_color)
    lash = max(p.fine, int(round(p.lw * 1.3))) if p.lw else p.fine
    tiny = eye["open"] * p.px < 2.2 * p.ss
    white = (255, 255, 255)
    # Discs inside the eye, back to front: (cx, cy, rx, ry, fill, centre index or None,
    # clip curves or None). Indexed discs that fit between the lids are plain dots.
    if s.eye_style == "dot":
        if tiny:
            p.line(up, iris_col, max(lash, 2))
            return
        p.poly(poly, fill=iris_col)
        rad = 0.22 * ir + 0.02
        discs = [(*centres[0], rad, rad, white, 0, None)]
    else:
        if tiny:
            p.line(up, p.ink, lash)
            return
        p.poly(poly, fill=_rgb(s.sclera))
        discs = [(ix, iy, ir, ry, iris_col, None, None)]
        if s.eye_style == "anime":
            # darker upper half of the iris, a dark pupil and two highlights
            discs += [(ix, iy, ir, ry, _mix(iris_col, (0, 0, 0), 0.4), None,
                       (np.maximum(eu, -9), np.minimum(el, iy))),
                      (ix, iy, 0.5 * ir, 0.6 * ry, _mix(iris_col, (0, 0, 0), 0.75), None, None),
                      (*centres[0], 0.32 * ir, 0.32 * ir, white, 0, None),
                      (*centres[1], 0.16 * ir, 0.16 * ir, white, 1, None)]
        else:
            discs += [(*centres[0], 0.48 * ir, 0.48 * ir, (15, 12, 12), 0, None),
                      (*centres[1], 0.26 * ir, 0.26 * ir, white, 1, None)]
    _draw_discs(p, discs, ex, eu, el, centres)
    if s.eye_style == "dot":
        return
    if s.eye_style == "round":
        width = max(p.fine, p.lw)
        p.closed_line(poly, p.ink, width)
        p.line(up, p.ink, int(width * 1.4))
    elif s.eye_style == "almond":
        p.line(lo, _mix(p.ink, p.skin, 0.4), p.fine)
        p.call(_draw_almond_lash, up, side, lash)
    else:  # anime: heavy lash line, thickest at the outer corner, and a short lower lid mark
        th = 0.035 * s.eye_size * (0.5 + 0.5 * _U13_RAMP[::-side])
        p.poly(np.concatenate([_thick_curve(up, th)[:13], up[::-1]]), fill=p.ink)
        p.line(lo[3:10], _mix(p.ink, p.skin, 0.3), p.fine)


def _draw_almond_lash(p: _Painter, up_px: np.ndarray, side: int, lash: int) -> None:
    """Upper lid line of almond eyes with a flick past the outer corner (in pixels)."""
    ext = up_px[0] if side < 0 else up_px[-1]
    prev = up_px[1] if side < 0 else up_px[-2]
    flick = ext + (ext - prev) * 1.6 + np.array([0, -0.2 * (ext - prev)[0] * side])
    pts = np.concatenate([up_px, [flick]]) if side > 0 else np.concatenate([[flick], up_px])
    p.line(pts, p.ink, lash)


def _draw_discs(p: _Recorder, discs: list, ex, eu, el, centres: list) -> None:
    """Draw discs clipped to the eye, back to front.

    Each disc is (cx, cy, rx, ry, fill, centre index or None, clip curves or None). A disc
    with a centre index that fits between the lids is a plain dot; the others are clipped
    to the lids (`_disc_in`, computed for all discs at once).
    """
    exl, eul, ell = ex.tolist(), eu.tolist(), el.tolist()
    plan = []  # per disc: the index of its centre (a dot), or its row in `outlines`
    rows = []
    for disc in discs:
        k = disc[5]
        if k is not None and _inside(disc[0], disc[1], disc[2], exl, eul, ell):
            plan.append(("dot", k))
        else:
            plan.append(("band", len(rows)))
            rows.append(disc)
    outlines, spans = _discs_in(rows, ex, eu, el) if rows else (None, [])
    n = 2 * len(_G)  # points per disc row of `outlines`
    for disc, (kind, i) in zip(discs, plan):
        if kind == "dot":
            p.dot(centres[i], disc[2] * p.px, disc[4])
        elif spans[i] is not None:
            a, b = spans[i]
            o = i * n
            p.poly(np.concatenate([outlines[o + a:o + b], outlines[o + n - b:o + n - a]]), fill=disc[4])


def _discs_in(discs: list, ex, eu, el) -> tuple[np.ndarray, list]:
    """`_disc_in` for several discs (rows of `_draw_discs`) at once: the same arithmetic,
    element by element, in a few array operations instead of a few per disc.

    Returns:
        outlines: (D * 30, 2) face units; disc i's rows i*30 .. i*30+29 are its 15 upper
            points left -> right, then its 15 lower points right -> left.
        spans: per disc, None (nothing inside the eye) or (a, b): its clipped outline is
            upper points a..b-1, then lower points 30-b .. 30-a-1 (`_band`'s polygon).
    """
    x0, x1 = ex[0], ex[-1]
    prm = np.array([d[:4] for d in discs], dtype=np.float64)
    cx, cy, rx, ry = prm[:, 0:1], prm[:, 1:2], prm[:, 2:3], prm[:, 3:4]
    lo, hi = np.maximum(cx - rx, x0), np.minimum(cx + rx, x1)
    xs = lo + (hi - lo) * _G
    h = ry * np.sqrt(np.maximum(1.0 - ((xs - cx) * (1.0 / rx)) ** 2, 0.0))
    cu, cl = np.interp(xs, ex, eu), np.interp(xs, ex, el)
    for i, d in enumerate(discs):
        if d[6] is not None:  # this disc has its own clip curves
            cu[i], cl[i] = np.interp(xs[i], ex, d[6][0]), np.interp(xs[i], ex, d[6][1])
    m = len(_G)
    out = np.empty((len(discs), 2 * m, 2))
    out[:, :m, 0] = xs
    out[:, m:, 0] = xs[:, ::-1]
    top = out[:, :m, 1]
    bot = out[:, m:, 1][:, ::-1]
    np.maximum(cy - h, cu, out=top)
    np.minimum(cy + h, cl, out=bot)
    spans = []
    for row, empty in zip((top < bot - 1e-4).tolist(), (hi <= lo)[:, 0].tolist()):
        if empty or row.count(True) < 2:
            spans.append(None)
        else:
            spans.append((row.index(True), m - row[::-1].index(True)))
    return out.reshape(-1, 2), spans


@functools.lru_cache(maxsize=32)
def _brow_profile(brow_style: str, side: int) -> np.ndarray:
    """Brow half-thickness along the brow (9 points), relative to `brow_thickness`."""
    u = _U9
    if brow_style == "thin":
        return 0.55 + 0.45 * (1 - u * u)
    if brow_style == "thick":
        return 0.8 + 0.2 * (1 - u * u)
    if brow_style == "block":
        return np.ones_like(u)
    if brow_style == "bushy":
        return 0.85 + 0.15 * (1 - u * u)
    w_in = (1.0 + u * (-side)) / 2.0  # "arched": thick at the inner end
    return 0.3 + 0.7 * w_in


def _draw_brow(p: _Recorder, brow: np.ndarray, side: int) -> None:
    s = p.s
    if s.brow_style == "none":
        return
    half = s.brow_thickness * _brow_profile(s.brow_style, side)
    poly = _thick_curve(brow, half)
    col = _rgb(s.brow_color)
    out = _mix(col, (0, 0, 0), 0.3) if s.brow_style in ("block", "bushy") else None
    if s.brow_style == "bushy":
        p.call(_draw_bushy_brow, poly, len(brow), col, out, p.fine)
    else:
        p.poly(poly, fill=col, outline=out, width=p.fine if out else 0)


def _draw_bushy_brow(p: _Painter, pts: np.ndarray, n: int, col, out, width: int) -> None:
    """A bushy brow: its upper edge made jagged by lifting every other top point."""
    pts = pts.copy()
    pts[:n] += _xy(np.zeros(n), -0.02 * p.px * (np.arange(n) % 2))
    p.poly(pts, fill=col, outline=out, width=width)


def _draw_nose(p: _Recorder, bridge: np.ndarray, base: np.ndarray, mouth_top_y: float) -> None:
    s, r = p.s, p.r
    ns = s.nose_size
    zb, zs = _z_bridge(s), _z_base(s)
    tip, z_tip = bridge[3:4], zb[3:4]
    if s.nose_style == "none":
        return
    if s.nose_style == "dot":
        p.call(_draw_dot_at, tip, np.array([0, 0.03 * p.px]), 0.035 * ns * p.px,
               _mix(p.skin, p.ink, 0.6), z=z_tip)
    elif s.nose_style == "button":
        rad = 0.1 * ns * (1 + 0.15 * r["AU9"]) * p.px
        p.call(_draw_button_nose, np.array([[0, s.nose_y + 0.03 - 0.04 * r["AU9"]]]), rad,
               _rgb(s.nose_color), _mix(_rgb(s.nose_color), p.ink, 0.5), p.fine,
               _mix(_rgb(s.nose_color), (255, 255, 255), 0.6), z=0.25 * ns)
    elif s.nose_style == "long":
        pts = np.array([[0.015, s.eye_y + 0.06], [0.04, s.nose_y - 0.05], [0.075, s.nose_y + 0.04],
                        [0.02, base[2, 1] + 0.005]])
        z = np.array([0.08, 0.24, 0.28, 0.15]) * ns
        p.line(pts, _mix(p.skin, p.ink, 0.75), max(p.fine, p.lw), z=z)
        nos = np.array([[-0.07, base[1, 1]], [-0.03, base[2, 1] + 0.005]])
        p.line(nos, _mix(p.skin, p.ink, 0.6), p.fine, z=zs[1:3])
    elif s.nose_style == "animal":
        w = 0.11 * ns * (1 + 0.15 * r["AU9"])
        top_y = s.nose_y - 0.03 - 0.04 * r["AU9"]
        tri = np.array([[-w, top_y], [w, top_y], [w * 0.5, top_y + 0.08 * ns], [0, top_y + 0.11 * ns],
                        [-w * 0.5, top_y + 0.08 * ns]])
        p.poly(tri, fill=_mix(p.ink, (40, 30, 30), 0.5), z=0.25 * ns)
        p.dot(np.array([[-w * 0.35, top_y + 0.025]]), 0.025 * p.px, (230, 220, 220), z=0.26 * ns)
    elif s.nose_style == "realistic":
        shade = _mix(p.skin, p.ink, 0.35)
        side_line = np.array([[0.05, s.eye_y + 0.1], [0.065, s.nose_y - 0.05], [0.08, s.nose_y + 0.02]])
        p.line(side_line, shade, p.fine, z=np.array([0.1, 0.22, 0.24]) * ns)
        for k, sgn in ((0, -1), (4, 1)):
            wing = np.array([[base[k, 0] + sgn * 0.01, base[k, 1] - 0.06 * ns],
                             [base[k, 0] + sgn * 0.025, base[k, 1] - 0.02 * ns],
                             [base[k, 0], base[k, 1]], [base[k, 0] - sgn * 0.04, base[k, 1] + 0.01]])
            p.line(wing, _mix(p.skin, p.ink, 0.5), p.fine, z=zs[k] + 0.02)
        for k in (1, 3):
            p.call(_draw_nostril, base[k:k + 1] + np.array([[0, -0.005]]),
                   _mix(p.skin, (40, 20, 20), 0.55), z=zs[k:k + 1])
        p.call(_draw_dot_at, tip, np.array([-0.02, -0.03]) * p.px, 0.025 * p.px,
               _mix(p.skin, (255, 255, 255), 0.3), z=z_tip)
    if "muzzle" in s.extras and s.nose_style == "animal":
        top_lip = mouth_top_y
        philtrum = np.array([[0, s.nose_y + 0.08 * ns], [0, (base[2, 1] + top_lip) / 2], [0, top_lip]])
        p.line(philtrum, p.ink, p.fine, z=np.array([0.2, 0.1, 0.05]))


def _draw_dot_at(p: _Painter, pts: np.ndarray, offset: np.ndarray, rad: float, fill) -> None:
    """A dot at a projected point moved by `offset` pixels."""
    p.dot(pts[0] + offset, rad, fill)


def _draw_button_nose(p: _Painter, pts: np.ndarray, rad: float, fill, outline, width: int,
                      highlight) -> None:
    c = pts[0]
    p.dot(c, rad, fill, outline, width)
    p.dot(c + np.array([-0.35, -0.4]) * rad, rad * 0.25, highlight)


def _draw_nostril(p: _Painter, pts: np.ndarray, fill) -> None:
    c = pts[0]
    p.poly(np.array([c + np.array([np.cos(a) * 0.028, np.sin(a) * 0.013]) * p.px
                     for a in np.linspace(0, 2 * math.pi, 10, endpoint=False)]), fill=fill)


def _draw_mouth(p: _Recorder, m: dict) -> None:
    s, r = p.s, p.r
    zl = _Z_LIPS
    iu_u, il_u = m["inner_up"], m["inner_lo"]
    ou, ol = m["outer_up"], m["outer_lo"]
    lip = _rgb(s.lip_color)
    open_px = (il_u[6, 1] - iu_u[6, 1]) * p.px
    is_open = open_px > 1.5 * p.ss
    scale = {"small": 1.35, "line": 1.2, "toothy": 1.2}.get(s.mouth_style, 1.0)
    width = max(p.fine, int(round(max(p.lw, p.fine) * scale)))
    xs, top = iu_u[:, 0], iu_u[:, 1]
    bot = il_u[:, 1]
    grin = s.mouth_style == "toothy" and not is_open and max(r["AU12"], r["AU10"]) > 0.45
    if grin:  # a closed toothy grin still shows a band of teeth under the upper lip line
        bot = top + 0.08 * max(r["AU12"], r["AU10"]) * (1 - _U13 ** 2)
        is_open = True
    outer_z = _Z_LIPS_OUTER
    if s.mouth_style == "lips":
        p.poly(np.concatenate([ou, ol[::-1][1:-1]]), fill=lip, z=outer_z)
        if not is_open:  # pressed lips (AU23/24) get a heavier parting line
            press = max(r["AU23"], r["AU24"])
            p.line(iu_u, _mix(lip, (0, 0, 0), 0.55 + 0.2 * press), int(round(p.fine * (1 + press))),
                   z=zl)
        p.line(ol[5:8] + np.array([[0, -0.015]]), _mix(lip, (255, 255, 255), 0.3), p.fine, z=zl[5:8])
    if is_open:
        cavity = _band(xs, top, bot)
        if cavity is None:
            return
        p.poly(cavity, fill=_rgb(s.mouth_inside))
        gap = bot - top
        teeth_h = 0.05 + 0.025 * r["AU10"]
        tooth_prof = 1 - _U13 ** 6
        band = _band(xs, top, np.minimum(top + teeth_h * tooth_prof, bot))
        if band is not None:
            p.poly(band, fill=(250, 250, 244))
        if r["AU16"] > 0.3 or r["AU10"] > 0.5 or r["AU20"] > 0.6 or grin:
            band = _band(xs, np.maximum(bot - 0.8 * teeth_h * tooth_prof, top), bot)
            if band is not None:
                p.poly(band, fill=(238, 238, 230))
        if gap.max() > 2.0 * teeth_h and not grin:
            tw = 0.6 * m["w"]
            h = 0.45 * gap.max() * np.sqrt(np.maximum(1 - (xs / tw) ** 2, 0))
            band = _band(xs, np.maximum(bot - h, top + teeth_h), bot)
            if band is not None:
                p.poly(band, fill=_mix(lip, (255, 110, 120), 0.35))
        if grin:
            p.line(_xy(xs, (top + bot) / 2)[1:-1], (170, 170, 165), max(1, p.fine // 2))
        edge = _mix(lip, (0, 0, 0), 0.5) if s.mouth_style == "lips" else p.ink
        p.closed_line(cavity, edge, max(1, p.fine // 2 + 1) if s.mouth_style == "lips" else width)
    elif s.mouth_style != "lips":
        press = max(r["AU23"], r["AU24"])
        p.line(iu_u, p.ink, int(round(width * (1 + 0.5 * press))), z=zl)
        press = max(r["AU23"], r["AU24"])
        if r["AU12"] > 0.4 or r["AU15"] > 0.5 or press > 0.5:  # corner marks read at small sizes
            dy = -0.035 if r["AU12"] > max(r["AU15"], press) else 0.035
            for k, sgn in ((0, -1), (-1, 1)):
                c = iu_u[k]
                mark = np.array([[c[0] - sgn * 0.015, c[1] - dy * 0.7], [c[0] + sgn * 0.03, c[1] + dy]])
                p.line(mark, p.ink, max(1, int(width * 0.8)))
    if s.mouth_style == "lips" and p.lw and s.family != "standin_human":
        p.closed_line(np.concatenate([ou, ol[::-1][1:-1]]), _mix(lip, (0, 0, 0), 0.4),
                      max(1, p.fine // 2), z=outer_z)


def _draw_front_extras(p: _Recorder, eyes: dict, mouth: dict) -> None:
    s = p.s
    if "whiskers" in s.extras:
        # Whiskers start outside the widest mouth so they never hide the lip corners.
        col = _mix(p.ink, p.skin, 0.35)
        y0 = (s.nose_y + s.mouth_y) / 2 - 0.03
        x0 = s.mouth_width * 1.45 + 0.04
        for side in (-1, 1):
            for k, dy in enumerate((-0.05, 0.02, 0.09)):
                seg = np.array([[side * x0, y0 + dy * 0.4], [side * (x0 + 0.3), y0 + dy - 0.015 * (1 - k)],
                                [side * (x0 + 0.6), y0 + dy * 1.6]])
                p.line(seg, col, p.fine)
    if "glasses" in s.extras:
        col = _mix(p.ink, (60, 60, 60), 0.5)
        rim = max(p.fine, p.lw)
        for side in (-1, 1):
            e = eyes[side]
            c = (side * s.eye_spacing, s.eye_y)
            ring = _ellipse(c[0], c[1], e["ew"] * 1.45, max(e["eh"], 0.12) * 1.45, 28)
            p.closed_line(ring, col, rim)
        ew = eyes[1]["ew"]
        bridge = np.array([[-s.eye_spacing + ew * 1.45, s.eye_y - 0.02], [0, s.eye_y - 0.05],
                           [s.eye_spacing - ew * 1.45, s.eye_y - 0.02]])
        p.line(bridge, col, rim)


def render_face(style: CharacterStyle, rig: dict, size: int = 256,
                supersample: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Draw one face.

    Args:
        style: the character.
        rig: control values (missing controls are 0; see `deepexpr.characters.rig`).
        size: output width and height in pixels.
        supersample: drawing scale before the box-filter reduction (2 = 4 samples a pixel).

    Returns:
        image: uint8 (size, size, 3) RGB.
        landmarks: float32 (49, 2) image coordinates (x, y) in `deepexpr.landmarks` order.
    """
    img, lm = render_face_pil(style, rig, size, supersample)
    return np.asarray(img), lm


def render_face_pil(style: CharacterStyle, rig: dict, size: int = 256,
                    supersample: int = 2) -> tuple[Image.Image, np.ndarray]:
    """`render_face`, returning a PIL image (saves a copy when writing files)."""
    size, ss = int(size), max(1, int(supersample))
    r = check_rig(rig)
    p = _Painter(style, r, size, ss)
    g = _geometry(style, r)
    eyes, brows, mouth = g["eyes"], g["brows"], g["mouth"]
    # Record the face-surface drawing (skin marks and expression lines; then eyes, brows
    # over the fringe as in anime, nose, mouth, whiskers/glasses) and project it with the
    # landmarks in one call.
    marks, features = _Recorder(p), _Recorder(p)
    _draw_cheeks_and_extras(marks, eyes, mouth)
    _draw_wrinkles(marks, eyes, brows, mouth, g["base"])
    for side in (-1, 1):
        _draw_eye(features, eyes[side], side)
    for side in (-1, 1):
        _draw_brow(features, brows[side], side)
    _draw_nose(features, g["bridge"], g["base"], mouth["outer_up"][6, 1])
    _draw_mouth(features, mouth)
    _draw_front_extras(features, eyes, mouth)
    lm_xy, lm_z = _landmark_points(style, g)
    proj = _project_features(p.view, [marks, features], lm_xy, lm_z)
    # Back to front: body, things behind the head, head, skin marks, expression lines,
    # hair, then the features.
    _draw_body(p)
    hair, hair_ops, offset = _draw_silhouette(p, mouth["jaw"])  # back hair, ears, head
    _replay(p, marks.ops, proj, 0)
    _replay(p, hair_ops, hair, offset)  # the hair in front
    _replay(p, features.ops, proj, marks.n)
    img = p.img.reduce(ss) if ss > 1 else p.img
    lm = proj[marks.n + features.n:]
    return img, ((lm - (ss - 1) / 2.0) / ss).astype(np.float32)
