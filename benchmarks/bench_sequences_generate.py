"""Generating one 135-frame landmark sequence with a sequence LSTM (target < 50 ms).

Reports wall time and process CPU time (the machine is shared: wall time includes waiting
for a core), for the bundled weights (3x64) and an untrained paper-size model (3x128; the
speed does not depend on the weights). One torch thread. `SeqLSTM.generate` folds the
output feedback into the first layer (one addmm per layer and step, in-place gates).

    python benchmarks/bench_sequences_generate.py [--weights DIR]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def timed(fn, repeats: int = 7) -> tuple[float, float]:
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return float(np.median(wall)) * 1e3, float(np.median(cpu)) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default=None, help="folder of seq_<expr>.safetensors (default: bundled)")
    args = ap.parse_args()
    import torch

    from deepexpr.animation.animate import default_mesh
    from deepexpr.models import create_model
    from deepexpr.models.seqlstm import load_generator

    torch.set_num_threads(1)
    print(f"load average at start: {os.getloadavg()[0]:.2f} (2 cores, shared)")
    _, _, rest = default_mesh()
    neutral = torch.from_numpy(rest.astype(np.float32))[None]
    path = f"{args.weights}/seq_surprise.safetensors" if args.weights else None
    bundled, cfg = load_generator("surprise", path)
    paper = create_model("seqlstm")
    for name, model in ((f"{cfg['model']} (trained, surprise)", bundled), ("seqlstm 3x128", paper)):
        wall, cpu = timed(lambda m=model: m.generate(neutral, steps=135))
        print(f"{name}: 135-frame sequence in {wall:.1f} ms wall, {cpu:.1f} ms CPU")
    with torch.no_grad():
        wall, cpu = timed(lambda: [paper(torch.zeros(1, 1, 249), neutral) for _ in range(135)], 3)
    print(f"reference, stepping nn.LSTM 135 times (3x128): {wall:.1f} ms wall, {cpu:.1f} ms CPU")


if __name__ == "__main__":
    main()
