"""HA-GAN speed: G+D training steps/s vs image size, and warm `translate` latency.

    python benchmarks/bench_hagan_speed.py [--sizes 32 48 64 75] [--batch 32] [--threads 1]

Prints steps/s of one full training step (D update + G update, the losses of Eqs. 3-5) on
random data for each image size, and the warm per-photo latency of translation: G + D^e on
one aligned face (and, if the face pipeline and a photo are available, detection too). The
load average is printed: on the shared 2-core machine other jobs slow every figure down.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch


def step_rate(size: int, batch: int, characters: int, seconds: float) -> tuple[float, float]:
    """(steps per wall-clock second, steps per CPU second of this process)."""
    from deepexpr.train.hagan import HaganTrainConfig, build_models, make_optimizers, train_step

    cfg = HaganTrainConfig(image_size=size, batch_size=batch)
    g, d, *_ = build_models(cfg, characters)
    opt_g, opt_d = make_optimizers(g, d, cfg)
    b = {"human": torch.randn(batch, 3, size, size), "label": torch.randint(0, 7, (batch,)),
         "character": torch.randint(0, characters, (batch,)), "real": torch.rand(batch, 3, size, size) * 2 - 1,
         "neutral": torch.rand(batch, 3, size, size) * 2 - 1, "matched": torch.rand(batch, 3, size, size) * 2 - 1}
    train_step(g, d, opt_g, opt_d, b, cfg)  # warm-up
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        train_step(g, d, opt_g, opt_d, b, cfg)
        n += 1
    return n / (time.perf_counter() - t0), n / max(time.process_time() - c0, 1e-9)


def translate_latency(weights, repeats: int = 20) -> tuple[float, float | None]:
    """Warm ms for G + D^e on one face; and for the whole `translate` on the astronaut photo."""
    from deepexpr.translate import load_hagan

    model = load_hagan(weights)
    face = np.random.default_rng(0).integers(0, 255, (1, model.load_size, model.load_size, 3), dtype=np.uint8)
    model.run(face, [0])
    t0 = time.perf_counter()
    for _ in range(repeats):
        model.run(face, [0])
    core = (time.perf_counter() - t0) / repeats * 1000
    full = None
    try:
        from skimage import data

        from deepexpr.translate import find_faces, translate

        photo = data.astronaut()
        faces = find_faces(photo)
        translate(photo, model.characters[0], model=model, faces=faces)
        t0 = time.perf_counter()
        for _ in range(5):
            translate(photo, model.characters[0], model=model)
        full = (time.perf_counter() - t0) / 5 * 1000
    except Exception as err:  # face pipeline not installed yet
        print(f"  (full translate not timed: {type(err).__name__}: {err})")
    return core, full


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 48, 64, 75])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--characters", type=int, default=6)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--weights", default=None, help="HA-GAN generator (default: bundled)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores); torch threads {args.threads}")
    base = None
    print(f"G+D training step, batch {args.batch}, {args.characters} characters:")
    for s in args.sizes:
        r, r_cpu = step_rate(s, args.batch, args.characters, args.seconds)
        base = base or r
        print(f"  {s:3d} px: {r:6.2f} steps/s wall, {r_cpu:6.2f} steps per CPU second  ({r * args.batch:6.0f} images/s; "
              f"time per step x{base / r:.2f} of {args.sizes[0]} px; pixels x{(s / args.sizes[0]) ** 2:.2f})")
    core, full = translate_latency(args.weights)
    print(f"translate, warm, one face: G + D^e {core:.1f} ms" + (f"; whole translate() on the astronaut "
          f"photo incl. face pipeline {full:.1f} ms" if full else ""))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
