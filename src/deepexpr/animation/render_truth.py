"""Rendered 3D faces with known AU intensities: ground truth for the rig estimator.

SYNTHETIC, made here: the project's base face (`faces.facemesh.base_mesh`, mediapipe's mesh of
`skimage.data.astronaut()`) is given a per-identity shape (`data.synthetic_sequences.make_subject`), deformed
by the AU displacement model (`au_field`, the 83-landmark AU fields of the sequence
corpus, x `AU_GAIN`) carried to all 468 vertices by the RBF warp (`rbf.rbf_warp`),
rotated by the head pose, and rendered offscreen with the source photo as texture (the
vertices came from that photo, so their photo positions are texture coordinates). A small
piecewise-affine rasteriser (OpenCV, painter's order, back faces culled) draws it with
Lambert shading under a random light and a random skin tint, over a head-shaped backdrop.

The mesh's eye and mouth openings are filled by fans over their rims (the photo's eyes and
teeth); the eyes keep the photo's gaze, so gaze is 0 in these rigs. Identities differ by shape, tint and light only (one
texture): hold out identities by seed, and read the figures as what they are.

The photo smiles with the lips apart, so with `base="photo"` every identity's "neutral"
smiles and shows teeth (AU labels are then relative to a smile, and human readers say "joy"
to every render). `base="neutral"` (`neutral_base`) first undoes the photo's own smile on
the mesh (the AU model's AU12 and AU6 fields at -1 and -0.6) and closes its lips (the inner
lip rims meet; the mouth's fan, the photo's teeth, shrinks to nothing), then textures that
mesh from the photo as before: a closed-mouth, hardly smiling neutral. `base="painted"` is
that mesh textured from the photo with its skin repainted smooth between the features
(`animation.neutral_texture.painted_texture`: no nasolabial folds, cheek or lower-lid bulges),
since the smile left in the photo's skin is what human readers see in "neutral" renders.

    >>> for item in render_truth_items(RenderTruthConfig(identities=2, per_identity=3)):
    ...     item.image.shape, item.rig["AU12"]
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from deepexpr.animation.rbf import RBFWarp
from deepexpr.characters.rig import AUS, check_rig, neutral_rig, sample_poses
from deepexpr.data.rig_truth import TruthItem
from deepexpr.data.synthetic_sequences import (
    AU_FIELDS,
    AU_GAIN,
    JAW_AUS,
    au_field,
    make_subject,
    rotation,
)
from deepexpr.expressions import EXPRESSIONS
from deepexpr.landmarks import fit_similarity
from deepexpr.landmarks83 import MEDIAPIPE_INDICES

RENDERED_AUS = tuple(a for a in AUS if int(a[2:]) in AU_FIELDS or int(a[2:]) in JAW_AUS)


@dataclass
class RenderTruthConfig:
    identities: int = 30  # shape/tint/light variants of the base face
    per_identity: int = 30  # images per identity (plus one frontal neutral)
    size: int = 256  # image side
    seed: int = 300  # another seed = held-out identities
    p_active: float = 0.3  # random-AU rigs: chance that each AU is on
    max_yaw: float = 20.0
    max_pitch: float = 12.0
    max_roll: float = 10.0
    base: str = "photo"  # every identity's neutral: "photo" (the source photo's smile),
    # "neutral" (`neutral_base`: the smile undone, the lips closed) or "painted" (that mesh,
    # the photo's skin repainted smooth: `painted_texture`)

    def __post_init__(self):
        if self.base not in BASES:
            from deepexpr.errors import InputError

            raise InputError(f"render base {self.base!r}: choose one of {', '.join(BASES)}")


BASES = ("photo", "neutral", "painted")
# inner lip rims of the mediapipe mesh, upper and lower, paired from the image-left corner
UPPER_INNER_LIP = (191, 80, 81, 82, 13, 312, 311, 310, 415)
LOWER_INNER_LIP = (95, 88, 178, 87, 14, 317, 402, 318, 324)
# vertices that stay while the lips close (nose, eye corners, temples, forehead, brows)
_STILL = (168, 6, 197, 195, 5, 4, 1, 33, 133, 263, 362, 127, 356, 234, 454, 10, 151, 9, 8, 70, 300, 105, 334)
LOWER_LIP_SHARE = 0.65  # of the lips' gap, closed by the lower lip rising (the rest: the upper dropping)


@functools.lru_cache(maxsize=1)
def _base() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(photo, texture coords (468, 2), vertices (468, 3) mm, triangles (F, 3) incl. hole fans)."""
    from skimage import data

    from deepexpr.faces.facemesh import base_mesh, detect_468

    photo = data.astronaut()
    uv = detect_468(photo)[:, :2].astype(np.float32)
    mesh = base_mesh()
    return photo, uv, frontal(mesh.vertices), np.vstack([mesh.faces, _hole_fans(mesh.faces)])


def frontal(verts: np.ndarray, rounds: int = 3) -> np.ndarray:
    """The mesh turned to face the camera: half the rotation that maps it onto its mirror
    image (vertex pairs by nearest mirrored neighbour), repeated (the photo's head is turned)."""
    from scipy.spatial import cKDTree
    from scipy.spatial.transform import Rotation

    v = verts - verts.mean(0)
    for _ in range(rounds):
        mirrored = v * [-1.0, 1.0, 1.0]
        _, pair = cKDTree(mirrored).query(v)
        rot = fit_similarity(v, mirrored[pair], scale=False)[:, :3]
        half = Rotation.from_rotvec(Rotation.from_matrix(rot).as_rotvec() / 2).as_matrix()
        v = v @ half.T
    return v


def _hole_fans(faces: np.ndarray) -> np.ndarray:
    """Triangles closing every boundary loop but the longest (the face outline)."""
    count = Counter(tuple(sorted(e)) for t in faces for e in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])))
    nxt: dict[int, list[int]] = {}
    for a, b in (e for e, n in count.items() if n == 1):
        nxt.setdefault(a, []).append(b)
        nxt.setdefault(b, []).append(a)
    loops, seen = [], set()
    for start in nxt:
        if start in seen:
            continue
        loop, prev, cur = [start], None, start
        seen.add(start)
        while True:
            step = [v for v in nxt[cur] if v != prev and (v not in seen or v == start)]
            if not step or step[0] == start:
                break
            prev, cur = cur, step[0]
            loop.append(cur)
            seen.add(cur)
        loops.append(loop)
    loops.sort(key=len)
    return np.array([(lp[0], lp[k], lp[k + 1]) for lp in loops[:-1] for k in range(1, len(lp) - 1)],
                    np.int64).reshape(-1, 3)


def deform(aus: dict[str, float], subject: dict, base: str = "photo") -> np.ndarray:
    """(468, 3) mm vertices of a subject making AU intensities `aus` (frontal), on the
    `base` mesh (`BASES`; the subject's landmarks must come from the same base)."""
    neutral = subject["neutral"]
    moved = neutral.copy()
    for name, level in aus.items():
        au = int(name[2:])
        if level > 0 and (au in AU_FIELDS or au in JAW_AUS):
            moved += AU_GAIN * float(level) * au_field(au, neutral) * subject["scale"]
    return _warp(base).warp(moved)


@functools.lru_cache(maxsize=3)
def base_vertices(base: str = "photo") -> np.ndarray:
    """(468, 3) frontal mm vertices every identity starts from (`BASES`)."""
    _, _, verts, _ = _base()
    return verts if base == "photo" else neutral_base(verts)


@functools.lru_cache(maxsize=2)
def texture(base: str = "photo") -> np.ndarray:
    """(H, W, 3) float32 texture of the renders: the photo, or its skin repainted ("painted")."""
    photo, uv, _, _ = _base()
    if base == "painted":
        from deepexpr.animation.neutral_texture import painted_texture

        photo = painted_texture(photo, uv)
    return photo.astype(np.float32)


def neutral_base(verts: np.ndarray) -> np.ndarray:
    """(468, 3) the photo's mesh with its own expression undone: the AU model's AU12 at -1 and
    AU6 at -0.6 (the photo's smile and cheek raise) carried to every vertex by the RBF warp,
    then the lips closed: the inner lip rims meet (the lower lip rises `LOWER_LIP_SHARE` of
    the gap), carried by a second warp that keeps the nose, eyes and forehead still."""
    rest = verts[MEDIAPIPE_INDICES]
    moved = rest + AU_GAIN * (-1.0 * au_field(12, rest) - 0.6 * au_field(6, rest))
    v = RBFWarp().fit(verts, rest).warp(moved)
    rims = list(UPPER_INNER_LIP) + list(LOWER_INNER_LIP)
    controls = np.r_[v[rims], v[list(_STILL)]]
    gap = (v[list(UPPER_INNER_LIP)] - v[list(LOWER_INNER_LIP)]) * [0.0, 1.0, 0.0]
    target = controls.copy()
    n = len(UPPER_INNER_LIP)
    target[:n] -= (1 - LOWER_LIP_SHARE) * gap
    target[n:2 * n] += LOWER_LIP_SHARE * gap
    return RBFWarp().fit(v, controls).warp(target)


@functools.lru_cache(maxsize=3)
def _warp(base: str = "photo") -> RBFWarp:
    verts = base_vertices(base)
    return RBFWarp().fit(verts, verts[MEDIAPIPE_INDICES])


def render(verts: np.ndarray, head: tuple[float, float, float], size: int, look: dict,
           base: str = "photo") -> np.ndarray:
    """Textured, shaded render (size, size, 3) uint8 of mesh vertices (468, 3) mm.

    Args:
        verts: frontal vertices (x right, y up, z to the viewer).
        head: rig yaw, pitch, roll in degrees (yaw + = face to the image right, pitch + =
            looking down, roll + = clockwise in the image).
        look: {"tint": (3,), "light": (3,) unit, "ambient": float, "bg": (3,), "hair": (3,)}.
        base: which texture (`texture`): "painted" repaints the skin, others use the photo.
    """

    _, uv, _, tris = _base()
    yaw, pitch, roll = head
    centre = verts.mean(0)
    v = (verts - centre) @ rotation(yaw, pitch, -roll).T
    scale = 0.52 * size / (v[:, 0].max() - v[:, 0].min() + 1e-9) * 0.95
    xy = np.c_[size / 2 + scale * v[:, 0], size * 0.5 - scale * v[:, 1]].astype(np.float32)
    out = np.empty((size, size, 3), np.float32)
    out[:] = look["bg"]
    _backdrop(out, xy, look)
    normals = np.cross(v[tris[:, 1]] - v[tris[:, 0]], v[tris[:, 2]] - v[tris[:, 0]])
    normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12
    shade = look["ambient"] + (1 - look["ambient"]) * np.clip(normals @ look["light"], 0, 1)
    order = np.argsort(v[tris].mean(1)[:, 2])  # far to near
    src_img = texture("painted" if base == "painted" else "photo")
    for t in order:
        if normals[t, 2] <= 0:  # facing away
            continue
        _paste_triangle(out, src_img, uv[tris[t]], xy[tris[t]], shade[t] * look["tint"])
    return np.clip(out, 0, 255).astype(np.uint8)


def _backdrop(out: np.ndarray, xy: np.ndarray, look: dict) -> None:
    """A head-shaped skin ellipse and hair cap behind the face mask (mediapipe wants a head)."""
    import cv2

    lo, hi = xy.min(0), xy.max(0)
    c, half = (lo + hi) / 2, (hi - lo) / 2
    skin = tuple(float(x) for x in np.array([200, 150, 125]) * look["tint"] * look["ambient"] * 1.2)
    hair = tuple(float(x) for x in look["hair"])
    cv2.ellipse(out, (int(c[0]), int(c[1] - half[1] * 0.25)), (int(half[0] * 1.12), int(half[1] * 1.2)),
                0, 180, 360, hair, -1)
    cv2.ellipse(out, (int(c[0]), int(c[1])), (int(half[0] * 1.03), int(half[1] * 1.05)), 0, 0, 360, skin, -1)


def _paste_triangle(out, src, s_tri, d_tri, colour) -> None:
    """Warp one texture triangle from `src` onto `out` (float images), times `colour` (3,)."""
    import cv2

    h, w = out.shape[:2]
    x0, y0 = np.floor(d_tri.min(0)).astype(int)
    x1, y1 = np.ceil(d_tri.max(0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return
    sx0, sy0 = np.floor(s_tri.min(0)).astype(int) - 1
    sx1, sy1 = np.ceil(s_tri.max(0)).astype(int) + 2
    sx0, sy0 = max(sx0, 0), max(sy0, 0)
    patch = src[sy0:sy1, sx0:sx1]
    m = cv2.getAffineTransform((s_tri - [sx0, sy0]).astype(np.float32), (d_tri - [x0, y0]).astype(np.float32))
    warped = cv2.warpAffine(patch, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    mask = np.zeros((y1 - y0, x1 - x0), np.float32)
    cv2.fillConvexPoly(mask, np.round((d_tri - [x0, y0]) * 16).astype(np.int32), 1.0, cv2.LINE_AA, 4)
    region = out[y0:y1, x0:x1]
    region += mask[..., None] * (warped * colour - region)


def _look(rng: np.random.Generator) -> dict:
    light = np.array([rng.uniform(-0.6, 0.6), rng.uniform(-0.3, 0.6), 1.0])
    return {"tint": rng.uniform([0.55, 0.5, 0.45], [1.15, 1.1, 1.1]), "light": light / np.linalg.norm(light),
            "ambient": float(rng.uniform(0.45, 0.75)), "bg": rng.uniform(60, 230, 3),
            "hair": rng.uniform(10, 120, 3) * rng.uniform(0.5, 1.5)}


def render_truth_rig(rng: np.random.Generator, cfg: RenderTruthConfig) -> tuple[dict[str, float], str]:
    """A rig for a rendered face: an expression frame or random sparse AUs, random head."""
    if rng.uniform() < 0.5:
        expr = EXPRESSIONS[int(rng.integers(len(EXPRESSIONS)))]
        rig = sample_poses("render", expr, 1, seed=int(rng.integers(1 << 30)))[0]
    else:
        expr, rig = "random", neutral_rig()
        for a in RENDERED_AUS:
            if rng.uniform() < cfg.p_active:
                rig[a] = float(rng.uniform(0.0, 1.0))
    rig.update({a: 0.0 for a in AUS if a not in RENDERED_AUS})
    rig.update(head_yaw=float(rng.uniform(-cfg.max_yaw, cfg.max_yaw)),
               head_pitch=float(rng.uniform(-cfg.max_pitch, cfg.max_pitch)),
               head_roll=float(rng.uniform(-cfg.max_roll, cfg.max_roll)), gaze_x=0.0, gaze_y=0.0)
    return check_rig(rig), expr


def render_truth_items(cfg: RenderTruthConfig | None = None) -> Iterator[TruthItem]:
    """Rendered ground truth, identity by identity: a frontal neutral, then known rigs."""
    cfg = cfg or RenderTruthConfig()
    verts = base_vertices(cfg.base)
    for i in range(cfg.identities):
        rng = np.random.default_rng([cfg.seed, i, 7])
        subject, look, name = make_subject(rng, verts[MEDIAPIPE_INDICES]), _look(rng), f"render_{cfg.seed}_{i}"
        yield TruthItem(render(deform({}, subject, cfg.base), (0.0, 0.0, 0.0), cfg.size, look, cfg.base),
                        neutral_rig(),
                        name, "neutral", True)
        for _ in range(cfg.per_identity):
            rig, expr = render_truth_rig(rng, cfg)
            aus = {a: rig[a] for a in RENDERED_AUS}
            head = (rig["head_yaw"], rig["head_pitch"], rig["head_roll"])
            yield TruthItem(render(deform(aus, subject, cfg.base), head, cfg.size, look, cfg.base), rig, name,
                            expr)
