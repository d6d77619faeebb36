"""Accuracy of character models on the never-trained real-art validation set.

Builds nothing: give it the set written by `deepexpr data realart --out DIR`. Prints, per
model, accuracy, mean class accuracy, per-class and per-icon-set accuracy, the confusion
matrix (rows: true class, columns: predicted) and the expected calibration error, and
writes a labelled grid of right (green) and wrong (red) predictions of the first model.

    python benchmarks/bench_realart.py --data data/realart
    python benchmarks/bench_realart.py --data data/realart --model character_cnn \
        --model character_transfer --model runs/x/model.safetensors --grid docs/realart_predictions.png
"""

from __future__ import annotations

import argparse
import datetime
import os

import numpy as np


def evaluate(model: str | None, ds) -> dict:
    """Predictions of one model on a `FergDataset`."""
    from deepexpr.evaluation.calibration import expected_calibration_error
    from deepexpr.evaluation.classification import summarize
    from deepexpr.recognition import load_recognizer

    rec = load_recognizer("character", model)
    images = [ds[i].image for i in range(len(ds))]
    probs = rec.probs(images)
    pred = probs.argmax(1)
    summary = summarize(ds.labels, pred)
    summary["ece"] = expected_calibration_error(probs, ds.labels)
    groups = np.array([r.character for r in ds.records])
    summary["per_set_accuracy"] = {g: float((pred[groups == g] == ds.labels[groups == g]).mean())
                                   for g in sorted(set(groups))}
    return {"name": rec.name, "summary": summary, "pred": pred, "probs": probs, "images": images}


def print_result(res: dict) -> None:
    from deepexpr.expressions import EXPRESSIONS

    s = res["summary"]
    print(f"\n== {res['name']}: accuracy {100 * s['accuracy']:.1f}% of {s['n']} "
          f"(mean class {100 * s['mean_class_accuracy']:.1f}%), ECE {s['ece']:.3f}")
    print("per class: " + ", ".join(f"{c} {100 * a:.0f}%" for c, a in s["per_class_accuracy"].items()
                                    if a is not None))
    print("per set:   " + ", ".join(f"{g} {100 * a:.0f}%" for g, a in s["per_set_accuracy"].items()))
    print("confusion (rows true, columns predicted): " + " ".join(f"{c[:4]:>5s}" for c in EXPRESSIONS))
    for c, row in zip(EXPRESSIONS, s["confusion_matrix"]):
        print(f"  {c:>9s} " + " ".join(f"{v:5d}" for v in row))


def write_grid(res: dict, labels: np.ndarray, path: str, cell: int = 64, cols: int = 16) -> None:
    """Every image with its prediction; a green frame if right, red if wrong (wrong first)."""
    from PIL import Image, ImageDraw

    from deepexpr.expressions import EXPRESSIONS
    from deepexpr.io import save_image

    pred = res["pred"]
    order = sorted(range(len(pred)), key=lambda i: (pred[i] == labels[i], labels[i]))
    rows = (len(order) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * cell, rows * (cell + 22)), "white")
    draw = ImageDraw.Draw(sheet)
    for k, i in enumerate(order):
        x, y = (k % cols) * cell, (k // cols) * (cell + 22)
        img = Image.fromarray(res["images"][i]).convert("RGB").resize((cell - 6, cell - 6))
        ok = pred[i] == labels[i]
        draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=(40, 160, 60) if ok else (210, 40, 40))
        sheet.paste(img, (x + 3, y + 3))
        draw.text((x + 2, y + cell), EXPRESSIONS[labels[i]][:7], fill="black")
        draw.text((x + 2, y + cell + 10), "->" + EXPRESSIONS[pred[i]][:7],
                  fill=(0, 110, 0) if ok else (200, 0, 0))
    save_image(path, np.asarray(sheet))


def speed(model: str | None, images: list, repeats: int = 3) -> tuple[float, float, float]:
    """(wall images/s, images per CPU-second, model file MB) of batch inference.

    Whole-list `probs` calls on 1,024 images (best of `repeats`). On a loaded machine the
    wall rate understates the model; images per CPU-second (process time, all threads) is
    what it runs at with one free core per thread.
    """
    import time
    from pathlib import Path

    from deepexpr.recognition import load_recognizer

    rec = load_recognizer("character", model)
    batch = (images * (1024 // max(len(images), 1) + 1))[:1024]
    rec.probs(batch[:64])  # warm-up
    wall = cpu = 0.0
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        rec.probs(batch)
        wall = max(wall, len(batch) / (time.perf_counter() - t0))
        cpu = max(cpu, len(batch) / (time.process_time() - c0))
    size = Path(rec.path).stat().st_size / 1e6 if rec.path else float("nan")
    return wall, cpu, size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="folder written by `deepexpr data realart`")
    ap.add_argument("--model", action="append", default=None,
                    help="model name or checkpoint (repeatable; default: the bundled default)")
    ap.add_argument("--grid", default=None, help="PNG grid of the first model's predictions")
    ap.add_argument("--cell", type=int, default=64, help="grid cell side in pixels")
    ap.add_argument("--columns", type=int, default=16, help="grid columns")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--speed", action="store_true",
                    help="also time batch inference (1,024 images, best of 3) and report file size")
    args = ap.parse_args()
    import torch

    from deepexpr.data.ferg import FergDataset

    torch.set_num_threads(args.threads)
    ds = FergDataset(args.data)
    print(f"bench_realart {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
          f"load {os.getloadavg()[0]:.1f}, {len(ds)} faces of {len(ds.characters)} sets")
    results = [evaluate(m, ds) for m in (args.model or [None])]
    for res in results:
        print_result(res)
    if args.speed:
        for m, res in zip(args.model or [None], results):
            wall, cpu, mb = speed(m, res["images"])
            print(f"speed {res['name']}: {wall:.0f} images/s wall, {cpu:.0f} images per "
                  f"CPU-second ({args.threads} thread(s), {res['images'][0].shape[0]} px input "
                  f"images incl. resizing), model file {mb:.2f} MB")
    if args.grid:
        write_grid(results[0], ds.labels, args.grid, args.cell, args.columns)
        print(f"\ngrid: {args.grid}")


if __name__ == "__main__":
    main()
