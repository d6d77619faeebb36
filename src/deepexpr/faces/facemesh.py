"""The project's base 3D face: mediapipe's 468-point face mesh of a real photo.

`skimage.data.astronaut()` (a real photograph that ships with scikit-image) goes through
`mediapipe.solutions.face_mesh.FaceMesh(static_image_mode=True)`, which returns 468 3D
points; the triangles are rebuilt from `FACEMESH_TESSELATION` (its edges; every 3-clique
that is a real face of the surface becomes a triangle). The result is cached in
`deepexpr.io.cache_dir()/facemesh_astronaut_v1.npz` so mediapipe runs once per machine.

Choices the sources leave open (recorded here and in the cache file):
- Axes: x to the subject's left (image right), y up, z towards the camera (mediapipe's
  image y and z are flipped). Origin: centroid of the 468 points.
- Units: millimetres, by scaling the outer eye-corner distance (mediapipe points 33 and
  263, the exocanthions) to `OUTER_CANTHI_MM` = 90 mm, an adult average of the biocular
  width. mediapipe's z is in the same units as x (both relative to the image width).
- Holes: the tesselation leaves the eyes and the mouth open (boundaries at the lid and
  inner-lip contours), so an opening jaw shows a real gap.
- Detail: the 468-vertex mesh is Loop-subdivided twice (smooth, ~7.3k vertices) and then
  its longest edges split until about `TARGET_VERTICES` (~10k). Original vertices keep their
  indices 0..467, so landmark indices into the 468 points stay valid on the dense mesh.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from deepexpr.errors import DeepExprError
from deepexpr.faces.quiet import native_logs_silenced  # sets the log levels before mediapipe loads

OUTER_CANTHI_MM = 90.0  # exocanthion distance the mesh is scaled to (adult average, mm)
TARGET_VERTICES = 10_000  # vertex count the dense default mesh aims at
CACHE_NAME = "facemesh_astronaut_v1.npz"
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263  # mediapipe indices of the exocanthions


@dataclass(frozen=True)
class FaceMesh:
    """A triangle mesh of a face.

    Attributes:
        vertices: (V, 3) float64 positions in mm.
        faces: (F, 3) int64 vertex indices, counter-clockwise seen from the front (+z).
    """

    vertices: np.ndarray
    faces: np.ndarray

    def to_trimesh(self):
        import trimesh

        return trimesh.Trimesh(self.vertices, self.faces, process=False)


def detect_468(image: np.ndarray) -> np.ndarray:
    """Run mediapipe's face mesh on an RGB uint8 image.

    Returns:
        (468, 3) points in mediapipe's convention (x, y in pixels, z in pixels of width).

    Raises:
        DeepExprError: no face found.
    """
    from mediapipe.python.solutions import face_mesh

    with native_logs_silenced(), face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1) as fm:
        result = fm.process(np.ascontiguousarray(image))
    if not result.multi_face_landmarks:
        raise DeepExprError("image: mediapipe found no face; pass a frontal face photo")
    h, w = image.shape[:2]
    lms = result.multi_face_landmarks[0].landmark
    return np.array([[p.x * w, p.y * h, p.z * w] for p in lms[:468]], dtype=np.float64)


def tesselation_triangles() -> np.ndarray:
    """Triangles (F, 3) of mediapipe's face mesh rebuilt from FACEMESH_TESSELATION's edges.

    Every 3-clique of the edge graph is a candidate; a few cliques are not surface faces
    (their three edges are each shared by three candidates): those are dropped so that
    every edge bounds at most two triangles.
    """
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    edges = {tuple(sorted(e)) for e in FACEMESH_TESSELATION}
    neighbours: dict[int, set[int]] = {}
    for a, b in edges:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    tris = {tuple(sorted((a, b, c))) for a, b in edges for c in neighbours[a] & neighbours[b]}
    tris = sorted(tris)
    use = Counter(e for t in tris for e in itertools.combinations(t, 2))
    keep = [t for t in tris if min(use[e] for e in itertools.combinations(t, 2)) < 3]
    return np.array(keep, dtype=np.int64)


def to_metric(points: np.ndarray) -> np.ndarray:
    """mediapipe pixel coordinates -> mm, y up, z to the viewer, centred (see module doc)."""
    v = np.c_[points[:, 0], -points[:, 1], -points[:, 2]]
    v = v - v.mean(axis=0)
    scale = OUTER_CANTHI_MM / np.linalg.norm(v[RIGHT_EYE_OUTER] - v[LEFT_EYE_OUTER])
    return v * scale


def orient_faces(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Consistent winding with normals facing +z (towards the viewer)."""
    import trimesh

    mesh = trimesh.Trimesh(vertices, faces, process=False)
    trimesh.repair.fix_winding(mesh)
    faces = np.asarray(mesh.faces)
    if (mesh.face_normals[:, 2] * mesh.area_faces).sum() < 0:
        faces = faces[:, ::-1]
    return np.ascontiguousarray(faces)


def densify(vertices: np.ndarray, faces: np.ndarray, target: int = TARGET_VERTICES):
    """Loop-subdivide twice, then split long edges until about `target` vertices.

    Vertex indices 0..len(vertices)-1 are preserved (positions move slightly: Loop smoothing).
    """
    import trimesh

    v, f = trimesh.remesh.subdivide_loop(vertices, faces, iterations=2)
    if len(v) >= target:
        return v, f
    lengths = np.linalg.norm(v[f[:, [1, 2, 0]]] - v[f], axis=2).max(axis=1)
    lo, hi = np.quantile(lengths, 0.05), lengths.max()
    best = (v, f)
    for _ in range(14):  # bisection on the longest allowed edge
        mid = 0.5 * (lo + hi)
        vv, ff = trimesh.remesh.subdivide_to_size(v, f, max_edge=mid)
        best = (vv, ff) if abs(len(vv) - target) < abs(len(best[0]) - target) else best
        lo, hi = (mid, hi) if len(vv) > target else (lo, mid)
    return best


def build_base_mesh(image: np.ndarray | None = None) -> tuple[FaceMesh, FaceMesh]:
    """(468-vertex mesh, dense ~10k-vertex mesh) of `image` (default: the astronaut)."""
    if image is None:
        import skimage.data

        image = skimage.data.astronaut()
    verts = to_metric(detect_468(image))
    faces = orient_faces(verts, tesselation_triangles())
    dv, df = densify(verts, faces)
    dense_faces = orient_faces(dv, df)
    return FaceMesh(verts, faces), FaceMesh(np.asarray(dv), dense_faces)


@lru_cache(maxsize=1)
def _cached() -> tuple[FaceMesh, FaceMesh]:
    from deepexpr.io import atomic_path, cache_dir

    path = cache_dir() / CACHE_NAME
    if path.is_file():
        try:
            z = np.load(path)
            return FaceMesh(z["v468"], z["f468"]), FaceMesh(z["vdense"], z["fdense"])
        except (OSError, KeyError, ValueError):
            pass  # a damaged cache is rebuilt below
    base, dense = build_base_mesh()
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, v468=base.vertices, f468=base.faces, vdense=dense.vertices,
                     fdense=dense.faces, units="mm", source="skimage.data.astronaut()",
                     outer_canthi_mm=OUTER_CANTHI_MM)
    return base, dense


def base_mesh() -> FaceMesh:
    """The 468-vertex face of the astronaut photo (mm), cached."""
    return _cached()[0]


def dense_mesh() -> FaceMesh:
    """The default animation mesh: the base face subdivided to ~10k vertices (mm), cached.

    Its vertices 0..467 correspond to mediapipe's 468 points (slightly smoothed).
    """
    return _cached()[1]
