"""The face pipeline's reference backend: mediapipe 0.10.14 `solutions` graphs.

The full-range `FaceDetection` per detector window and the 478-point `FaceMesh`
(`refine_landmarks=True`: the attention mesh with irises) per face crop. Each graph call costs
~10-13 ms of graph overhead whatever the input size, and the graphs are not re-entrant: one
process-wide lock serialises every call. `deepexpr.faces.tflite` runs the same model files
(but the 468-point mesh + iris model instead of the attention mesh) without either cost; this
backend stays as the reference the TFLite backend is checked against
(`PipelineConfig(backend="solutions")`).
"""

from __future__ import annotations

import functools
import threading

import numpy as np

from deepexpr.faces.quiet import native_logs_silenced  # sets the log levels before mediapipe loads

_LOCK = threading.Lock()  # the solutions graphs are not re-entrant; one call at a time


def _started(graph):
    """Run a new graph once on a blank frame with native logs silenced (its start-up lines)."""
    with native_logs_silenced():
        graph.process(np.zeros((64, 64, 3), np.uint8))
    return graph


@functools.lru_cache(maxsize=2)
def _detector(min_score: float):
    """One full-range FaceDetection per threshold for the process (graph build ~50 ms)."""
    import mediapipe as mp

    return _started(mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=min_score))


@functools.lru_cache(maxsize=1)
def _mesher():
    """One FaceMesh (one face per crop, irises refined) for the process."""
    import mediapipe as mp

    return _started(mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1,
                                                    refine_landmarks=True, min_detection_confidence=0.3))


def run_detector(image: np.ndarray, min_score: float, input_side: int = 192) -> list[tuple]:
    """Detections of one window: [(box (4,), score, keypoints (6, 2))] in window pixels."""
    import cv2

    h, w = image.shape[:2]
    f = input_side / max(h, w)
    if f < 1.0:  # the detector shrinks to 192 anyway: area-averaging first is cheaper and sharper
        image = cv2.resize(image, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    with _LOCK, native_logs_silenced():  # TFLite may start (and print) lazily on any call
        res = _detector(float(min_score)).process(np.ascontiguousarray(image))
    out = []
    for d in res.detections or []:
        rb = d.location_data.relative_bounding_box
        box = np.array([rb.xmin * w, rb.ymin * h, (rb.xmin + rb.width) * w, (rb.ymin + rb.height) * h])
        kp = np.array([[k.x * w, k.y * h] for k in d.location_data.relative_keypoints], np.float32)
        out.append((box, float(d.score[0]), kp))
    return out


def tracking_mesher():
    """A FaceMesh in video mode for one face track: after its first frame it takes the face's
    region from its previous landmarks instead of running its own detector (~40% faster)."""
    import mediapipe as mp

    return _started(mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1,
                                                    refine_landmarks=True, min_detection_confidence=0.3,
                                                    min_tracking_confidence=0.5))


def forget_face(mesher, side: int = 256) -> None:
    """Make a video-mode FaceMesh start afresh, as a new graph: one blank frame drops the face
    it tracked, so its next call finds the face with its own detector (a `reset()` restarts
    the graph instead, which costs 30-60 ms over its next two frames)."""
    with _LOCK, native_logs_silenced():
        mesher.process(_blank(int(side)))


@functools.lru_cache(maxsize=2)
def _blank(side: int) -> np.ndarray:
    blank = np.zeros((side, side, 3), np.uint8)
    blank.flags.writeable = False
    return blank


def mesh_in_square(image: np.ndarray, cx: float, cy: float, side: float, mesh_size: int = 256,
                   mesher=None):
    """The 478-point mesh of the face in a square window of an image, in image pixels.

    Args:
        image: (H, W, 3) uint8 RGB.
        cx, cy, side: the window's centre and side (image pixels; may run past the image).
        mesh_size: the window is resampled to this side before meshing.
        mesher: a FaceMesh to use (e.g. a track's `tracking_mesher()`); the shared
            static-image one when None.

    Returns:
        (478, 3) float32 (x, y image pixels, z in the units of x), or None when the mesh
        finds no face in the window.
    """
    import cv2

    from deepexpr.faces.align import _shrunk

    s = mesh_size / max(float(side), 1.0)
    m = np.array([[s, 0.0, mesh_size / 2 - s * cx], [0.0, s, mesh_size / 2 - s * cy]])
    src, warp = _shrunk(image, m, mesh_size)  # area-average first when shrinking a big face
    crop = cv2.warpAffine(src, warp, (mesh_size, mesh_size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    with _LOCK, native_logs_silenced():
        res = (mesher or _mesher()).process(crop)
    if not res.multi_face_landmarks:
        return None
    pts = landmark_array(res.multi_face_landmarks[0]) * mesh_size
    pts[:, 0] = (pts[:, 0] - m[0, 2]) / s
    pts[:, 1] = (pts[:, 1] - m[1, 2]) / s
    pts[:, 2] /= s
    return pts


# A NormalizedLandmark with exactly x, y, z set, as one element of a serialised
# NormalizedLandmarkList: field 1 (tag 0x0a, length 15), then x (0x0d), y (0x15), z (0x1d) as
# little-endian float32 (what the face mesh graph writes).
_LANDMARK = np.dtype([("tag", "u1"), ("size", "u1"), ("x_tag", "u1"), ("x", "<f4"), ("y_tag", "u1"), ("y", "<f4"),
                      ("z_tag", "u1"), ("z", "<f4")])


def landmark_array(landmarks) -> np.ndarray:
    """(N, 3) float32 x, y, z of a mediapipe NormalizedLandmarkList.

    Read from its serialised bytes in one step (~10x cheaper than N protobuf attribute reads,
    the same float32 values); any other layout (visibility set, a missing field) takes the
    attribute path."""
    data = landmarks.SerializeToString()
    if len(data) % _LANDMARK.itemsize == 0:
        rows = np.frombuffer(data, _LANDMARK)
        if (np.all(rows["tag"] == 0x0A) and np.all(rows["size"] == 15) and np.all(rows["x_tag"] == 0x0D)
                and np.all(rows["y_tag"] == 0x15) and np.all(rows["z_tag"] == 0x1D)):
            return np.stack([rows["x"], rows["y"], rows["z"]], 1)
    return np.array([[p.x, p.y, p.z] for p in landmarks.landmark], np.float32)
