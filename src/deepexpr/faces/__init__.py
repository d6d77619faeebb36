"""Human face pipeline: read a photo, find every face (mediapipe face mesh), take 49 IntraFace
landmarks, register them to a frontal template and crop.

    >>> from deepexpr.faces import load_image, detect_faces
    >>> for face in detect_faces(load_image("photo.jpg")):
    ...     face.box, face.landmarks49.shape, face.aligned.shape   # [x0,y0,x1,y1], (49,2), (256,256,3)
"""

from deepexpr.faces.align import TEMPLATE49, align_face, fit_affine, fit_similarity
from deepexpr.faces.detect import MESH_TO_49, Face, detect_faces
from deepexpr.faces.io import as_rgb, load_image

__all__ = ["MESH_TO_49", "TEMPLATE49", "Face", "align_face", "as_rgb", "detect_faces", "fit_affine",
           "fit_similarity", "load_image"]
