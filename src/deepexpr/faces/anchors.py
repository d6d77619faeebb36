"""SSD anchors, box decoding and weighted NMS of mediapipe's BlazeFace detectors.

The TFLite face detectors that ship in the mediapipe 0.10.14 wheel output, per anchor, 16
raw numbers (box centre offset, box size, 6 keypoints) and one raw score. This module
turns them into boxes the way mediapipe's calculators do, so `deepexpr.faces.tflite` can
run the model files directly:

* `ssd_anchors` - `SsdAnchorsCalculator` (fixed-size anchors: only centres matter).
* `decode_detections` - `TensorsToDetectionsCalculator` (`reverse_output_order`: x, y, w,
  h; sigmoid score with the raw score clipped to +-100).
* `weighted_nms` - `NonMaxSuppressionCalculator`, algorithm WEIGHTED: overlapping boxes are
  averaged, weighted by score, and keep the best score.

Options of the two detectors (mediapipe's face_detection_{short,full}_range graphs):

    >>> FULL_RANGE     # 192 x 192 input, one 48 x 48 layer, 2304 anchors
    >>> anchors = ssd_anchors(FULL_RANGE)                          # (2304, 2) x, y in [0, 1]
    >>> boxes, scores, kps = decode_detections(raw_boxes, raw_scores, anchors, FULL_RANGE, 0.5)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class DetectorSpec:
    """Anchor and decoding options of one BlazeFace model (fixed-size anchors, one class)."""

    input_size: int  # square input side (pixels)
    strides: tuple[int, ...]  # one per layer
    interpolated_scale_aspect_ratio: float  # 1.0 adds a second anchor per cell (same centre)
    num_keypoints: int = 6
    min_scale: float = 0.1484375  # unused with fixed-size anchors; kept to mirror the options
    max_scale: float = 0.75
    anchor_offset: float = 0.5
    score_clip: float = 100.0


FULL_RANGE = DetectorSpec(input_size=192, strides=(4,), interpolated_scale_aspect_ratio=0.0)
SHORT_RANGE = DetectorSpec(input_size=128, strides=(8, 16, 16, 16), interpolated_scale_aspect_ratio=1.0)


def _anchors_per_cell(spec: DetectorSpec) -> int:
    return 1 + (spec.interpolated_scale_aspect_ratio > 0)  # aspect ratio 1.0 (+ the interpolated one)


def ssd_anchors(spec: DetectorSpec) -> np.ndarray:
    """Anchor centres of a detector, in the order of the model's outputs.

    Consecutive layers with the same stride share one feature map, whose cells then hold
    one anchor per layer (mediapipe's `SsdAnchorsCalculator`). Cells are row-major (y, then
    x), anchors of a cell consecutive.

    Returns:
        (N, 2) float32 centres (x, y) in [0, 1] of the input (anchor size is 1: fixed size).
    """
    out = []
    layer = 0
    while layer < len(spec.strides):
        stride = spec.strides[layer]
        per_cell = 0
        while layer < len(spec.strides) and spec.strides[layer] == stride:
            per_cell += _anchors_per_cell(spec)
            layer += 1
        side = int(np.ceil(spec.input_size / stride))
        c = (np.arange(side, dtype=np.float64) + spec.anchor_offset) / side
        ys, xs = np.meshgrid(c, c, indexing="ij")
        cells = np.stack([xs.ravel(), ys.ravel()], 1)
        out.append(np.repeat(cells, per_cell, axis=0))
    return np.concatenate(out).astype(np.float32)


@lru_cache(maxsize=4)
def cached_anchors(spec: DetectorSpec) -> np.ndarray:
    """`ssd_anchors(spec)`, computed once per spec."""
    return ssd_anchors(spec)


def decode_detections(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray,
                      spec: DetectorSpec, min_score: float):
    """Boxes, scores and keypoints of the anchors scoring at least `min_score`.

    Args:
        raw_boxes: (N, 4 + 2K) model output: x, y offsets, w, h, then K keypoints (x, y), all
            in input pixels relative to the anchor centre.
        raw_scores: (N,) or (N, 1) logits.
        anchors: (N, 2) centres from `ssd_anchors`.
        spec: the detector's options.
        min_score: score threshold (after the sigmoid).

    Returns:
        boxes (M, 4) [x0, y0, x1, y1], scores (M,), keypoints (M, K, 2); all coordinates in
        [0, 1] of the model input.
    """
    logits = np.clip(raw_scores.reshape(-1).astype(np.float64), -spec.score_clip, spec.score_clip)
    scores = 1.0 / (1.0 + np.exp(-logits))
    keep = np.flatnonzero(scores >= min_score)
    raw = raw_boxes[keep].astype(np.float64) / spec.input_size
    centre = raw[:, :2] + anchors[keep]
    half = raw[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], 1)
    kps = raw[:, 4:4 + 2 * spec.num_keypoints].reshape(-1, spec.num_keypoints, 2) + anchors[keep][:, None]
    return boxes, scores[keep], kps


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box of `a` (N, 4) with every box of `b` (M, 4) -> (N, M)."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, keypoints: np.ndarray, iou: float = 0.3):
    """mediapipe's weighted non-maximum suppression.

    Repeatedly take the best remaining box; every remaining box overlapping it by more than
    `iou` (IoU) joins it, and the group becomes one detection whose box and keypoints are
    the score-weighted mean of the group and whose score is the best one.

    Args:
        boxes: (N, 4) [x0, y0, x1, y1]; scores: (N,); keypoints: (N, K, 2).

    Returns:
        boxes (M, 4), scores (M,), keypoints (M, K, 2), best score first.
    """
    order = np.argsort(-scores, kind="stable")
    boxes, scores, keypoints = boxes[order], scores[order], keypoints[order]
    overlap = iou_matrix(boxes, boxes) > iou
    alive = np.ones(len(scores), bool)
    out_b, out_s, out_k = [], [], []
    for i in range(len(scores)):  # best first: each live box leads the group of live boxes overlapping it
        if not alive[i]:
            continue
        member = alive & overlap[i]
        member[i] = True
        group = np.flatnonzero(member)
        alive[group] = False
        w = scores[group] / scores[group].sum()
        out_b.append(w @ boxes[group])
        out_k.append(np.tensordot(w, keypoints[group], axes=1))
        out_s.append(scores[i])
    k = keypoints.shape[1] if keypoints.ndim == 3 else 0
    if not out_s:
        return np.zeros((0, 4)), np.zeros(0), np.zeros((0, k, 2))
    return np.array(out_b), np.array(out_s), np.array(out_k)
