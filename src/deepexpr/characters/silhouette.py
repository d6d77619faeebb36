"""Drawing of what surrounds the face: body, long hair, ears, horns, the head and its
shading, the hair in front.

These parts follow only the head's roll and a small shift (a cartoon head keeps its outline
when it turns), and apart from the head outline they do not depend on the rig, so they are
recorded once per character look and image size (`_silhouette_layers`) and replayed.
A new hair, ear or head-shading style goes here; facial features go in `features.py`.
"""

from __future__ import annotations

import math

import numpy as np

from deepexpr.characters.geometry import (
    _CURL_ANGLES,
    _CURL_FRONT,
    _CURL_RADII,
    _clip_halfplane,
    _ellipse,
    _head_outline,
    _xy,
)
from deepexpr.characters.painter import _BODY_CACHE, _mix, _Painter, _Recorder, _replay, _rgb

_LAYERS: dict = {}  # (look, size, supersample) -> recorded silhouette layers


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


def _draw_curls(p: _Painter, hairline: float, hair: tuple, hair_line: tuple) -> None:
    """Curly hair: curls round the crown, then a row over the forehead."""
    hv, H = p.s.hair_volume, p.s.head_height
    tt = _CURL_ANGLES
    cx = (1.0 + hv * 0.3) * np.cos(tt)
    cy = np.minimum(-(H + hv * 0.2) * np.abs(np.sin(tt)) ** 0.9,
                    hairline + 0.05 * (np.arange(len(tt)) % 2))
    fx = _CURL_FRONT
    centres = p.view.shell(np.concatenate([_xy(cx, cy),
                                           _xy(fx, hairline - 0.05 - 0.15 * (1 - fx * fx))]))
    radii = np.concatenate([_CURL_RADII, np.full(len(fx), 0.17)]) * p.px
    for c, rad in zip(centres.tolist(), radii.tolist(), strict=True):
        p.dot(c, rad, hair, hair_line, max(1, p.lw))


def _draw_hair_front(p: _Painter) -> None:
    """The hair over the forehead: a cap with a fringe per hair style (or curls, a strip)."""
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
    if s.hair_style == "curly":
        _draw_curls(p, hairline, hair, hair_line)
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

