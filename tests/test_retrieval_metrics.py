"""Eq. 6 retrieval score, Spearman/Kendall and best-rank agreement against brute force and scipy."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from deepexpr.evaluation.retrieval_metrics import (
    average_ranks,
    best_rank_agreement,
    kendall_tau,
    order_agreement,
    retrieval_score,
    retrieval_scores,
    spearman_rho,
)


def brute_eq6(relevant):
    n, n_rel = len(relevant), sum(relevant)
    ranks = [k + 1 for k, r in enumerate(relevant) if r]
    return (sum(ranks) - n_rel * (n_rel + 1) / 2) / (n * n_rel)


def test_eq6_on_hand_made_rankings():
    assert retrieval_score([1, 1, 0, 0, 0]) == 0.0  # all relevant first: best
    assert retrieval_score([0, 0, 0, 1, 1]) == pytest.approx((4 + 5 - 3) / 10)  # all last: (N-Nrel)/N
    assert retrieval_score([1, 0, 1, 0]) == pytest.approx((1 + 3 - 3) / 8)
    assert np.isnan(retrieval_score([0, 0, 0]))
    for bits in itertools.product([0, 1], repeat=6):
        if 0 < sum(bits) < 6:
            assert retrieval_score(np.array(bits, bool)) == pytest.approx(brute_eq6(bits))


def test_eq6_from_distances_and_exclusions():
    d = np.array([[0.1, 0.5, 0.2, 0.9], [0.9, 0.1, 0.2, 0.3]])
    index_labels = np.array([0, 1, 0, 1])
    s = retrieval_scores(d, np.array([0, 0]), index_labels)
    assert s[0] == 0.0
    assert s[1] == pytest.approx(brute_eq6([0, 1, 0, 1]))
    valid = np.array([[False, True, True, True], [True, True, True, True]])
    assert retrieval_scores(d, np.array([0, 0]), index_labels, valid)[0] == 0.0


def test_spearman_kendall_match_scipy():
    rng = np.random.default_rng(0)
    for _ in range(30):
        a = rng.integers(0, 5, size=8).astype(float)  # ties included
        b = rng.permutation(8).astype(float)
        assert spearman_rho(a, b) == pytest.approx(stats.spearmanr(a, b).statistic, abs=1e-12)
        assert kendall_tau(a, b) == pytest.approx(stats.kendalltau(a, b).statistic, abs=1e-12)
    assert np.allclose(average_ranks([3, 1, 3, 2]), stats.rankdata([3, 1, 3, 2]))
    assert spearman_rho([1, 2, 3], [3, 2, 1]) == pytest.approx(-1)


def test_order_agreement_and_best_rank():
    rho, tau = order_agreement(["a", "b", "c", "d", "e"], ["a", "b", "c", "d", "e"])
    assert rho == pytest.approx(1) and tau == pytest.approx(1)
    rho, tau = order_agreement(["a", "b", "c"], ["c", "b", "a"])
    assert rho == pytest.approx(-1) and tau == pytest.approx(-1)
    with pytest.raises(ValueError):
        order_agreement(["a", "b"], ["a", "c"])
    agree = best_rank_agreement([["a", "b", "c"], ["x", "y", "z"]], [["a", "c", "b"], ["z", "y", "x"]])
    assert agree["top1"] == 0.5
    assert agree["best_rank_score"] == pytest.approx((1.0 + 0.0) / 2)
