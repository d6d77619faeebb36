"""Retrieval and rank-agreement metrics of DeepExpr (sec. 5.2), as plain NumPy functions.

Conventions:
  * Ranks are 1-based (the best item has rank 1).
  * Eq. 6, the average normalised rank of the relevant items (Müller et al.):
        score(q) = 1 / (N · N_rel) · (Σ_k R_k − N_rel (N_rel + 1) / 2)
    The paper prints the factor as 1 / (1 − N·N_rel), a typo: that would be negative. With
    1 / (N · N_rel) the score is 0 when all relevant items come first and (N − N_rel) / N
    when they all come last; a random order gives about 0.5·(N − N_rel)/N.
  * Spearman ρ = Pearson correlation of average ranks (ties share their mean rank);
    Kendall τ is τ-b (tie-corrected) — both as `scipy.stats.spearmanr` / `kendalltau`.
"""

from __future__ import annotations

import numpy as np


def retrieval_score(relevant_in_order: np.ndarray) -> float:
    """Eq. 6 for one query.

    Args:
        relevant_in_order: (N,) booleans, the database in ranked order (best first),
            True where the item is relevant (same expression label as the query).

    Returns:
        The score in [0, 1); 0 is best. NaN when nothing (or everything) is relevant.

    Example:
        >>> retrieval_score(np.array([True, True, False, False]))
        0.0
        >>> retrieval_score(np.array([False, False, True, True]))
        0.5
    """
    rel = np.asarray(relevant_in_order, dtype=bool)
    n, n_rel = rel.size, int(rel.sum())
    if n_rel == 0 or n_rel == n:
        return float("nan")
    ranks = np.flatnonzero(rel) + 1
    return float((ranks.sum() - n_rel * (n_rel + 1) / 2) / (n * n_rel))


def retrieval_scores(distances: np.ndarray, query_labels: np.ndarray, index_labels: np.ndarray,
                     valid: np.ndarray | None = None) -> np.ndarray:
    """Eq. 6 for many queries from their distances to the database (smaller = better).

    Ties in distance are broken by database order (a stable sort), as a ranked list would.

    Args:
        distances: (Q, N) distance of each query to each database item.
        query_labels: (Q,) label of each query.
        index_labels: (N,) label of each database item.
        valid: optional (Q, N) booleans; False items are left out of that query's database
            (e.g. the query's own character, for held-out-character evaluation).

    Returns:
        (Q,) scores.
    """
    d = np.asarray(distances)
    out = np.empty(len(d))
    for i, row in enumerate(d):
        labels = index_labels
        if valid is not None:
            keep = np.asarray(valid[i], dtype=bool)
            row, labels = row[keep], labels[keep]
        order = np.argsort(row, kind="stable")
        out[i] = retrieval_score(labels[order] == query_labels[i])
    return out


def best_rank_agreement(reference_orders: list, system_orders: list) -> dict:
    """How well a system agrees with a reference (expert, crowd) on the best match.

    The paper reports a "best rank correlation" without defining it; we report two
    well-defined figures instead:
      * ``top1``: fraction of queries where both put the same candidate first;
      * ``best_rank_score``: mean over queries of 1 − (r − 1)/(n − 1), r = the rank the system
        gives to the reference's first choice among n candidates (1 = also first, 0 = last).

    Args:
        reference_orders: per query, the candidates in the reference's order (best first).
        system_orders: per query, the same candidates in the system's order.
    """
    top1, score = [], []
    for ref, sys_ in zip(reference_orders, system_orders):
        ref, sys_ = list(ref), list(sys_)
        top1.append(ref[0] == sys_[0])
        r = sys_.index(ref[0]) + 1
        score.append(1.0 - (r - 1) / max(len(sys_) - 1, 1))
    return {"top1": float(np.mean(top1)) if top1 else float("nan"),
            "best_rank_score": float(np.mean(score)) if score else float("nan")}


def order_agreement(reference_order: list, system_order: list) -> tuple[float, float]:
    """Spearman ρ and Kendall τ-b between two orderings of the same candidates (scipy.stats;
    NaN for fewer than two candidates)."""
    ref = list(reference_order)
    if sorted(map(str, ref)) != sorted(map(str, system_order)):
        raise ValueError("the two orderings must rank the same candidates")
    if len(ref) < 2:
        return float("nan"), float("nan")
    from scipy import stats

    pos = {c: i for i, c in enumerate(system_order)}
    ref_ranks = np.arange(1, len(ref) + 1)
    sys_ranks = np.array([pos[c] + 1 for c in ref])
    return (float(stats.spearmanr(ref_ranks, sys_ranks).statistic),
            float(stats.kendalltau(ref_ranks, sys_ranks).statistic))  # tau-b
