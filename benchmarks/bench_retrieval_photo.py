"""Warm photo -> matches latency: the main job's path, the drawing of the sheet excluded.

Uses the default models and the demo's cached default character index (built on first use,
as `deepexpr demo` does). Times, per repetition on skimage's astronaut photo: image read,
face pipeline, human model, ranking against the index (per-character top 3); the contact
sheet drawing is timed separately (bench_retrieval_build.py measures the index build).

    python benchmarks/bench_retrieval_photo.py [--repeats 20] [--character-model CKPT]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--character-model", default=None, help="character checkpoint (default: bundled)")
    args = ap.parse_args()

    from deepexpr.cli.demo import ensure_models, write_astronaut
    from deepexpr.retrieval import embed
    from deepexpr.retrieval.default_index import default_index
    from deepexpr.retrieval.search import SearchConfig, search
    from deepexpr.retrieval.sheet import contact_sheet

    print(f"load average: {os.getloadavg()[0]:.2f} (2 cores shared)")
    human, character = ensure_models(args.character_model)
    index, path = default_index(character)
    print(f"index: {path.name}, {len(index)} rows, feature dim {index.features.shape[1]}")
    tmp = Path(tempfile.mkdtemp())
    photo = write_astronaut(tmp)
    cfg = SearchConfig(top=3, per_character=True)
    parts = {"read image": [], "face pipeline": [], "human model": [], "ranking": [], "total photo->matches": []}
    for rep in range(args.repeats + 2):
        t0 = time.perf_counter()
        queries = embed.embed_human_photo(photo, human)  # read + faces + model, as the CLI does
        results = [search(q, index, cfg) for q in queries]
        total = time.perf_counter() - t0
        t0 = time.perf_counter()
        image = embed.read_image(photo)
        t1 = time.perf_counter()
        faces = embed.detect(image, str(photo))
        t2 = time.perf_counter()
        embed.features_and_probs(human, [np.asarray(f.aligned) for f in faces])
        t3 = time.perf_counter()
        search(queries[0], index, cfg)
        t4 = time.perf_counter()
        if rep >= 2:  # warm
            for key, value in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, total)):
                parts[key].append(value)
    t = time.perf_counter()
    contact_sheet(results, top=3)
    draw = time.perf_counter() - t
    print("| step | median ms |")
    print("|---|---|")
    for k, v in parts.items():
        print(f"| {k} | {1000 * np.median(v):.1f} |")
    print(f"| sheet drawing (excluded) | {1000 * draw:.0f} |")


if __name__ == "__main__":
    main()
