"""RBF warp of a ~10,000-vertex face mesh: factor-once (per frame and batched) vs per-frame
re-solve (same run), wall and CPU time.

Also checks the result against scipy's RBFInterpolator and reports the boundary remedy:
the largest non-rigid motion of vertices far from any landmark for a jaw-drop frame,
with and without the falloff.

    python benchmarks/bench_sequences_rbf.py [--frames 135]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # the CPU is shared; one BLAS thread

import numpy as np


def time_per_frame(warp, frames: np.ndarray) -> tuple[list[np.ndarray], float, float]:
    """Warps frames one at a time: (results, median wall ms, mean CPU ms) a frame."""
    warp.warp(frames[0])
    fast, times = [], []
    for f in frames:
        t0 = time.perf_counter()
        fast.append(warp.warp(f))
        times.append(time.perf_counter() - t0)
    c0 = time.process_time()
    for f in frames:
        warp.warp(f)
    cpu_ms = (time.process_time() - c0) * 1e3 / len(frames)
    return fast, float(np.median(times)) * 1e3, cpu_ms


def time_batched(warp, frames: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Warps all frames at once, 5 passes: (result, median wall ms, median CPU ms) a frame."""
    warp.warp_sequence(frames[:8])
    wall, cpu = [], []
    for _ in range(5):
        t0, c0 = time.perf_counter(), time.process_time()
        batched = warp.warp_sequence(frames)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return batched, float(np.median(wall)) * 1e3 / len(frames), float(np.median(cpu)) * 1e3 / len(frames)


def time_falloff(verts, rest, frames) -> tuple[object, float, float]:
    """The boundary-falloff warp batched: (warp, wall ms a frame, max |batched - per-frame|)."""
    from deepexpr.animation.rbf import RBFWarp
    from deepexpr.landmarks83 import STABLE_ROWS

    faded_warp = RBFWarp(falloff=True, rigid_landmarks=STABLE_ROWS).fit(verts, rest)
    t0 = time.perf_counter()
    faded_batch = faded_warp.warp_sequence(frames)
    faded_ms = (time.perf_counter() - t0) * 1e3 / len(frames)
    faded_diff = max(np.abs(faded_batch[i] - faded_warp.warp(frames[i])).max()
                     for i in range(0, len(frames), max(1, len(frames) // 10)))
    return faded_warp, faded_ms, faded_diff


def time_resolve(verts, rest, frames, fast, sigma) -> tuple[int, float, float]:
    """Per-frame re-solve on up to 10 frames: (frames, wall ms a frame, max |diff| to fast)."""
    from deepexpr.animation.rbf import rbf_warp

    n_slow = min(len(frames), 10)
    t0 = time.perf_counter()
    slow = [rbf_warp(verts, rest, f, sigma=sigma) for f in frames[:n_slow]]
    slow_ms = (time.perf_counter() - t0) * 1e3 / n_slow
    return n_slow, slow_ms, max(np.abs(a - b).max() for a, b in zip(fast, slow))


def boundary_line(verts, rest, sigma, faded_warp) -> str:
    """Jaw-drop frame (landmarks below the nose move down, more the lower): far-vertex motion."""
    from scipy.spatial import cKDTree

    from deepexpr.animation.rbf import RBFWarp

    jaw = rest.copy()
    low = rest[:, 1] < rest[:, 1].mean() - 10
    jaw[low, 1] -= 0.15 * (rest[:, 1].mean() - 10 - rest[low, 1]) + 3.0
    dist, _ = cKDTree(rest).query(verts)
    far = dist > 2 * sigma
    plain = RBFWarp().fit(verts, rest).displacement(jaw)
    faded = faded_warp.displacement(jaw)
    top = verts[:, 1] > rest[:, 1].max()  # above the highest brow point
    return (f"jaw-drop frame, {far.sum()} vertices > 2 sigma from any landmark: max |disp| "
            f"plain {np.linalg.norm(plain[far], axis=1).max():.2f} mm, "
            f"falloff {np.linalg.norm(faded[far], axis=1).max():.2f} mm; above the brows (forehead, "
            f"should stay still) mean |disp| plain {np.linalg.norm(plain[top], axis=1).mean():.2f} mm, "
            f"falloff {np.linalg.norm(faded[top], axis=1).mean():.2f} mm")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=135)
    args = ap.parse_args()
    from scipy.interpolate import RBFInterpolator

    from deepexpr.animation.rbf import RBFWarp
    from deepexpr.faces.facemesh import dense_mesh
    from deepexpr.landmarks83 import MEDIAPIPE_INDICES as LANDMARK_VERTICES

    print(f"load average at start: {os.getloadavg()[0]:.2f} (2 cores, shared)")
    verts = dense_mesh().vertices
    rest = verts[LANDMARK_VERTICES]
    frames = rest[None] + np.random.default_rng(0).normal(size=(args.frames, *rest.shape)) * 1.5

    t0 = time.perf_counter()
    warp = RBFWarp().fit(verts, rest)
    fit_ms = (time.perf_counter() - t0) * 1e3
    fast, fast_ms, fast_cpu_ms = time_per_frame(warp, frames)
    batched, batch_ms, batch_cpu_ms = time_batched(warp, frames)
    batch_diff = np.abs(batched - np.stack(fast)).max()
    faded_warp, faded_ms, faded_diff = time_falloff(verts, rest, frames)
    n_slow, slow_ms, diff = time_resolve(verts, rest, frames, fast, warp.sigma_)
    ref = RBFInterpolator(rest, frames[0] - rest, kernel="gaussian",
                          epsilon=1 / (warp.sigma_ * np.sqrt(2)), degree=1)(verts) + verts
    scipy_diff = np.abs(ref - fast[0]).max()

    print(f"mesh: {len(verts)} vertices, {len(rest)} landmarks, sigma {warp.sigma_:.2f} mm")
    print(f"factorisation (once per mesh): {fit_ms:.1f} ms")
    print(f"factor-once warp, one frame at a time: {fast_ms:.3f} ms/frame wall (median of "
          f"{len(frames)} frames, float32 matrix), {fast_cpu_ms:.3f} ms/frame CPU")
    print(f"factor-once warp, all {len(frames)} frames batched (warp_sequence): {batch_ms:.3f} "
          f"ms/frame wall, {batch_cpu_ms:.3f} ms/frame CPU (median of 5 passes); with the "
          f"boundary falloff {faded_ms:.3f} ms/frame wall")
    print(f"per-frame re-solve: {slow_ms:.1f} ms/frame over {n_slow} frames "
          f"(x{slow_ms / fast_ms:.0f} the per-frame path, x{slow_ms / batch_ms:.0f} the batched)")
    print(f"max |factor-once - re-solve|: {diff:.2e} mm; max |ours - scipy|: {scipy_diff:.2e} mm; "
          f"max |batched - per-frame|: {batch_diff:.2e} mm plain, {faded_diff:.2e} mm falloff")
    print(boundary_line(verts, rest, warp.sigma_, faded_warp))


if __name__ == "__main__":
    main()
