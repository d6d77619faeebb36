"""The face pipeline: every face of a photo, a video frame or a webcam frame.

Steps (mediapipe 0.10.14's models, offline: they ship in the wheel). Two backends run them:
`backend="tflite"` (default) runs the model files directly on a TFLite interpreter
(`deepexpr.faces.tflite`: a few ms per model call, no lock, per-thread interpreters);
`backend="solutions"` runs mediapipe's `solutions` graphs (`deepexpr.faces.solutions`: the
reference; ~10-13 ms of graph overhead per call and one process-wide lock). `mesh_backend`
picks the mesh's backend apart from the detector's: the rig estimator's map was trained on
the solutions (attention) mesh, so the rig path (`deepexpr.faces.rigface`) detects with
tflite and meshes with solutions.

1. **Detect** with the *full-range* face detector (192x192 input). It finds faces down to
   ~18 px of its input, so a big photo is searched as an image pyramid of square tiles
   (`plan_windows`): the whole image, then tiles of decreasing side down to the side at
   which a face of `min_iod` pixels between the eyes is still ~20 px wide in the detector's
   input. Tiles overlap by the smallest face the coarser level finds, a detection cut by an
   inner tile edge is dropped (a neighbouring tile or a coarser level holds the whole face),
   and duplicates are merged by non-maximum suppression.
2. **Mesh** each face and map the points back to image pixels. tflite: the 468-point mesh
   in a crop of 1.5x the detection rotated so the eyes are level, then the iris model on
   each eye (478 points, as mediapipe's iris pipeline); solutions: the attention mesh
   (`refine_landmarks=True`, static image mode) in a `crop_scale` x box crop. A detection
   on which the mesh finds no face (or a different face) is dropped: the mesh verifies the
   detector.
3. **Quality**: detection score, yaw/pitch/roll from the mesh, inter-ocular distance, and
   `low_confidence` with a reason (profile, tiny, low score, landmarks that disagree with the
   detector: occlusion, cut off by the border).
4. **Align**: 49 IntraFace points (`MESH_TO_49`) registered to the frontal template.

Video and streams reuse state (`FaceStream`): the full detector runs every
`detect_every` frames or when a face is lost, and in between each tracked face is meshed
in a crop around its previous mesh; `deepexpr.faces.tracking` keeps the track ids.

    >>> from deepexpr.faces.pipeline import FacePipeline
    >>> faces = FacePipeline().detect(image)          # left to right
    >>> faces[0].box, faces[0].score, faces[0].yaw, faces[0].low_confidence, faces[0].reason
"""

from __future__ import annotations

import copy
import functools
import math
from dataclasses import dataclass, field

import numpy as np

from deepexpr import landmarks as L
from deepexpr.faces.align import DEFAULT_SIZE, align_face, lazily_aligned
from deepexpr.faces.tflite import Roi, roi_from_detection, roi_from_mesh

# mediapipe face-mesh vertex for each of the 49 IntraFace points (see deepexpr.landmarks):
# brows, nose bridge, nose base, right eye, left eye, outer lip, inner lips.
MESH_TO_49 = (70, 63, 105, 66, 107, 336, 296, 334, 293, 300, 168, 197, 5, 4, 98, 97, 2, 326, 327,
              33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
              61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91,
              81, 13, 311, 402, 14, 178)

DETECT_INPUT = 192  # the full-range detector's input side
MIN_FACE_FRACTION = 0.105  # detector box / window side below which it stops finding faces (measured ~0.09)
MAX_TRACK_MESHERS = 4  # video-mode FaceMesh graphs a stream keeps (one per tracked face)
LEVEL_SLACK = 1.25  # no finer level when this one sees min_iod faces at >= MIN_FACE_FRACTION / 1.25 (0.084)
BOX_PER_IOD = 2.3  # detector box side / inter-ocular distance (astronaut: 104 px / 45 px)
# mesh vertices: outer eye corners, forehead top, chin (for the head pose)
_EYE_R, _EYE_L, _TOP, _CHIN = 33, 263, 10, 152


@dataclass
class PipelineConfig:
    """Settings of the face pipeline (photos and streams)."""

    min_iod: float = 20.0  # smallest inter-ocular distance (image px) searched for; smaller = more tiles
    min_score: float = 0.5  # detector score threshold
    nms_iou: float = 0.3  # detections overlapping more than this (IoU or 70% of the smaller) merge
    level_ratio: float = 2.5  # tile side ratio between pyramid levels
    max_faces: int = 64  # at most this many faces per image (highest scores)
    crop_scale: float = 2.0  # solutions mesh: crop side / detector box side (tflite: 1.5, rotated, as mediapipe)
    mesh_size: int = 256  # solutions mesh: crop resized to this side (tflite: the model input, 192)
    size: int = DEFAULT_SIZE  # aligned crop side
    method: str = "similarity"  # registration ("similarity" or "affine")
    confident_score: float = 0.75  # below: low_confidence "low detection score"
    tiny_iod: float = 24.0  # below (px): low_confidence "tiny"
    profile_yaw: float = 40.0  # |yaw| above (degrees): low_confidence "profile"
    max_keypoint_error: float = 0.35  # mesh vs detector eye/nose points, in inter-ocular units
    detect_every: int = 10  # streams: full detection every N frames (and when a face is lost)
    backend: str = "tflite"  # "tflite" (model files on a TFLite interpreter) or "solutions" (mediapipe graphs)
    mesh_backend: str = ""  # the mesh's backend when it differs ("": `backend`); the rig path meshes with solutions
    threads: int = 2  # tflite: threads for one image (detector windows and faces in parallel; 1: this thread only)
    min_presence: float = 0.5  # tflite: the mesh model's face-presence probability below which a crop has no face


@dataclass
class Face:
    """One face of an image. The first six fields are the original `detect_faces` API (a stream's
    tracked face makes its aligned crop when first read: the rig path never pays for it)."""

    box: list[float]  # [x0, y0, x1, y1] image pixels: extent of the mesh, clipped to the image
    mesh468: np.ndarray  # (468, 3) float32 mesh: x, y image pixels; z depth in the units of x
    landmarks49: np.ndarray  # (49, 2) float32 IntraFace points in image pixels
    aligned: np.ndarray  # (S, S, 3) uint8 crop registered to the frontal template
    aligned_landmarks: np.ndarray  # (49, 2) float32 the 49 points in crop pixels
    affine: np.ndarray  # (2, 3) float64 image pixels -> crop pixels
    score: float = 1.0  # detector score (0-1)
    detection_box: list[float] = field(default_factory=list)  # the detector's [x0, y0, x1, y1]
    _mesh478: np.ndarray | None = field(default=None, repr=False)  # see the `mesh478` property
    yaw: float = 0.0  # degrees, + = face turned toward the image's right
    pitch: float = 0.0  # degrees, + = chin down
    roll: float = 0.0  # degrees, + = head tilted clockwise in the image
    iod: float = 0.0  # inter-ocular distance (eye centres) in image pixels
    low_confidence: bool = False  # profile, tiny, occluded or low score: not a confident answer
    reason: str = ""  # why low_confidence ("" when confident); several joined by "; "
    track_id: int | None = None  # streams: the face's track
    _iris_image: np.ndarray | None = field(default=None, repr=False, compare=False)  # until irises are run
    _align_from: tuple | None = field(default=None, repr=False, compare=False)  # (image, size, method) until aligned

    @property
    def mesh478(self) -> np.ndarray | None:
        """(478, 3) float32 mesh with the 10 iris points (468-472 the image-left iris); tflite
        backend: the iris model runs on first use, in the calling thread (recognition never
        reads the irises)."""
        if self._mesh478 is None and self._iris_image is not None:
            from deepexpr.faces.tflite import add_irises

            self._mesh478 = add_irises(self._iris_image, self.mesh468)
            self._iris_image = None
        return self._mesh478

    @mesh478.setter
    def mesh478(self, value: np.ndarray | None) -> None:
        self._mesh478, self._iris_image = value, None

    def quality(self) -> dict:
        """The quality fields every result row of a face carries (recognize, retrieve, translate)."""
        return {"score": round(float(self.score), 4), "iod": round(float(self.iod), 1),
                "yaw": round(float(self.yaw), 1), "pitch": round(float(self.pitch), 1),
                "roll": round(float(self.roll), 1), "low_confidence": bool(self.low_confidence),
                "reason": self.reason}


# --------------------------------------------------------------------------- detection

for _name in ("aligned", "aligned_landmarks", "affine"):  # made on first read for a stream's tracked face
    setattr(Face, _name, lazily_aligned(_name))


def plan_windows(height: int, width: int, min_iod: float = 20.0, level_ratio: float = 2.5) -> list[tuple]:
    """Square search windows (x0, y0, side) of an image pyramid, coarse to fine.

    The first window is the whole image. Each finer level uses tiles `level_ratio` times
    smaller, down to the side at which a face of `min_iod` px still fills
    `MIN_FACE_FRACTION` of the detector input; tiles overlap by the smallest face the
    coarser level finds, so every face lies whole inside a window that can find it.

    Returns:
        list of (x0, y0, side) tuples; a window may run past the image (it is clipped).
    """
    long_side = max(height, width)
    finest = max(BOX_PER_IOD * min_iod / MIN_FACE_FRACTION, DETECT_INPUT)
    windows = [(0, 0, long_side)]
    side = float(long_side)
    while side > finest * LEVEL_SLACK:
        coarse_min = side * MIN_FACE_FRACTION * 1.25  # smallest face the coarser level surely finds
        side = side / level_ratio
        side = finest if side < finest * LEVEL_SLACK else side  # the last level: full resolution for min_iod
        overlap = min(coarse_min, side / 2)
        for y0 in _starts(height, side, overlap):
            for x0 in _starts(width, side, overlap):
                windows.append((x0, y0, int(round(side))))
    return windows


def _starts(length: int, side: float, overlap: float) -> list[int]:
    if length <= side:
        return [0]
    n = math.ceil((length - overlap) / (side - overlap))
    return [int(round(i * (length - side) / max(n - 1, 1))) for i in range(n)]


def detect_boxes(image: np.ndarray, cfg: PipelineConfig | None = None) -> list[tuple]:
    """Face detections of a whole image, over the pyramid of `plan_windows`, merged.

    Args:
        image: (H, W, 3) uint8 RGB.

    Returns:
        [(box [x0, y0, x1, y1] float64, score, keypoints (6, 2) float32)] image pixels, best
        score first. Keypoints: right eye, left eye, nose tip, mouth, right ear, left ear.
    """
    cfg = cfg or PipelineConfig()
    h, w = image.shape[:2]
    windows = plan_windows(h, w, cfg.min_iod, cfg.level_ratio)
    found_in = dict(zip(windows, detect_windows(image, windows, cfg)))
    found = []
    for x0, y0, side in windows:
        x1, y1 = min(x0 + side, w), min(y0 + side, h)
        inner = (x0 > 0, y0 > 0, x1 < w, y1 < h)  # window edges inside the image
        for box, score, kp in found_in[(x0, y0, side)]:
            if _cut_by_edge(box, x1 - x0, y1 - y0, inner):
                continue
            found.append((box + [x0, y0, x0, y0], score, kp + [x0, y0]))
    return nms(found, cfg.nms_iou)[: cfg.max_faces]


def detect_windows(image: np.ndarray, windows: list[tuple], cfg: PipelineConfig) -> list[list[tuple]]:
    """The detector's raw detections in each (x0, y0, side) window, in window pixels."""
    if _backend(cfg) == "solutions":
        from deepexpr.faces.solutions import run_detector

        h, w = image.shape[:2]
        return [run_detector(image[y0:min(y0 + side, h), x0:min(x0 + side, w)], cfg.min_score, DETECT_INPUT)
                for x0, y0, side in windows]
    from deepexpr.faces import tflite

    return tflite.detect_tiles(image, windows, cfg.min_score, cfg.threads)


def _backend(cfg: PipelineConfig, mesh: bool = False) -> str:
    """The detector's (or with `mesh`, the mesh's) backend, checked."""
    name = (cfg.mesh_backend or cfg.backend) if mesh else cfg.backend
    if name not in ("tflite", "solutions"):
        from deepexpr.errors import InputError

        raise InputError(f"face pipeline backend {name!r}: use 'tflite' or 'solutions'")
    return name


def mesh_regions(image: np.ndarray, regions: list[Roi], cfg: PipelineConfig, meshers=None) -> list:
    """The mesh of the face in each region, or None where the mesh finds none.

    Args:
        image: (H, W, 3) uint8 RGB.
        regions: `Roi` crops (tflite: rotated, 1.5x the face; solutions: upright windows).
        meshers: solutions only: a FaceMesh per region (a track's video-mode graph) or None.

    Returns:
        list of float32 meshes (x, y image pixels, z in the units of x) or None: (478, 3)
        from solutions; (468, 3) from tflite (irises are added when first read, see `Face`).
    """
    if _backend(cfg, mesh=True) == "solutions":
        from deepexpr.faces.solutions import mesh_in_square

        meshers = meshers or [None] * len(regions)
        return [mesh_in_square(image, r.cx, r.cy, r.side, cfg.mesh_size, m) for r, m in zip(regions, meshers)]
    from deepexpr.faces import tflite

    return tflite.meshes(image, regions, cfg.min_presence, cfg.threads)


def _cut_by_edge(box, w, h, inner) -> bool:
    """A box reaching an inner window edge is (part of) a face cut by the tile."""
    margin = 0.02 * max(box[2] - box[0], 1.0)
    return ((inner[0] and box[0] <= margin) or (inner[1] and box[1] <= margin)
            or (inner[2] and box[2] >= w - margin) or (inner[3] and box[3] >= h - margin))


def box_iou(a, b) -> tuple[float, float]:
    """(IoU, intersection / smaller area) of two [x0, y0, x1, y1] boxes."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    area_a = max(a[2] - a[0], 0) * max(a[3] - a[1], 0)
    area_b = max(b[2] - b[0], 0) * max(b[3] - b[1], 0)
    union = area_a + area_b - inter
    return (inter / union if union > 0 else 0.0), (inter / max(min(area_a, area_b), 1e-9))


def nms(detections: list[tuple], iou: float = 0.3) -> list[tuple]:
    """Greedy non-maximum suppression of (box, score, ...) tuples, best score first.

    Two boxes are the same face when their IoU exceeds `iou` or the smaller lies 70%
    inside the larger (one level saw the whole face, another a part of it).
    """
    kept = []
    for det in sorted(detections, key=lambda d: -d[1]):
        if all(max(box_iou(det[0], k[0])[0] / iou, box_iou(det[0], k[0])[1] / 0.7) < 1.0 for k in kept):
            kept.append(det)
    return kept


# --------------------------------------------------------------------------- mesh and quality

def head_pose(mesh: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from a face mesh (N >= 468, 3).

    From the eye-corner axis (subject's right -> left outer corner) and the forehead ->
    chin axis: yaw + when the face turns toward the image's right, pitch + chin down,
    roll + head tilted clockwise in the image. Approximate (the mesh's z is a relative depth).
    """
    right = mesh[_EYE_L].astype(np.float64) - mesh[_EYE_R]
    down = mesh[_CHIN].astype(np.float64) - mesh[_TOP]
    right /= max(np.linalg.norm(right), 1e-9)
    down = down - right * (down @ right)
    down /= max(np.linalg.norm(down), 1e-9)
    yaw = math.degrees(math.atan2(right[2], math.hypot(right[0], right[1])))
    pitch = math.degrees(math.atan2(down[2], math.hypot(down[0], down[1])))
    roll = math.degrees(math.atan2(right[1], right[0]))
    return yaw, pitch, roll


def quality(face: Face, keypoints: np.ndarray | None, image_shape, cfg: PipelineConfig) -> list[str]:
    """Reasons a face is not a confident answer ([] when it is).

    Args:
        face: a meshed face (box, landmarks49, mesh468, score, yaw, iod set).
        keypoints: (6, 2) detector keypoints (right eye, left eye, nose tip, ...) or None.
        image_shape: (H, W, ...) of the image.
    """
    reasons = []
    if face.score < cfg.confident_score:
        reasons.append(f"low detection score {face.score:.2f}")
    if face.iod < cfg.tiny_iod:
        reasons.append(f"tiny ({face.iod:.0f} px between the eyes)")
    if abs(face.yaw) > cfg.profile_yaw:
        reasons.append(f"profile (yaw {face.yaw:+.0f} deg)")
    if keypoints is not None:
        lm = face.landmarks49
        ours = np.stack([lm[L.RIGHT_EYE].mean(0), lm[L.LEFT_EYE].mean(0), face.mesh468[1, :2]])
        # detector keypoints are a few pixels off on small faces: floor the scale at tiny_iod
        err = np.linalg.norm(ours - keypoints[:3], axis=1).max() / max(face.iod, cfg.tiny_iod)
        if err > cfg.max_keypoint_error:
            reasons.append(f"landmarks disagree with the detector by {err:.2f} eye distances (occluded?)")
    h, w = image_shape[:2]
    xy = face.mesh468[:, :2]
    outside = np.mean((xy[:, 0] < 0) | (xy[:, 1] < 0) | (xy[:, 0] >= w) | (xy[:, 1] >= h))
    if outside > 0.1:
        reasons.append(f"cut off by the image border ({outside:.0%} of the mesh outside)")
    return reasons


def face_from_mesh(image: np.ndarray, mesh: np.ndarray, cfg: PipelineConfig, score: float = 1.0,
                   detection_box=None, keypoints=None, lazy_align: bool = False) -> Face:
    """A `Face` (49 points, aligned crop, pose, quality) from a mesh in image pixels: (478, 3)
    with irises, or (468, 3), whose irises the face then adds from `image` when first read;
    `lazy_align`: the aligned crop too (`image` must not change until then)."""
    h, w = image.shape[:2]
    pts = mesh[list(MESH_TO_49), :2].copy()
    crop, crop_pts, m = (None, None, None) if lazy_align else align_face(image, pts, cfg.size, cfg.method)
    x0, y0 = np.clip(mesh[:468, :2].min(0), 0, [w, h])
    x1, y1 = np.clip(mesh[:468, :2].max(0), 0, [w, h])
    yaw, pitch, roll = head_pose(mesh)
    iod = float(np.linalg.norm(pts[L.RIGHT_EYE].mean(0) - pts[L.LEFT_EYE].mean(0)))
    face = Face([float(x0), float(y0), float(x1), float(y1)], np.ascontiguousarray(mesh[:468]), pts,
                crop, crop_pts, m, score=float(score),
                detection_box=[float(v) for v in (detection_box if detection_box is not None else (x0, y0, x1, y1))],
                _mesh478=mesh if len(mesh) == 478 else None, yaw=yaw, pitch=pitch, roll=roll, iod=iod,
                _iris_image=image if len(mesh) == 468 else None,
                _align_from=(image, cfg.size, cfg.method) if lazy_align else None)
    reasons = quality(face, keypoints, image.shape, cfg)
    face.low_confidence, face.reason = bool(reasons), "; ".join(reasons)
    return face


def _inside(point, box, grow: float = 0.25) -> bool:
    gw, gh = grow * (box[2] - box[0]), grow * (box[3] - box[1])
    return box[0] - gw <= point[0] <= box[2] + gw and box[1] - gh <= point[1] <= box[3] + gh


# --------------------------------------------------------------------------- photos and streams

class FacePipeline:
    """Detector + mesh + quality for photos; `stream()` for video frames.

    Args:
        config: `PipelineConfig` (defaults when None).
    """

    def __init__(self, config: PipelineConfig | None = None):
        self.config = config or PipelineConfig()

    def detect(self, image: np.ndarray) -> list[Face]:
        """Every face of an RGB uint8 (H, W, 3) image, left to right."""
        faces = self.mesh_detections(image, detect_boxes(image, self.config))
        return sorted((f for f in faces if f is not None), key=lambda f: f.box[0])

    def detection_region(self, box, keypoints) -> Roi:
        """The crop the mesh of a detection runs in (backend-specific, see the module doc)."""
        if _backend(self.config, mesh=True) == "solutions":
            side = self.config.crop_scale * max(box[2] - box[0], box[3] - box[1])
            return Roi((box[0] + box[2]) / 2, (box[1] + box[3]) / 2, side)
        return roi_from_detection(box, keypoints)

    def mesh_detections(self, image: np.ndarray, detections: list[tuple], meshers=None) -> list[Face | None]:
        """The `Face` of each detection (box, score, (6, 2) keypoints); None where the mesh
        finds no face or latches onto a neighbour. `meshers`: solutions only, a FaceMesh (or
        None) per detection (see `mesh_regions`)."""
        regions = [self.detection_region(box, kp) for box, _, kp in detections]
        out = []
        for (box, score, kp), mesh in zip(detections, mesh_regions(image, regions, self.config, meshers)):
            ok = mesh is not None and _inside(mesh[list(MESH_TO_49), :2].mean(0), box)
            out.append(face_from_mesh(image, mesh, self.config, score, box, kp) if ok else None)
        return out

    def mesh_detection(self, image: np.ndarray, box, score: float, keypoints) -> Face | None:
        """The `Face` of one detection, or None (see `mesh_detections`)."""
        return self.mesh_detections(image, [(box, score, keypoints)])[0]

    def refine(self, image: np.ndarray, previous: Face, mesher=None) -> Face | None:
        """The face of `previous` in a new frame, meshed in a window around its last mesh
        (no detector run); None when the mesh loses it. `mesher`: solutions only, a track's
        video-mode FaceMesh."""
        if _backend(self.config, mesh=True) == "solutions":
            x0, y0 = previous.mesh468[:, :2].min(0)
            x1, y1 = previous.mesh468[:, :2].max(0)
            region = Roi((x0 + x1) / 2, (y0 + y1) / 2, 1.5 * max(x1 - x0, y1 - y0))
        else:
            region = roi_from_mesh(previous.mesh468)
        mesh = mesh_regions(image, [region], self.config, [mesher])[0]
        if mesh is None or not _inside(mesh[list(MESH_TO_49), :2].mean(0), previous.box, 0.0):
            return None  # lost, or the mesh jumped to a neighbour
        return face_from_mesh(image, mesh, self.config, previous.score, previous.detection_box, lazy_align=True)

    def warm(self) -> FacePipeline:
        """Build this thread's models now (tflite: the three interpreters, per thread; solutions:
        the shared graphs) so a worker's first request is not the slow one."""
        from deepexpr.faces import tflite

        for mesh in (False, True):
            if _backend(self.config, mesh) == "tflite":
                for kind in (("mesh", "iris") if mesh else ("detector",)):
                    tflite.interpreter(kind)
            else:
                from deepexpr.faces.solutions import _detector, _mesher
                _mesher() if mesh else _detector(float(self.config.min_score))
        return self

    def stream(self, max_gap: int = 15, background=None):
        """A `FaceStream` over this pipeline (state for consecutive frames; `background`: see
        `FaceStream`)."""
        return FaceStream(self, max_gap, background)


class FaceStream:
    """Faces of consecutive frames with track ids, reusing state between frames.

    Each tracked face is meshed in a window around its previous mesh; the full detector runs
    every `config.detect_every` frames, on frames without a face and whenever a tracked face
    is lost, and only detections away from the tracked faces are meshed as new faces. Ids
    come from `deepexpr.faces.tracking.FaceTracker`.

    Args:
        pipeline: the `FacePipeline` to use.
        max_gap: frames a lost face's id is kept for when it comes back.
        background: an executor (`concurrent.futures`) for the periodic detector runs, or None
            (inside `process`). With one, the detector runs beside the stream while faces are
            tracked; its faces join the first frame after it finished (its quality check of a
            tracked face uses the frame it saw). Frames without a tracked face, or with a face
            lost, detect at once. A frame passed to `process` must not change afterwards (the
            detector, or a tracked face's lazy aligned crop, may still read it).
    """

    def __init__(self, pipeline: FacePipeline | None = None, max_gap: int = 15, background=None):
        from deepexpr.faces.tracking import FaceTracker

        self.pipeline = pipeline or FacePipeline()
        self.tracker = FaceTracker(max_gap=max_gap)
        self.frame_index = 0
        self.background = background
        self._pending = None  # (future of detect_boxes, the frame's shape, the faces it had)
        self._previous: list[Face] = []
        self._meshers: dict = {}  # track id -> its video-mode FaceMesh
        self._spare: list = []  # graphs of ended tracks, already made to forget their face, reused

    def _mesher_of(self, track_id):
        """solutions backend: the track's own video-mode FaceMesh (at most `MAX_TRACK_MESHERS`;
        others share the static one). tflite: None (the crop follows the previous mesh). An ended
        track's graph is reused (building one takes 50-100 ms), see `_spare_graph`."""
        if _backend(self.pipeline.config, mesh=True) != "solutions":
            return None
        if track_id not in self._meshers and len(self._meshers) < MAX_TRACK_MESHERS:
            if self._spare:
                self._meshers[track_id] = self._spare.pop()
            else:
                from deepexpr.faces.solutions import tracking_mesher

                self._meshers[track_id] = tracking_mesher()
        return self._meshers.get(track_id)

    def close(self) -> None:
        """Free the per-track mediapipe graphs (and forget a background detection)."""
        if self._pending is not None:
            self._pending[0].cancel()
            self._pending = None
        for m in [*self._meshers.values(), *self._spare]:
            m.close()
        self._meshers.clear()
        self._spare.clear()

    def process(self, frame: np.ndarray, detect_now: bool = True) -> list[Face]:
        """Faces of the next RGB uint8 (H, W, 3) frame, left to right, `track_id` set.
        `detect_now` False: a face lost or missing is not searched for in it (a partial frame)."""
        every = max(int(self.pipeline.config.detect_every), 1)
        tracked = [self.pipeline.refine(frame, f, self._mesher_of(f.track_id)) for f in self._previous]
        for before, now in zip(self._previous, tracked):
            if now is not None:
                now.track_id = before.track_id  # until the tracker confirms it below
        faces = _distinct(f for f in tracked if f is not None)
        self._release_meshers({f.track_id for f in faces})  # lost tracks' graphs: free for new faces
        if not faces or len(faces) < len(tracked):
            new = self._new_faces(frame, faces, detect_boxes(frame, self.pipeline.config)) if detect_now else []
        elif self.background is None:
            new = self._new_faces(frame, faces, detect_boxes(frame, self.pipeline.config)) \
                if self.frame_index % every == 0 else []
        else:
            new = self._background_faces(frame, faces, self.frame_index % every == 0)
        faces += [f for f, _ in new]
        ids = self.tracker.update([f.box for f in faces], [f.landmarks49 for f in faces])
        for face, tid in zip(faces, ids):
            face.track_id = tid
        for face, mesher in new:  # a new face keeps the graph that meshed it
            if mesher is not None and face.track_id not in self._meshers:
                self._meshers[face.track_id] = mesher
            elif mesher is not None:
                self._spare_graph(mesher)
        self._release_meshers(set(ids))  # at most MAX_TRACK_MESHERS graphs (memory stays bounded)
        self._previous = faces
        self.frame_index += 1
        return sorted(faces, key=lambda f: f.box[0])

    def _spare_graph(self, mesher) -> None:
        """Keep a graph for a later face, made to find it afresh as a new graph would (a blank
        frame, ~4 ms; `reset()` costs 30-60 ms over two frames), now: on the frame its track
        ends, not on the (slower) frame that finds a face again."""
        from deepexpr.faces.solutions import forget_face
        forget_face(mesher, self.pipeline.config.mesh_size)
        self._spare.append(mesher)

    def _release_meshers(self, keep: set) -> None:
        for tid in set(self._meshers) - keep:
            self._spare_graph(self._meshers.pop(tid))

    def _background_faces(self, frame: np.ndarray, faces: list[Face], due: bool) -> list[tuple]:
        """New faces from a finished background detection (merged into this frame), and a new
        background detection of this frame when one is `due` and none is running."""
        new = []
        if self._pending is not None and self._pending[0].done():
            future, shape, seen = self._pending
            self._pending = None
            new = self._new_faces(frame, faces, future.result(), (shape, seen))
        if due and self._pending is None:
            self._pending = (self.background.submit(detect_boxes, frame, self.pipeline.config), frame.shape,
                             list(faces))
        return new

    def _new_faces(self, frame: np.ndarray, faces: list[Face], detections: list[tuple],
                   seen: tuple | None = None) -> list[tuple]:
        """(face, its graph or None) of the `detections` away from the tracked `faces`. A
        detection on a tracked face keeps the tracked mesh (a face's crop does not jump every
        `detect_every` frames) and refreshes its detector-based quality; `seen`: (shape, faces)
        of the earlier frame a background detection ran on, which that check
        uses (the detector's keypoints are that frame's)."""
        cfg = self.pipeline.config
        shape = frame.shape if seen is None else seen[0]
        new = []
        for box, score, kp in detections:
            centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
            if seen is None:
                ref = target = next((f for f in faces if _inside(centre, f.box, 0.0)), None)
            else:  # the face the detector saw, and the same track now
                ref = next((f for f in seen[1] if _inside(centre, f.box, 0.0)), None)
                target = next((f for f in faces if ref is not None and f.track_id == ref.track_id), None)
                if ref is None and any(_inside(centre, f.box, 0.0) for f in faces):
                    continue  # a face found since (by a detection of its own)
            if ref is None:
                new.append((box, score, kp))
            elif target is not None:  # (else: lost since the detector's frame)
                scored = copy.copy(ref)  # shallow: a tracked face's lazy aligned crop stays unmade
                scored.score = float(score)
                reasons = quality(scored, kp, shape, cfg)
                target.score, target.detection_box = float(score), [float(v) for v in box]
                target.low_confidence, target.reason = bool(reasons), "; ".join(reasons)
        graphs = [self._spare.pop() if self._spare else None for _ in new] \
            if _backend(cfg, mesh=True) == "solutions" else [None] * len(new)
        out = []
        for face, graph in zip(self.pipeline.mesh_detections(frame, new, graphs), graphs):
            if face is None and graph is not None:
                self._spare_graph(graph)  # (it may have meshed a face the checks turned down)
            elif face is not None:
                out.append((face, graph))
        return out


def _distinct(faces, iou: float = 0.5) -> list[Face]:
    """Tracked faces minus those on a face already kept (older tracks first): a track lost at a
    jump and found again as a new one can drift onto the same face and both would live on."""
    kept: list[Face] = []
    for face in faces:
        if all(box_iou(face.box, k.box)[0] <= iou for k in kept):
            kept.append(face)
    return kept


@functools.lru_cache(maxsize=4)
def default_pipeline(min_iod: float = 20.0, backend: str = PipelineConfig.backend, mesh_backend: str = "") -> FacePipeline:
    """A shared `FacePipeline` per smallest face size and backends (photos)."""
    return FacePipeline(PipelineConfig(min_iod=float(min_iod), backend=backend, mesh_backend=mesh_backend))


def detect_faces(image: np.ndarray, config: PipelineConfig | None = None) -> list[Face]:
    """Every face of an RGB uint8 (H, W, 3) image, left to right (see `FacePipeline.detect`)."""
    return (FacePipeline(config) if config is not None else default_pipeline()).detect(image)
