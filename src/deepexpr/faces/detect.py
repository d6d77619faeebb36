"""Face detection and landmarks with mediapipe 0.10.14's `solutions` face mesh (offline:
the detector and the 468-point mesh model ship in the wheel), 49 IntraFace points taken
from mesh vertices, then registration to the frontal template (`deepexpr.faces.align`).

    >>> from deepexpr.faces import detect_faces
    >>> from deepexpr.io import read_image
    >>> faces = detect_faces(read_image("photo.jpg"))
    >>> faces[0].box, faces[0].aligned.shape        # [x0, y0, x1, y1], (256, 256, 3)
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import numpy as np

from deepexpr.faces.align import DEFAULT_SIZE, align_face
from deepexpr.faces.quiet import native_logs_silenced  # sets the log levels before mediapipe loads

# mediapipe face-mesh vertex for each of the 49 IntraFace points (see deepexpr.landmarks):
# brows, nose bridge, nose base, right eye, left eye, outer lip, inner lips.
MESH_TO_49 = (70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
              168, 197, 5, 4, 98, 97, 2, 326, 327,
              33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
              61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91,
              81, 13, 311, 402, 14, 178)

_MESH_LOCK = threading.Lock()  # a FaceMesh graph is not re-entrant; one call at a time


@dataclass
class Face:
    """One face of a photo."""

    box: list[float]  # [x0, y0, x1, y1] photo pixels: extent of the 468-point mesh, clipped to the photo
    mesh468: np.ndarray  # (468, 3) float32 mesh: x, y photo pixels; z depth in the same units as x
    landmarks49: np.ndarray  # (49, 2) float32 IntraFace points in photo pixels (deepexpr.landmarks order)
    aligned: np.ndarray  # (S, S, 3) uint8 crop registered to the frontal template
    aligned_landmarks: np.ndarray  # (49, 2) float32 the 49 points in crop pixels
    affine: np.ndarray  # (2, 3) float64 photo pixels -> crop pixels


@functools.lru_cache(maxsize=4)
def _face_mesh(max_faces: int, refine: bool):
    """One FaceMesh per settings for the process (building the graph costs ~50 ms)."""
    import mediapipe as mp

    with native_logs_silenced():  # the graph prints its start-up lines on the first run
        mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=max_faces,
                                               refine_landmarks=refine, min_detection_confidence=0.5)
        mesh.process(np.zeros((64, 64, 3), np.uint8))
    return mesh


def mesh_points(image: np.ndarray, max_faces: int = 8) -> list[np.ndarray]:
    """The 468-point mesh (468, 3) of each face found in an RGB uint8 image (photo pixels)."""
    h, w = image.shape[:2]
    with _MESH_LOCK:
        found = _face_mesh(int(max_faces), False).process(np.ascontiguousarray(image))
    return [np.array([[p.x * w, p.y * h, p.z * w] for p in lm.landmark], np.float32)
            for lm in (found.multi_face_landmarks or [])]


def detect_faces(image, max_faces: int = 8, size: int = DEFAULT_SIZE, method: str = "similarity") -> list[Face]:
    """Every face of a photo, left to right, with mesh, 49 landmarks and an aligned crop.

    Args:
        image: RGB uint8 (H, W, 3) array, or anything `deepexpr.io.as_rgb` takes
            (path, PIL image, grey, RGBA, 16-bit).
        max_faces: at most this many faces.
        size: aligned crop side in pixels.
        method: registration, "similarity" or "affine" (see `deepexpr.faces.align`).

    Returns:
        list of `Face` (empty when there is no face).
    """
    from deepexpr.io import as_rgb

    image = as_rgb(image)
    h, w = image.shape[:2]
    faces = []
    for mesh in mesh_points(image, max_faces):
        pts = mesh[list(MESH_TO_49), :2].copy()
        crop, crop_pts, m = align_face(image, pts, size, method)
        x0, y0 = np.clip(mesh[:, :2].min(0), 0, [w, h])
        x1, y1 = np.clip(mesh[:, :2].max(0), 0, [w, h])
        faces.append(Face([float(x0), float(y0), float(x1), float(y1)], mesh, pts, crop, crop_pts, m))
    return sorted(faces, key=lambda f: f.box[0])
