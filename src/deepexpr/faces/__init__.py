"""Human face pipeline: read a photo, find every face (mediapipe face mesh), take 49 IntraFace
landmarks, register them to a frontal template and crop.

    >>> from deepexpr.faces import detect_faces
    >>> from deepexpr.io import read_image
    >>> for face in detect_faces(read_image("photo.jpg")):
    ...     face.box, face.landmarks49.shape, face.aligned.shape   # [x0,y0,x1,y1], (49,2), (256,256,3)
    >>> from deepexpr.faces import FacePipeline, PipelineConfig     # the one face pipeline
    >>> stream = FacePipeline(PipelineConfig(min_iod=16)).stream()  # video: tracked faces per frame
"""

from deepexpr.faces.align import TEMPLATE49, align_face, fit_affine
from deepexpr.faces.detect import MESH_TO_49, Face, detect_faces
from deepexpr.faces.pipeline import FacePipeline, PipelineConfig

__all__ = ["MESH_TO_49", "TEMPLATE49", "Face", "FacePipeline", "PipelineConfig", "align_face", "detect_faces",
           "fit_affine"]
