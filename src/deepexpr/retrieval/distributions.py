"""Penultimate (FC6-like) features -> the discrete distributions that JS divergence compares.

The paper (DeepExpr, sec. 3.2) says: "By normalizing each element of the feature vector by
the softmax weight, the FC6 feature vectors are treated as discrete probability
distributions." It leaves the exact formula open. The choices implemented here:

``"evidence"`` (our reading of the paper)
    p_i ∝ Σ_c π_c · max(0, f_i · W_{c,i}) + ε, where f is the (D,) feature vector, W the
    (7, D) weight of the model's final linear classifier and π = softmax(W f + b) the class
    probabilities. Each bin is the positive evidence feature i gives to the classes, weighted
    by how probable each class is — "each element of the feature vector normalised by the
    softmax weights". Support size D (the feature dimension).
``"weighted"``
    p_i ∝ max(0, f_i) · |W_{c*,i}| + ε with c* = argmax π: the brief's simpler reading
    (features scaled by the winning class's weights). Support size D.
``"softmax"`` (default)
    p = π: the 7 class probabilities (the paper's FC7 + softmax). Support size 7.
``"relu"``
    p_i ∝ max(0, f_i) + ε: plain normalised rectified features, no classifier involved.

No smoothing is added: JS divergence is finite with empty bins (0·log 0 = 0), and the zeros
of ReLU features let `js.js_divergence_matrix` skip them (exactly). A row with no positive
entry becomes uniform. Query and index must use the same choice; human and character
models must share the feature space (the transfer-learned character model does) for the
D-bin choices.
"""

from __future__ import annotations

import numpy as np

METHODS = ("evidence", "weighted", "softmax", "relu")
# Default "softmax", measured (benchmarks/RESULTS.md, Table 1 with the bundled character CNN):
# best Eq. 6 score both on characters unseen by model and index (0.034 vs 0.041 "evidence")
# and leave-one-character-out (0.008 vs 0.011); meaningful between ANY human and character
# model (same 7 classes), whereas the D-bin choices need a shared feature space, which
# fine-tuning all layers (the bundled transfer recipe) only approximates; 7 bins are fastest.
DEFAULT_METHOD = "softmax"


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (N, C) logits."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _finish(weights: np.ndarray) -> np.ndarray:
    """Normalise non-negative rows to sum 1 (rows without a positive entry become uniform)."""
    w = np.maximum(weights, 0.0)
    empty = ~(w.sum(axis=-1) > 0)
    w[empty] = 1.0
    return (w / w.sum(axis=-1, keepdims=True)).astype(np.float32)


def to_distribution(features: np.ndarray | None, probs: np.ndarray | None,
                    weight: np.ndarray | None = None, method: str = DEFAULT_METHOD) -> np.ndarray:
    """Turn a model's outputs into distributions for JS comparison.

    Args:
        features: (N, D) penultimate features (needed by all methods but "softmax").
        probs: (N, 7) class probabilities (needed by "evidence", "weighted", "softmax").
        weight: (7, D) final linear classifier weight (needed by "evidence", "weighted").
        method: one of `METHODS` (see the module docstring for the formulas).

    Returns:
        (N, K) float32 rows summing to 1; K = 7 for "softmax", D otherwise.

    Example:
        >>> f = np.array([[1.0, 0.0, 2.0]]); W = np.array([[1, 0, 0], [0, 0, 1.0]])
        >>> to_distribution(f, np.array([[0.2, 0.8]]), W, "weighted").round(3).tolist()
        [[0.0, 0.0, 1.0]]
    """
    if method not in METHODS:
        raise ValueError(f"unknown distribution {method!r}; choose one of {', '.join(METHODS)}")
    if method == "softmax":
        if probs is None:
            raise ValueError("the 'softmax' distribution needs class probabilities")
        return _finish(np.asarray(probs, dtype=np.float64))
    if features is None:
        raise ValueError(f"the {method!r} distribution needs penultimate features")
    f = np.atleast_2d(np.asarray(features, dtype=np.float64))
    if method == "relu":
        return _finish(f)
    if weight is None or probs is None:
        raise ValueError(f"the {method!r} distribution needs the classifier weight and probabilities;"
                         " this model has no linear classifier: use 'relu' or 'softmax'")
    w = np.asarray(weight, dtype=np.float64)
    pi = np.atleast_2d(np.asarray(probs, dtype=np.float64))
    if w.shape != (pi.shape[1], f.shape[1]):
        raise ValueError(f"classifier weight has shape {w.shape}, expected {(pi.shape[1], f.shape[1])}")
    if method == "weighted":
        return _finish(np.maximum(f, 0.0) * np.abs(w[pi.argmax(axis=1)]))
    # evidence: Σ_c π_c max(0, f_i W_ci) -> (N, D); as π·(f⁺ W⁺) + π·(f⁻ W⁻) to avoid (N, C, D).
    pos_f, neg_f = np.maximum(f, 0.0), np.minimum(f, 0.0)
    pos_w, neg_w = np.maximum(w, 0.0), np.minimum(w, 0.0)
    evidence = pos_f * (pi @ pos_w) + neg_f * (pi @ neg_w)
    return _finish(evidence)
