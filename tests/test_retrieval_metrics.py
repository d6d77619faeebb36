"""Eq. 6 retrieval score, Spearman/Kendall and best-rank agreement against brute force and scipy."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from deepexpr.evaluation.retrieval_metrics import (
    best_rank_agreement,
    order_agreement,
    retrieval_score,
    retrieval_scores,
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


def brute_spearman(a, b):
    """Pearson correlation of the mean ranks (ties share their mean rank), by counting."""
    def ranks(v):
        return np.array([1 + sum(w < x for w in v) + (sum(w == x for w in v) - 1) / 2 for x in v])

    ra, rb = ranks(a) - ranks(a).mean(), ranks(b) - ranks(b).mean()
    return (ra * rb).sum() / np.sqrt((ra * ra).sum() * (rb * rb).sum())


def brute_kendall_tau_b(a, b):
    """(concordant - discordant) / sqrt(pairs untied in a * pairs untied in b), by pairs."""
    pairs = list(itertools.combinations(range(len(a)), 2))
    s = sum(np.sign(a[i] - a[j]) * np.sign(b[i] - b[j]) for i, j in pairs)
    return s / np.sqrt(sum(a[i] != a[j] for i, j in pairs) * sum(b[i] != b[j] for i, j in pairs))


def test_order_agreement_matches_brute_force():
    rng = np.random.default_rng(0)
    items = list("abcdefgh")
    for _ in range(30):
        system = list(rng.permutation(items))
        rho, tau = order_agreement(items, system)
        sys_ranks = np.array([system.index(c) + 1 for c in items], dtype=float)
        ref_ranks = np.arange(1.0, 9.0)
        assert rho == pytest.approx(brute_spearman(ref_ranks, sys_ranks), abs=1e-12)
        assert tau == pytest.approx(brute_kendall_tau_b(ref_ranks, sys_ranks), abs=1e-12)
    assert all(np.isnan(order_agreement(["a"], ["a"])))


def test_brute_force_references_handle_ties():
    a, b = np.array([1.0, 2.0, 2.0, 3.0]), np.array([1.0, 3.0, 2.0, 4.0])
    assert brute_spearman(a, b) == pytest.approx(0.9486832980505138)  # hand: 3 / sqrt(10)
    assert brute_kendall_tau_b(a, b) == pytest.approx(5 / np.sqrt(5 * 6))


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
