"""Approximate first stage for large indexes: Hellinger IVF, then exact JS re-ranking.

For distributions p, q the vectors √p, √q have ‖√p − √q‖² = 2·H²(p, q), the (squared)
Hellinger distance, which bounds JS from both sides (H² ≤ JSD·c ≤ ...; both are
f-divergences), so L2 neighbours of √p are JS neighbours up to a few swaps. An inverted
file (k-means cells over √p) narrows the search to `nprobe` cells; the best `candidates`
rows by Hellinger are then re-ranked by exact JS divergence.

Backends: FAISS `IndexIVFFlat` when the optional extra is installed
(`pip install -e ".[ann]"`, faiss-cpu), else the same inverted file in NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deepexpr.retrieval.js import JSIndexTerms, js_divergence_matrix


@dataclass
class ANNConfig:
    """Settings of the approximate first stage."""

    nlist: int = 1024  # k-means cells (≈ √N to 4√N is the usual range)
    nprobe: int = 16  # cells visited per query
    candidates: int = 100  # rows re-ranked by exact JS per query (≥ k)
    train_size: int = 50_000  # rows used to fit the cells
    kmeans_iters: int = 10  # Lloyd iterations (NumPy backend)
    backend: str = "auto"  # "faiss", "numpy" or "auto" (faiss when importable)
    seed: int = 0  # k-means initialisation


def has_faiss() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


class HellingerIVF:
    """Approximate JS search: `fit(dists)`, then `search(queries, k)`.

    Attributes (after fit):
        terms_: JSIndexTerms of the indexed distributions (for exact re-ranking).
        backend_: "faiss" or "numpy".
    """

    def __init__(self, config: ANNConfig | None = None):
        self.config = config or ANNConfig()

    def fit(self, dists: np.ndarray) -> HellingerIVF:
        """Index (N, K) distributions."""
        cfg = self.config
        self.terms_ = JSIndexTerms.from_distributions(dists)
        roots = np.sqrt(self.terms_.dists)
        self.backend_ = "faiss" if cfg.backend == "faiss" or (cfg.backend == "auto" and has_faiss()) else "numpy"
        nlist = max(1, min(cfg.nlist, len(roots) // 39))  # faiss wants ≥ 39 points per cell
        rng = np.random.default_rng(cfg.seed)
        train = roots[rng.choice(len(roots), size=min(cfg.train_size, len(roots)), replace=False)]
        if self.backend_ == "faiss":
            import faiss

            quantizer = faiss.IndexFlatL2(roots.shape[1])
            self._ivf = faiss.IndexIVFFlat(quantizer, roots.shape[1], nlist)
            self._ivf.cp.seed = cfg.seed
            self._ivf.train(train)
            self._ivf.add(roots)
            self._ivf.nprobe = cfg.nprobe
        else:
            self._centroids = _kmeans(train, nlist, cfg.kmeans_iters, rng)
            assign = _nearest(roots, self._centroids)
            order = np.argsort(assign, kind="stable")
            self._lists_rows = order
            self._lists_start = np.searchsorted(assign[order], np.arange(nlist + 1))
            self._roots = roots
        return self

    def search(self, queries: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest rows by JS divergence among the Hellinger candidates.

        Args:
            queries: (Q, K) or (K,) distributions.
            k: rows returned per query.

        Returns:
            (rows (Q, k) int64, divergences (Q, k) float32); -1 / inf pad short lists.
        """
        q = np.atleast_2d(np.asarray(queries, dtype=np.float64))
        q = q / q.sum(1, keepdims=True)
        roots = np.sqrt(q).astype(np.float32)
        n_cand = max(k, self.config.candidates)
        cand = self._candidates(roots, n_cand)
        rows = np.full((len(q), k), -1, dtype=np.int64)
        divs = np.full((len(q), k), np.inf, dtype=np.float32)
        for i in range(len(q)):
            c = cand[i][cand[i] >= 0]
            if len(c) == 0:
                continue
            d = js_divergence_matrix(q[i], self.terms_, rows=c)
            best = np.argsort(d, kind="stable")[:k]
            rows[i, : len(best)], divs[i, : len(best)] = c[best], d[best]
        return rows, divs

    def _candidates(self, roots: np.ndarray, n: int) -> np.ndarray:
        if self.backend_ == "faiss":
            return self._ivf.search(roots, n)[1]
        out = np.full((len(roots), n), -1, dtype=np.int64)
        cells = np.argsort(_sq_dist(roots, self._centroids), axis=1)[:, : self.config.nprobe]
        for i, cs in enumerate(cells):
            rows = np.concatenate([self._lists_rows[self._lists_start[c]:self._lists_start[c + 1]] for c in cs])
            if len(rows) == 0:
                continue
            diff = self._roots[rows] - roots[i]
            d = np.einsum("ij,ij->i", diff, diff)
            top = np.argpartition(d, n - 1)[:n] if len(d) > n else np.arange(len(d))
            top = top[np.argsort(d[top], kind="stable")]
            out[i, : len(top)] = rows[top]
        return out


def _sq_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) squared L2 distances."""
    return (a * a).sum(1)[:, None] - 2 * a @ b.T + (b * b).sum(1)[None, :]


def _nearest(x: np.ndarray, centroids: np.ndarray, chunk: int = 65536) -> np.ndarray:
    return np.concatenate([_sq_dist(x[s:s + chunk], centroids).argmin(1) for s in range(0, len(x), chunk)])


def _kmeans(x: np.ndarray, k: int, iters: int, rng) -> np.ndarray:
    """Plain Lloyd k-means (empty cells re-seeded from random points)."""
    centroids = x[rng.choice(len(x), size=k, replace=False)].copy()
    for _ in range(iters):
        assign = _nearest(x, centroids)
        sums = np.zeros_like(centroids)
        np.add.at(sums, assign, x)
        counts = np.bincount(assign, minlength=k)
        empty = counts == 0
        centroids[~empty] = sums[~empty] / counts[~empty, None]
        centroids[empty] = x[rng.choice(len(x), size=int(empty.sum()))]
    return centroids.astype(np.float32)


def recall_at_k(approx_rows: np.ndarray, exact_rows: np.ndarray) -> float:
    """Mean fraction of the exact top-k rows found in the approximate top-k."""
    hits = [len(set(a[a >= 0]) & set(e)) / len(e) for a, e in zip(approx_rows, exact_rows)]
    return float(np.mean(hits))
