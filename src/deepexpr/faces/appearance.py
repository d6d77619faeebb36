"""Appearance around the mesh: HOG and shading of small patches (mouth, chin, eyes, brows, cheeks).

The mesh follows a face's shape; some action units are mostly seen in the skin and lips
(lip thinning and pressing AU23/24, chin dimpling AU17, the lower lip AU16, crow's feet and
lower-lid bulge AU6/7, nose wrinkles AU9, brow furrows AU4). OpenFace reads them with HOG
on the aligned face; this module does the same on a few patches placed by the mesh:

1. the pipeline's aligned crop (`deepexpr.faces.align`, roll removed, 256 px) is turned
   grey and area-reduced to `WORK_SIDE` px (no aliasing in the patches);
2. each region of `REGIONS` is a rectangle centred on the mean of some mesh points, its
   size in eye-corner widths, resampled to `PATCH` x `PATCH` samples;
3. per patch: a HOG (`CELLS` x `CELLS` cells, `BINS` unsigned orientations, soft binning,
   L2-Hys over the patch) and a `SHADE` x `SHADE` grid of mean brightness, standardised
   within the patch (lighting-invariant).

    >>> from deepexpr.faces.rigface import find_rig_faces
    >>> f = find_rig_faces(photo)[0]
    >>> appearance_features(f.face.aligned, f.face.affine, f.mesh).shape   # (N_APPEARANCE,)
"""

from __future__ import annotations

import numpy as np

APPEARANCE_VERSION = 1  # bump when the features change (caches and maps trained on them)
WORK_SIDE = 128  # the aligned crop is reduced to this side before sampling
PATCH = 24  # samples per patch side
CELLS = 4  # HOG cells per patch side (6 x 6 samples each)
BINS = 8  # unsigned gradient orientations
SHADE = 4  # brightness grid per patch side
# name: (mesh indices whose mean is the centre, width, height in eye-corner widths,
# centre shift (x, y) in eye-corner widths, + = image right / down)
REGIONS = {
    "mouth": ((61, 291, 13, 14), 0.80, 0.45, (0.0, 0.0)),
    "chin": ((17, 152), 0.55, 0.32, (0.0, -0.04)),
    "eye_r": ((33, 133, 159, 145), 0.50, 0.34, (0.0, 0.04)),
    "eye_l": ((263, 362, 386, 374), 0.50, 0.34, (0.0, 0.04)),
    "brows": ((107, 336, 9), 0.40, 0.30, (0.0, 0.0)),
    "nose": ((6, 197, 195), 0.34, 0.30, (0.0, 0.0)),
    "cheek_r": ((205, 50), 0.32, 0.36, (0.0, 0.0)),
    "cheek_l": ((425, 280), 0.32, 0.36, (0.0, 0.0)),
}
PER_PATCH = CELLS * CELLS * BINS + SHADE * SHADE
N_APPEARANCE = len(REGIONS) * PER_PATCH


def _grey_work(crop: np.ndarray) -> np.ndarray:
    """(S, S, 3) uint8 crop -> (WORK_SIDE, WORK_SIDE) float32 grey in [0, 1]."""
    import cv2

    grey = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY)
    if grey.shape[0] != WORK_SIDE:
        grey = cv2.resize(grey, (WORK_SIDE, WORK_SIDE), interpolation=cv2.INTER_AREA)
    return grey.astype(np.float32) / 255.0


def _hog(patches: np.ndarray) -> np.ndarray:
    """(K, PATCH, PATCH) grey -> (K, CELLS * CELLS * BINS) L2-Hys normalised HOG per patch."""
    k = len(patches)
    gx = np.zeros_like(patches)
    gy = np.zeros_like(patches)
    gx[:, :, 1:-1] = patches[:, :, 2:] - patches[:, :, :-2]
    gy[:, 1:-1] = patches[:, 2:] - patches[:, :-2]
    mag = np.hypot(gx, gy).reshape(-1, PATCH)
    pos = (np.arctan2(gy, gx).reshape(-1, PATCH) % np.pi) * (BINS / np.pi) - 0.5  # unsigned; centres at k + 0.5
    lo = np.floor(pos)
    frac = pos - lo
    lo = lo.astype(np.int64) % BINS
    base = (_CELL_ID[None] + (np.arange(k) * CELLS * CELLS)[:, None, None]).reshape(-1, PATCH) * BINS
    n = k * CELLS * CELLS * BINS
    upper = mag * frac
    hist = np.bincount((base + lo).ravel(), (mag - upper).ravel(), n) + \
        np.bincount((base + (lo + 1) % BINS).ravel(), upper.ravel(), n)
    h = hist.reshape(k, -1)
    h = h / (np.sqrt((h * h).sum(1, keepdims=True)) + 1e-3)
    h = np.minimum(h, 0.2)
    return h / (np.sqrt((h * h).sum(1, keepdims=True)) + 1e-3)


_CELL_ID = (np.arange(PATCH) // (PATCH // CELLS))[:, None] * CELLS + (np.arange(PATCH) // (PATCH // CELLS))[None, :]


def _shade(patches: np.ndarray) -> np.ndarray:
    """(K, PATCH, PATCH) grey -> (K, SHADE * SHADE) cell means, standardised within each patch."""
    k = PATCH // SHADE
    cells = patches.reshape(len(patches), SHADE, k, SHADE, k).mean((2, 4)).reshape(len(patches), -1)
    return (cells - cells.mean(1, keepdims=True)) / (cells.std(1, keepdims=True) + 0.02)


# the mesh points the regions read, and each region's averaging weights over them
_POINTS = sorted({33, 263} | {i for idx, *_ in REGIONS.values() for i in idx})
_MEAN = np.array([[1.0 / len(idx) if p in idx else 0.0 for p in _POINTS] for idx, *_ in REGIONS.values()])
_SIZE = np.array([(w, h) for _, w, h, _ in REGIONS.values()])
_SHIFT = np.array([shift for *_, shift in REGIONS.values()])


def region_boxes(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(centres (R, 2), sizes (R, 2) width, height) of `REGIONS` in the frame of `points`
    ((478 | 468, 2), or the (len(_POINTS), 2) points `_POINTS` with `picked=True`)."""
    return _boxes(np.asarray(points, np.float64)[_POINTS])


def _boxes(picked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    eye = max(float(np.linalg.norm(picked[_POINTS.index(33)] - picked[_POINTS.index(263)])), 1e-6)
    return _MEAN @ picked + _SHIFT * eye, _SIZE * eye


def appearance_features(crop: np.ndarray, affine: np.ndarray, mesh: np.ndarray) -> np.ndarray:
    """Patch HOG + shading of one face.

    Args:
        crop: (S, S, 3) uint8 aligned face crop (the pipeline `Face.aligned`).
        affine: (2, 3) photo pixels -> crop pixels (the pipeline `Face.affine`).
        mesh: (468 | 478, >= 2) mesh in photo pixels.

    Returns:
        (N_APPEARANCE,) float32, regions in `REGIONS` order.
    """
    import cv2

    grey = _grey_work(crop)
    m = np.asarray(affine, np.float64) * (WORK_SIDE / float(crop.shape[0]))
    picked = np.asarray(mesh, np.float64)[_POINTS, :2] @ m[:, :2].T + m[:, 2]
    centres, sizes = _boxes(picked)
    u = ((np.arange(PATCH) + 0.5) / PATCH - 0.5).astype(np.float32)  # sample offsets in patch units
    r = len(centres)
    # every patch in one remap call: the maps stacked vertically
    map_x = np.broadcast_to((centres[:, 0, None] + u * sizes[:, 0, None])[:, None, :], (r, PATCH, PATCH))
    map_y = np.broadcast_to((centres[:, 1, None] + u * sizes[:, 1, None])[:, :, None], (r, PATCH, PATCH))
    patches = cv2.remap(grey, map_x.reshape(-1, PATCH).astype(np.float32), map_y.reshape(-1, PATCH).astype(np.float32),
                        cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).reshape(r, PATCH, PATCH)
    return np.concatenate([_hog(patches), _shade(patches)], 1).reshape(-1).astype(np.float32)


def appearance_of_photo(image: np.ndarray, mesh: np.ndarray) -> np.ndarray:
    """`appearance_features` of a face in a photo from its mesh alone: the crop is made as the
    face pipeline makes it (`MESH_TO_49` points, `PipelineConfig` size and registration)."""
    from deepexpr.faces.align import align_face
    from deepexpr.faces.pipeline import MESH_TO_49, PipelineConfig

    cfg = PipelineConfig()
    crop, _, m = align_face(np.ascontiguousarray(image), np.asarray(mesh)[list(MESH_TO_49), :2], cfg.size,
                            cfg.method)
    return appearance_features(crop, m, mesh)


def appearance_of_face(face) -> np.ndarray | None:
    """`appearance_features` of a `RigFace` or pipeline `Face` (None for a bare mesh)."""
    inner = getattr(face, "face", None) if hasattr(face, "quality") else face
    if inner is None or not hasattr(inner, "aligned"):
        return None
    crop, affine = inner.aligned, inner.affine
    if crop is None or affine is None:
        return None
    return appearance_features(crop, affine, inner.mesh468)  # regions use points < 468: no iris run
