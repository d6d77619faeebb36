"""HA-GAN's decoder as a renderer: its loss on render-pool pairs and its pretraining.

Split from `deepexpr.train.hagan` (file size; issue 18, session 8). `cfg` is that module's
`HaganTrainConfig` (not imported here: it imports this module). The loss of a rig-code G's
decoder on (rig, character) -> render pairs of a `RenderPool`:

- the pixel L1: plain, feature-weighted (`feature_gain`: pixels where the render differs
  from the neutral face count more) or landmark-weighted (`landmark_gain`: pixels near the
  render's and the neutral face's landmarks count 1 + gain times; the blob maps are computed
  once per pool image, `RenderPool.landmark_blobs`);
- `reader_weight` x the frozen rig reader's feature loss (`hagan_reader`);
- `landmark_weight` x the mean distance in pixels between the landmarks a landmark-stage
  decoder places and the render's exact ones (`deepexpr.models.hagan_landmarks`).

    >>> loss = render_l1(g, pool, 32, cfg, reader)
"""

from __future__ import annotations

import torch

from deepexpr.progress import progress
from deepexpr.train.hagan_data import RenderPool
from deepexpr.train.hagan_losses import feature_weighted_l1, weighted_l1
from deepexpr.train.hagan_reader import reader_loss


def pretrain_decoder(g, pool: RenderPool, cfg, quiet: bool = True, reader=None) -> list[float]:
    """Train a rig-code G's decoder alone as a renderer: L1 (`render_l1`) between
    `g.draw(rig, character)` and the project's render of that character with that rig
    (`pool`), at the heads' rate (lr x encoder_lr_mult). No encoder, no D. Returns the
    per-update loss."""
    dec = [p for n, p in g.named_parameters()
           if not n.startswith(("encoder.", "expr_head.", "rig_head.", "templates"))]
    opt = torch.optim.Adam(dec, lr=cfg.lr * cfg.encoder_lr_mult, betas=(cfg.beta1, cfg.beta2))
    g.train()
    losses = []
    for _ in progress(range(cfg.decoder_pretrain), desc="hagan decoder", disable=True if quiet else None):
        loss = render_l1(g, pool, cfg.batch_size, cfg, reader)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def render_l1(g, pool: RenderPool, n: int, cfg, reader=None) -> torch.Tensor:
    """L1 between G's decoder and the renderer on `n` pool pairs: landmark-weighted
    (blob maps precomputed per pool image, gain `landmark_gain`) or feature-weighted (`feature_gain`) or plain;
    plus `reader_weight` x the rig reader's feature loss (`hagan_reader`) when `reader` is given,
    plus `landmark_weight` x the mean distance (pixels) of a landmark-stage decoder's landmarks
    to the render's (`deepexpr.models.hagan_landmarks`)."""
    rigs, chars, images = pool.batch(n)
    drawn = g.draw(rigs, chars)
    if cfg.landmark_gain > 0:
        loss = weighted_l1(drawn, images, 1.0 + cfg.landmark_gain * pool.landmark_blobs())
    else:
        loss = feature_weighted_l1(drawn, images, pool.neutral[chars], cfg.feature_gain)
    if reader is not None and cfg.reader_weight > 0:
        loss = loss + cfg.reader_weight * reader_loss(reader, drawn, images)
    if getattr(g, "landmark_head", None) is not None and cfg.landmark_weight > 0:
        placed = g.landmarks(rigs, chars)
        true = torch.from_numpy(pool.landmarks[pool.last])
        loss = loss + cfg.landmark_weight * (placed - true).norm(dim=-1).mean()
    return loss


__all__ = ["pretrain_decoder", "render_l1"]
