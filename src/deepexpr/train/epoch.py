"""The body of every supervised training epoch (plain and cached-feature): seeds, sample
order, per-step learning rate, loss, metrics.

Determinism: every epoch seeds its own generators from (seed, epoch), so the sample
order, augmentation and dropout of epoch e do not depend on what ran before.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from deepexpr.expressions import EXPRESSIONS
from deepexpr.progress import progress
from deepexpr.train.config import TrainConfig
from deepexpr.train.schedule import schedule_lr, set_lr
from deepexpr.train.transfer import train_mode


def class_weights(labels: np.ndarray, num_classes: int = len(EXPRESSIONS)) -> torch.Tensor:
    """Inverse-frequency weights N / (K * n_c) for the K classes present (0 for absent ones)."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    present = counts > 0
    w = np.zeros(num_classes)
    w[present] = counts.sum() / (present.sum() * counts[present])
    return torch.tensor(w, dtype=torch.float32)


def epoch_order(labels: np.ndarray, balance: str, gen: torch.Generator) -> torch.Tensor:
    """Sample order of one epoch: a permutation, or class-balanced draws with replacement."""
    n = len(labels)
    if balance == "sampler":
        w = class_weights(labels)[torch.from_numpy(labels)]
        return torch.multinomial(w.double(), n, replacement=True, generator=gen)
    return torch.randperm(n, generator=gen)


def run_epoch(model, optimizer, cfg: TrainConfig, epoch: int, labels: np.ndarray, make_forward,
              weights: torch.Tensor | None, frozen=(), show: bool | None = None,
              desc: str = "") -> dict:
    """The body of every training epoch: seeds, sample order, per-step lr, loss, metrics.

    Args:
        labels: (N,) training labels.
        make_forward: `make_forward(order, gen) -> forward`, called once after the order is
            drawn; `forward(sl, idx)` returns the (B, K) logits of the samples `order[sl]`
            (= `idx`). Drawing from `gen` keeps an epoch reproducible from its seed.

    Returns:
        train_loss, train_acc, images, seconds, images_per_s.
    """
    torch.manual_seed(cfg.seed * 100_003 + epoch)  # dropout of this epoch
    gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch)
    order = epoch_order(labels, cfg.balance, gen)
    forward = make_forward(order, gen)
    label_t = torch.from_numpy(labels)
    train_mode(model, list(frozen))
    steps = (len(order) + cfg.batch_size - 1) // cfg.batch_size
    if cfg.max_steps_per_epoch > 0:
        steps = min(steps, cfg.max_steps_per_epoch)
    total_loss, correct, seen = 0.0, 0, 0
    t0 = time.perf_counter()
    bar = progress(range(steps), desc=f"epoch {epoch + 1}/{cfg.epochs}{desc}",
                   disable=None if show is None else not show)
    for step in bar:
        if cfg.schedule != "step":  # per-step annealing
            set_lr(optimizer, schedule_lr(cfg, epoch + step / steps))
        sl = slice(step * cfg.batch_size, (step + 1) * cfg.batch_size)
        idx = order[sl]
        y = label_t[idx]
        logits = forward(sl, idx)
        loss = F.cross_entropy(logits, y, weight=weights, label_smoothing=cfg.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * len(idx)
        correct += int((logits.argmax(1) == y).sum())
        seen += len(idx)
        if step % 20 == 0:
            bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
    seconds = time.perf_counter() - t0
    return {"train_loss": total_loss / max(seen, 1), "train_acc": correct / max(seen, 1),
            "images": seen, "seconds": seconds, "images_per_s": seen / max(seconds, 1e-9)}
