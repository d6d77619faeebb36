"""RBF warp of a ~10,000-vertex face mesh: factor-once vs per-frame re-solve (same run).

Also checks the result against scipy's RBFInterpolator and reports the boundary remedy:
the largest non-rigid motion of vertices far from any landmark for a jaw-drop frame,
with and without the falloff.

    python benchmarks/bench_sequences_rbf.py [--frames 50]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # the CPU is shared; one BLAS thread

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=50)
    args = ap.parse_args()
    from scipy.interpolate import RBFInterpolator
    from scipy.spatial import cKDTree

    from deepexpr.animation.facemesh import dense_mesh
    from deepexpr.animation.landmarks83 import MEDIAPIPE_INDICES as LANDMARK_VERTICES
    from deepexpr.animation.landmarks83 import STABLE_ROWS
    from deepexpr.animation.rbf import RBFWarp, rbf_warp

    mesh = dense_mesh()
    verts = mesh.vertices
    rest = verts[LANDMARK_VERTICES]
    rng = np.random.default_rng(0)
    frames = rest[None] + rng.normal(size=(args.frames, *rest.shape)) * 1.5

    t0 = time.perf_counter()
    warp = RBFWarp().fit(verts, rest)
    fit_ms = (time.perf_counter() - t0) * 1e3
    warp.warp(frames[0])
    fast, times = [], []
    for f in frames:
        t0 = time.perf_counter()
        fast.append(warp.warp(f))
        times.append(time.perf_counter() - t0)
    fast_ms = float(np.median(times)) * 1e3

    n_slow = min(len(frames), 10)
    t0 = time.perf_counter()
    slow = [rbf_warp(verts, rest, f, sigma=warp.sigma_) for f in frames[:n_slow]]
    slow_ms = (time.perf_counter() - t0) * 1e3 / n_slow
    diff = max(np.abs(a - b).max() for a, b in zip(fast, slow))

    ref = RBFInterpolator(rest, frames[0] - rest, kernel="gaussian",
                          epsilon=1 / (warp.sigma_ * np.sqrt(2)), degree=1)(verts) + verts
    scipy_diff = np.abs(ref - fast[0]).max()

    # Boundary remedy: jaw drop (landmarks below the nose tip move down, more the lower).
    jaw = rest.copy()
    low = rest[:, 1] < rest[:, 1].mean() - 10
    jaw[low, 1] -= 0.15 * (rest[:, 1].mean() - 10 - rest[low, 1]) + 3.0
    dist, _ = cKDTree(rest).query(verts)
    far = dist > 2 * warp.sigma_
    plain = RBFWarp().fit(verts, rest).displacement(jaw)
    faded_warp = RBFWarp(falloff=True, rigid_landmarks=STABLE_ROWS).fit(verts, rest)
    faded = faded_warp.displacement(jaw)
    top = verts[:, 1] > rest[:, 1].max()  # above the highest brow point

    print(f"mesh: {len(verts)} vertices, {len(rest)} landmarks, sigma {warp.sigma_:.2f} mm")
    print(f"factorisation (once per mesh): {fit_ms:.1f} ms")
    print(f"factor-once warp: {fast_ms:.3f} ms/frame (median of {len(frames)} frames, float32 matrix)")
    print(f"per-frame re-solve: {slow_ms:.1f} ms/frame over {n_slow} frames "
          f"(speed-up x{slow_ms / fast_ms:.0f})")
    print(f"max |factor-once - re-solve|: {diff:.2e} mm; max |ours - scipy|: {scipy_diff:.2e} mm")
    print(f"jaw-drop frame, {far.sum()} vertices > 2 sigma from any landmark: max |disp| "
          f"plain {np.linalg.norm(plain[far], axis=1).max():.2f} mm, "
          f"falloff {np.linalg.norm(faded[far], axis=1).max():.2f} mm; above the brows (forehead, should stay still) "
          f"mean |disp| plain {np.linalg.norm(plain[top], axis=1).mean():.2f} mm, "
          f"falloff {np.linalg.norm(faded[top], axis=1).mean():.2f} mm")


if __name__ == "__main__":
    main()
