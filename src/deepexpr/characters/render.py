"""Draw a character's face for a rig pose, and return its 49 landmarks (the entry points).

The renderer is split by what each part owns:
    geometry.py    feature geometry in face units from style + rig, the head-pose
                   projection (`_View`), the 49 landmarks
    painter.py     the canvas and its primitives (the fenced private-PIL fast path), the
                   recorder that projects a frame's drawing calls at once
    silhouette.py  body, long hair, ears, head and shading, the hair in front
    features.py    eyes, brows, nose, mouth, skin marks, expression lines, extras
    render.py      this module: `render_face`, `render_face_pil`, `face_landmarks`,
                   `head_outline`, and the painting order
A new drawing style of a facial feature goes in features.py, of hair/ears/head in
silhouette.py; its name goes in style.py.

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

import numpy as np
from PIL import Image

from deepexpr.characters.artstyles import grid_to_output, pixel_grid, render_wide
from deepexpr.characters.features import (
    _draw_brow,
    _draw_cheeks_and_extras,
    _draw_eye,
    _draw_front_extras,
    _draw_mouth,
    _draw_nose,
    _draw_wrinkles,
)
from deepexpr.characters.geometry import (
    _geometry,
    _head_outline,
    _landmark_points,
    _landmarks,
    _mouth_geometry,
    _View,
)
from deepexpr.characters.painter import _Painter, _project_features, _Recorder, _replay
from deepexpr.characters.rig import check_rig
from deepexpr.characters.silhouette import _draw_body, _draw_silhouette
from deepexpr.characters.style import CharacterStyle


def head_outline(style: CharacterStyle, rig: dict, size: int = 256,
                 supersample: int = 2) -> np.ndarray:
    """The drawn head silhouette (without ears and hair) as a float32 (N, 2) polygon in
    output pixels; every landmark lies inside it."""
    r = check_rig(rig)
    ss = max(1, int(supersample))
    if style.art_style == "pixel":  # drawn on a small grid, then scaled up
        grid = pixel_grid(style, size)
        view = _View(style, r, grid, 1)
        jaw = _mouth_geometry(style, r)["jaw"]
        return grid_to_output(view.shell(_head_outline(style, jaw)), grid, int(size))
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
    if style.art_style == "pixel":  # drawn on a small grid, then scaled up
        grid = pixel_grid(style, size)
        lm = _landmarks(style, _geometry(style, r), _View(style, r, grid, 1), 1)
        return grid_to_output(lm, grid, int(size))
    ss = max(1, int(supersample))
    return _landmarks(style, _geometry(style, r), _View(style, r, int(size), ss), ss)


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
    if style.art_style != "classic":  # the wide style space (artstyles.py)
        return render_wide(style, r, size, ss)
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
