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


def test_search_with_approximate_first_stage_matches_exact():
    from deepexpr.retrieval.embed import Embedding
    from deepexpr.retrieval.index import RetrievalIndex
    from deepexpr.retrieval.search import SearchConfig, search

    rng = np.random.default_rng(1)
    n = 3000
    probs = rng.dirichlet(np.full(7, 0.3), size=n).astype(np.float32)
    index = RetrievalIndex(np.zeros((n, 4), np.float32), probs, probs.argmax(1), rng.random((n, 9)).astype(np.float32),
                           [f"{i}.png" for i in range(n)], [f"c{i % 3}" for i in range(n)], {"name": "x"})
    q = Embedding(None, probs[5], index.geometry[5])
    exact = search(q, index, SearchConfig(top=5, per_character=True, order_by="js"))
    approx = search(q, index, SearchConfig(top=5, per_character=True, order_by="js", approximate=600))
    assert [m.row for m in approx.matches] == [m.row for m in exact.matches]
    combined = search(q, index, SearchConfig(top=3, approximate=600))
    assert combined.matches[0].row == 5 and all(np.isfinite(m.js) for m in combined.matches)
