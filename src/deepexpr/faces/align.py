"""Registration of a face's 49 landmarks to a frontal template, then crop and resize.

Choices the papers leave open (DeepExpr sec. 3.1 only says "affine registration to a mean
face"):

* Template: `TEMPLATE49`, 49 IntraFace points in unit-square crop coordinates. It was made
  from mediapipe's 3D face mesh of one real face (`skimage.data.astronaut()`), rotated to
  frontal (half the rotation that maps the points onto their mirror image) and made
  left/right symmetric; the unit square is the whole mesh's box (forehead to chin) plus a
  10 % margin, like the fer package's face box + offsets. It is a frontal face template, not
  a population mean (no labelled face set can be fetched here); see `MIRROR49`.
* Transform: least-squares *similarity* (rotation, uniform scale, shift; Umeyama) by
  default, so the crop keeps the face's own shape — expression lives in that shape — and
  only pose and size are normalised. `method="affine"` fits a full 6-parameter affine.
* Points used for the fit: the rigid ones (eye corners and lids, nose bridge and base),
  `RIGID49`, so an open mouth or raised brows do not pull the registration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deepexpr import landmarks as L

TEMPLATE49 = np.array([
    (0.1601, 0.2325), (0.1939, 0.2006), (0.2487, 0.1849), (0.3222, 0.1888), (0.4088, 0.1996),
    (0.5912, 0.1996), (0.6778, 0.1888), (0.7513, 0.1849), (0.8061, 0.2006), (0.8399, 0.2325),
    (0.5000, 0.2977), (0.5000, 0.3892), (0.5000, 0.4736), (0.5000, 0.5264), (0.3855, 0.5578),
    (0.4493, 0.5821), (0.5000, 0.5879), (0.5507, 0.5821), (0.6145, 0.5578), (0.2264, 0.3108),
    (0.2644, 0.2856), (0.3295, 0.2829), (0.3959, 0.3258), (0.3441, 0.3331), (0.2810, 0.3313),
    (0.6041, 0.3258), (0.6705, 0.2829), (0.7356, 0.2856), (0.7736, 0.3108), (0.7190, 0.3313),
    (0.6559, 0.3331), (0.3056, 0.6487), (0.3491, 0.6390), (0.4420, 0.6383), (0.5000, 0.6455),
    (0.5580, 0.6383), (0.6509, 0.6390), (0.6944, 0.6487), (0.6431, 0.7147), (0.5565, 0.7658),
    (0.5000, 0.7726), (0.4435, 0.7658), (0.3569, 0.7147), (0.4121, 0.6556), (0.5000, 0.6655),
    (0.5879, 0.6556), (0.5886, 0.7106), (0.5000, 0.7261), (0.4114, 0.7106),
], dtype=np.float64)

# Index of each point's mirror image (subject's right <-> left), used to symmetrise the template.
MIRROR49 = (list(range(9, 4, -1)) + list(range(4, -1, -1)) + [10, 11, 12, 13] + [18, 17, 16, 15, 14]
            + [28, 27, 26, 25, 30, 29] + [22, 21, 20, 19, 24, 23]
            + [37, 36, 35, 34, 33, 32, 31, 42, 41, 40, 39, 38] + [45, 44, 43, 48, 47, 46])

# Points that do not move with expression: fit the registration on these.
RIGID49 = L.NOSE_BRIDGE + L.NOSE_BASE + L.RIGHT_EYE + L.LEFT_EYE

DEFAULT_SIZE = 256


@dataclass
class AlignConfig:
    size: int = DEFAULT_SIZE  # side of the aligned square crop in pixels
    method: str = "similarity"  # "similarity" (keeps face shape) or "affine" (6 parameters)
    rigid_only: bool = True  # fit on eyes + nose only (RIGID49), not brows and mouth


def fit_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform (Umeyama 1991) mapping `src` onto `dst`.

    Args:
        src, dst: (K, 2) corresponding points.

    Returns:
        (2, 3) float64 matrix M with dst ~ M @ [x, y, 1].
    """
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    u, s, vt = np.linalg.svd(b.T @ a / len(src))
    d = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rot = u @ d @ vt
    scale = np.trace(np.diag(s) @ d) / max(a.var(0).sum(), 1e-12)
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = md - m[:, :2] @ ms
    return m


def fit_affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares 6-parameter affine transform mapping `src` (K, 2) onto `dst` (K, 2) -> (2, 3)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    a = np.c_[src, np.ones(len(src))]
    sol, *_ = np.linalg.lstsq(a, dst, rcond=None)
    return sol.T


def registration(landmarks49: np.ndarray, cfg: AlignConfig | None = None) -> np.ndarray:
    """The (2, 3) transform from photo pixels to the aligned crop of side `cfg.size`."""
    cfg = cfg or AlignConfig()
    pts = L.check_landmarks(landmarks49).astype(np.float64)
    target = TEMPLATE49 * cfg.size
    idx = RIGID49 if cfg.rigid_only else slice(None)
    if cfg.method == "similarity":
        return fit_similarity(pts[idx], target[idx])
    if cfg.method == "affine":
        return fit_affine(pts[idx], target[idx])
    raise ValueError(f"unknown registration method {cfg.method!r}; use 'similarity' or 'affine'")


def apply_affine(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Points (K, 2) through a (2, 3) transform -> (K, 2) float32."""
    p = np.asarray(points, np.float64)
    return (p @ m[:, :2].T + m[:, 2]).astype(np.float32)


def align_face(image: np.ndarray, landmarks49: np.ndarray, size: int = DEFAULT_SIZE,
               method: str = "similarity") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Register a face to the frontal template, crop and resize.

    Args:
        image: (H, W, 3) uint8 photo.
        landmarks49: (49, 2) photo pixel coordinates.
        size: aligned crop side (any size; 256 by default).
        method: "similarity" or "affine".

    Returns:
        (aligned (size, size, 3) uint8, aligned landmarks (49, 2) float32, affine (2, 3) float64)
    """
    import cv2

    m = registration(landmarks49, AlignConfig(size=int(size), method=method))
    src, warp = _shrunk(image, m)
    crop = cv2.warpAffine(src, warp, (int(size), int(size)), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    return crop, apply_affine(landmarks49, m), m


def _shrunk(image: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(image, transform) to warp with. Bilinear warping aliases when a face is shrunk more
    than 2x, so a big face is first reduced with area averaging and the transform adjusted."""
    import cv2

    image = np.ascontiguousarray(image)
    f = 2.0 * float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    if f >= 1.0:
        return image, m
    h, w = image.shape[:2]
    nw, nh = max(1, round(w * f)), max(1, round(h * f))
    small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    # pixel centres: x_small = (x + 0.5) * nw / w - 0.5
    sx, sy = nw / w, nh / h
    to_small = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])
    warp = np.r_[m, [[0.0, 0.0, 1.0]]] @ np.linalg.inv(to_small)
    return small, warp[:2]
