"""Character models compared on a training run's never-trained test split, per source.

A `deepexpr train transfer` run writes `OUT/test/predictions.csv` (path, character, label,
predicted) for its random test split. This reads those images again with each model and
prints accuracy per source (avatar style, icon group, "procedural") and per class, so a
new recipe can be chosen against the bundled model on held-out images of the training
sources instead of on the real-art validation set. A model trained on another random
split of the same table (same paths, same seed) has not seen these images either.

    python benchmarks/bench_realart_split.py --split runs/x/test/predictions.csv \
        --model runs/x/model.safetensors --model character_realart

When run x added a data folder, its split differs from the bundled model's; `--held-out-of
DATA...` (the bundled model's `--data` list, in order) keeps only the images that are in the
random test split of both (the 10% test part of each, seed 0, as `train transfer` cuts it),
so neither model has trained on any of them.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import os

import numpy as np


def read_split(path: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(image paths, (N,) class indices, (N,) source names) of a predictions.csv."""
    from deepexpr.evaluation.loso import source_of
    from deepexpr.expressions import EXPRESSIONS

    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    paths = [r["path"] for r in rows]
    labels = np.array([EXPRESSIONS.index(r["label"]) for r in rows])
    sources = np.array([source_of(r["character"]) for r in rows])
    return paths, labels, sources


def random_test_paths(roots: list[str], test_fraction: float = 0.1, seed: int = 0) -> set[str]:
    """The image paths of the random test split `train transfer --data ROOTS` makes."""
    from deepexpr.cli.training import load_dataset
    from deepexpr.train.splits import stratified_split

    paths, labels = [], []
    for root in roots:
        records = load_dataset("character", root).records
        paths += [str(r.path) for r in records]
        labels += [r.label for r in records]
    _, test = stratified_split(np.array(labels), (1 - test_fraction, test_fraction), seed)
    return {paths[i] for i in test}


def score(model: str, images: list, labels: np.ndarray, sources: np.ndarray) -> dict:
    """Accuracy overall, per source and per class of one model."""
    from deepexpr.expressions import EXPRESSIONS
    from deepexpr.recognition import load_recognizer

    pred = load_recognizer("character", model).probs(images).argmax(1)
    right = pred == labels
    return {"all": float(right.mean()),
            "source": {s: float(right[sources == s].mean()) for s in sorted(set(sources))},
            "class": {c: float(right[labels == k].mean()) for k, c in enumerate(EXPRESSIONS)
                      if (labels == k).any()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", required=True, help="a run's test/predictions.csv")
    ap.add_argument("--model", action="append", required=True, help="model name or checkpoint (repeatable)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--held-out-of", nargs="+", default=None,
                    help="another run's --data list: keep only images in its random test split too")
    args = ap.parse_args()
    import torch

    from deepexpr.io import read_image

    torch.set_num_threads(args.threads)
    paths, labels, sources = read_split(args.split)
    if args.held_out_of:
        both = random_test_paths(args.held_out_of)
        keep = np.array([p in both for p in paths])
        paths = [p for p, k in zip(paths, keep) if k]
        labels, sources = labels[keep], sources[keep]
    images = [read_image(p) for p in paths]
    print(f"bench_realart_split {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
          f"load {os.getloadavg()[0]:.1f}, {len(paths)} images of {len(set(sources))} sources")
    for m in args.model:
        res = score(m, images, labels, sources)
        print(f"\n{m}: {100 * res['all']:.1f}%")
        print("  per source: " + ", ".join(f"{s} {100 * a:.1f}" for s, a in res["source"].items()))
        print("  per class:  " + ", ".join(f"{c} {100 * a:.1f}" for c, a in res["class"].items()))


if __name__ == "__main__":
    main()
