"""Approximate first stage (Hellinger IVF + exact JS re-ranking) against exact search."""

from __future__ import annotations

import numpy as np
import pytest

from deepexpr.retrieval.ann import ANNConfig, HellingerIVF, has_faiss, recall_at_k
from deepexpr.retrieval.js import js_divergence_matrix

BACKENDS = ["numpy"] + (["faiss"] if has_faiss() else [])


@pytest.mark.parametrize("backend", BACKENDS)
def test_ivf_recall_against_exact(backend):
    rng = np.random.default_rng(0)
    data = rng.dirichlet(np.full(7, 0.5), size=4000)
    queries = rng.dirichlet(np.full(7, 0.5), size=20)
    exact = np.argsort(js_divergence_matrix(queries, data), axis=1)[:, :10]
    ann = HellingerIVF(ANNConfig(nlist=32, nprobe=8, candidates=50, backend=backend)).fit(data)
    assert ann.backend_ == backend
    rows, divs = ann.search(queries, k=10)
    assert rows.shape == (20, 10) and (np.diff(divs, axis=1) >= -1e-7).all()
    assert recall_at_k(rows, exact) >= 0.9
    full = HellingerIVF(ANNConfig(nlist=4, nprobe=4, candidates=4000, backend=backend)).fit(data)
    assert recall_at_k(full.search(queries, k=10)[0], exact) == 1.0  # all cells, all rows: exact
