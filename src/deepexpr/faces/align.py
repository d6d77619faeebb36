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

Two frames, one function (`align_face(..., frame=)`): "face", the crop above, for the
expression CNNs and retrieval; "hagan", HA-GAN's human frame (eye centres and nose base at
`HAGAN_ANCHORS`), for drawn stand-in faces and photos alike, so G sees photos framed like
its training faces. The similarity fit is `deepexpr.landmarks.fit_similarity`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from deepexpr import landmarks as L
from deepexpr.errors import InputError

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

# HA-GAN's human frame: where the subject's right eye centre (image left), left eye centre
# and nose-base centre go, as fractions of the crop side.
HAGAN_ANCHORS = np.array([[0.34, 0.40], [0.66, 0.40], [0.50, 0.60]], dtype=np.float32)
FRAMES = ("face", "hagan")


@dataclass
class AlignConfig:
    size: int = DEFAULT_SIZE  # side of the aligned square crop in pixels
    method: str = "similarity"  # "similarity" (keeps face shape) or "affine" (6 parameters)
    rigid_only: bool = True  # fit on eyes + nose only (RIGID49), not brows and mouth
    frame: str = "face"  # "face" (TEMPLATE49) or "hagan" (HAGAN_ANCHORS, similarity only)


def fit_affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares 6-parameter affine transform mapping `src` (K, 2) onto `dst` (K, 2) -> (2, 3)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    a = np.c_[src, np.ones(len(src))]
    sol, *_ = np.linalg.lstsq(a, dst, rcond=None)
    return sol.T


def anchor_points(landmarks49: np.ndarray) -> np.ndarray:
    """(49, 2) landmarks -> (3, 2) float32: right-eye centre, left-eye centre, nose-base centre.

    Eyes and nose base barely move with expression (the mouth and brows do), so the HA-GAN
    frame does not depend on the expression it is meant to preserve.
    """
    p = np.asarray(landmarks49, dtype=np.float32)
    return np.stack([p[L.RIGHT_EYE].mean(0), p[L.LEFT_EYE].mean(0), p[L.NOSE_BASE].mean(0)])


def registration(landmarks49: np.ndarray, cfg: AlignConfig | None = None) -> np.ndarray:
    """The (2, 3) transform from photo pixels to the aligned crop of side `cfg.size`.

    Raises:
        ValueError: landmarks of the wrong shape, an unknown method or frame.
        InputError: degenerate landmarks (all at one point).
    """
    cfg = cfg or AlignConfig()
    if cfg.frame not in FRAMES:
        raise ValueError(f"unknown alignment frame {cfg.frame!r}; use one of {', '.join(FRAMES)}")
    pts = L.check_landmarks(landmarks49).astype(np.float64)
    if cfg.frame == "hagan":  # float32 like the frames the bundled HA-GAN was trained on
        return _fit(anchor_points(pts), HAGAN_ANCHORS * cfg.size).astype(np.float32)
    target = TEMPLATE49 * cfg.size
    idx = RIGID49 if cfg.rigid_only else slice(None)
    if cfg.method == "similarity":
        return _fit(pts[idx], target[idx])
    if cfg.method == "affine":
        return fit_affine(pts[idx], target[idx])
    raise ValueError(f"unknown registration method {cfg.method!r}; use 'similarity' or 'affine'")


def _fit(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    try:
        return L.fit_similarity(src, dst)
    except ValueError as err:
        raise InputError(f"face landmarks: {err}; cannot align the face") from err


def apply_affine(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Points (K, 2) through a (2, 3) transform -> (K, 2) float32."""
    p = np.asarray(points, np.float64)
    return (p @ m[:, :2].T + m[:, 2]).astype(np.float32)


def align_face(image: np.ndarray, landmarks49: np.ndarray, size: int = DEFAULT_SIZE,
               method: str = "similarity", frame: str = "face") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Register a face to a frame, crop and resize (the one face alignment of the package).

    Args:
        image: (H, W, 3) uint8 photo or drawing.
        landmarks49: (49, 2) image pixel coordinates.
        size: aligned crop side (any size; 256 by default).
        method: "similarity" or "affine" (the "face" frame only).
        frame: "face" (the frontal template) or "hagan" (HA-GAN's human frame).

    Returns:
        (aligned (size, size, 3) uint8, aligned landmarks (49, 2) float32, affine (2, 3))

    Raises:
        ValueError: landmarks of the wrong shape, an unknown method or frame.
        InputError: degenerate landmarks.
    """
    import cv2

    m = registration(landmarks49, AlignConfig(size=int(size), method=method, frame=frame))
    # HA-GAN's frame is warped without the pre-reduction: its weights were trained so (the
    # INTER_AREA flag it once passed is bilinear in cv2.warpAffine too).
    src, warp = (np.ascontiguousarray(image), m) if frame == "hagan" else _shrunk(image, m, int(size))
    crop = cv2.warpAffine(src, warp, (int(size), int(size)), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    return crop, apply_affine(landmarks49, m), m


def _shrunk(image: np.ndarray, m: np.ndarray, size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(image, transform) to warp with. Bilinear warping aliases when a face is shrunk more
    than 2x, so a big face is first reduced with area averaging and the transform adjusted.

    Args:
        image: (H, W, C) source.
        m: (2, 3) source pixels -> crop pixels.
        size: the crop's side; when given, only the part of the image the crop reads is
            reduced (a big photo is not resized whole for one face).
    """
    import cv2

    if size is not None:
        image, m = _region_read(image, m, size)
    image = np.ascontiguousarray(image)
    f = 2.0 * affine_scale(m)
    if f >= 1.0:
        return image, m
    h, w = image.shape[:2]
    k = int(1.0 / f)  # an integer factor first: OpenCV's fast area path
    nw, nh = max(1, w // k), max(1, h // k)
    small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    # pixel centres: x_small = (x + 0.5) * nw / w - 0.5
    sx, sy = nw / w, nh / h
    to_small = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])
    warp = np.r_[m, [[0.0, 0.0, 1.0]]] @ np.r_[invert_affine(to_small[:2]), [[0.0, 0.0, 1.0]]]
    return small, warp[:2]


def invert_affine(m: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine, in closed form (np.linalg on 3x3 matrices goes through
    BLAS and costs ~1 ms under load)."""
    a, b, c, d = float(m[0, 0]), float(m[0, 1]), float(m[1, 0]), float(m[1, 1])
    det = a * d - b * c
    inv = np.array([[d, -b], [-c, a]]) / det
    return np.c_[inv, -inv @ np.asarray(m[:, 2], np.float64)]


def affine_scale(m: np.ndarray) -> float:
    """sqrt(|det|) of a (2, 3) affine's linear part: its mean scale factor."""
    return float(np.sqrt(abs(float(m[0, 0]) * float(m[1, 1]) - float(m[0, 1]) * float(m[1, 0]))))


def _region_read(image: np.ndarray, m: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The part of `image` a (size, size) crop through `m` reads (plus a filter margin), and
    `m` for that part. Border replication is unchanged: the part is clipped at the image edge."""
    inv = invert_affine(m)
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64) @ inv[:, :2].T + inv[:, 2]
    h, w = image.shape[:2]
    x0, y0 = np.clip(np.floor(corners.min(0)).astype(int) - 2, 0, [w - 1, h - 1])
    x1, y1 = np.clip(np.ceil(corners.max(0)).astype(int) + 3, [x0 + 1, y0 + 1], [w, h])
    if (x1 - x0) * (y1 - y0) >= 0.8 * w * h:
        return image, m
    return image[y0:y1, x0:x1], m @ np.array([[1.0, 0.0, x0], [0.0, 1.0, y0], [0.0, 0.0, 1.0]])


_ALIGN_LOCK = threading.Lock()


def lazily_aligned(name: str) -> property:
    """A face's aligned-crop field (`aligned`, `aligned_landmarks` or `affine`) made on first
    read, in the reading thread, from the face's `_align_from` (image, size, method) and its
    `landmarks49` (`deepexpr.faces.pipeline.Face`: a stream's tracked faces)."""

    def get(face):
        if face.__dict__.get("_align_from") is None:  # made (cleared only after the fields are set)
            return face.__dict__[name]
        with _ALIGN_LOCK:  # the rig's patches (frame thread) and the expression worker both read it
            source = face.__dict__.get("_align_from")
            if source is not None:
                crop, crop_pts, m = align_face(source[0], face.landmarks49, source[1], source[2])
                face.__dict__.update(aligned=crop, aligned_landmarks=crop_pts, affine=m)
                face._align_from = None
        return face.__dict__[name]

    def put(face, value):
        face.__dict__[name] = value

    return property(get, put, doc=f"`{name}` of the aligned crop (made on first read for a stream's tracked face)")
