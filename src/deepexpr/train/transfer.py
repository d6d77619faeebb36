"""Transfer learning as in DeepExpr (sec. 3.2): a new last layer, earlier layers frozen.

The human model's `classifier` (FC7) is re-initialised as FC7_character and trained at
`base_lr * head_lr_mult`; the `unfreeze` layers just before it are fine-tuned at the
lower base rate (the paper's 0.001); everything earlier is frozen (no gradient, and its
BatchNorm layers stay in eval mode so their statistics are not changed by the new domain).

"Layers" are the parameterised leaf modules in registration order (conv, linear,
depthwise/pointwise convs), each with the normalisation layers that follow it, so the
same code serves the plain CNNs and the mini-Xception port.

The paper fine-tunes "the last fully connected layer" only; `unfreeze=1` (our default)
also adapts the FC6-like layer before it, which the paper's lower base rate suggests;
`unfreeze=0` is the paper's strict reading, `unfreeze=-1` fine-tunes everything.
"""

from __future__ import annotations

from torch import nn

_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)


def layer_blocks(model: nn.Module) -> list[list[nn.Module]]:
    """Parameterised leaf modules outside `model.classifier`, norms merged into the layer before."""
    head = set(model.classifier.modules()) if hasattr(model, "classifier") else set()
    blocks: list[list[nn.Module]] = []
    for m in model.modules():
        if m in head or list(m.children()) or not any(True for _ in m.parameters(recurse=False)):
            continue
        if isinstance(m, _NORMS) and blocks:
            blocks[-1].append(m)
        else:
            blocks.append([m])
    return blocks


def reset_head(model: nn.Module) -> None:
    """Re-initialise the last layer (`model.classifier`): the new FC7_character."""
    for m in model.classifier.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()


def setup_transfer(model: nn.Module, unfreeze: int = 1, new_head: bool = True,
                   head_lr_mult: float = 10.0) -> tuple[list[dict], list[nn.Module]]:
    """Freeze, re-initialise and group parameters for fine-tuning.

    Args:
        model: a pre-trained model with a `classifier` attribute.
        unfreeze: layers before the head to fine-tune at the base rate (-1: all).
        new_head: re-initialise the classifier (the paper's FC7_character).
        head_lr_mult: the head's rate multiplier.

    Returns:
        (optimizer parameter groups with `lr_mult`, list of frozen modules to keep in eval mode)
    """
    if not hasattr(model, "classifier"):
        raise ValueError(f"{type(model).__name__} has no `classifier` last layer to fine-tune")
    if new_head:
        reset_head(model)
    blocks = layer_blocks(model)
    n_train = len(blocks) if unfreeze < 0 else min(unfreeze, len(blocks))
    frozen_blocks, tuned_blocks = blocks[:len(blocks) - n_train], blocks[len(blocks) - n_train:]
    frozen = [m for b in frozen_blocks for m in b]
    for m in frozen:
        for p in m.parameters(recurse=False):
            p.requires_grad_(False)
    body = [p for b in tuned_blocks for m in b for p in m.parameters(recurse=False)]
    head = list(model.classifier.parameters())
    groups = [{"params": head, "lr_mult": head_lr_mult, "name": "head"}]
    if body:
        groups.append({"params": body, "lr_mult": 1.0, "name": "body"})
    return groups, frozen


def train_mode(model: nn.Module, frozen: list[nn.Module]) -> None:
    """`model.train()` except the frozen modules, which stay in eval mode (BN statistics)."""
    model.train()
    for m in frozen:
        m.eval()
