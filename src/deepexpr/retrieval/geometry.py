"""The paper's 9 geometric features from 49 landmarks (DeepExpr sec. 3.2), for any face.

One function serves human landmarks (face pipeline) and character landmarks (rig or a
landmarks file), so both domains are measured the same way.

Choices the paper leaves open (written down here):
  * Frame: landmarks are first rotated so the line between the eye centres is horizontal
    (head roll must not read as a raised brow), about the eyes' midpoint.
  * Face box: the axis-aligned bounding box of the 49 rotated landmarks. Vertical distances
    are divided by its height, horizontal ones by its width ("each of the distances between
    landmarks is normalised by the bounding box of the face").
  * "Top of the eyebrow" = the brow point highest in the image; "centre of the eye" = mean
    of the six eye points; "top/bottom of the eye" = mean of the two upper/lower lid points;
    mouth opening = inner lower-lip middle minus inner upper-lip middle (0 for closed lips);
    lip-corner height = corner y minus the mean y of that side's two lower-lid points.
  "Right"/"left" are the subject's (see `deepexpr.landmarks`).
"""

from __future__ import annotations

import numpy as np

from deepexpr import landmarks as L

FEATURE_NAMES = (
    "right_brow_height", "left_brow_height", "right_eyelid_height", "left_eyelid_height",
    "nose_width", "mouth_width", "mouth_opening", "right_lip_corner_height",
    "left_lip_corner_height",
)
NUM_FEATURES = len(FEATURE_NAMES)

_R_UPPER, _R_LOWER = [20, 21], [23, 24]
_L_UPPER, _L_LOWER = [26, 27], [29, 30]


def _level(points: np.ndarray) -> np.ndarray:
    """Rotate (N, 49, 2) landmarks about the eye midpoint so the eye line is horizontal."""
    right_eye = points[:, L.RIGHT_EYE].mean(axis=1)
    left_eye = points[:, L.LEFT_EYE].mean(axis=1)
    d = left_eye - right_eye
    angle = np.arctan2(d[:, 1], d[:, 0])
    c, s = np.cos(-angle), np.sin(-angle)
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)  # (N, 2, 2)
    centre = 0.5 * (right_eye + left_eye)
    return np.einsum("nij,nkj->nki", rot, points - centre[:, None]) + centre[:, None]


def geometric_features(landmarks: np.ndarray) -> np.ndarray:
    """The 9 box-normalised measurements of one face or a batch.

    Args:
        landmarks: (49, 2) or (N, 49, 2) pixel coordinates (x right, y down).

    Returns:
        (9,) or (N, 9) float32 in `FEATURE_NAMES` order; heights are positive when the
        feature is where a face has it (brow above eye, lower lid below upper lid, lip
        corner below the eye).

    Raises:
        ValueError: wrong shape, non-finite values, or a degenerate (zero-size) face box.
    """
    pts = L.check_landmarks(landmarks).astype(np.float64)
    single = pts.ndim == 2
    pts = _level(pts.reshape(-1, L.NUM_LANDMARKS, 2))
    x, y = pts[..., 0], pts[..., 1]
    width, height = x.max(1) - x.min(1), y.max(1) - y.min(1)
    if (width <= 0).any() or (height <= 0).any():
        raise ValueError("landmarks: face box has zero width or height")
    feats = np.stack([
        (y[:, L.RIGHT_EYE].mean(1) - y[:, L.RIGHT_BROW].min(1)) / height,
        (y[:, L.LEFT_EYE].mean(1) - y[:, L.LEFT_BROW].min(1)) / height,
        (y[:, _R_LOWER].mean(1) - y[:, _R_UPPER].mean(1)) / height,
        (y[:, _L_LOWER].mean(1) - y[:, _L_UPPER].mean(1)) / height,
        (x[:, L.NOSE_BASE].max(1) - x[:, L.NOSE_BASE].min(1)) / width,
        np.hypot(x[:, L.MOUTH_CORNER_LEFT] - x[:, L.MOUTH_CORNER_RIGHT],
                 y[:, L.MOUTH_CORNER_LEFT] - y[:, L.MOUTH_CORNER_RIGHT]) / width,
        np.maximum(y[:, L.INNER_LOWER_MID] - y[:, L.INNER_UPPER_MID], 0.0) / height,
        (y[:, L.MOUTH_CORNER_RIGHT] - y[:, _R_LOWER].mean(1)) / height,
        (y[:, L.MOUTH_CORNER_LEFT] - y[:, _L_LOWER].mean(1)) / height,
    ], axis=1).astype(np.float32)
    return feats[0] if single else feats


def geometric_distance(query: np.ndarray, index: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
    """L2 distance between a query's (9,) features and (N, 9) index features.

    Args:
        query: (9,) features.
        index: (N, 9) features; rows with NaN (no landmarks) get distance +inf.
        scale: optional (9,) per-feature divisor (e.g. the index's standard deviation) so each
            measurement counts equally; None = raw box-normalised units, as in the paper.

    Returns:
        (N,) float32 distances.
    """
    diff = np.asarray(index, dtype=np.float32) - np.asarray(query, dtype=np.float32)
    if scale is not None:
        diff = diff / np.where(np.asarray(scale) > 0, scale, 1.0).astype(np.float32)
    d = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return np.where(np.isfinite(d), d, np.inf).astype(np.float32)
