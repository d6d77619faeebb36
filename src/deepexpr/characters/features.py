"""Drawing of the facial features: skin marks, expression lines, eyes, brows, nose, mouth,
whiskers and glasses.

Each function records its shapes on a `_Recorder` in face units (so one projection places
them all, with the landmarks); shapes that must be built in pixels go through
`_Recorder.call`. Each feature has a style field in `CharacterStyle` (eye_style,
brow_style, nose_style, mouth_style, extras): a new style of a feature is a new branch (or
helper) in that feature's function here, plus its name in `style.py`. The order in which
`render.py` calls these is the painting order.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from deepexpr.characters.geometry import (
    _G,
    _U7,
    _U9,
    _U13,
    _U13_RAMP,
    _Z_LIPS,
    _Z_LIPS_OUTER,
    _band,
    _ellipse,
    _inside,
    _thick_curve,
    _xy,
    _z_base,
    _z_bridge,
)
from deepexpr.characters.painter import _mix, _Painter, _Recorder, _rgb
from deepexpr.characters.style import CharacterStyle


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
    if s.family == "standin_human":
        _draw_standin_lines(p, eyes, mouth)


def _draw_standin_lines(p: _Recorder, eyes: dict, mouth: dict) -> None:
    """FACS signs of the stand-in humans (the rig estimator's ground truth) beyond the
    feature shapes: AU6 raises the cheek (a lifted infraorbital furrow under the lower lid,
    crow's feet at the outer corners), AU24 bulges the skin above and below the pressed lips."""
    r = p.r
    if r["AU6"] > 0.2:
        col = _mix(p.skin, p.ink, 0.4 * (r["AU6"] - 0.05))
        for side in (-1, 1):
            e = eyes[side]
            lo, ew = e["lower"], e["ew"]
            arc = lo[2:11].copy()
            arc[:, 1] += 0.045 + 0.25 * ew * (1 - _U9 ** 2) * 0.2
            p.line(arc, col, p.fine)
            corner = lo[-1] if side > 0 else lo[0]
            for k, dy in enumerate((-0.035, 0.0, 0.035)):
                start = corner + np.array([side * 0.04, dy * 0.5])
                p.line(np.array([start, start + np.array([side * (0.06 - 0.01 * abs(k - 1)), dy])]),
                       col, p.fine)
    if r["AU24"] > 0.35:
        col = _mix(p.skin, p.ink, 0.3 * (r["AU24"] - 0.15))
        w = 0.8 * mouth["w"]
        for y, bend in ((mouth["outer_up"][6, 1] - 0.035, 0.012), (mouth["outer_lo"][6, 1] + 0.035, -0.012)):
            p.line(_xy(w * _U7, y + bend * _U7 ** 2), col, p.fine)


def _draw_eye(p: _Recorder, eye: dict, side: int) -> None:
    """One eye (`geometry._eye_geometry`'s output): white or iris fill, the discs of iris,
    pupil and highlights clipped to the lids, then the lid lines of the eye style. A closed
    (tiny) eye is one line."""
    s = p.s
    up, lo = eye["upper"], eye["lower"]
    poly = np.concatenate([up, lo[::-1][1:-1]])
    iris_col = _rgb(s.iris_color)
    lash = max(p.fine, int(round(p.lw * 1.3))) if p.lw else p.fine
    if eye["open"] * p.px < 2.2 * p.ss:  # too narrow to show anything inside
        if s.eye_style == "dot":
            p.line(up, iris_col, max(lash, 2))
        else:
            p.line(up, p.ink, lash)
        return
    p.poly(poly, fill=iris_col if s.eye_style == "dot" else _rgb(s.sclera))
    discs, centres = _eye_discs(s, eye, iris_col)
    _draw_discs(p, discs, up[:, 0], up[:, 1], lo[:, 1], centres)
    _draw_lids(p, up, lo, poly, side, lash)


def _eye_discs(s: CharacterStyle, eye: dict, iris_col: tuple) -> tuple[list, list]:
    """The discs inside an eye, back to front, and the centres of pupil/highlight discs.

    Each disc is (cx, cy, rx, ry, fill, centre index or None, clip curves or None); an
    indexed disc that fits between the lids is drawn as a plain dot (`_draw_discs`).
    """
    eu, el = eye["upper"][:, 1], eye["lower"][:, 1]
    ix, iy = eye["iris"]
    ir = eye["iris_r"]
    ry = ir * (1.18 if s.eye_style == "anime" else 1.0)
    white = (255, 255, 255)
    if s.eye_style == "dot":  # the eye is the iris; one highlight
        centres = [(ix - 0.3 * eye["ew"], iy - 0.3 * eye["eh"])]
        rad = 0.22 * ir + 0.02
        return [(*centres[0], rad, rad, white, 0, None)], centres
    discs = [(ix, iy, ir, ry, iris_col, None, None)]
    if s.eye_style == "anime":
        # darker upper half of the iris, a dark pupil and two highlights
        centres = [(ix - 0.4 * ir, iy - 0.45 * ry), (ix + 0.4 * ir, iy + 0.42 * ry)]
        discs += [(ix, iy, ir, ry, _mix(iris_col, (0, 0, 0), 0.4), None,
                   (np.maximum(eu, -9), np.minimum(el, iy))),
                  (ix, iy, 0.5 * ir, 0.6 * ry, _mix(iris_col, (0, 0, 0), 0.75), None, None),
                  (*centres[0], 0.32 * ir, 0.32 * ir, white, 0, None),
                  (*centres[1], 0.16 * ir, 0.16 * ir, white, 1, None)]
    else:
        centres = [(ix, iy), (ix - 0.38 * ir, iy - 0.4 * ir)]
        discs += [(*centres[0], 0.48 * ir, 0.48 * ir, (15, 12, 12), 0, None),
                  (*centres[1], 0.26 * ir, 0.26 * ir, white, 1, None)]
    return discs, centres


def _draw_lids(p: _Recorder, up: np.ndarray, lo: np.ndarray, poly: np.ndarray, side: int,
               lash: int) -> None:
    """Lid lines over an open eye, per eye style ("dot" eyes have none)."""
    s = p.s
    if s.eye_style == "round":
        width = max(p.fine, p.lw)
        p.closed_line(poly, p.ink, width)
        p.line(up, p.ink, int(width * 1.4))
    elif s.eye_style == "almond":
        p.line(lo, _mix(p.ink, p.skin, 0.4), p.fine)
        p.call(_draw_almond_lash, up, side, lash)
    elif s.eye_style == "anime":  # heavy lash line, thickest at the outer corner; lower lid mark
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
    """The mouth: lips (mouth_style "lips"), then the open cavity with teeth and tongue, or
    the closed line with corner marks; `m` is `geometry._mouth_geometry`'s output."""
    s, r = p.s, p.r
    zl = _Z_LIPS
    iu_u, il_u = m["inner_up"], m["inner_lo"]
    ou, ol = m["outer_up"], m["outer_lo"]
    lip = _rgb(s.lip_color)
    open_px = (il_u[6, 1] - iu_u[6, 1]) * p.px
    is_open = open_px > 1.5 * p.ss
    scale = {"small": 1.35, "line": 1.2, "toothy": 1.2}.get(s.mouth_style, 1.0)
    width = max(p.fine, int(round(max(p.lw, p.fine) * scale)))
    top, bot = iu_u[:, 1], il_u[:, 1]
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
        if not _draw_open_mouth(p, m, iu_u[:, 0], top, bot, grin, width):
            return
    elif s.mouth_style != "lips":
        _draw_closed_mouth(p, iu_u, width)
    if s.mouth_style == "lips" and p.lw and s.family != "standin_human":
        p.closed_line(np.concatenate([ou, ol[::-1][1:-1]]), _mix(lip, (0, 0, 0), 0.4),
                      max(1, p.fine // 2), z=outer_z)


def _draw_open_mouth(p: _Recorder, m: dict, xs: np.ndarray, top: np.ndarray, bot: np.ndarray,
                     grin: bool, width: int) -> bool:
    """The cavity between the inner lip curves `top` and `bot` (13 points at `xs`) with
    upper and lower teeth and the tongue, and its outline; False if the mouth is shut."""
    s, r = p.s, p.r
    lip = _rgb(s.lip_color)
    cavity = _band(xs, top, bot)
    if cavity is None:
        return False
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
    if gap.max() > 2.0 * teeth_h and not grin:  # the tongue
        tw = 0.6 * m["w"]
        h = 0.45 * gap.max() * np.sqrt(np.maximum(1 - (xs / tw) ** 2, 0))
        band = _band(xs, np.maximum(bot - h, top + teeth_h), bot)
        if band is not None:
            p.poly(band, fill=_mix(lip, (255, 110, 120), 0.35))
    if grin:
        p.line(_xy(xs, (top + bot) / 2)[1:-1], (170, 170, 165), max(1, p.fine // 2))
    edge = _mix(lip, (0, 0, 0), 0.5) if s.mouth_style == "lips" else p.ink
    p.closed_line(cavity, edge, max(1, p.fine // 2 + 1) if s.mouth_style == "lips" else width)
    return True


def _draw_closed_mouth(p: _Recorder, inner_up: np.ndarray, width: int) -> None:
    """A closed mouth drawn as a line (heavier when pressed), with corner marks."""
    r = p.r
    press = max(r["AU23"], r["AU24"])
    p.line(inner_up, p.ink, int(round(width * (1 + 0.5 * press))), z=_Z_LIPS)
    if r["AU12"] > 0.4 or r["AU15"] > 0.5 or press > 0.5:  # corner marks read at small sizes
        dy = -0.035 if r["AU12"] > max(r["AU15"], press) else 0.035
        for k, sgn in ((0, -1), (-1, 1)):
            c = inner_up[k]
            mark = np.array([[c[0] - sgn * 0.015, c[1] - dy * 0.7], [c[0] + sgn * 0.03, c[1] + dy]])
            p.line(mark, p.ink, max(1, int(width * 0.8)))


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
