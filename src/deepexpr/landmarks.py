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
