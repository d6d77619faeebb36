"""Face tracks across frames: box overlap plus landmark shape, kept through short gaps.

Each frame's faces are matched to the live tracks by a cost mixing box overlap (1 - IoU),
the centre distance in face sizes and the difference of the landmarks' normalised shape
(so two neighbours of equal size swap less); the assignment is optimal (Hungarian). A
track not seen for up to `max_gap` frames keeps its id when its face returns near where it
left; after that a returning face gets a new id.

    >>> tracker = FaceTracker(max_gap=15)
    >>> tracker.update([[10, 10, 60, 60]])          # [0]
    >>> tracker.update([[12, 11, 62, 61], [200, 10, 250, 60]])   # [0, 1]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Track:
    """A face track: its id and where its face was last seen."""

    id: int
    box: np.ndarray  # (4,) [x0, y0, x1, y1] last box
    shape: np.ndarray | None  # (K, 2) normalised landmarks (centred, unit scale) or None
    last_frame: int
    hits: int = 1


def _shape(points) -> np.ndarray | None:
    if points is None:
        return None
    p = np.asarray(points, np.float64)
    p = p - p.mean(0)
    return p / max(np.sqrt((p ** 2).sum(1).mean()), 1e-9)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class FaceTracker:
    """Assigns stable ids to faces frame after frame.

    Args:
        max_gap: frames a track survives unseen (a face that returns within it keeps its id).
        max_move: largest centre move per frame, in face sizes, for a match (grows with the gap).
        shape_weight: weight of the landmark-shape difference in the matching cost.
    """

    def __init__(self, max_gap: int = 15, max_move: float = 0.5, shape_weight: float = 0.5):
        self.max_gap = int(max_gap)
        self.max_move = float(max_move)
        self.shape_weight = float(shape_weight)
        self.tracks: list[Track] = []
        self.frame = -1
        self._next_id = 0

    def _cost(self, track: Track, box: np.ndarray, shape) -> float:
        """Matching cost of a face to a track, or inf when it cannot be the same face."""
        size = max(track.box[2] - track.box[0], track.box[3] - track.box[1], 1.0)
        centre_a = (track.box[:2] + track.box[2:]) / 2
        centre_b = (box[:2] + box[2:]) / 2
        move = float(np.linalg.norm(centre_a - centre_b)) / size
        gap = self.frame - track.last_frame
        ratio = max(box[2] - box[0], 1.0) / max(track.box[2] - track.box[0], 1.0)
        if move > self.max_move * min(gap, 4) or not 0.5 < ratio < 2.0:
            return np.inf
        cost = (1.0 - _iou(track.box, box)) + move
        if shape is not None and track.shape is not None and shape.shape == track.shape.shape:
            cost += self.shape_weight * float(np.abs(shape - track.shape).mean())
        return cost

    def update(self, boxes, landmarks=None) -> list[int]:
        """Track ids of this frame's faces, in the order given.

        Args:
            boxes: N boxes [x0, y0, x1, y1] of the faces of the next frame.
            landmarks: N (K, 2) landmark arrays (or None) to tell neighbours apart.

        Returns:
            N int ids (a new id for a face matching no live track).
        """
        from scipy.optimize import linear_sum_assignment

        self.frame += 1
        boxes = [np.asarray(b, np.float64) for b in boxes]
        shapes = [_shape(p) for p in landmarks] if landmarks is not None else [None] * len(boxes)
        self.tracks = [t for t in self.tracks if self.frame - t.last_frame <= self.max_gap + 1]
        ids = [-1] * len(boxes)
        if boxes and self.tracks:
            cost = np.array([[self._cost(t, b, s) for t in self.tracks] for b, s in zip(boxes, shapes)])
            finite = np.where(np.isfinite(cost), cost, 1e6)
            for i, j in zip(*linear_sum_assignment(finite)):
                if np.isfinite(cost[i, j]):
                    t = self.tracks[j]
                    t.box, t.shape, t.last_frame, t.hits = boxes[i], shapes[i], self.frame, t.hits + 1
                    ids[i] = t.id
        for i, b in enumerate(boxes):
            if ids[i] < 0:
                self.tracks.append(Track(self._next_id, b, shapes[i], self.frame))
                ids[i] = self._next_id
                self._next_id += 1
        return ids
