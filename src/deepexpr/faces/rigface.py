"""The face pipeline as the rig estimator sees it: ONE adapter over `deepexpr.faces.detect`.

The rig estimator needs the 478-point mesh (468 + 10 iris points, mediapipe's
`refine_landmarks=True`) and a quality score per face. `find_rig_faces` is the only place
that talks to the face pipeline, so switching to the full-range detector pipeline (with its
quality flags) means changing this one function.

    >>> from deepexpr.faces.rigface import find_rig_faces
    >>> faces = find_rig_faces(photo)            # left to right
    >>> faces[0].mesh.shape, faces[0].quality    # (478, 3), 0..1
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MIN_FACE_PX = 40.0  # faces narrower than this (pixels) get quality 0: the mesh is unreliable


@dataclass
class RigFace:
    """One face as input to the rig estimator.

    Attributes:
        mesh: (478, 3) float32 x, y photo pixels, z depth in x units; rows 468..477 the irises
            (468 = subject's right iris centre, 473 = left), or (468, 3) without irises.
        box: [x0, y0, x1, y1] extent of the mesh in photo pixels, clipped to the photo.
        quality: 0 (unusable) .. 1 (good): face size and the share of the mesh inside the photo.
        flags: reasons for a low quality ("small", "cut off").
    """

    mesh: np.ndarray
    box: list[float]
    quality: float = 1.0
    flags: list[str] = field(default_factory=list)


def find_rig_faces(image, max_faces: int = 8) -> list[RigFace]:
    """Every face of an RGB image with its 478-point mesh and a quality score, left to right.

    Args:
        image: RGB uint8 (H, W, 3) array, or anything `deepexpr.faces.as_rgb` takes.
        max_faces: at most this many faces.

    Returns:
        list of `RigFace` (empty when there is no face).
    """
    from deepexpr.faces import detect
    from deepexpr.faces.io import as_rgb

    image = np.ascontiguousarray(as_rgb(image))
    h, w = image.shape[:2]
    # the pipeline's own cached FaceMesh graph and lock, with iris refinement on
    with detect._MESH_LOCK:
        found = detect._face_mesh(int(max_faces), True).process(image)
    faces = []
    for lm in found.multi_face_landmarks or []:
        mesh = np.array([[p.x * w, p.y * h, p.z * w] for p in lm.landmark], np.float32)
        faces.append(_rig_face(mesh, w, h))
    return sorted(faces, key=lambda f: f.box[0])


def _rig_face(mesh: np.ndarray, w: int, h: int) -> RigFace:
    """Box and quality of one mesh (width, height of the photo)."""
    lo, hi = mesh[:, :2].min(0), mesh[:, :2].max(0)
    inside = float(np.mean((mesh[:, 0] >= 0) & (mesh[:, 0] < w) & (mesh[:, 1] >= 0) & (mesh[:, 1] < h)))
    width = float(hi[0] - lo[0])
    flags = []
    size_q = float(np.clip((width - MIN_FACE_PX) / MIN_FACE_PX, 0.0, 1.0))
    if size_q < 1.0:
        flags.append("small")
    if inside < 0.97:
        flags.append("cut off")
    quality = size_q * float(np.clip((inside - 0.8) / 0.17, 0.0, 1.0))
    x0, y0 = np.clip(lo, 0, [w, h])
    x1, y1 = np.clip(hi, 0, [w, h])
    return RigFace(mesh, [float(x0), float(y0), float(x1), float(y1)], quality, flags)
