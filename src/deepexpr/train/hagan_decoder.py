"""HA-GAN's decoder as a renderer: its loss on render-pool pairs and its pretraining.

Split from `deepexpr.train.hagan` (file size; issue 18, session 8). `cfg` is that module's
`HaganTrainConfig` (not imported here: it imports this module). The loss of a rig-code G's
decoder on (rig, character) -> render pairs of a `RenderPool`:

- the pixel L1: plain, feature-weighted (`feature_gain`: pixels where the render differs
  from the neutral face count more) or landmark-weighted (`landmark_gain`: pixels near the
  render's and the neutral face's landmarks count 1 + gain times; the blob maps are computed
  once per pool image, `RenderPool.landmark_blobs`), or both weights added (session 10: the
  nose-wrinkle strokes of disgust lie away from the landmarks);
- `reader_weight` x the frozen rig reader's feature loss (`hagan_reader`);
- `landmark_weight` x the mean distance in pixels between the landmarks a landmark-stage
  decoder places and the render's exact ones (`deepexpr.models.hagan_landmarks`).

    >>> loss = render_l1(g, pool, 32, cfg, reader)
"""

from __future__ import annotations

import numpy as np
import torch

from deepexpr.progress import progress
from deepexpr.train.hagan_data import RenderPool, parse_names
from deepexpr.train.hagan_losses import feature_weighted_l1, weighted_l1
from deepexpr.train.hagan_reader import reader_loss


def pretrain_decoder(g, pool: RenderPool, cfg, quiet: bool = True, reader=None, updates: int | None = None,
                     lr: float | None = None, probs: np.ndarray | None = None) -> list[float]:
    """Train a rig-code G's decoder alone as a renderer: L1 (`render_l1`) between
    `g.draw(rig, character)` and the project's render of that character with that rig
    (`pool`, rows drawn with probabilities `probs`, None: uniform), `updates` times (default
    `cfg.decoder_pretrain`) at `lr` (default the heads' rate, lr x encoder_lr_mult). No
    encoder, no D. Returns the per-update loss."""
    dec = [p for n, p in g.named_parameters()
           if not n.startswith(("encoder.", "expr_head.", "rig_head.", "templates"))]
    opt = torch.optim.Adam(dec, lr=cfg.lr * cfg.encoder_lr_mult if lr is None else lr, betas=(cfg.beta1, cfg.beta2))
    g.train()
    losses = []
    count = cfg.decoder_pretrain if updates is None else updates
    for _ in progress(range(count), desc="hagan decoder", disable=True if quiet else None):
        loss = render_l1(g, pool, cfg.batch_size, cfg, reader, probs)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def render_l1(g, pool: RenderPool, n: int, cfg, reader=None, probs: np.ndarray | None = None) -> torch.Tensor:
    """L1 between G's decoder and the renderer on `n` pool pairs: landmark-weighted
    (blob maps precomputed per pool image, gain `landmark_gain`) or feature-weighted (`feature_gain`) or plain;
    plus `reader_weight` x the rig reader's feature loss (`hagan_reader`) when `reader` is given,
    plus `landmark_weight` x the mean distance (pixels) of a landmark-stage decoder's landmarks
    to the render's (`deepexpr.models.hagan_landmarks`)."""
    rigs, chars, images = pool.batch(n, probs)
    drawn = g.draw(rigs, chars)
    if cfg.landmark_gain > 0:
        weights = 1.0 + cfg.landmark_gain * pool.landmark_blobs()
        if cfg.feature_gain > 0:  # both (session 10's --post-decoder-feature-gain): the strokes away from landmarks
            weights = weights + cfg.feature_gain * (images - pool.neutral[chars]).abs().mean(1, keepdim=True)
        loss = weighted_l1(drawn, images, weights)
    else:
        loss = feature_weighted_l1(drawn, images, pool.neutral[chars], cfg.feature_gain)
    if reader is not None and cfg.reader_weight > 0:
        loss = loss + cfg.reader_weight * reader_loss(reader, drawn, images)
    if getattr(g, "landmark_head", None) is not None and cfg.landmark_weight > 0:
        placed = g.landmarks(rigs, chars)
        true = torch.from_numpy(pool.landmarks[pool.last])
        loss = loss + cfg.landmark_weight * (placed - true).norm(dim=-1).mean()
    return loss


def rig_focus_probabilities(rigs: np.ndarray, controls: str, factor: float) -> np.ndarray | None:
    """(N,) sampling probabilities of render-pool rows: 1 + factor x the largest of the named
    controls (comma-separated, e.g. "AU9,AU10": disgust's nose wrinkle and raised upper lip;
    normalised rigs, clipped to [0, 1]), normalised; None for no controls or factor 0.

    Raises InputError naming an unknown control.
    """
    from deepexpr.characters.rig import RIG_CONTROLS

    names = parse_names(controls, RIG_CONTROLS, "rig control")
    if not names or factor == 0:
        return None
    cols = [RIG_CONTROLS.index(c) for c in names]
    w = 1.0 + factor * np.clip(rigs[:, cols], 0, 1).max(1)
    return w / w.sum()


__all__ = ["pretrain_decoder", "render_l1", "rig_focus_probabilities"]
