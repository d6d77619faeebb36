"""Metrics of the rig estimator, as plain NumPy functions.

Conventions: `pred` and `true` are (N, K) arrays of the same controls (rows = images);
Pearson r of a column with no variance (in either array) is 0, not NaN.
"""

from __future__ import annotations

import numpy as np


def mae_per_column(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """(K,) mean absolute error of each column of (N, K) arrays."""
    pred, true = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    if pred.shape != true.shape or pred.ndim != 2:
        raise ValueError(f"pred {pred.shape} and true {true.shape} must be the same (N, K)")
    return np.abs(pred - true).mean(0)


def pearson_per_column(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """(K,) Pearson correlation of each column of (N, K) arrays (0 for a constant column)."""
    pred, true = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    if pred.shape != true.shape or pred.ndim != 2:
        raise ValueError(f"pred {pred.shape} and true {true.shape} must be the same (N, K)")
    a, b = pred - pred.mean(0), true - true.mean(0)
    den = np.sqrt((a * a).sum(0) * (b * b).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a * b).sum(0) / den
    return np.where(den > 0, r, 0.0)


def agreement(labels_a, labels_b) -> float:
    """Share of positions where two label sequences agree (0..1; 0 for empty input)."""
    a, b = list(labels_a), list(labels_b)
    if len(a) != len(b):
        raise ValueError(f"label sequences differ in length: {len(a)} vs {len(b)}")
    return float(np.mean([x == y for x, y in zip(a, b)])) if a else 0.0
