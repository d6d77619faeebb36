"""The 83-landmark layout of BU-3DFE / BU-4DFE and its vertices on mediapipe's face mesh.

BU-3DFE defines 83 feature points in seven groups; this module keeps that grouping and
count. The order inside each group is ours (the databases' own files list the points in
their own order; the reader does not depend on the order, only the count):

    right eye 8, left eye 8, right brow 10, left brow 10, nose 12, mouth 20 (12 outer lip
    then 8 inner lip), contour 15 (right temple -> chin -> left temple).

"Right" is the subject's right (image left, -x in the project's mesh frame).
`MEDIAPIPE_INDICES` picks, for each point, the nearest vertex of mediapipe's 468-point face
mesh, so the synthetic corpus and the default mesh share landmarks exactly.
"""

from __future__ import annotations

import numpy as np

GROUPS: dict[str, list[int]] = {
    "right_eye": [33, 160, 159, 158, 133, 153, 145, 144],
    "left_eye": [263, 387, 386, 385, 362, 380, 374, 373],
    "right_brow": [70, 63, 105, 66, 107, 46, 53, 52, 65, 55],
    "left_brow": [300, 293, 334, 296, 336, 276, 283, 282, 295, 285],
    "nose": [168, 6, 197, 195, 4, 2, 98, 327, 129, 358, 64, 294],
    "mouth": [61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91,  # outer lip
              78, 81, 13, 311, 308, 402, 14, 178],  # inner lip
    "contour": [234, 93, 132, 58, 172, 136, 149, 152, 378, 365, 397, 288, 361, 323, 454],
}

MEDIAPIPE_INDICES = np.array([i for g in GROUPS.values() for i in g], dtype=np.int64)
N_LANDMARKS = 83


# Points that move with the head but hardly with the expression (nose bridge, inner and outer
# eye corners, temples): the rigid fit of the RBF falloff uses them.
STABLE_MEDIAPIPE = (168, 6, 197, 33, 133, 263, 362, 234, 454, 93, 323)
STABLE_ROWS = tuple(int(np.nonzero(MEDIAPIPE_INDICES == i)[0][0]) for i in STABLE_MEDIAPIPE)


def group_slices() -> dict[str, slice]:
    """Slices of each group in the 83-point order."""
    out, start = {}, 0
    for name, idx in GROUPS.items():
        out[name] = slice(start, start + len(idx))
        start += len(idx)
    return out


assert len(MEDIAPIPE_INDICES) == N_LANDMARKS == len(set(MEDIAPIPE_INDICES.tolist()))
