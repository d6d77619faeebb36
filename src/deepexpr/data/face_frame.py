"""The one frame of a stylized face: where it is, how big, how turned, and its aligned crops.

A face's frame is the similarity transform `M` (2x3, template units -> image pixels) that
best maps `TEMPLATE` (the mean 49 landmarks of neutral, frontal classic renders, in units of
the render's side: (0, 0) top-left corner, (1, 1) bottom-right) onto the face's stable
landmarks (eye corners and nose: they barely move with expression). From `M`:

- the **face box**: the square `FACE_BOX` of the template (brows' top to chin, ear to ear)
  mapped by `M`: centre, side (pixels) and in-plane angle (radians, image y down, positive
  = clockwise on screen); its axis-aligned bounds are the detection box;
- the **face crop** (`region="face"`): that square resampled upright, what the landmark
  regressor reads;
- the **render crop** (`region="render"`): the template's whole unit square, i.e. the face
  framed the way a classic character render frames it, what every character model that
  was trained on whole renders reads (the recognizer, retrieval embedding).

Everything here is exact under similarity transforms: the frame of transformed landmarks
is the transformed frame (least squares commutes with similarities), so scene boxes follow
every scale, rotation and shift of the composer exactly.

    >>> m = face_frame(landmarks)                       # (2, 3)
    >>> centre, side, angle = frame_params(m)
    >>> crop, to_crop = aligned_crop(image, m, 80)       # face crop, 80 x 80
"""

from __future__ import annotations

import numpy as np

from deepexpr.landmarks import check_landmarks, fit_similarity

# Mean landmarks of 200 neutral frontal classic random characters (seed 12345), in render
# units; rounded to 1e-4 (the frame only needs to be fixed, not exact).
TEMPLATE = np.array([
    [0.2891, 0.4555], [0.3280, 0.4468], [0.3670, 0.4439], [0.4060, 0.4468], [0.4450, 0.4555],
    [0.5531, 0.4555], [0.5921, 0.4468], [0.6310, 0.4439], [0.6700, 0.4468], [0.7090, 0.4555],
    [0.4990, 0.5513], [0.4990, 0.5918], [0.4990, 0.6323], [0.4990, 0.6728], [0.4596, 0.6979],
    [0.4793, 0.7032], [0.4990, 0.7068], [0.5187, 0.7032], [0.5384, 0.6979], [0.2972, 0.5548],
    [0.3438, 0.5052], [0.3903, 0.5073], [0.4368, 0.5610], [0.3903, 0.6047], [0.3438, 0.6027],
    [0.5613, 0.5610], [0.6078, 0.5073], [0.6543, 0.5052], [0.7008, 0.5548], [0.6543, 0.6027],
    [0.6078, 0.6047], [0.4029, 0.7696], [0.4349, 0.7619], [0.4670, 0.7595], [0.4990, 0.7597],
    [0.5311, 0.7595], [0.5631, 0.7619], [0.5951, 0.7696], [0.5631, 0.7791], [0.5311, 0.7823],
    [0.4990, 0.7832], [0.4670, 0.7823], [0.4349, 0.7791], [0.4510, 0.7696], [0.4990, 0.7696],
    [0.5471, 0.7696], [0.5471, 0.7696], [0.4990, 0.7696], [0.4510, 0.7696]], dtype=np.float64)
# Eye corners, nose bridge and nose base: the points whose place does not change with
# expression (brows, lids and mouth do).
FIT_POINTS = np.array([19, 22, 25, 28, 10, 11, 12, 13, 14, 15, 16, 17, 18])
# The face square in template units: centre (x, y) and side; it spans the mean head outline
# of the classic renders (x 0.17-0.83, y 0.25-0.91: forehead to chin).
FACE_BOX = (0.5, 0.58, 0.66)
REGIONS = ("face", "render")


def face_frame(landmarks) -> np.ndarray:
    """The similarity (2, 3) float64 mapping template units onto the face's image pixels.

    Args:
        landmarks: (49, 2) image pixels, or (N, 49, 2) for N faces -> (N, 2, 3).
    """
    lm = check_landmarks(landmarks).astype(np.float64)
    return fit_similarity(TEMPLATE[FIT_POINTS], lm[..., FIT_POINTS, :])


def frame_params(m: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(centre (2,), side in pixels, angle in radians) of the face box of frame `m`."""
    m = np.asarray(m, np.float64)
    cx, cy, side = FACE_BOX
    centre = m[:, :2] @ np.array([cx, cy]) + m[:, 2]
    scale = float(np.hypot(m[0, 0], m[1, 0]))
    return centre, scale * side, float(np.arctan2(m[1, 0], m[0, 0]))


def frame_from_params(centre, side: float, angle: float) -> np.ndarray:
    """The frame (2, 3) whose face box has this centre, side (pixels) and angle (radians)."""
    scale = float(side) / FACE_BOX[2]
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    linear = np.array([[c, -s], [s, c]])
    shift = np.asarray(centre, np.float64) - linear @ np.array(FACE_BOX[:2])
    return np.concatenate([linear, shift[:, None]], axis=1)


def box_corners(centre, side: float, angle: float) -> np.ndarray:
    """The 4 corners (4, 2) of the turned face square, clockwise from its top-left."""
    c, s = np.cos(angle), np.sin(angle)
    half = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64) * (float(side) / 2)
    return half @ np.array([[c, s], [-s, c]]) + np.asarray(centre, np.float64)


def frame_box(m: np.ndarray) -> np.ndarray:
    """The axis-aligned bounds (x0, y0, x1, y1) of the turned face square of frame `m`."""
    corners = box_corners(*frame_params(m))
    return np.concatenate([corners.min(0), corners.max(0)])


def crop_transform(m: np.ndarray, size: int, region: str = "face") -> np.ndarray:
    """The affine (2, 3) mapping image pixels onto pixels of the `size` x `size` crop.

    Pixel centres are integers in both (the landmark convention): the crop's pixel (0, 0)
    is the centre of the region's top-left cell.
    """
    if region not in REGIONS:
        raise ValueError(f"region {region!r}: expected one of {REGIONS}")
    cx, cy, side = FACE_BOX if region == "face" else (0.5, 0.5, 1.0)
    # crop pixel p <-> template point (cx, cy) + ((p + 0.5) / size - 0.5) * side
    k = side / size
    crop_to_template = np.array([[k, 0, cx - side / 2 + k / 2], [0, k, cy - side / 2 + k / 2]])
    crop_to_image = compose(m, crop_to_template)
    return invert(crop_to_image)


def compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The affine `a` after `b` (both (2, 3))."""
    return np.concatenate([a[:, :2] @ b[:, :2], (a[:, :2] @ b[:, 2] + a[:, 2])[:, None]], axis=1)


def invert(a: np.ndarray) -> np.ndarray:
    """The inverse of an invertible affine (2, 3)."""
    # closed form: LAPACK's inverse wakes OpenBLAS's threads (~0.5-7 ms a call when loaded)
    (p, q), (r, s) = a[:, :2]
    inv = np.array([[s, -q], [-r, p]], np.float64) / (p * s - q * r)
    return np.concatenate([inv, (-inv @ a[:, 2])[:, None]], axis=1)


def apply(a: np.ndarray, points) -> np.ndarray:
    """Affine (2, 3) applied to points (..., 2)."""
    p = np.asarray(points, np.float64)
    return p @ a[:, :2].T + a[:, 2]


def warp(image: np.ndarray, a: np.ndarray, width: int, height: int,
         border=(127, 127, 127)) -> np.ndarray:
    """Resample `image` (H, W, C) uint8 into (height, width, C) with the affine `a` (image ->
    output pixels), bilinear; anti-aliased (area) when shrinking by more than 2x."""
    import cv2

    scale = float(np.sqrt(abs(a[0, 0] * a[1, 1] - a[0, 1] * a[1, 0])))
    if scale < 0.5:  # shrink first with area averaging, so thin lines do not alias away
        f = scale * 1.5
        h, w = image.shape[:2]
        small = cv2.resize(image, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
        fx, fy = small.shape[1] / w, small.shape[0] / h
        # small pixel q <-> image pixel (q + 0.5) / f - 0.5
        to_image = np.array([[1 / fx, 0, 0.5 / fx - 0.5], [0, 1 / fy, 0.5 / fy - 0.5]])
        image, a = small, compose(a, to_image)
    return cv2.warpAffine(np.ascontiguousarray(image), a.astype(np.float64), (int(width), int(height)),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=border)


def aligned_crop(image: np.ndarray, m: np.ndarray, size: int, region: str = "face"):
    """The upright `size` x `size` crop of a face (see the module docstring).

    Args:
        image: (H, W, 3) uint8.
        m: the face's frame (`face_frame` or `frame_from_params`).
        size: crop side in pixels.
        region: "face" (the face square) or "render" (framed like a whole render).

    Returns:
        crop (size, size, 3) uint8 and the affine (2, 3) image -> crop pixels.
    """
    to_crop = crop_transform(m, size, region)
    return warp(image, to_crop, size, size), to_crop
