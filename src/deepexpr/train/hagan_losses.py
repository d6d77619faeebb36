"""The HA-GAN losses of Eqs. 3-5 as plain functions on logits (every tensor float32).

- G (Eq. 3, non-saturating): maximise log D^R(G(x)) and log D^e_E(G(x)) -> minimise
  BCE(D^R(G(x)), real) + CE(D^e(G(x)), E).
- G (Eq. 4): L1 between G(x) and the neutral image of the target character.
- D (Eq. 5): D^e classifies real character images of expression E; D^R tells real character
  images from G's images. The whole objective is divided by two (lowers D's learning rate
  relative to G's, as the paper does).
The terms of ours (matched L1, the encoder's expression and rig heads, D^e on G's images as
an AC-GAN's auxiliary classifier) are described in `deepexpr.train.hagan`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def generator_adversarial_loss(fake_real_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating G loss of Eq. 3: -log D^R(G(x)), mean over the batch.

    Args:
        fake_real_logits: (N,) D^R logits on generated images.
    """
    return F.binary_cross_entropy_with_logits(fake_real_logits, torch.ones_like(fake_real_logits))


def expression_loss(expr_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """-log D^e_E(image): cross-entropy of (N, K) logits against (N,) class indices."""
    return F.cross_entropy(expr_logits, labels)


def neutral_l1_loss(generated: torch.Tensor, neutral: torch.Tensor) -> torch.Tensor:
    """Eq. 4: mean |I_AN - G(x)| over pixels, both (N, C, S, S) in the same range."""
    return (generated - neutral).abs().mean()


def feature_weighted_l1(generated: torch.Tensor, target: torch.Tensor, neutral: torch.Tensor,
                        gain: float = 0.0) -> torch.Tensor:
    """L1 that counts the pixels where the target differs from the neutral face `gain` times more.

    w = 1 + gain * mean_c |target - neutral| (per pixel); loss = sum(w |generated - target|) /
    sum(w) / C. Expression features (mouth, brows, lids) cover few pixels, so a plain L1 is
    small for a drawing that leaves them faint; gain 0 is the plain L1. All (N, C, S, S).
    """
    if gain <= 0:
        return neutral_l1_loss(generated, target)
    w = 1.0 + gain * (target - neutral).abs().mean(1, keepdim=True)
    return ((generated - target).abs() * w).sum() / (w.sum() * generated.shape[1])


def landmark_weights(landmarks: torch.Tensor, size: int, gain: float, sigma: float = 1.5) -> torch.Tensor:
    """Per-pixel weights that count the face's features `gain` times more: (N, 1, S, S).

    w = 1 + gain * max_k exp(-|p - l_k|^2 / (2 sigma^2)) over the landmarks l_k (brows, eyes,
    nose, mouth: where the expression is drawn). Pass the target's landmarks and the
    neutral face's together (N, K, 2), so erasing a feature where it was counts as much as
    drawing it where it goes.

    Args:
        landmarks: (N, K, 2) pixel coordinates (x, y) in an S x S image.
        size: S. gain: 0 gives all ones. sigma: the blob radius in pixels.
    """
    if landmarks.ndim != 3 or landmarks.shape[-1] != 2:
        raise ValueError(f"landmarks must be (N, K, 2), got {tuple(landmarks.shape)}")
    axis = torch.arange(size, dtype=torch.float32) + 0.5  # pixel centres
    dx = axis.view(1, 1, 1, size) - landmarks[..., 0].float().view(*landmarks.shape[:2], 1, 1)
    dy = axis.view(1, 1, size, 1) - landmarks[..., 1].float().view(*landmarks.shape[:2], 1, 1)
    # max_k exp(-d_k^2 / 2s^2) = exp(-min_k d_k^2 / 2s^2): one exp per pixel, not one per landmark
    blobs = torch.exp(-(dx * dx + dy * dy).amin(1, keepdim=True) / (2.0 * sigma * sigma))
    return 1.0 + gain * blobs


def weighted_l1(generated: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """sum(w |generated - target|) / (sum(w) C): (N, C, S, S) images, (N, 1, S, S) weights."""
    return ((generated - target).abs() * weights).sum() / (weights.sum() * generated.shape[1])


def rig_loss(predicted: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error between (N, R) predicted and true normalised rig vectors; with (R,)
    `weights` each control's squared error counts that many times (mean over N x R, so all
    ones is the plain MSE)."""
    if predicted.shape != target.shape:
        raise ValueError(f"rig shapes differ: {tuple(predicted.shape)} vs {tuple(target.shape)}")
    if weights is None:
        return F.mse_loss(predicted, target)
    if weights.shape != predicted.shape[1:]:
        raise ValueError(f"rig weights must be ({predicted.shape[1]},), got {tuple(weights.shape)}")
    return ((predicted - target) ** 2 * weights.to(predicted)).mean()


def discriminator_loss(
    real_logits_real: torch.Tensor,
    real_logits_fake: torch.Tensor,
    expr_logits_real: torch.Tensor,
    labels: torch.Tensor,
    expr_weight: float = 1.0,
    expr_logits_fake: torch.Tensor | None = None,
    fake_labels: torch.Tensor | None = None,
    fake_expr_weight: float = 0.0,
) -> torch.Tensor:
    """Eq. 5 as a loss, halved: (BCE(D^R(real), 1) + BCE(D^R(fake), 0) + w CE(D^e(real), E)) / 2,
    plus (ours, AC-GAN) w_f CE(D^e(G(x)), E_human) / 2 when `expr_logits_fake` is given.

    Args:
        real_logits_real: (N,) D^R logits on real character images.
        real_logits_fake: (M,) D^R logits on generated images (detached from G).
        expr_logits_real: (N, K) D^e logits on the real character images.
        labels: (N,) expression indices of the real character images.
        expr_weight: w, the weight of the expression term (Eq. 5 sums them: w = 1).
        expr_logits_fake: (M, K) D^e logits on G's (detached) images; fake_labels (M,) the
            expression of the human face each was drawn from; fake_expr_weight: w_f.
    """
    adv = F.binary_cross_entropy_with_logits(real_logits_real, torch.ones_like(real_logits_real))
    adv = adv + F.binary_cross_entropy_with_logits(real_logits_fake, torch.zeros_like(real_logits_fake))
    total = adv + expr_weight * expression_loss(expr_logits_real, labels)
    if expr_logits_fake is not None and fake_expr_weight > 0:
        total = total + fake_expr_weight * expression_loss(expr_logits_fake, fake_labels)
    return 0.5 * total


def generator_loss(
    fake_real_logits: torch.Tensor,
    fake_expr_logits: torch.Tensor,
    labels: torch.Tensor,
    generated: torch.Tensor,
    neutral: torch.Tensor,
    l1_weight: float = 30.0,
    expr_weight: float = 1.0,
    matched: torch.Tensor | None = None,
    match_weight: float = 0.0,
    code_logits: torch.Tensor | None = None,
    cls_weight: float = 0.0,
    adv_weight: float = 1.0,
    feature_gain: float = 0.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Eq. 3 + l1_weight * Eq. 4 (+ the two terms of ours, when given).

    Args:
        fake_real_logits: (N,) D^R logits on G's images.
        fake_expr_logits: (N, K) D^e logits on G's images.
        labels: (N,) the human faces' expression indices.
        generated, neutral: (N, C, S, S) G's images and the target character's neutral image.
        matched: (N, C, S, S) a real image of the target character with the *same* expression
            (not in the paper): `match_weight` * L1(generated, matched).
        code_logits: (N, K) the encoder's auxiliary expression logits (not in the paper):
            `cls_weight` * CE(code_logits, labels).
        feature_gain: the matched L1 is `feature_weighted_l1` with this gain (0: plain).

    Returns:
        (total loss, {"adv", "expr", "l1"[, "match"][, "cls"]} as floats).
    """
    adv = generator_adversarial_loss(fake_real_logits)
    expr = expression_loss(fake_expr_logits, labels)
    l1 = neutral_l1_loss(generated, neutral)
    total = adv_weight * adv + expr_weight * expr + l1_weight * l1
    parts = {"adv": float(adv.detach()), "expr": float(expr.detach()), "l1": float(l1.detach())}
    if matched is not None:
        match = feature_weighted_l1(generated, matched, neutral, feature_gain)
        total = total + match_weight * match
        parts["match"] = float(match.detach())
    if code_logits is not None:
        cls = expression_loss(code_logits, labels)
        total = total + cls_weight * cls
        parts["cls"] = float(cls.detach())
    return total, parts
