"""The face pipeline as the rig estimator sees it: ONE adapter over `deepexpr.faces.pipeline`.

The rig estimator needs the 478-point mesh (468 + 10 iris points: the pipeline's tflite
backend adds them with mediapipe's iris model, the solutions backend with the attention mesh,
`refine_landmarks=True`) and a quality number per face. `find_rig_faces` (photos) and `RigFaceStream` (video, webcam: tracked faces) are
the only places that talk to the face pipeline.

    >>> from deepexpr.faces.rigface import find_rig_faces
    >>> faces = find_rig_faces(photo)            # left to right
    >>> faces[0].mesh.shape, faces[0].quality    # (478, 3), 0..1
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# The rig map was trained on the solutions backend's attention mesh; on the tflite backend's
# 468-point mesh + iris model it reads AUs far worse (benchmarks/RESULTS.md, "TFLite path"):
# the rig path meshes with solutions (and detects with the faster tflite detector).
RIG_MESH_BACKEND = "solutions"
MIN_FACE_PX = 40.0  # faces narrower than this (pixels) get quality 0: the mesh is unreliable
LOW_CONFIDENCE_QUALITY = 0.2  # quality cap of a face the pipeline flags low_confidence
# A low detector score alone does not cap the quality: the mesh verified the face, and
# drawn faces often score 0.7-0.75 (the pipeline's reason is kept as a flag).
SCORE_ONLY = "low detection score"


@dataclass
class RigFace:
    """One face as input to the rig estimator.

    Attributes:
        mesh: (478, 3) float32 x, y photo pixels, z depth in x units; rows 468..477 the irises
            (468 = subject's right iris centre, 473 = left), or (468, 3) without irises.
        box: [x0, y0, x1, y1] extent of the mesh in photo pixels, clipped to the photo.
        quality: 0 (unusable) .. 1 (good): face size and the share of the mesh inside the
            photo, capped at `LOW_CONFIDENCE_QUALITY` when the pipeline flags the face
            low-confidence (profile, tiny, occluded, cut off; not for a low score alone).
        flags: reasons for a low quality ("small", "cut off", the pipeline's reasons).
        face: the pipeline's `deepexpr.faces.Face` (aligned crop, 49 points, quality
            fields, track id), None for a bare mesh.
    """

    mesh: np.ndarray
    box: list[float]
    quality: float = 1.0
    flags: list[str] = field(default_factory=list)
    face: object = field(default=None, repr=False)

    @property
    def track_id(self) -> int | None:
        return getattr(self.face, "track_id", None)


def find_rig_faces(image, max_faces: int | None = None, pipeline=None) -> list[RigFace]:
    """Every face of an RGB image with its 478-point mesh and a quality score, left to right.

    Args:
        image: RGB uint8 (H, W, 3) array, or anything `deepexpr.io.as_rgb` takes.
        max_faces: at most this many faces (the best detector scores; None = all).
        pipeline: a `FacePipeline` (default: the shared one of `rig_config()`).

    Returns:
        list of `RigFace` (empty when there is no face).
    """
    from deepexpr.faces.pipeline import default_pipeline
    from deepexpr.io import as_rgb

    image = np.ascontiguousarray(as_rgb(image))
    faces = (pipeline or default_pipeline(mesh_backend=RIG_MESH_BACKEND)).detect(image)
    if max_faces is not None and len(faces) > max_faces:
        faces = sorted(sorted(faces, key=lambda f: -f.score)[:max_faces], key=lambda f: f.box[0])
    return [rig_face(f, image.shape) for f in faces]


class RigFaceStream:
    """Faces of consecutive frames (video, webcam) through the pipeline's tracking stream:
    the full detector every few frames, each tracked face re-meshed around its last mesh.

        >>> stream = RigFaceStream()
        >>> for frame in frames:
        ...     faces = stream.process(frame)      # [RigFace], left to right, track_id set
    """

    def __init__(self, pipeline=None, max_gap: int = 15, background=None):
        from deepexpr.faces.pipeline import FacePipeline

        # background: an executor for the periodic detector runs (see `FaceStream`)
        self._stream = (pipeline or FacePipeline(rig_config())).stream(max_gap, background)
        self._held = False  # a finished background detection waits for a whole frame

    def process(self, frame: np.ndarray, region: list[int] | None = None) -> list[RigFace]:
        """The faces of the next RGB uint8 (H, W, 3) frame, left to right. `region`: the
        [x, y, w, h] part of the frame that holds its own pixels (a live region frame, the rest
        blank; None: all of it). A finished background detection that found a face whose mesh
        crop runs past the region is not merged into such a frame (it would mesh blank pixels):
        it waits for the next whole frame (`whole_next`); nor is a lost face searched for in it
        (the detector would see only the region: the client sends the next frame whole)."""
        frame = np.ascontiguousarray(frame)
        held = self._hold_detection(region)
        faces = self._stream.process(frame, detect_now=region is None)
        if held is not None and self._stream._pending is None:
            self._stream._pending = held  # (a newer detection started meanwhile replaces it)
        return [rig_face(f, frame.shape) for f in faces]

    def _hold_detection(self, region) -> tuple | None:
        """The stream's finished background detection, taken out of its way for this frame
        when it has a new face that needs pixels outside `region`; None otherwise."""
        stream, self._held = self._stream, False
        pending = stream._pending  # (future of the detections, the frame's shape, the faces it had)
        if region is None or pending is None or not pending[0].done() or pending[0].exception() is not None:
            return None
        x, y, w, h = region
        for box, _, keypoints in pending[0].result():
            centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
            if any(f.box[0] <= centre[0] <= f.box[2] and f.box[1] <= centre[1] <= f.box[3] for f in pending[2]):
                continue  # a tracked face's detection: no new mesh
            roi = stream.pipeline.detection_region(box, keypoints)
            half = 0.75 * roi.side + 3  # a rotated crop's corners (tflite) and the warp's margin
            if roi.cx - half < x or roi.cy - half < y or roi.cx + half > x + w or roi.cy + half > y + h:
                stream._pending, self._held = None, True
                return pending
        return None

    @property
    def whole_next(self) -> bool:
        """Whether a finished detection waits for the next frame to be whole (a live client
        then sends the whole frame, `deepexpr.studio.liveregion`)."""
        return self._held

    @property
    def detection_next(self) -> bool:
        """Whether the next frame falls due for the periodic full detector (it searches the
        whole picture: a live client sends its region and the whole frame at half size)."""
        s = self._stream
        return s.frame_index % max(int(s.pipeline.config.detect_every), 1) == 0

    def close(self) -> None:
        self._stream.close()


def rig_config(**overrides):
    """The face pipeline settings of the rig path (`PipelineConfig` with the mesh backend the
    rig map was trained on); `overrides` set other fields (min_iod, threads, ...)."""
    from deepexpr.faces.pipeline import PipelineConfig

    return PipelineConfig(**{"mesh_backend": RIG_MESH_BACKEND, **overrides})


def rig_face(face, shape) -> RigFace:
    """A pipeline `Face` as a `RigFace` (quality from the mesh and the pipeline's flags)."""
    mesh = face.mesh478 if face.mesh478 is not None else face.mesh468
    out = mesh_face(np.asarray(mesh, np.float32), shape[1], shape[0])
    out.face = face
    cap, reasons = pipeline_quality(face)
    out.quality, out.flags = min(out.quality, cap), out.flags + reasons
    return out


def pipeline_quality(face) -> tuple[float, list[str]]:
    """(quality cap, reasons) of a pipeline `Face`: `LOW_CONFIDENCE_QUALITY` when it is
    low-confidence for a reason other than the detector score alone, else 1."""
    reasons = [r for r in face.reason.split("; ") if r] if face.low_confidence else []
    capped = any(not r.startswith(SCORE_ONLY) for r in reasons)
    return (LOW_CONFIDENCE_QUALITY if capped else 1.0), reasons


def mesh_face(mesh: np.ndarray, w: int, h: int) -> RigFace:
    """Box and quality of one mesh in a photo of width `w` and height `h`."""
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
