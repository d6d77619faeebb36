"""Exact query latency: one embedded query against a 50,000-row index (JS ranking + Eq. 3).

Synthetic index rows (Dirichlet distributions, labels, geometry), so only the ranking is
timed: JS distances to every row, matched-label grouping, geometric re-ordering and the
per-character top-K. Support sizes: 7 (softmax choice) and D (feature choices). CPU time
(process_time) is reported beside wall time: on the shared machine the wall time includes
waiting for a core.

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


def relu_like(shape, zeros: float, rng) -> np.ndarray:
    """Non-negative features with a share `zeros` of exact zeros (ReLU output)."""
    return (rng.gamma(0.3, size=shape) * (rng.random(shape) >= zeros)).astype(np.float32)


def synthetic_index(rows: int, dim: int, rng, zeros: float = 0.0) -> RetrievalIndex:
    feats = relu_like((rows, dim), zeros, rng)
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
    ap.add_argument("--zeros", default="0,0.9",
                    help="shares of zero features to test (0.9 = measured on a trained cnn_small's FC6)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"load average: {os.getloadavg()[0]:.2f} (2 cores shared)")
    print("| support | distribution | zero features | index rows | median ms/query (wall) | p90 wall | "
          "median CPU ms/query |")
    print("|---|---|---|---|---|---|---|")
    cases = [(d, z) for d in map(int, args.dims.split(",")) for z in map(float, args.zeros.split(","))
             if d > 7 or z == 0]
    for dim, zeros in cases:
        index = synthetic_index(args.rows, max(dim, 8), rng, zeros)
        method = "softmax" if dim == 7 else "evidence"
        index.js_terms(method)  # built once per index (load time), not per query
        times, cpu = [], []
        for _ in range(args.repeats):
            q = Embedding(relu_like(index.features.shape[1], zeros, rng),
                          rng.dirichlet(np.full(7, 0.3)).astype(np.float32),
                          rng.normal(0.3, 0.1, size=9).astype(np.float32),
                          classifier_weight=index.classifier_weight)
            t0, c0 = time.perf_counter(), time.process_time()
            search(q, index, SearchConfig(method=method, per_character=True, top=3))
            times.append(1000 * (time.perf_counter() - t0))
            cpu.append(1000 * (time.process_time() - c0))
        print(f"| {dim} | {method} | {zeros:.0%} | {args.rows} | {np.median(times):.2f} | "
              f"{np.percentile(times, 90):.2f} | {np.median(cpu):.2f} |")


if __name__ == "__main__":
    main()
