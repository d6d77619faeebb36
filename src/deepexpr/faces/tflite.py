"""The face pipeline's fast backend: mediapipe's own model files on a plain TFLite interpreter.

Every call into a mediapipe `solutions` graph costs ~10-13 ms of overhead whatever the input
size. The models themselves are small: the wheel ships them as .tflite files, and running
those with `ai_edge_litert` (Google's TFLite runtime on PyPI) takes a few milliseconds each.
This module re-creates what mediapipe's graphs do around the models:

* **Detector** (`face_detection_full_range_sparse.tflite`, 192 x 192, [-1, 1], letterboxed):
  anchors, decoding and weighted NMS in `deepexpr.faces.anchors`.
* **Face mesh** (`face_landmark.tflite`, 468 points, 192 x 192, [0, 1]) on a square crop
  rotated so the eyes are level: from a detection, 1.5 x the box around its centre, rotated
  by the eye keypoints (mediapipe's `face_detection_front_detection_to_roi`); from a
  previous mesh, 1.5 x the mesh's extent, rotated by the outer eye corners 33 -> 263
  (`face_landmark_landmarks_to_roi`). A face-presence logit comes with it.
* **Irises** (`iris_landmark.tflite`, 64 x 64, [0, 1]) on a crop of 2.3 x each eye's corner
  distance; the image-right eye is mirrored (the model knows one eye). Its 5 iris points
  per eye make points 468-477 (image-left eye first, as mediapipe's 478-point mesh), and
  its 71 eye-contour points replace the mesh's eye region (mediapipe's iris pipeline).
  The attention mesh that `refine_landmarks=True` runs needs mediapipe's custom TFLite ops
  (`Landmarks2TransformMatrix`), which the plain interpreter lacks.

Interpreters are per thread (a TFLite interpreter is not re-entrant; no global lock), one CPU
thread each.

    >>> rois = [roi_from_detection(box, keypoints)]           # image pixels
    >>> meshes, presence = mesh_rois(image, rois)             # (N, 468, 3), (N,)
    >>> mesh478 = add_irises(image, meshes[0])                # (478, 3)
"""

from __future__ import annotations

import importlib.util
import os
import threading
from dataclasses import dataclass

import numpy as np

from deepexpr.faces.align import affine_scale
from deepexpr.faces.anchors import (
    FULL_RANGE,
    DetectorSpec,
    cached_anchors,
    decode_detections,
    weighted_nms,
)

MESH_INPUT = 192  # face_landmark.tflite input side
IRIS_INPUT = 64  # iris_landmark.tflite input side
ROI_SCALE = 1.5  # mesh crop side / detection box (or previous mesh extent)
IRIS_ROI_SCALE = 2.3  # iris crop side / eye-corner distance
EYE_CORNERS = ((33, 133), (362, 263))  # image-left eye, image-right eye (outer/inner, left to right)
_EYE_OUTER = (33, 263)  # rotation of a mesh ROI: outer eye corners

# The 71 eye-region points the iris model returns, per eye, as indices of the 468-point mesh
# (mediapipe's UpdateFaceLandmarksCalculator): image-left eye, then image-right eye.
EYE_CONTOUR_INDICES = (
    (33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173, 130, 25, 110, 24, 23,
     22, 26, 112, 243, 247, 30, 29, 27, 28, 56, 190, 226, 31, 228, 229, 230, 231, 232, 233, 244, 113,
     225, 224, 223, 222, 221, 189, 35, 124, 46, 53, 52, 65, 143, 111, 117, 118, 119, 120, 121, 128,
     245, 156, 70, 63, 105, 66, 107, 55, 193),
    (263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398, 359, 255, 339, 254,
     253, 252, 256, 341, 463, 467, 260, 259, 257, 258, 286, 414, 446, 261, 448, 449, 450, 451, 452, 453,
     464, 342, 445, 444, 443, 442, 441, 413, 265, 353, 276, 283, 282, 295, 372, 340, 346, 347, 348, 349,
     350, 357, 465, 383, 300, 293, 334, 296, 336, 285, 417),
)
# of the 71, the eye contour itself (16 points: lower lid, upper lid); the rest is a halo and the brow
N_EYE_CONTOUR = 16


@dataclass(frozen=True)
class Roi:
    """A square crop of an image, rotated: centre (image px), side (px), unit x-axis direction."""

    cx: float
    cy: float
    side: float
    ux: float = 1.0  # the crop's x axis in the image (cos, sin of the rotation)
    uy: float = 0.0

    def to_image(self, size: int) -> np.ndarray:
        """(2, 3) affine from crop pixels (side `size`) to image pixels."""
        s = self.side / size
        a = np.array([[self.ux * s, -self.uy * s], [self.uy * s, self.ux * s]])
        t = np.array([self.cx, self.cy]) - a @ np.array([size / 2, size / 2])
        return np.c_[a, t]


# --------------------------------------------------------------------------- interpreters

def model_file(name: str) -> str:
    """Path of a model file that ships in the mediapipe wheel (found without importing it)."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        from deepexpr.errors import DeepExprError

        raise DeepExprError("mediapipe is not installed; run: pip install mediapipe==0.10.14")
    return os.path.join(list(spec.submodule_search_locations)[0], "modules", name)


MODELS = {
    "detector": "face_detection/face_detection_full_range_sparse.tflite",
    "mesh": "face_landmark/face_landmark.tflite",
    "iris": "iris_landmark/iris_landmark.tflite",
}
_LOCAL = threading.local()
_POOL: dict = {}  # threads -> ThreadPoolExecutor (`parallel_map`)


def interpreter(kind: str):
    """This thread's TFLite interpreter of one model ("detector", "mesh", "iris").

    Built once per thread (a few ms; each holds its own buffers, so worker threads never share
    one and need no lock). One CPU thread each: parallelism comes from the callers' threads
    (a 192-px model gains little from intra-op threads and loses under load).
    """
    cache = _LOCAL.__dict__.setdefault("interpreters", {})
    if kind not in cache:
        from deepexpr.faces.quiet import native_logs_silenced

        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as err:
            from deepexpr.errors import DeepExprError

            raise DeepExprError("the TFLite runtime is missing: pip install ai-edge-litert (or use the face "
                                "pipeline's backend='solutions')") from err

        with native_logs_silenced():  # "Created TensorFlow Lite XNNPACK delegate" on stderr
            it = Interpreter(model_path=model_file(MODELS[kind]), num_threads=1)
            it.allocate_tensors()
        cache[kind] = it
    return cache[kind]


def invoke(kind: str, batch: np.ndarray) -> list[np.ndarray]:
    """Run one model on a (N, S, S, 3) float32 batch; its outputs, each (N, ...).

    A new batch size re-allocates the interpreter's tensors (milliseconds): callers keep N
    fixed per model (batching gains nothing per item on CPU here, measured).
    """
    it, io = interpreter(kind), _io(kind)
    inp, outs, shape = io
    if shape != batch.shape:
        it.resize_tensor_input(inp, list(batch.shape))
        it.allocate_tensors()
        io[2] = batch.shape
    it.set_tensor(inp, np.ascontiguousarray(batch, np.float32))
    it.invoke()
    return [it.get_tensor(o).reshape(len(batch), -1) for o in outs]


def _io(kind: str) -> list:
    """[input tensor index, output tensor indices, current input shape] of this thread's
    interpreter (cached: the details calls cost more than a small model's bookkeeping)."""
    cache = _LOCAL.__dict__.setdefault("io", {})
    if kind not in cache:
        it = interpreter(kind)
        inp = it.get_input_details()[0]
        cache[kind] = [inp["index"], [o["index"] for o in it.get_output_details()], tuple(inp["shape"])]
    return cache[kind]


# --------------------------------------------------------------------------- detector

def detect(windows: list[np.ndarray], min_score: float, spec: DetectorSpec = FULL_RANGE,
           nms_iou: float = 0.3) -> list[list[tuple]]:
    """Face detections of each window (image crop), one detector run per window.

    Each window is letterboxed (centred, zero border) into the detector's square input, as
    mediapipe's `ImageToTensorCalculator` with `keep_aspect_ratio` does.

    Args:
        windows: (h, w, 3) uint8 RGB crops, any sizes.
        min_score: score threshold.

    Returns:
        per window, [(box [x0, y0, x1, y1] float64, score, keypoints (6, 2) float32)] in that
        window's pixels, best score first (weighted NMS inside each window).
    """
    anchors = cached_anchors(spec)
    out = []
    for win in windows:
        batch, (ox, oy, f) = _letterbox(win, spec.input_size)
        raw_boxes, raw_scores = _detector_outputs(invoke("detector", batch))
        boxes, scores, kps = decode_detections(raw_boxes[0].reshape(len(anchors), -1), raw_scores[0],
                                               anchors, spec, min_score)
        boxes, scores, kps = weighted_nms(boxes, scores, kps, nms_iou)
        boxes = (boxes * spec.input_size - [ox, oy, ox, oy]) / f
        kps = (kps * spec.input_size - [ox, oy]) / f
        out.append([(b, float(s), k.astype(np.float32)) for b, s, k in zip(boxes, scores, kps)])
    return out


def _letterbox(win: np.ndarray, size: int):
    """(1, size, size, 3) float32 in [-1, 1] with the window centred (shrunk to fit), and
    (x offset, y offset, scale) of the window in it."""
    h, w = win.shape[:2]
    small, fx, fy = _shrink(win, min(size / max(h, w), 1.0))
    nh, nw = small.shape[:2]
    f = (fx + fy) / 2
    ox, oy = (size - nw) // 2, (size - nh) // 2
    batch = np.full((1, size, size, 3), -1.0, np.float32)
    batch[0, oy:oy + nh, ox:ox + nw] = small.astype(np.float32) * (2.0 / 255.0) - 1.0
    return batch, (ox, oy, f)


def detect_tiles(image: np.ndarray, windows: list[tuple], min_score: float, threads: int = 1) -> list[list[tuple]]:
    """`detect` on square tiles (x0, y0, side) of one image, in image pixels.

    Each pyramid level (one tile side) is shrunk once for the whole image and its tiles cut
    from it (resizing 27 overlapping tiles one by one costs several times more); the tiles
    run split over `threads` threads, each with its own interpreter.

    Returns:
        per window, [(box [x0, y0, x1, y1], score, keypoints (6, 2))] in that window's pixels.
    """
    size = FULL_RANGE.input_size
    h, w = image.shape[:2]
    levels = {side: _shrink(image, size / side) for side in {side for _, _, side in windows}}

    def run(chunk):
        out = []
        for x0, y0, side in chunk:
            small, fx, fy = levels[side]
            sx0, sy0 = int(round(x0 * fx)), int(round(y0 * fy))
            sx1 = min(int(round(min(x0 + side, w) * fx)), sx0 + size, small.shape[1])
            sy1 = min(int(round(min(y0 + side, h) * fy)), sy0 + size, small.shape[0])
            found = detect([small[sy0:sy1, sx0:sx1]], min_score)[0]
            # tile pixels of the shrunk level -> tile pixels of the image
            out.append([((b + [sx0, sy0, sx0, sy0]) / [fx, fy, fx, fy] - [x0, y0, x0, y0], score,
                         ((k + [sx0, sy0]) / [fx, fy] - [x0, y0]).astype(np.float32)) for b, score, k in found])
        return out

    return [d for part in parallel_map(run, windows, threads) for d in part]


def _shrink(image: np.ndarray, f: float) -> tuple[np.ndarray, float, float]:
    """The image scaled by `f` <= 1 (area-averaged halvings while the factor left is <= 1/2,
    then bilinear) and the actual x and y factors."""
    import cv2

    h, w = image.shape[:2]
    if f >= 1.0:
        return image, 1.0, 1.0
    nw, nh = max(1, round(w * f)), max(1, round(h * f))
    # Halvings, not one area pass by int(1 / f): OpenCV's 2x area path is vectorised (0.1 ms
    # for 640x480), its 3x one is not (1.4 ms; session 8). What is left is > 1/2: bilinear.
    while image.shape[1] >= 2 * nw and image.shape[0] >= 2 * nh and min(image.shape[:2]) >= 2:
        image = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA)
    small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR) if (nw, nh) != image.shape[1::-1] else image
    return small, nw / w, nh / h


def parallel_map(fn, items: list, threads: int) -> list:
    """`fn` on `threads` contiguous chunks of `items` in a shared pool; the per-chunk results
    in order (one chunk, in this thread, when threads <= 1 or there is one item)."""
    threads = max(1, min(int(threads), len(items)))
    if threads == 1:
        return [fn(items)]
    from concurrent.futures import ThreadPoolExecutor

    pool = _POOL.get(threads) or _POOL.setdefault(threads, ThreadPoolExecutor(threads, "deepexpr-faces"))
    bounds = np.linspace(0, len(items), threads + 1).round().astype(int)
    return list(pool.map(fn, [items[a:b] for a, b in zip(bounds[:-1], bounds[1:])]))


def _detector_outputs(outputs: list[np.ndarray]):
    """(raw boxes (N, A*16), raw scores (N, A)) whichever order the model lists them in."""
    a, b = outputs
    return (a, b) if a.shape[1] > b.shape[1] else (b, a)


# --------------------------------------------------------------------------- mesh and irises

def roi_from_detection(box, keypoints) -> Roi:
    """The mesh crop of a detection: 1.5 x its longer side, rotated so the eyes are level.

    Args:
        box: [x0, y0, x1, y1] image pixels; keypoints: (>= 2, 2) right eye, left eye first.
    """
    d = np.asarray(keypoints[1], np.float64) - keypoints[0]
    n = max(float(np.hypot(*d)), 1e-9)
    return Roi((box[0] + box[2]) / 2, (box[1] + box[3]) / 2,
               ROI_SCALE * max(box[2] - box[0], box[3] - box[1]), d[0] / n, d[1] / n)


def roi_from_mesh(mesh: np.ndarray, scale: float = ROI_SCALE) -> Roi:
    """The mesh crop that follows a face from its (>= 468, 2+) mesh in image pixels."""
    lo, hi = mesh[:468, :2].min(0), mesh[:468, :2].max(0)
    d = mesh[_EYE_OUTER[1], :2].astype(np.float64) - mesh[_EYE_OUTER[0], :2]
    n = max(float(np.hypot(*d)), 1e-9)
    return Roi((lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, scale * float(max(hi - lo)), d[0] / n, d[1] / n)


def crop(image: np.ndarray, roi: Roi, size: int, flip: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The (size, size, 3) uint8 crop of a rotated square ROI and its (2, 3) crop -> image affine.

    Outside the image is black (mediapipe's zero border); a large face is area-averaged first
    (plain bilinear sampling would alias).
    """
    import cv2

    from deepexpr.faces.align import _shrunk, invert_affine

    to_image = roi.to_image(size)
    if flip:  # mirrored crop: crop x -> size - x
        to_image = to_image @ np.array([[-1.0, 0.0, size], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    to_crop = invert_affine(to_image)
    src, warp = _shrunk(image, to_crop, size)
    out = cv2.warpAffine(src, warp, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=(0, 0, 0))
    return out, to_image


def _project(points: np.ndarray, to_image: np.ndarray, size: int) -> np.ndarray:
    """(N, K, 3) crop-pixel points -> image pixels; z scaled like x (pixels of the image)."""
    xy = points[..., :2] @ to_image[:, :2].T + to_image[:, 2]
    scale = affine_scale(to_image)
    return np.concatenate([xy, points[..., 2:3] * scale], -1).astype(np.float32)


def mesh_rois(image: np.ndarray, rois: list[Roi]) -> tuple[np.ndarray, np.ndarray]:
    """468-point meshes of the faces in rotated crops.

    Returns:
        meshes (N, 468, 3) float32 (x, y image pixels, z in the units of x) and the
        face-presence probability (N,) of each crop.
    """
    meshes, presence = np.zeros((len(rois), 468, 3), np.float32), np.zeros(len(rois))
    for i, roi in enumerate(rois):
        pixels, to_image = crop(image, roi, MESH_INPUT)
        outs = invoke("mesh", pixels[None].astype(np.float32) / 255.0)
        pts, logit = (outs[0], outs[1]) if outs[0].shape[1] > outs[1].shape[1] else (outs[1], outs[0])
        meshes[i] = _project(pts.reshape(468, 3), to_image, MESH_INPUT)
        presence[i] = 1.0 / (1.0 + np.exp(-np.clip(float(logit[0, 0]), -100, 100)))
    return meshes, presence


def eye_roi(mesh: np.ndarray, eye: int) -> Roi:
    """The iris crop of one eye (0: image-left, 1: image-right) from a mesh in image pixels."""
    a, b = (mesh[i, :2].astype(np.float64) for i in EYE_CORNERS[eye])
    d = b - a
    n = max(float(np.hypot(*d)), 1e-9)
    c = (a + b) / 2
    return Roi(c[0], c[1], IRIS_ROI_SCALE * float(max(abs(d[0]), abs(d[1]))), d[0] / n, d[1] / n)


# the iris model's 5 points: centre, then 4 contour points going round; in a mirrored crop
# the two horizontal ones swap sides (mediapipe's 478-point order is by image side)
_MIRRORED_IRIS = (0, 3, 2, 1, 4)


def add_irises(image: np.ndarray, mesh: np.ndarray, update_eyes: bool = True) -> np.ndarray:
    """The 478-point mesh: the iris model on both eyes of a 468-point mesh (one run, batch 2).

    Args:
        image: (H, W, 3) uint8 RGB.
        mesh: (468, 3) image pixels.
        update_eyes: replace the mesh's eye-region points (x, y) by the iris model's
            (mediapipe's iris pipeline does; sharper lids).

    Returns:
        (478, 3) float32: points 468-472 the image-left iris (centre first), 473-477 the
        image-right one.
    """
    crops = [crop(image, eye_roi(mesh, e), IRIS_INPUT, flip=e == 1) for e in (0, 1)]
    batch = np.stack([c for c, _ in crops]).astype(np.float32) / 255.0
    outs = invoke("iris", batch)
    contour, iris = (outs[0], outs[1]) if outs[0].shape[1] > outs[1].shape[1] else (outs[1], outs[0])
    out = np.zeros((478, 3), np.float32)
    out[:468] = mesh
    for e, (_, to_image) in enumerate(crops):
        pts = _project(iris[e].reshape(5, 3), to_image, IRIS_INPUT)
        out[468 + 5 * e:473 + 5 * e] = pts[list(_MIRRORED_IRIS)] if e == 1 else pts
        if update_eyes:  # the iris model's depth is relative to its own crop: keep the mesh's z
            out[list(EYE_CONTOUR_INDICES[e]), :2] = _project(contour[e].reshape(71, 3), to_image, IRIS_INPUT)[:, :2]
    return out


def meshes(image: np.ndarray, rois: list[Roi], min_presence: float = 0.5, threads: int = 1) -> list:
    """The 468-point mesh (468, 3) of the face in each crop, or None where the mesh model sees
    no face; the crops are split over `threads` threads.

    A crop whose face-presence probability is low is tried once more in the crop that mesh
    itself gives (`roi_from_mesh`): on a profile face the detector's eye keypoints can turn
    the first crop far off upright.
    """
    def run(chunk):
        found, presence = mesh_rois(image, chunk)
        retry = [i for i, p in enumerate(presence) if p < min_presence]
        if retry:
            again, p2 = mesh_rois(image, [roi_from_mesh(found[i]) for i in retry])
            for j, i in enumerate(retry):
                found[i], presence[i] = again[j], p2[j]
        return [m if p >= min_presence else None for m, p in zip(found, presence)]

    return [m for part in parallel_map(run, rois, threads) for m in part]
