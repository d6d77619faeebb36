"""The canvas of one frame and its drawing primitives; recording and projecting calls.

`_Painter` draws what `ImageDraw.polygon / line / ellipse` draw, pixel for pixel. It calls
PIL's core drawing object (`ImageDraw.Draw(img).draw`, a private API) directly with cached
inks: the public wrappers re-parse the colour on every call, a sizeable share of a 128 px
frame. That private use is fenced in one place, `_core_of`: when the core object of the
installed Pillow lacks the calls or signatures used here, the painter falls back to the
public ImageDraw calls, which draw the same pixels, only slower
(tests/test_characters_fastpaths.py checks both against each other).
"""

from __future__ import annotations

import functools
import math
import threading

import numpy as np
from PIL import Image, ImageDraw

from deepexpr.characters.geometry import _View
from deepexpr.characters.style import CharacterStyle


@functools.lru_cache(maxsize=512)
def _rgb(color: str) -> tuple[int, int, int]:
    return (int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16))


@functools.lru_cache(maxsize=4096)
def _mix(a: tuple, b: tuple, t: float) -> tuple[int, int, int]:
    t = min(1.0, max(0.0, t))
    return tuple(int(round(x * (1 - t) + y * t)) for x, y in zip(a, b))


def _coord_at_angle(coord, angle: float, width: int) -> tuple[float, ...]:
    """A point near the rim of a wide line's joint (as ImageDraw.line computes it)."""
    x, y = coord
    angle -= 90
    distance = width / 2 - 1
    return tuple(p + (math.floor(p_d) if p_d > 0 else math.ceil(p_d))
                 for p, p_d in ((x, distance * math.cos(math.radians(angle))),
                                (y, distance * math.sin(math.radians(angle)))))


# Rig-independent canvases (background, neck, shoulders) per (look, size): `_Painter`
# starts from a copy; `silhouette._draw_body` fills it.
_BODY_CACHE: dict = {}

# ---- the private-PIL fast path: the only place that touches PIL's core drawing object ----
def _core_works() -> bool:
    """Whether this Pillow's core drawing object (`ImageDraw.Draw(img).draw`, private API)
    takes every call and signature the painter's fast path makes.

    Why a probe: the fast path saves a sizeable share of a frame, but a private API may
    change in any Pillow release (pyproject bounds the major version). A failed call here
    means the painter uses the public ImageDraw calls instead, which draw the same pixels
    (tests/test_characters_fastpaths.py checks the two paths against each other).
    """
    try:
        img, mask = Image.new("RGB", (8, 8)), Image.new("1", (8, 8))
        core = ImageDraw.Draw(img).draw
        ink = core.draw_ink((1, 2, 3))
        xy = [1.0, 1.0, 6.0, 1.0, 6.0, 6.0]
        core.draw_polygon(xy, ink, 1)
        core.draw_polygon(xy, ink, 0, 1)
        core.draw_polygon(xy, ink, 0, 3, mask.im)
        core.draw_lines(xy, ink, 3)
        core.draw_ellipse((1.0, 1.0, 5.0, 5.0), ink, 1)
        core.draw_ellipse((1.0, 1.0, 5.0, 5.0), ink, 0, 2)
        core.draw_pieslice([(1.0, 1.0), (5.0, 5.0)], 0.0, 90.0, ink, 1)
        ImageDraw.Draw(mask).draw.draw_ink(1)
    except (AttributeError, TypeError, ValueError):
        return False
    return True


PIL_CORE = _core_works()  # False: draw through the public ImageDraw API (slower, same pixels)

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

    The primitives do what `ImageDraw.polygon / line(joint="curve") / ellipse` do, pixel
    for pixel. When `PIL_CORE` holds they call PIL's core drawing object directly with each
    colour's ink looked up once (the public wrappers re-parse the colour on every call, a
    sizeable share of a 128 px frame); otherwise they call the public wrappers.
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
        self.core = self.draw.draw if PIL_CORE else None  # PIL's ImagingDraw (private)
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
        if self.core is None:
            self.draw.polygon(xy, fill=fill, outline=outline, width=max(width, 0))
            return
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
            self.dot(pts[0], width / 2.0, fill)
            self.dot(pts[-1], width / 2.0, fill)

    def closed_line(self, pts, fill, width):
        """Outline of a closed polygon (a polyline back to its first point)."""
        xy = pts.ravel().tolist()
        self.polyline(xy + xy[:2], fill, width)

    def polyline(self, xy: list, fill, width: int) -> None:
        if self.core is None:
            self.draw.line(xy, fill=fill, width=width, joint="curve")
            return
        ink = self._ink(fill)
        self.core.draw_lines(xy, ink, width)
        if width > 4:
            self._curve_joints(xy, ink, width)

    def _curve_joints(self, xy: list, ink: int, width: int) -> None:
        """Round joints of a wide polyline: `ImageDraw.line(..., joint="curve")`'s own
        arithmetic and calls, minus its per-joint wrapper overhead."""
        points = [(xy[i], xy[i + 1]) for i in range(0, len(xy), 2)]
        half = width / 2
        # each segment's direction once (a joint's second angle is the next joint's first)
        degrees, atan2 = math.degrees, math.atan2
        heading = [degrees(atan2(end[0] - start[0], start[1] - end[1])) % 360
                   for start, end in zip(points, points[1:])]
        for i in range(1, len(points) - 1):
            point = points[i]
            angles = heading[i - 1:i + 1]
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
        if self.core is None:
            self.draw.ellipse(box, fill=fill, outline=outline, width=max(width, 0))
            return
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
