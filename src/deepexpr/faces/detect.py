"""Face detection and landmarks: the original API, now served by the one face pipeline
(`deepexpr.faces.pipeline`: full-range detector over an image pyramid, 478-point mesh per
face, 49 IntraFace points, quality fields), then registration to the frontal template.

    >>> from deepexpr.faces import detect_faces
    >>> from deepexpr.io import read_image
    >>> faces = detect_faces(read_image("photo.jpg"))
    >>> faces[0].box, faces[0].aligned.shape        # [x0, y0, x1, y1], (256, 256, 3)
"""

from __future__ import annotations

import numpy as np

from deepexpr.faces.align import DEFAULT_SIZE
from deepexpr.faces.pipeline import MESH_TO_49, Face, FacePipeline, PipelineConfig, default_pipeline

__all__ = ["MESH_TO_49", "Face", "detect_faces", "mesh_points"]


def mesh_points(image: np.ndarray, max_faces: int | None = None) -> list[np.ndarray]:
    """The 468-point mesh (468, 3) of each face found in an RGB uint8 image (photo pixels)."""
    return [f.mesh468 for f in default_pipeline().detect(np.ascontiguousarray(image))[:max_faces]]


def detect_faces(image, max_faces: int | None = None, size: int = DEFAULT_SIZE, method: str = "similarity") -> list[Face]:
    """Every face of a photo, left to right, with mesh, 49 landmarks and an aligned crop.

    Args:
        image: RGB uint8 (H, W, 3) array, or anything `deepexpr.io.as_rgb` takes
            (path, PIL image, grey, RGBA, 16-bit).
        max_faces: at most this many faces (the best scores; None = all).
        size: aligned crop side in pixels.
        method: registration, "similarity" or "affine" (see `deepexpr.faces.align`).

    Returns:
        list of `Face` (empty when there is no face).
    """
    from deepexpr.io import as_rgb

    image = as_rgb(image)
    if size == DEFAULT_SIZE and method == "similarity":
        faces = default_pipeline().detect(image)
    else:
        faces = FacePipeline(PipelineConfig(size=int(size), method=method)).detect(image)
    if max_faces is not None and len(faces) > max_faces:
        best = sorted(faces, key=lambda f: -f.score)[:max_faces]
        faces = sorted(best, key=lambda f: f.box[0])
    return faces
