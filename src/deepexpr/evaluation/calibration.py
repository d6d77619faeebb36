"""Calibration of class probabilities: expected calibration error and temperature scaling.

Convention (Guo et al. 2017, "On calibration of modern neural networks"): split the
samples into `bins` equal-width bins of top-1 confidence over (0, 1] (a confidence c
falls in bin ceil(c * bins) - 1; c = 0 in bin 0); ECE = sum over bins of
(bin size / N) * |accuracy in bin - mean confidence in bin|. Empty bins add nothing.
"""

from __future__ import annotations

import numpy as np


def expected_calibration_error(probs, labels, bins: int = 15) -> float:
    """Expected calibration error of top-1 predictions (module docstring).

    Args:
        probs: (N, C) class probabilities (rows sum to 1).
        labels: (N,) true class indices.
        bins: number of equal-width confidence bins.

    Returns:
        ECE in [0, 1] (0 for N = 0).

    Example:
        >>> expected_calibration_error(np.array([[0.9, 0.1]]), np.array([0]))  # doctest: +ELLIPSIS
        0.09999...
    """
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels)
    if probs.ndim != 2 or labels.shape != (probs.shape[0],):
        raise ValueError(f"expected probs (N, C) and labels (N,), got {probs.shape} and {labels.shape}")
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    n = len(labels)
    if n == 0:
        return 0.0
    conf = probs.max(1)
    correct = (probs.argmax(1) == labels).astype(np.float64)
    which = np.clip(np.ceil(conf * bins).astype(np.int64) - 1, 0, bins - 1)
    acc_sum = np.bincount(which, weights=correct, minlength=bins)
    conf_sum = np.bincount(which, weights=conf, minlength=bins)
    return float(np.abs(acc_sum - conf_sum).sum() / n)


def softmax(logits, temperature: float = 1.0) -> np.ndarray:
    """Row softmax of (N, C) logits divided by `temperature`."""
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def nll(logits, labels, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of `labels` under softmax(logits / temperature)."""
    p = softmax(logits, temperature)
    return float(-np.log(np.clip(p[np.arange(len(labels)), np.asarray(labels)], 1e-12, None)).mean())


def fit_temperature(logits, labels, low: float = 0.05, high: float = 20.0) -> float:
    """The temperature T > 0 minimising the NLL of softmax(logits / T) (temperature scaling).

    A golden-section search over log T (the NLL is unimodal in T); fit it on held-out
    data of the training sources, never on a test set.
    """
    a, b = np.log(low), np.log(high)
    g = (np.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = nll(logits, labels, np.exp(c)), nll(logits, labels, np.exp(d))
    for _ in range(80):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = nll(logits, labels, np.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = nll(logits, labels, np.exp(d))
    return float(np.exp((a + b) / 2))
