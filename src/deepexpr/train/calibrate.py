"""Temperature scaling (Guo et al. 2017): one scalar T so softmax(logits / T) is calibrated.

Fitted on the validation part of the training sources (never on a test set) and stored
in the checkpoint's JSON config as "temperature"; `deepexpr.recognition` divides the
logits by it. T > 1 softens over-confident probabilities; the argmax, hence accuracy,
does not change.
"""

from __future__ import annotations

import numpy as np


def softmax(logits, temperature: float = 1.0) -> np.ndarray:
    """Row softmax of (N, C) logits divided by `temperature`."""
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def nll(logits, labels, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of `labels` (N,) under softmax(logits / temperature)."""
    p = softmax(logits, temperature)
    return float(-np.log(np.clip(p[np.arange(len(labels)), np.asarray(labels)], 1e-12, None)).mean())


def fit_temperature(logits, labels, low: float = 0.05, high: float = 20.0) -> float:
    """The T in [low, high] minimising the NLL of softmax(logits / T).

    A golden-section search over log T (the NLL is convex in 1/T, so unimodal in log T).

    Args:
        logits: (N, C) model outputs before the softmax.
        labels: (N,) true class indices.
    """
    a, b = np.log(low), np.log(high)
    g = (np.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = nll(logits, labels, np.exp(c)), nll(logits, labels, np.exp(d))
    for _ in range(60):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = nll(logits, labels, np.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = nll(logits, labels, np.exp(d))
    return float(np.exp((a + b) / 2))


def checkpoint_temperature(model, val_table, preprocess: dict, channels_last: bool = False) -> float | None:
    """Fit T on a validation `ImageTable` (None when it is empty)."""
    if val_table is None or len(val_table) == 0:
        return None
    from deepexpr.train.loop import predict_logits

    logits = predict_logits(model, val_table, preprocess, channels_last=channels_last)
    return round(fit_temperature(logits, val_table.labels), 4)
