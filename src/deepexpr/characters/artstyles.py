"""The wide style space's renderer: art styles, framings, backdrops, decorations.

`render_wide` draws a character whose `art_style` is not "classic" (see `widespace.py` for
the choices). It keeps the classic renderer's geometry, landmarks and painting order and
adds, per art style:
    cel       the classic look with decorations, framings and backdrops
    icon      a round face filling the frame: no hair, ears, neck or shoulders
    flat      flat colours and a thick outline
    lineart   black lines on white, in grey
    manga     black and white: dark tones solid, mid tones screentone dots or hatching
    soft3d    smooth radial shading of the head, softened edges
    pixel     drawn on a small grid without anti-aliasing, a limited palette, shown with
              nearest-neighbour pixels (landmarks scaled to the output pixels)
Eye style "bead" (a dot, an arch or a line) and mouth style "icon" (an open "D" or a
square mouth with teeth and tongue) are drawn here; the decorations in `decorations.py`.

Everything is deterministic: backdrops from the character's name, decorations from the
name and the rig (`decorations.frame_rng`).
"""

from __future__ import annotations

import zlib

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from deepexpr.characters import decorations as deco
from deepexpr.characters.features import (
    _draw_brow,
    _draw_cheeks_and_extras,
    _draw_closed_mouth,
    _draw_eye,
    _draw_front_extras,
    _draw_mouth,
    _draw_nose,
    _draw_wrinkles,
)
from deepexpr.characters.geometry import (
    _U13,
    _band,
    _ellipse,
    _geometry,
    _head_outline,
    _landmark_points,
    _xy,
)
from deepexpr.characters.painter import (
    PIL_CORE,
    _mix,
    _Painter,
    _project_features,
    _Recorder,
    _replay,
    _rgb,
)
from deepexpr.characters.silhouette import _draw_head, _silhouette_layers

_BACKDROPS: dict = {}  # (name, backdrop fields, size) -> backdrop image


def render_wide(style, r: dict, size: int, ss: int, plan: dict | None = None
                ) -> tuple[Image.Image, np.ndarray]:
    """One frame of a wide-space character: (RGB image, float32 (49, 2) landmarks).

    Args:
        style: the character (art_style != "classic").
        r: a checked rig (`rig.check_rig`).
        size: output size in pixels; ss: supersampling factor.
        plan: the decorations to draw (`decorations.plan_decorations`'s format) instead of
            the frame's own (previews and tests).
    """
    if style.art_style == "pixel":
        return _render_pixel(style, r, size, plan)
    img, lm = _draw(style, r, size, ss, plan)
    img = _finish(style, img, ss)
    return (img.reduce(ss) if ss > 1 else img), lm


def pixel_grid(style, size: int) -> int:
    """Cells across the image of a pixel-art character drawn at `size` pixels."""
    return min(int(style.pixel_grid) if style.pixel_grid >= 8 else 32, int(size))


def grid_to_output(points: np.ndarray, grid: int, size: int) -> np.ndarray:
    """Pixel-art grid coordinates -> output pixels: cell i's centre is at (i + 0.5) f - 0.5
    with f = size / grid (the centre of the output pixels that show the cell)."""
    return ((points + 0.5) * (size / grid) - 0.5).astype(np.float32)


def _render_pixel(style, r: dict, size: int, plan: dict | None) -> tuple[Image.Image, np.ndarray]:
    """Draw on a `pixel_grid` canvas without anti-aliasing, reduce the palette, scale up."""
    grid = pixel_grid(style, size)
    img, lm = _draw(style, r, grid, 1, plan)
    img = _finish(style, img, 1)
    colors = int(style.palette_size) if style.palette_size >= 2 else 16
    img = img.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    img = img.convert("RGB").resize((size, size), Image.Resampling.NEAREST)
    return img, grid_to_output(lm, grid, size)


def _draw(style, r: dict, size: int, ss: int, plan: dict | None = None) -> tuple[Image.Image, np.ndarray]:
    """The supersampled canvas (size * ss) and the landmarks (output pixels) of a frame.

    The painting order of the wide space (render.py's, plus backdrop, body per framing,
    face tint and shadow, decorations, bead eyes and icon mouths)."""
    p = _Painter(style, r, size, ss)
    _fresh_canvas(p, _backdrop(style, size * ss))
    g = _geometry(style, r)
    eyes, brows, mouth = g["eyes"], g["brows"], g["mouth"]
    if plan is None:
        plan = deco.plan_decorations(style, r, deco.frame_rng(style, r))
    marks, features, front = _Recorder(p), _Recorder(p), _Recorder(p)
    _draw_cheeks_and_extras(marks, eyes, mouth)
    _draw_wrinkles(marks, eyes, brows, mouth, g["base"])
    deco.draw_marks(marks, plan)
    for side in (-1, 1):
        if style.eye_style == "bead":
            deco.draw_bead_eye(features, eyes[side], deco.icon_eye_kind(r, eyes[side]))
        else:
            _draw_eye(features, eyes[side], side)
    for side in (-1, 1):
        _draw_brow(features, brows[side], side)
    _draw_nose(features, g["bridge"], g["base"], mouth["outer_up"][6, 1])
    if style.mouth_style == "icon":
        _draw_icon_mouth(features, mouth, deco.frame_rng(style, r).uniform(size=3))
    else:
        _draw_mouth(features, mouth)
    _draw_front_extras(features, eyes, mouth)
    deco.draw_front(front, eyes, plan, mouth)
    lm_xy, lm_z = _landmark_points(style, g)
    recorders = [marks, features, front]
    proj = _project_features(p.view, recorders, lm_xy, lm_z)
    if style.framing != "fill" and style.art_style != "icon":
        _draw_body(p)
    behind, hair, behind_ops, hair_ops = _silhouette_layers(p)
    units = _head_outline(style, mouth["jaw"])
    shell = p.view.shell(np.concatenate([behind, units, hair]))
    nb, nh = len(behind), len(units)
    _replay(p, behind_ops, shell, 0)
    _draw_wide_head(p, units, shell[nb:nb + nh])
    deco.draw_tint_and_shadow(p, units, plan)
    if style.art_style == "soft3d":  # soft shading and edges under crisp features
        _fresh_canvas(p, p.img.filter(ImageFilter.GaussianBlur(1.2 * ss)))
    _replay(p, marks.ops, proj, 0)
    _replay(p, hair_ops, shell, nb + nh)
    _replay(p, features.ops, proj, marks.n)
    _replay(p, front.ops, proj, marks.n + features.n)
    lm = proj[marks.n + features.n + front.n:]
    return p.img, ((lm - (ss - 1) / 2.0) / ss).astype(np.float32)


def _fresh_canvas(p: _Painter, backdrop: Image.Image) -> None:
    """Start the painter on a copy of the backdrop (the classic body cache is not used)."""
    p.img = backdrop.copy()
    p.draw = ImageDraw.Draw(p.img)
    p.core = p.draw.draw if PIL_CORE else None
    p._inks = {}


def _draw_body(p: _Painter) -> None:
    """Neck and shoulders (the classic shapes), drawn on every frame over the backdrop."""
    s = p.s
    neck = np.array([[-0.36, 0.4], [0.36, 0.4], [0.4, s.jaw_height + 0.55], [-0.4, s.jaw_height + 0.55]])
    p.poly(p.view.body(neck), fill=_mix(p.skin, (0, 0, 0), 0.12), outline=p.edge, width=p.lw)
    p.poly(p.view.body(_ellipse(0, s.jaw_height + 1.25, 1.75, 0.75, 40)), fill=_rgb(s.shirt),
           outline=p.edge, width=p.lw)


def _draw_wide_head(p: _Painter, units: np.ndarray, head: np.ndarray) -> None:
    """The head: classic flat/shaded fill, or a radial gradient toward an upper-left light."""
    if p.s.shading != "gradient":
        _draw_head(p, units, head)
        return
    light = np.array([-0.3, -0.35 * p.s.head_height])
    steps = 14
    for k in range(steps + 1):  # nested outlines shrinking toward the light, lighter each
        t = k / steps
        tone = -0.24 * (1 - t) ** 2 + 0.3 * t ** 3
        col = _mix(p.skin, (60, 30, 40), -tone) if tone < 0 else _mix(p.skin, (255, 255, 255), tone)
        layer = head if k == 0 else p.view.shell(light + (units - light) * (1.0 - 0.85 * t))
        p.poly(layer, fill=col)
    hl = _ellipse(-0.42, -0.62 * p.s.head_height, 0.2, 0.11, 16)
    p.poly(p.view.shell(hl), fill=_mix(p.skin, (255, 255, 255), 0.55))
    if p.lw:
        p.closed_line(head, p.ink, p.lw)


def _draw_icon_mouth(p: _Recorder, m: dict, toss: np.ndarray) -> None:
    """Icon mouths: a thick line when shut; when open an open "D" (dark inside, upper
    teeth, tongue) or, for stretched or snarling mouths, a square mouth of teeth; now and
    then a wavy line for disgust or fear (`toss`: three uniform numbers of the frame)."""
    r = p.r
    iu, il = m["inner_up"], m["inner_lo"]
    xs, top, bot = iu[:, 0], iu[:, 1], il[:, 1]
    width = max(p.fine + 1, int(round(max(p.lw, p.fine) * 1.4)))
    queasy = max(r["AU9"], r["AU10"] * (1 - r["AU4"]), 0.6 * r["AU20"])
    if toss[2] < 0.45 * queasy and (bot - top).max() < 0.12:
        wave = 0.035 * np.sin(np.linspace(0, 4 * np.pi, 13))
        p.line(_xy(xs, (top + bot) / 2 + wave), p.ink, width)
        return
    grimace = max(r["AU20"], r["AU10"], r["AU16"], 0.8 * max(r["AU23"], r["AU24"]) * r["AU4"])
    if toss[0] < 0.75 * grimace:
        _square_mouth(p, xs, top, bot, width, teeth_rows=2 if toss[1] < 0.6 else 1)
        return
    if (bot - top).max() * p.px < 1.5 * p.ss:
        _draw_closed_mouth(p, iu, width)
        return
    cavity = _band(xs, top, bot)
    if cavity is None:
        _draw_closed_mouth(p, iu, width)
        return
    gap = bot - top
    p.poly(cavity, fill=_rgb(p.s.mouth_inside))
    if toss[1] < 0.7:  # upper teeth
        band = _band(xs, top, np.minimum(top + np.minimum(0.05, 0.35 * gap) * (1 - _U13 ** 6), bot))
        if band is not None:
            p.poly(band, fill=(250, 250, 244))
    if gap.max() > 0.08:  # the tongue
        h = 0.5 * gap.max() * np.sqrt(np.maximum(1 - (xs / (0.65 * m["w"])) ** 2, 0))
        band = _band(xs, np.maximum(bot - h, top), bot)
        if band is not None:
            p.poly(band, fill=_mix(_rgb(p.s.lip_color), (255, 130, 140), 0.4))
    p.closed_line(cavity, p.ink, width)


def _square_mouth(p: _Recorder, xs, top, bot, width: int, teeth_rows: int) -> None:
    """A rounded rectangle of teeth between the mouth corners (a grimace or a snarl)."""
    mid = float((top[6] + bot[6]) / 2)
    half_h = max(float(bot.max() - top.min()) / 2, 0.06)
    x0, x1 = float(xs[0]), float(xs[-1])
    c, sn = np.cos(np.linspace(0, 2 * np.pi, 32, endpoint=False)), np.sin(np.linspace(0, 2 * np.pi, 32, endpoint=False))
    e = 2.0 / 6.0  # superellipse exponent 6: a rectangle with round corners
    box = _xy((x0 + x1) / 2 + (x1 - x0) / 2 * np.sign(c) * np.abs(c) ** e,
              mid + half_h * np.sign(sn) * np.abs(sn) ** e)
    p.poly(box, fill=(250, 250, 244))
    fine = max(1, p.fine)
    if teeth_rows == 2:
        p.line(np.array([[x0 + 0.01, mid], [x1 - 0.01, mid]]), p.ink, fine)
    for x in np.linspace(x0, x1, 7)[1:-1]:
        p.line(np.array([[x, mid - half_h * 0.92], [x, mid + half_h * 0.92]]), p.ink, fine)
    p.closed_line(box, p.ink, width)


# ---- backdrops ----
def _backdrop(style, n: int) -> Image.Image:
    """The backdrop of a character (flat, vertical gradient, soft noise, or a pattern),
    cached per character and canvas size."""
    key = (style.name, style.backdrop, style.background, style.backdrop_color, n)
    img = _BACKDROPS.get(key)
    if img is not None:
        return img
    a, b = np.array(_rgb(style.background), float), np.array(_rgb(style.backdrop_color), float)
    rng = np.random.default_rng(zlib.crc32(style.name.encode()))
    if style.backdrop == "gradient":
        t = np.linspace(0, 1, n)[:, None, None] * np.ones((1, n, 1))
    elif style.backdrop == "noise":
        small = rng.uniform(0, 1, (max(2, n // 24), max(2, n // 24)))
        t = np.asarray(Image.fromarray((small * 255).astype(np.uint8)).resize((n, n), Image.Resampling.BICUBIC),
                       dtype=float)[:, :, None] / 255.0
    elif style.backdrop == "pattern":
        t = _pattern(int(rng.integers(3)), n, max(4, n // int(rng.integers(6, 14))))
    else:
        t = np.zeros((n, n, 1))
    arr = np.clip(a * (1 - t) + b * t, 0, 255).astype(np.uint8)
    img = Image.fromarray(arr, "RGB")
    if len(_BACKDROPS) > 128:
        _BACKDROPS.clear()
    _BACKDROPS[key] = img
    return img


def _pattern(kind: int, n: int, period: int) -> np.ndarray:
    """0/1 weights (n, n, 1) of diagonal stripes, dots or a checkerboard."""
    y, x = np.mgrid[0:n, 0:n]
    if kind == 0:
        t = ((x + y) % period) < period // 2
    elif kind == 1:
        t = ((x % period - period / 2) ** 2 + (y % period - period / 2) ** 2) < (period / 4) ** 2
    else:
        t = ((x // period) + (y // period)) % 2 == 0
    return t[:, :, None].astype(float)


# ---- finishing per art style ----
def _finish(style, img: Image.Image, ss: int) -> Image.Image:
    """Image-space finish of an art style on the supersampled canvas (manga tones, grey
    line art, a slight soft 3D blur)."""
    if style.art_style == "manga":
        return _manga(img, zlib.crc32(style.name.encode()) % 2 == 0, ss)
    if style.art_style == "lineart":
        return img.convert("L").convert("RGB")
    if style.art_style == "soft3d":
        return img.filter(ImageFilter.GaussianBlur(0.3 * ss))
    return img


def _manga(img: Image.Image, hatching: bool, ss: int) -> Image.Image:
    """Black and white: darks solid, mid tones screentone dots (or hatching), lights white.
    Applied before the reduction, so lines stay solid and tones get anti-aliased."""
    grey = np.asarray(img.convert("L"), dtype=np.float32)
    n = grey.shape[0]
    y, x = np.mgrid[0:n, 0:n]
    period = max(3 * ss, n // 48)
    if hatching:
        tone = ((x + y) % period) / period  # diagonal lines: ink where tone < coverage
    else:
        cell = ((x % period - period / 2) ** 2 + (y % period - period / 2) ** 2) ** 0.5
        tone = cell / (period * 0.72)  # dots grow with darkness
    coverage = np.clip((205.0 - grey) / 140.0, 0, 1)  # 0 white .. 1 black
    coverage[grey < 60] = 1.0
    coverage[grey > 205] = 0.0
    ink = tone < coverage * 0.85
    out = np.where(ink, 20, 250).astype(np.uint8)
    return Image.fromarray(out, "L").convert("RGB")
