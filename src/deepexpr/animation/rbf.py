"""Radial-basis-function mesh warping: carry landmark motion to every vertex (paper 003).

Per axis, the displacement field is a Gaussian RBF plus a linear polynomial,

    d(x) = sum_i w_i exp(-|x - c_i|^2 / (2 sigma^2)) + a_0 + a . x,

interpolating the landmark displacements exactly at the rest-pose landmarks c_i, with the
usual side condition P^T w = 0. The paper re-solves this system for every frame. Here the
centres never change (they are the rest-pose landmarks), so the system is factored once per
mesh: with A = [[K, P], [P^T, 0]] and E = [Phi(vertices, c), P(vertices)] the warp of every
frame is one (V, L) x (L, 3) product, M @ D with M = (E @ A^-1)[:, :L].

Choices the paper leaves open (written down here):
- sigma: the mean nearest-neighbour distance between the rest landmarks (settable). Smaller
  makes the field local and ill-defined between landmarks; much larger makes K badly
  conditioned.
- Boundary remedy (`falloff=True`): far from any landmark the linear polynomial extrapolates
  non-rigid motion (a jaw drop tilts the forehead up). The per-frame motion is split into
  the best rigid fit (Kabsch) of the landmarks, or of the stable ones given as
  `rigid_landmarks` (nose bridge, eye corners, temples), plus the non-rigid rest; the non-rigid part
  is multiplied by a smoothstep weight that is 1 within `falloff_inner` x sigma (1.5) of the
  nearest landmark and 0 beyond `falloff_outer` x sigma (4.5); a steeper ramp (1 to 3)
  creased the chin under a jaw drop. Head motion is kept everywhere.
  With the falloff on, rigid motions stay exact everywhere, other linear motions only near
  the landmarks.

    >>> warp = RBFWarp().fit(vertices, rest_landmarks)      # factor once per mesh
    >>> frame = warp.warp(moved_landmarks)                  # (V, 3), one matmul
    >>> frames = warp.warp_sequence(landmark_frames)       # (T, V, 3), one matmul per 16
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deepexpr.errors import InputError
from deepexpr.landmarks import fit_similarity


@dataclass
class RBFConfig:
    sigma: float | None = None  # Gaussian width in mesh units; None: mean NN landmark spacing
    falloff: bool = False  # fade non-rigid motion away from the landmarks (boundary remedy)
    falloff_inner: float = 1.5  # full motion within this many sigmas of the nearest landmark
    falloff_outer: float = 4.5  # only rigid motion beyond this many sigmas (1 and 3 made
    # creases on the chin under a jaw drop: the chin lies beyond 1 sigma of the contour)
    rigid_landmarks: tuple | None = None  # landmark rows that move only with the head (nose
    # bridge, eye corners, temples) for the rigid fit of the falloff; None: all landmarks
    dtype: str = "float32"  # evaluation matrix precision; float32 halves the memory traffic
    # of the per-frame product (it is bandwidth bound), error ~1e-7 of the displacement


def check_points(points, name: str, count: int | None = None) -> np.ndarray:
    """(N, 3) finite float64 array or InputError naming what is wrong."""
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise InputError(f"{name}: expected an (N, 3) array of points, got shape {arr.shape}")
    if count is not None and len(arr) != count:
        raise InputError(f"{name}: has {len(arr)} points but the rest pose has {count}; "
                         "pass the same landmarks in the same order")
    if not np.isfinite(arr).all():
        raise InputError(f"{name}: contains NaN or infinite coordinates; fix or drop those points")
    return arr


def mean_nn_spacing(points: np.ndarray) -> float:
    """Mean distance from each point to its nearest other point."""
    from scipy.spatial import cKDTree

    dist, _ = cKDTree(points).query(points, k=2)
    return float(dist[:, 1].mean())


def gaussian(r2: np.ndarray, sigma: float) -> np.ndarray:
    """exp(-r^2 / (2 sigma^2)) for squared distances r2."""
    return np.exp(-r2 / (2.0 * sigma * sigma))


def _sq_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)


def _poly(points: np.ndarray) -> np.ndarray:
    return np.c_[np.ones(len(points)), points]


def warp_matrix(vertices: np.ndarray, rest: np.ndarray, sigma: float) -> np.ndarray:
    """The (V, L) matrix M with warped displacement = M @ landmark displacements.

    Args:
        vertices: (V, 3) points to evaluate at.
        rest: (L, 3) rest-pose landmarks (the RBF centres), L >= 4 not all coplanar.
        sigma: Gaussian width.

    Raises:
        InputError: the system is singular (duplicate or coplanar landmarks).
    """
    n = len(rest)
    a = np.zeros((n + 4, n + 4))
    a[:n, :n] = gaussian(_sq_dist(rest, rest), sigma)
    a[:n, n:] = _poly(rest)
    a[n:, :n] = a[:n, n:].T
    e = np.c_[gaussian(_sq_dist(vertices, rest), sigma), _poly(vertices)]  # (V, L+4)
    try:
        # M = E A^-1 restricted to the first L columns; A is symmetric so solve A X = E^T.
        sol = np.linalg.solve(a, e.T)  # (L+4, V)
    except np.linalg.LinAlgError as err:
        raise InputError("landmarks: the RBF system is singular (duplicate or coplanar "
                         "landmarks); remove duplicates") from err
    if not np.isfinite(sol).all() or np.linalg.cond(a) > 1e13:
        raise InputError("landmarks: the RBF system is singular (duplicate or coplanar "
                         "landmarks, or sigma far too large); remove duplicates or lower sigma")
    return np.ascontiguousarray(sol[:n].T)


def smoothstep_falloff(vertices, rest, inner: float, outer: float) -> np.ndarray:
    """(V,) weight 1 within `inner` of the nearest landmark, 0 beyond `outer`, C1 between."""
    from scipy.spatial import cKDTree

    dist, _ = cKDTree(rest).query(vertices)
    t = np.clip((dist - inner) / max(outer - inner, 1e-12), 0.0, 1.0)
    return 1.0 - t * t * (3.0 - 2.0 * t)


class RBFWarp:
    """Factor-once RBF warp of one mesh (scikit-learn style: `fit` returns self).

    With the falloff on, d(v) = w(v) * rbf(v) + (1 - w(v)) * rigid(v), and the rigid part
    v @ (R^T - I) + t is linear in (R^T - I, t), so both fold into one evaluation matrix
    [w * M, (1 - w) * v, 1 - w] (V, L + 4) applied to [D; R^T - I; t] (L + 4, 3).

    Attributes (after fit):
        sigma_: Gaussian width used.
        matrix_: (V, L) evaluation matrix (vertices x landmarks), or (V, L + 4) with the
            falloff folded in.
        weight_: (V, 1) falloff weight, or None when the falloff is off.
    """

    def __init__(self, config: RBFConfig | None = None, **overrides):
        self.config = config or RBFConfig(**overrides)

    def fit(self, vertices, rest_landmarks) -> RBFWarp:
        """Factor the system for `vertices` (V, 3) and `rest_landmarks` (L, 3)."""
        cfg = self.config
        self.vertices_ = check_points(vertices, "vertices")
        self.rest_ = check_points(rest_landmarks, "rest landmarks")
        if len(self.rest_) < 5:
            raise InputError(f"rest landmarks: need at least 5 points, got {len(self.rest_)}")
        self.sigma_ = float(cfg.sigma) if cfg.sigma else mean_nn_spacing(self.rest_)
        if not self.sigma_ > 0:
            raise InputError("rest landmarks: all points coincide; sigma would be 0")
        matrix = warp_matrix(self.vertices_, self.rest_, self.sigma_)
        self.weight_ = None
        if cfg.falloff:
            self.weight_ = smoothstep_falloff(self.vertices_, self.rest_,
                                              cfg.falloff_inner * self.sigma_,
                                              cfg.falloff_outer * self.sigma_)[:, None]
            rest_w = 1.0 - self.weight_
            matrix = np.c_[self.weight_ * matrix, rest_w * self.vertices_, rest_w]
        self.matrix_ = np.ascontiguousarray(matrix, dtype=cfg.dtype)
        return self

    def _rhs(self, moved: np.ndarray) -> np.ndarray:
        """(..., L, 3) moved landmarks -> (..., L [+ 4], 3) right-hand side of matrix_."""
        d = moved - self.rest_
        if self.weight_ is None:
            return d
        keep = list(self.config.rigid_landmarks or range(len(self.rest_)))
        m = fit_similarity(self.rest_[keep], moved[..., keep, :], scale=False)
        r, t = m[..., :3], m[..., 3]
        lin = np.swapaxes(r, -1, -2) - np.eye(3)
        return np.concatenate([d, lin, t[..., None, :]], axis=-2)

    def displacement(self, moved_landmarks) -> np.ndarray:
        """(V, 3) vertex displacements for landmarks moved to `moved_landmarks` (L, 3)."""
        moved = check_points(moved_landmarks, "moved landmarks", len(self.rest_))
        return self.matrix_ @ self._rhs(moved).astype(self.matrix_.dtype)

    def warp(self, moved_landmarks) -> np.ndarray:
        """(V, 3) warped vertex positions."""
        return self.vertices_ + self.displacement(moved_landmarks)

    def displacement_sequence(self, landmark_frames, chunk: int = 16) -> np.ndarray:
        """(T, V, 3) vertex displacements for (T, L, 3) moved landmarks, many frames at once.

        One (V, L) x (L, 3 * chunk) product per `chunk` frames instead of one (V, L) x (L, 3)
        product per frame: the product is memory-bound (the 3.3 MB float32 matrix of a
        10k-vertex mesh is read from memory once per product), so batching frames amortises
        that read. Equal to calling `displacement` on every frame.
        """
        frames = np.asarray(landmark_frames, dtype=np.float64)
        if frames.ndim != 3:
            raise InputError(f"landmark frames: expected (T, L, 3), got shape {frames.shape}")
        for t, f in enumerate(frames):
            check_points(f, f"landmark frame {t}", len(self.rest_))
        dtype = self.matrix_.dtype
        rhs = self._rhs(frames).astype(dtype)  # (T, L [+ 4], 3)
        out = np.empty((len(frames), len(self.vertices_), 3), dtype=dtype)
        xyz = np.dtype((np.void, 3 * dtype.itemsize))  # one vertex's (x, y, z) as one item
        for start in range(0, len(frames), chunk):
            part = rhs[start:start + chunk]
            prod = self.matrix_ @ part.transpose(1, 0, 2).reshape(part.shape[1], -1)
            # (V, n * 3) vertex-major -> (n, V, 3) frame-major: a transpose of (V, n) xyz
            # items (numpy's strided copy of 3-number rows is several times slower)
            out[start:start + len(part)].view(xyz)[..., 0] = prod.view(xyz).T
        return out

    def warp_sequence(self, landmark_frames, chunk: int = 16) -> np.ndarray:
        """(T, V, 3) vertices for (T, L, 3) landmark frames (batched, see
        `displacement_sequence`)."""
        return self.vertices_ + self.displacement_sequence(landmark_frames, chunk)


def rbf_warp(vertices, rest_landmarks, moved_landmarks, sigma: float | None = None,
             falloff: bool = False, dtype: str = "float64") -> np.ndarray:
    """Warp `vertices` (V, 3) so `rest_landmarks` (L, 3) move to `moved_landmarks` (L, 3).

    One-off convenience; for sequences build `RBFWarp(...).fit(...)` once and call `warp`.

    Returns:
        (V, 3) warped vertices.
    """
    warp = RBFWarp(sigma=sigma, falloff=falloff, dtype=dtype)
    return warp.fit(vertices, rest_landmarks).warp(moved_landmarks)
