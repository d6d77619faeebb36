"""Scenes composed from the project's characters, with exact face boxes and 49 landmarks.

One scene: a background (a photo from scikit-image, noise, a flat colour, a gradient or
random drawings), one or several characters (classic and wide style space; built-ins when
asked) rendered with a random expression and head pose, each scaled, turned in-plane and
placed by one similarity transform, pasted either as a whole render (a panel) or cut out
along the head outline, then occluders (bars, blobs, strokes) over some faces. Every face's
landmarks are its render landmarks under the same transform that moved its pixels, and its
box is the face frame of those landmarks (`deepexpr.data.face_frame`), so both are exact.

Held-out evaluation uses characters of other seeds than training (`SceneConfig.seed` picks
the character pool: `random_characters(k, seed)` and `random_characters(k, seed, "wide")`).

    >>> scene = compose_scene(SceneConfig(seed=1), np.random.default_rng(0))
    >>> scene.image.shape, [f.box for f in scene.faces]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache, lru_cache

import numpy as np

from deepexpr.data.face_frame import FACE_BOX, apply, face_frame, frame_box, frame_params, warp
from deepexpr.errors import setting

# skimage's bundled images used as photo backgrounds (no human faces among them).
PHOTOS = ("coffee", "chelsea", "rocket", "brick", "grass", "gravel", "coins", "page", "text",
          "hubble_deep_field", "moon", "immunohistochemistry", "logo", "colorwheel")
BACKGROUNDS = ("photo", "noise", "flat", "gradient", "drawings")
EXPRESSION_NAMES = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")


@dataclass
class SceneConfig:
    """How scenes are composed."""

    seed: int = setting(0, "character pool seed (training and evaluation use different seeds)")
    characters: int = setting(200, "random characters per style space in the pool", min=1)
    wide_fraction: float = setting(0.5, "share of faces from the wide style space", min=0.0, max=1.0)
    builtins: bool = setting(False, "also draw the built-in characters")
    min_side: int = setting(192, "smallest scene side in pixels", min=32)
    max_side: int = setting(640, "largest scene side in pixels", min=32)
    max_faces: int = setting(4, "most characters per scene", min=1)
    min_face: float = setting(24.0, "smallest face box side in pixels", above=0.0)
    max_face: float = setting(400.0, "largest face box side in pixels", above=0.0)
    max_rotation: float = setting(45.0, "usual in-plane rotation range (+-degrees)", min=0.0)
    any_rotation: float = setting(0.15, "share of faces turned by any angle", min=0.0, max=1.0)
    occluded: float = setting(0.3, "share of faces with an occluder", min=0.0, max=1.0)
    cutout: float = setting(0.6, "share of characters cut out along the head (else whole renders)",
                            min=0.0, max=1.0)
    max_render: int = setting(320, "largest render side (larger faces are upsampled)", min=48)
    head_pose: tuple[float, float, float] = field(default=(25.0, 15.0, 10.0),
                                                  metadata={"cli": False})  # +- yaw, pitch, roll


@dataclass
class SceneFace:
    """One face of a scene.

    Attributes:
        landmarks: (49, 2) float32 scene pixels.
        box: (4,) float32 axis-aligned bounds x0, y0, x1, y1 of the turned face square.
        centre: (2,) face square centre; side: its side (pixels); angle: in-plane angle (rad).
        character: the character's name; expression: the pose's expression.
        transform: (2, 3) render pixels -> scene pixels.
    """

    landmarks: np.ndarray
    box: np.ndarray
    centre: np.ndarray
    side: float
    angle: float
    character: str
    expression: str
    transform: np.ndarray


@dataclass
class Scene:
    image: np.ndarray  # (H, W, 3) uint8
    faces: list[SceneFace]


@cache
def _photo(name: str) -> np.ndarray | None:
    import skimage.data

    try:
        img = np.asarray(getattr(skimage.data, name)())
    except Exception:  # noqa: BLE001 - a sample that needs a download is just left out
        return None
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    img = img[..., :3]
    if img.dtype != np.uint8:
        img = (255 * (img - img.min()) / max(1e-9, float(np.ptp(img)))).astype(np.uint8)
    return np.ascontiguousarray(img)


@lru_cache(maxsize=8)
def character_pool(seed: int, k: int, builtins: bool) -> tuple[list, list]:
    """(classic, wide) character lists of a pool (built-ins join the classic list)."""
    from deepexpr.characters import get_character, list_characters, random_characters

    classic = random_characters(k, seed)
    if builtins:
        classic = classic + [get_character(n) for n in list_characters()]
    return classic, random_characters(k, seed, space="wide")


def random_pose(style, rng: np.random.Generator, head_pose=(25.0, 15.0, 10.0)) -> tuple[dict, str]:
    """A random expression frame of `style` with an added random head pose."""
    from deepexpr.characters import sample_poses

    expression = EXPRESSION_NAMES[int(rng.integers(len(EXPRESSION_NAMES)))]
    rig = dict(sample_poses(style, expression, 1, seed=int(rng.integers(1 << 30)))[0])
    for name, limit in zip(("head_yaw", "head_pitch", "head_roll"), head_pose):
        rig[name] = float(np.clip(rig.get(name, 0.0) + rng.uniform(-limit, limit), -40, 40))
    return rig, expression


def background(height: int, width: int, rng: np.random.Generator, kind: str | None = None) -> np.ndarray:
    """A (height, width, 3) uint8 background of a random (or the given) kind."""
    kind = kind or BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    if kind == "photo":
        img = _photo(PHOTOS[int(rng.integers(len(PHOTOS)))])
        if img is not None:
            h, w = img.shape[:2]
            f = max(height / h, width / w) * rng.uniform(1.0, 2.0)
            a = np.array([[f, 0, -rng.uniform(0, w * f - width + 1e-6)],
                          [0, f, -rng.uniform(0, h * f - height + 1e-6)]])
            return warp(img, a, width, height)
        kind = "noise"
    colour = rng.integers(0, 256, 3)
    if kind == "flat":
        return np.broadcast_to(colour.astype(np.uint8), (height, width, 3)).copy()
    if kind == "gradient":
        other = rng.integers(0, 256, 3)
        t = np.linspace(0, 1, height if rng.uniform() < 0.5 else width)
        ramp = colour[None] * (1 - t[:, None]) + other[None] * t[:, None]
        img = ramp[:, None, :] * np.ones((1, width, 1)) if len(t) == height else ramp[None] * np.ones((height, 1, 1))
        return img.astype(np.uint8)
    if kind == "noise":
        import cv2

        cell = int(rng.integers(1, 24))
        small = rng.integers(0, 256, (height // cell + 2, width // cell + 2, 3)).astype(np.uint8)
        big = cv2.resize(small, (width + 2 * cell, height + 2 * cell), interpolation=cv2.INTER_CUBIC)
        return np.ascontiguousarray((0.5 * big[:height, :width] + 0.5 * colour).astype(np.uint8))
    return drawings(background(height, width, rng, "flat"), rng, int(rng.integers(5, 30)))


def drawings(image: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    """`image` with `n` random strokes, ellipses and polygons drawn over it (other drawings)."""
    from PIL import Image, ImageDraw

    pil = Image.fromarray(image)
    draw = ImageDraw.Draw(pil)
    h, w = image.shape[:2]
    for _ in range(n):
        ink = tuple(int(v) for v in rng.integers(0, 256, 3))
        pts = [(float(rng.uniform(0, w)), float(rng.uniform(0, h))) for _ in range(int(rng.integers(2, 6)))]
        kind = rng.integers(3)
        if kind == 0:
            draw.line(pts, fill=ink, width=int(rng.integers(1, 8)))
        elif kind == 1:
            x0, y0 = pts[0]
            r = rng.uniform(4, max(5, min(h, w) / 4))
            draw.ellipse([x0 - r, y0 - r * rng.uniform(0.4, 1), x0 + r, y0 + r], fill=ink if rng.uniform() < 0.5 else None,
                         outline=(0, 0, 0), width=int(rng.integers(1, 4)))
        elif len(pts) >= 3:
            draw.polygon(pts, fill=ink, outline=(0, 0, 0))
    return np.asarray(pil).copy()


def place_transform(side_render: float, face_side: float, angle: float, centre) -> np.ndarray:
    """Render pixels -> scene pixels: scale so the face box side becomes `face_side`, turn by
    `angle` (radians) about the face centre, put that centre at `centre`."""
    f = face_side / side_render
    c, s = np.cos(angle) * f, np.sin(angle) * f
    return np.array([[c, -s, 0.0], [s, c, 0.0]])  # shift filled in by the caller


def _paste(scene: np.ndarray, render: np.ndarray, mask: np.ndarray, a: np.ndarray) -> None:
    """Blend `render` (through `mask`, float 0-1 render pixels) into `scene` by affine `a`."""
    h, w = scene.shape[:2]
    moved = warp(render, a, w, h, border=(0, 0, 0))
    alpha = warp((mask * 255).astype(np.uint8)[..., None].repeat(3, 2), a, w, h, border=(0, 0, 0))[..., :1] / 255.0
    scene[:] = (scene * (1 - alpha) + moved * alpha).astype(np.uint8)


def _cutout_mask(style, rig, size: int, rng: np.random.Generator) -> np.ndarray:
    """A soft mask of the head outline (grown a little: ears and hair edges come along)."""
    import cv2

    from deepexpr.characters import head_outline

    poly = head_outline(style, rig, size)
    mask = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask, [np.round(poly * 4).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=2)
    grow = int(rng.integers(0, max(2, size // 10)))
    if grow:
        mask = cv2.dilate(mask, np.ones((grow, grow), np.uint8))
    return mask.astype(np.float32) / 255.0


def occlude(scene: np.ndarray, face: SceneFace, rng: np.random.Generator) -> None:
    """Draw one occluder over part of a face (at most about a third of its square)."""
    from PIL import Image, ImageDraw

    pil = Image.fromarray(scene)
    draw = ImageDraw.Draw(pil)
    cx, cy = face.centre
    r = face.side / 2
    ink = tuple(int(v) for v in rng.integers(0, 256, 3))
    kind = rng.integers(3)
    ox, oy = rng.uniform(-1, 1, 2) * r
    if kind == 0:  # a bar across one side
        ext = rng.uniform(0.15, 0.35) * face.side
        if rng.uniform() < 0.5:
            x = cx + (r - ext if ox > 0 else -r)
            draw.rectangle([x, cy - r, x + ext, cy + r], fill=ink)
        else:
            y = cy + (r - ext if oy > 0 else -r)
            draw.rectangle([cx - r, y, cx + r, y + ext], fill=ink)
    elif kind == 1:  # a blob (a hand, a speech bubble)
        rr = rng.uniform(0.12, 0.3) * face.side
        draw.ellipse([cx + ox - rr, cy + oy - rr, cx + ox + rr, cy + oy + rr], fill=ink, outline=(0, 0, 0))
    else:  # strokes (hair strands, rain, lines of a panel)
        for _ in range(int(rng.integers(2, 6))):
            x0 = cx + rng.uniform(-r, r)
            draw.line([(x0, cy - r), (x0 + rng.uniform(-r, r), cy + r)], fill=ink, width=max(1, int(face.side / 40)))
    scene[:] = np.asarray(pil)


def _overlaps(box: np.ndarray, boxes: list[np.ndarray], limit: float) -> bool:
    for b in boxes:
        ix = max(0.0, min(box[2], b[2]) - max(box[0], b[0]))
        iy = max(0.0, min(box[3], b[3]) - max(box[1], b[1]))
        if ix * iy > limit * min((box[2] - box[0]) * (box[3] - box[1]), (b[2] - b[0]) * (b[3] - b[1])):
            return True
    return False


def add_character(scene: np.ndarray, style, rng: np.random.Generator, face_side: float, angle: float,
                  centre, cfg: SceneConfig, cutout: bool) -> SceneFace:
    """Render `style` with a random expression and pose, and paste it so that its face box
    has side `face_side`, angle `angle` (radians) and centre `centre`."""
    from deepexpr.characters import render_face

    rig, expression = random_pose(style, rng, cfg.head_pose)
    # render near the size it will be shown at (capped: larger faces are upsampled)
    size = int(np.clip(face_side / FACE_BOX[2] * rng.uniform(0.9, 1.3), 48, cfg.max_render))
    image, lm = render_face(style, rig, size)
    _, side_render, angle_render = frame_params(face_frame(lm))
    a = place_transform(side_render, face_side, angle - angle_render, centre)
    centre_render, _, _ = frame_params(face_frame(lm))
    a[:, 2] = np.asarray(centre, np.float64) - a[:, :2] @ centre_render
    mask = _cutout_mask(style, rig, size, rng) if cutout else np.ones(image.shape[:2], np.float32)
    _paste(scene, image, mask, a)
    return make_face(lm, a, style.name, expression)


def make_face(render_landmarks: np.ndarray, a: np.ndarray, name: str, expression: str) -> SceneFace:
    """The scene face of render landmarks moved by the affine `a` (render -> scene)."""
    lm = apply(a, render_landmarks).astype(np.float32)
    m = face_frame(lm)
    centre, side, angle = frame_params(m)
    return SceneFace(lm, frame_box(m).astype(np.float32), centre.astype(np.float32), float(side),
                     float(angle), name, expression, a)


def compose_scene(cfg: SceneConfig, rng: np.random.Generator, faces: int | None = None) -> Scene:
    """One random scene (see the module docstring).

    Args:
        cfg: the scene settings (the character pool is `cfg.seed`'s).
        rng: the random stream (the same state gives the same scene).
        faces: how many characters (default: 1 to `cfg.max_faces`); fewer when no free
            place is found.
    """
    h, w = (int(rng.integers(cfg.min_side, cfg.max_side + 1)) for _ in range(2))
    scene = background(h, w, rng)
    classic, wide = character_pool(cfg.seed, cfg.characters, cfg.builtins)
    n = faces if faces is not None else int(rng.integers(1, cfg.max_faces + 1))
    out: list[SceneFace] = []
    for _ in range(n):
        for _attempt in range(10):
            hi = min(cfg.max_face, 0.9 * min(h, w))
            side = float(np.exp(rng.uniform(np.log(min(cfg.min_face, hi)), np.log(max(cfg.min_face, hi)))))
            deg = rng.uniform(-180, 180) if rng.uniform() < cfg.any_rotation else rng.uniform(-cfg.max_rotation, cfg.max_rotation)
            centre = rng.uniform([side / 2, side / 2], [max(side / 2 + 1, w - side / 2), max(side / 2 + 1, h - side / 2)])
            box = np.concatenate([centre - side * 0.75, centre + side * 0.75])  # room for a whole render
            if not _overlaps(box, [f.box for f in out], 0.15):
                break
        else:
            continue
        pool = wide if rng.uniform() < cfg.wide_fraction else classic
        style = pool[int(rng.integers(len(pool)))]
        face = add_character(scene, style, rng, side, np.deg2rad(deg), centre, cfg, rng.uniform() < cfg.cutout)
        out.append(face)
    for face in out:
        if rng.uniform() < cfg.occluded:
            occlude(scene, face, rng)
    return Scene(scene, out)
