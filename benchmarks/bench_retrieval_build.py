"""Index build rate against the character model's batch inference rate, same run, same images.

Build = scan + PNG decoding (in a thread, overlapping the model) + model + geometry +
assembling; inference = the model alone on images already in memory, batches of 64.

    python benchmarks/bench_retrieval_build.py [--data DIR] [--images 1000] [--model CKPT]
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=None, help="FERG-layout folder (default: the demo's cached render)")
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--model", default=None, help="character model checkpoint (default: the bundled one)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: fair on a shared machine)")
    args = ap.parse_args()

    import torch

    from deepexpr.io import read_image
    from deepexpr.retrieval.embed import features_and_probs, load_recognizer_for
    from deepexpr.retrieval.index import build_index, scan_images

    torch.set_num_threads(args.threads)
    if args.data is None:
        from deepexpr.characters.export import RENDERER_VERSION
        from deepexpr.io import cache_dir

        args.data = str(cache_dir() / "data" / f"characters-all-40x128-s0-r{RENDERER_VERSION}")
    print(f"load average: {os.getloadavg()[0]:.2f} (2 cores shared); torch threads {args.threads}")
    model = load_recognizer_for("character", args.model)
    recs = scan_images(args.data)[: args.images]
    images = [read_image(r.path) for r in recs]
    features_and_probs(model, images[:64])  # warm-up
    t, c = time.perf_counter(), time.process_time()
    for s in range(0, len(images), 64):
        features_and_probs(model, images[s:s + 64])
    infer, infer_cpu = (len(images) / (time.perf_counter() - t), len(images) / (time.process_time() - c))
    t, c = time.perf_counter(), time.process_time()
    index, _ = build_index(args.data, model, records=recs, show_progress=False)
    build, build_cpu = len(index) / (time.perf_counter() - t), len(index) / (time.process_time() - c)
    print("| images | inference img/s (wall) | build img/s (wall) | build / inference (wall) | "
          "inference img/CPU-s | build img/CPU-s | build / inference (CPU) |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {len(index)} | {infer:.0f} | {build:.0f} | {build / infer:.2f} | {infer_cpu:.0f} | "
          f"{build_cpu:.0f} | {build_cpu / infer_cpu:.2f} |")

if __name__ == "__main__":
    main()
