"""A rig reader for HA-GAN's decoder: a perceptual loss that weighs the face's features.

Issue 18, session 5. Trained with the plain L1 alone, the rig-code decoder's drawings stop
getting more legible long before their L1 stops falling (measured: the independent judge
read 59% of the decoder's drawings of the faces' *true* rigs after 1000 updates and 58%
after 1500, while the L1 fell from 0.037 to 0.034): most pixels never change with the
expression, and the few that do (brow, lid and mouth lines) weigh little in a pixel loss.

The reader is a small CNN (`cnn_small` as a 23-output regressor) trained on the run's own
render pool to read the rig off a render, then frozen. The decoder's loss adds the squared
difference between the reader's penultimate features (and its rig reading) of G's drawing
and of the render it should match: what the reader needs to tell rigs apart -- the
features -- counts, not the background. It is not the evaluation's judges: those are the
independent `character_cnn` (expression) and a rig judge trained inside the evaluation on
another sampler and seed (`deepexpr.evaluation.hagan_intensity`).

    >>> reader = fit_rig_reader(pool, steps=1000)
    >>> loss = reader_loss(reader, g.draw(rigs, chars), renders)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from deepexpr.models.registry import create_model
from deepexpr.progress import progress


def build_rig_reader(size: int, rig_dim: int) -> torch.nn.Module:
    """An untrained reader for `size`-px images: `cnn_small` (tiny below 32 px), rig_dim outputs."""
    return create_model("test_cnn_small" if size < 32 else "cnn_small", num_classes=rig_dim, input_size=size)


def fit_rig_reader(pool, steps: int, batch_size: int = 32, lr: float = 1e-3, reader: torch.nn.Module | None = None,
                   quiet: bool = True) -> torch.nn.Module:
    """Train a reader on (render -> normalised rig) pairs of `pool` (a `RenderPool`), then freeze it.

    Args:
        pool: the run's render pool (its rng draws the batches).
        steps: Adam updates (MSE to the rig).
        reader: the model to train (default `build_rig_reader`).

    Returns:
        the reader in eval mode with requires_grad off.
    """
    size = pool.images.shape[1]
    reader = reader if reader is not None else build_rig_reader(size, pool.rigs.shape[1])
    opt = torch.optim.Adam(reader.parameters(), lr=lr)
    reader.train()
    for _ in progress(range(steps), desc="hagan rig reader", disable=True if quiet else None):
        rigs, _, images = pool.batch(batch_size)
        loss = F.mse_loss(reader(images), rigs)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return freeze(reader)


def freeze(reader: torch.nn.Module) -> torch.nn.Module:
    """Eval mode (BatchNorm statistics fixed), no gradients to its weights."""
    reader.eval()
    for p in reader.parameters():
        p.requires_grad_(False)
    return reader


def reader_loss(reader: torch.nn.Module, drawn: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE of the reader's features and rig readings, G's drawing vs the render it should match.

    Args:
        drawn: (N, 3, S, S) G's drawings (gradient flows back to G); target: (N, 3, S, S)
            the renders, both in [-1, 1].

    Returns:
        a scalar: mse(features) + mse(rig readings).
    """
    if drawn.shape != target.shape:
        raise ValueError(f"drawn and target differ: {tuple(drawn.shape)} vs {tuple(target.shape)}")
    h_drawn = reader.forward_features(drawn)
    with torch.no_grad():
        h_target = reader.forward_features(target)
        r_target = reader.forward_head(h_target)
    return F.mse_loss(h_drawn, h_target) + F.mse_loss(reader.forward_head(h_drawn), r_target)
