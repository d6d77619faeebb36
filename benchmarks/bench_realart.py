"""Accuracy of character models on the never-trained real-art validation set.

Builds nothing: give it the set written by `deepexpr data realart --out DIR`. Prints, per
model, accuracy, mean class accuracy, per-class and per-icon-set accuracy, the confusion
matrix (rows: true class, columns: predicted) and the expected calibration error, and
writes a labelled grid of right (green) and wrong (red) predictions of the first model.

    python benchmarks/bench_realart.py --data data/realart
    python benchmarks/bench_realart.py --data data/realart --model character_cnn \
        --model character_transfer --model runs/x/model.safetensors --grid docs/realart_predictions.png
    python benchmarks/bench_realart.py --data data/realart --crop whole --crop face   # cropping helps?

`--crop face` reads each image as `recognize --domain character` and `predict_emotion` do:
the first stylized face the detector finds, on its crop, else the whole image. Each model's
answers are also split by their calibrated top probability (accuracy above / below each
threshold: what `recognition.MIN_CONFIDENCE` flags).
"""

from __future__ import annotations

import argparse
import datetime
import os

import numpy as np


def read_items(ds, crop: str, detector: str | None = None) -> tuple[list, int]:
    """(what the model reads per image, images where a stylized face was found).

    `crop` "face": the first item `recognition.character_items` gives (what `predict_emotion`
    reads). `detector`: stylized-face weights other than the bundled ones (a file or run),
    swapped in for the same code path."""
    import functools

    from deepexpr import stylized
    from deepexpr.recognition import character_items

    images = [ds[i].image for i in range(len(ds))]
    if crop == "whole":
        return images, 0
    if detector is not None:
        cfg = stylized.StylizedConfig(model=detector)
        stylized.detect_stylized_faces = functools.partial(stylized.detect_stylized_faces, cfg=cfg)
        stylized.stylized_available = lambda ref=None: True
    picked = [character_items(im, crop_faces=True)[0] for im in images]
    return [c for _, c, _ in picked], sum(src != "whole image" for _, _, src in picked)


def by_confidence(probs: np.ndarray, labels: np.ndarray, thresholds=(0.3, 0.4, 0.5, 0.6, 0.7)) -> list[dict]:
    """Per threshold: share of answers flagged (top p below it), accuracy of kept / flagged."""
    top, right = probs.max(1), probs.argmax(1) == labels
    rows = []
    for t in thresholds:
        low = top < t
        rows.append({"threshold": t, "flagged": float(low.mean()),
                     "acc_kept": float(right[~low].mean()) if (~low).any() else float("nan"),
                     "acc_flagged": float(right[low].mean()) if low.any() else float("nan")})
    return rows


def evaluate(model: str | None, ds, images: list) -> dict:
    """Predictions of one model on a `FergDataset` (`images`: what it reads per item)."""
    from deepexpr.evaluation.calibration import expected_calibration_error
    from deepexpr.evaluation.classification import summarize
    from deepexpr.recognition import load_recognizer

    rec = load_recognizer("character", model)
    probs = rec.probs(images)
    pred = probs.argmax(1)
    summary = summarize(ds.labels, pred)
    summary["ece"] = expected_calibration_error(probs, ds.labels)
    summary["by_confidence"] = by_confidence(probs, np.asarray(ds.labels))
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
    print("by top probability: " + "; ".join(
        f"p<{r['threshold']:.1f}: {100 * r['flagged']:.0f}% flagged, right {100 * r['acc_kept']:.0f}% kept / "
        f"{100 * r['acc_flagged']:.0f}% flagged" for r in s["by_confidence"]))


def write_grid(res: dict, labels: np.ndarray, path: str, cell: int = 64, cols: int = 16) -> None:
    """Every image with its prediction and calibrated top probability ("?": below
    `recognition.MIN_CONFIDENCE`); a green frame if right, red if wrong (wrong first)."""
    from PIL import Image, ImageDraw

    from deepexpr.expressions import EXPRESSIONS
    from deepexpr.io import save_image
    from deepexpr.recognition import MIN_CONFIDENCE

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
        # true label; then the answer (3 letters), its calibrated probability, "?" when it
        # would be shown as uncertain (recognition.MIN_CONFIDENCE)
        top = float(res["probs"][i].max())
        draw.text((x + 2, y + cell), EXPRESSIONS[labels[i]][:8], fill="black")
        draw.text((x + 2, y + cell + 10), f">{EXPRESSIONS[pred[i]][:3]} {top:.2f}".replace("0.", ".")
                  + ("?" if top < MIN_CONFIDENCE else ""), fill=(0, 110, 0) if ok else (200, 0, 0))
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
    ap.add_argument("--crop", action="append", choices=("whole", "face"), default=None,
                    help="what is read: the whole image, or the first detected stylized face's crop "
                         "(repeatable; default: whole)")
    ap.add_argument("--detector", default=None,
                    help="--crop face: stylized-face weights (file or run; default: the bundled ones)")
    ap.add_argument("--speed", action="store_true",
                    help="also time batch inference (1,024 images, best of 3) and report file size")
    args = ap.parse_args()
    import torch

    from deepexpr.data.ferg import FergDataset

    torch.set_num_threads(args.threads)
    ds = FergDataset(args.data)
    print(f"bench_realart {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
          f"load {os.getloadavg()[0]:.1f}, {len(ds)} faces of {len(ds.characters)} sets")
    results = []
    for crop in args.crop or ["whole"]:
        items, found = read_items(ds, crop, args.detector)
        if crop == "face":
            print(f"\ncrop face: a stylized face found in {found} of {len(ds)} images "
                  f"(read: its crop, or the whole image for a portrait or when none is found)")
        for m in args.model or [None]:
            res = evaluate(m, ds, items)
            res["name"] += f" [{crop}]"
            print_result(res)
            results.append(res)
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
