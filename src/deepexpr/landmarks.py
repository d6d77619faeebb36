"""The 49-point landmark convention shared by characters, human faces and retrieval.

IntraFace's 49 points are iBUG-68 without the 17 jaw points and without the two
inner-mouth corners. Coordinates are image pixels (x right, y down); "left"/"right"
are the subject's, so the subject's right brow is on the image's left.

Index groups (0-based):
    0-4    right brow, outer -> inner        5-9    left brow, inner -> outer
    10-13  nose bridge, top -> tip            14-18  nostrils/base, image-left -> right
    19-24  right eye: outer corner, upper outer, upper inner, inner corner, lower inner, lower outer
    25-30  left eye: inner corner, upper inner, upper outer, outer corner, lower outer, lower inner
    31-42  outer lip, from the image-left corner (31) along the upper lip to the right corner (37),
           then back along the lower lip (38-42)
    43-45  inner upper lip, image-left -> right   46-48  inner lower lip, image-right -> left
"""

from __future__ import annotations

import numpy as np

NUM_LANDMARKS = 49
RIGHT_BROW = list(range(0, 5))
LEFT_BROW = list(range(5, 10))
NOSE_BRIDGE = list(range(10, 14))
NOSE_BASE = list(range(14, 19))
RIGHT_EYE = list(range(19, 25))
LEFT_EYE = list(range(25, 31))
OUTER_LIP = list(range(31, 43))
INNER_LIP = list(range(43, 49))
MOUTH_CORNER_RIGHT = 31  # image-left corner (subject's right)
MOUTH_CORNER_LEFT = 37
UPPER_LIP_TOP = 34
LOWER_LIP_BOTTOM = 40
INNER_UPPER_MID = 44
INNER_LOWER_MID = 47

GROUPS = {
    "right_brow": RIGHT_BROW, "left_brow": LEFT_BROW, "nose_bridge": NOSE_BRIDGE,
    "nose_base": NOSE_BASE, "right_eye": RIGHT_EYE, "left_eye": LEFT_EYE,
    "outer_lip": OUTER_LIP, "inner_lip": INNER_LIP,
}

# iBUG-68 (0-based) index of each of the 49 points.
IBUG68_TO_49 = np.array(
    list(range(17, 27)) + list(range(27, 36)) + list(range(36, 48)) + list(range(48, 60))
    + [61, 62, 63, 65, 66, 67]
)

# Polylines for drawing (index runs; closed where the feature is closed).
DRAW_PATHS: list[tuple[list[int], bool]] = [
    (RIGHT_BROW, False), (LEFT_BROW, False), (NOSE_BRIDGE, False), (NOSE_BASE, False),
    (RIGHT_EYE, True), (LEFT_EYE, True), (OUTER_LIP, True), (INNER_LIP, True),
]


def check_landmarks(points: np.ndarray, name: str = "landmarks") -> np.ndarray:
    """Return `points` as a float32 (..., 49, 2) array or raise a clear ValueError."""
    arr = np.asarray(points, dtype=np.float32)
    if arr.ndim < 2 or arr.shape[-2:] != (NUM_LANDMARKS, 2):
        raise ValueError(f"{name}: expected shape (..., 49, 2), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or infinite coordinates")
    return arr


def fit_similarity(src, dst, scale: bool = True) -> np.ndarray:
    """Least-squares similarity transform (Umeyama 1991) mapping points `src` onto `dst`.

    The one similarity / Procrustes fit of the package: face alignment (2D), the HA-GAN
    human frame (2D) and the rigid part of the RBF mesh warp (3D, rotation only) use it.
    Rotations are proper (no reflection).

    Args:
        src: (..., K, D) points, D = 2 or 3; leading dimensions are a batch.
        dst: (..., K, D) corresponding points (same batch shape as `src`, or broadcastable).
        scale: fit a uniform scale (False: rotation and shift only, a rigid fit).

    Returns:
        (..., D, D + 1) float64 matrix M with dst ~ M[..., :D] @ p + M[..., D].

    Raises:
        ValueError: `src` has all its points at one place (no transform is defined).

    Example:
        >>> m = fit_similarity(src, 2.0 * src + 1.0)    # m[:, :2] == 2 I, m[:, 2] == 1
    """
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    ms, md = src.mean(-2, keepdims=True), dst.mean(-2, keepdims=True)
    a, b = src - ms, dst - md
    spread = a.var(-2).sum(-1)  # mean squared distance to the centroid
    if np.any(spread < 1e-12):
        raise ValueError("landmarks are degenerate (all at one point); no transform fits them")
    u, s, vt = np.linalg.svd(np.swapaxes(b, -1, -2) @ a / src.shape[-2])
    sign = np.ones(s.shape)
    sign[..., -1] = np.sign(np.linalg.det(u @ vt))  # flip the weakest axis: no reflection
    rot = (u * sign[..., None, :]) @ vt
    k = (s * sign).sum(-1) / spread if scale else np.ones(spread.shape)
    linear = k[..., None, None] * rot
    shift = md[..., 0, :] - (linear @ ms[..., 0, :, None])[..., 0]
    return np.concatenate([linear, shift[..., None]], axis=-1)
