"""Training throughput: a full epoch vs the bare forward+backward step rate, in one run.

The issue's target: images/s of a full training epoch (sampling, augmentation,
normalisation, forward, backward, SGD step) >= 80% of the same model's bare
forward+backward+step rate on one ready-made batch.

    python benchmarks/bench_perception_train_throughput.py                      # synthetic images
    python benchmarks/bench_perception_train_throughput.py --data data/chars    # rendered characters

Decoding happens once before the epoch (images are cached as one uint8 tensor), as in
`deepexpr train`; its time is printed separately.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from deepexpr.models import create_model
from deepexpr.train.augment import augment_batch, to_input
from deepexpr.train.config import TrainConfig
from deepexpr.train.loop import bare_step_rate, class_weights, make_optimizer, train_one_epoch
from deepexpr.train.table import build_table, table_from_arrays


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="FERG-layout folder (default: synthetic images)")
    ap.add_argument("--model", default="cnn_small")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--images", type=int, default=3000, help="images in the epoch")
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--augment", default="random")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=30, help="bare steps to time")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    if args.data:
        from deepexpr.data.ferg import FergDataset

        table = build_table(FergDataset(args.data), args.size)
        if len(table) > args.images:
            table = table.subset(np.random.default_rng(0).permutation(len(table))[:args.images])
    else:
        rng = np.random.default_rng(0)
        table = table_from_arrays(rng.integers(0, 255, (args.images, args.size, args.size, 3)),
                                  np.arange(args.images) % 7)
    decode_s = time.perf_counter() - t0
    cfg = TrainConfig(model=args.model, size=args.size, batch_size=args.batch_size, epochs=1,
                      augment=args.augment, threads=args.threads)
    torch.manual_seed(0)
    model = create_model(args.model).to(memory_format=torch.channels_last)
    gen = torch.Generator().manual_seed(0)
    x = to_input(augment_batch(table.images[:args.batch_size], "none", gen), cfg.preprocess(), True)
    y = torch.from_numpy(table.labels[:args.batch_size])
    bare = bare_step_rate(model, x, y, steps=args.steps)
    opt = make_optimizer([{"params": list(model.parameters()), "lr_mult": 1.0}], cfg)
    epoch = train_one_epoch(model, opt, table, cfg, 0, class_weights(table.labels), show=False)
    bare_after = bare_step_rate(model, x, y, steps=args.steps)
    ref = (bare + bare_after) / 2  # the machine is shared: average before and after the epoch
    ratio = epoch["images_per_s"] / ref
    print(f"model {args.model}, {args.size} px, batch {args.batch_size}, augment {args.augment}, "
          f"threads {args.threads}, {len(table)} images ({'data ' + args.data if args.data else 'synthetic'})")
    print(f"decode+cache once: {decode_s:.1f} s")
    print(f"bare forward+backward+step: {bare:.0f} img/s before, {bare_after:.0f} img/s after the epoch")
    print(f"full epoch: {epoch['images_per_s']:.0f} img/s ({epoch['seconds']:.1f} s)")
    print(f"ratio epoch / bare: {ratio:.2f} (target >= 0.80) -> {'PASS' if ratio >= 0.8 else 'FAIL'}")


if __name__ == "__main__":
    main()
