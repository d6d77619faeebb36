"""Calibration of class probabilities: the expected calibration error.

(Temperature scaling, which learns a parameter, is `deepexpr.train.calibrate`.)

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
