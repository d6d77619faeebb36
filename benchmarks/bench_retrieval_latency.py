"""Exact query latency: one embedded query against a 50,000-row index (JS ranking + Eq. 3).

Synthetic index rows (Dirichlet distributions, labels, geometry), so only the ranking is
timed: JS distances to every row, matched-label grouping, geometric re-ordering and the
per-character top-K. Support sizes: 7 (softmax choice) and D (feature choices).

    python benchmarks/bench_retrieval_latency.py [--rows 50000] [--dims 7,128,512] [--repeats 30]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from deepexpr.retrieval.embed import Embedding
from deepexpr.retrieval.index import RetrievalIndex
from deepexpr.retrieval.search import SearchConfig, search


def synthetic_index(rows: int, dim: int, rng) -> RetrievalIndex:
    feats = rng.gamma(0.3, size=(rows, dim)).astype(np.float32)
    probs = rng.dirichlet(np.full(7, 0.3), size=rows).astype(np.float32)
    return RetrievalIndex(
        features=feats, probs=probs, labels=probs.argmax(1).astype(np.int64),
        geometry=rng.normal(0.3, 0.1, size=(rows, 9)).astype(np.float32),
        paths=[f"img_{i}.png" for i in range(rows)], characters=[f"c{i % 8}" for i in range(rows)],
        model={"name": "synthetic", "sha256": ""}, classifier_weight=rng.normal(size=(7, dim)).astype(np.float32))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--dims", default="7,128,512")
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"load average: {os.getloadavg()[0]:.2f} (2 cores shared)")
    print("| support | distribution | index rows | median ms/query | p90 ms |")
    print("|---|---|---|---|---|")
    for dim in map(int, args.dims.split(",")):
        index = synthetic_index(args.rows, max(dim, 8), rng)
        method = "softmax" if dim == 7 else "evidence"
        index.js_terms(method)  # built once per index (load time), not per query
        times = []
        for _ in range(args.repeats):
            q = Embedding(rng.gamma(0.3, size=index.features.shape[1]).astype(np.float32),
                          rng.dirichlet(np.full(7, 0.3)).astype(np.float32),
                          rng.normal(0.3, 0.1, size=9).astype(np.float32),
                          classifier_weight=index.classifier_weight)
            t0 = time.perf_counter()
            search(q, index, SearchConfig(method=method, per_character=True, top=3))
            times.append(1000 * (time.perf_counter() - t0))
        print(f"| {dim if dim != 7 else 7} | {method} | {args.rows} | {np.median(times):.2f} | {np.percentile(times, 90):.2f} |")


if __name__ == "__main__":
    main()
