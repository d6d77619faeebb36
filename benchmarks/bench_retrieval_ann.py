"""Approximate first stage at scale: Hellinger IVF (FAISS or NumPy) + exact JS re-ranking.

Synthetic index of N distributions (Dirichlet, K bins) drawn around 7 expression
prototypes, like a character index's class probabilities; queries drawn the same way.
Reports recall@10 against exact JS search and the speed-up over exact search.

    python benchmarks/bench_retrieval_ann.py [--rows 1000000] [--bins 7] [--queries 100]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from deepexpr.retrieval.ann import ANNConfig, HellingerIVF, has_faiss, recall_at_k
from deepexpr.retrieval.js import JSIndexTerms, js_divergence_matrix


def synthetic(n: int, bins: int, rng) -> np.ndarray:
    protos = rng.dirichlet(np.full(bins, 0.4), size=7) * 20 + 0.2
    labels = rng.integers(0, 7, size=n)
    out = np.empty((n, bins), dtype=np.float32)
    for start in range(0, n, 200_000):  # Dirichlet(α) = normalised Gamma(α, 1) draws
        g = rng.gamma(protos[labels[start:start + 200_000]])
        out[start:start + len(g)] = g / g.sum(1, keepdims=True)
    return np.maximum(out, 1e-12)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--bins", type=int, default=7)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--backends", default="faiss,numpy" if has_faiss() else "numpy")
    ap.add_argument("--nlist", type=int, default=1024)
    ap.add_argument("--nprobe", default="4,16")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"load average: {os.getloadavg()[0]:.2f} (2 cores shared); rows {args.rows}, bins {args.bins}")
    t0 = time.perf_counter()
    data, queries = synthetic(args.rows, args.bins, rng), synthetic(args.queries, args.bins, rng)
    terms = JSIndexTerms.from_distributions(data)
    print(f"data: {time.perf_counter() - t0:.1f} s")
    exact_ms, exact_rows = [], []
    for q in queries:
        t = time.perf_counter()
        d = js_divergence_matrix(q, terms)
        top = np.argpartition(d, args.k)[: args.k]
        exact_rows.append(top[np.argsort(d[top])])
        exact_ms.append(1000 * (time.perf_counter() - t))
    exact = np.median(exact_ms)
    print("| first stage | nlist | nprobe | build s | median ms/query | recall@10 | speed-up vs exact |")
    print("|---|---|---|---|---|---|---|")
    print(f"| exact JS (NumPy, float32) | - | - | - | {exact:.1f} | 1.000 | 1.0x |")
    for backend in args.backends.split(","):
        t = time.perf_counter()
        ann = HellingerIVF(ANNConfig(nlist=args.nlist, backend=backend)).fit(data)
        build = time.perf_counter() - t
        for nprobe in map(int, args.nprobe.split(",")):
            ann.config.nprobe = nprobe
            if backend == "faiss":
                ann._ivf.nprobe = nprobe
            ms, rows = [], []
            for q in queries:
                t = time.perf_counter()
                r, _ = ann.search(q, args.k)
                ms.append(1000 * (time.perf_counter() - t))
                rows.append(r[0])
            rec = recall_at_k(np.array(rows), np.array(exact_rows))
            print(f"| Hellinger IVF ({backend}) + exact JS re-rank of 100 | {args.nlist} | {nprobe} | {build:.1f} | "
                  f"{np.median(ms):.2f} | {rec:.3f} | {exact / np.median(ms):.0f}x |")
    end_to_end(data, queries, rng)


def end_to_end(data: np.ndarray, queries: np.ndarray, rng) -> None:
    """The whole `search()` (grouping, geometry, top 3 of 8 characters) exact vs `approximate`."""
    from deepexpr.retrieval.embed import Embedding
    from deepexpr.retrieval.index import RetrievalIndex
    from deepexpr.retrieval.search import SearchConfig, search

    n = len(data)
    index = RetrievalIndex(np.zeros((n, 1), np.float32), data, data.argmax(1).astype(np.int64),
                           rng.normal(0.3, 0.1, size=(n, 9)).astype(np.float32), [f"{i}.png" for i in range(n)],
                           [f"c{i % 8}" for i in range(n)], {"name": "synthetic"})
    print("\n| search() per-character top 3 | median ms/query | same overall top 3 as exact |")
    print("|---|---|---|")
    exact_top = []
    geoms = rng.normal(0.3, 0.1, size=(30, 9)).astype(np.float32)
    for approximate in (0, 2000):
        cfg = SearchConfig(method="softmax", per_character=True, top=3, approximate=approximate)
        search(Embedding(None, queries[0], None), index, cfg)  # builds the caches / the IVF once
        ms, same = [], []
        for i, q in enumerate(queries[:30]):
            t = time.perf_counter()
            res = search(Embedding(None, q, geoms[i]), index, cfg)
            ms.append(1000 * (time.perf_counter() - t))
            rows = [m.row for m in res.matches]
            if approximate == 0:
                exact_top.append(rows)
            else:
                same.append(rows == exact_top[i])
        label = "exact" if approximate == 0 else f"approximate={approximate} (Hellinger IVF candidates)"
        print(f"| {label} | {np.median(ms):.1f} | {np.mean(same) if same else 1.0:.2f} |")


if __name__ == "__main__":
    main()
