"""Learning-rate schedule: the paper's step decay (lr / 10 every 10 epochs).

Each optimizer parameter group carries an `lr_mult` (1 for the body, e.g. 10 for a newly
initialised head in transfer learning); the rate of a group at epoch e (0-based) is
`base_lr * lr_mult * gamma ** (e // step)`.
"""

from __future__ import annotations


def step_lr(base_lr: float, epoch: int, step: int = 10, gamma: float = 0.1) -> float:
    """Rate at 0-based `epoch` under step decay (step <= 0: constant)."""
    if step <= 0:
        return base_lr
    return base_lr * gamma ** (epoch // step)


def apply_lr(optimizer, base_lr: float, epoch: int, step: int = 10, gamma: float = 0.1) -> float:
    """Set every group's rate for `epoch`; returns the base rate of that epoch."""
    lr = step_lr(base_lr, epoch, step, gamma)
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_mult", 1.0)
    return lr
