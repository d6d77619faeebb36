"""Transfer learning with the frozen layers run once: cache their output, train the rest.

When the first k stages of a model (`model.stages()`: e.g. the mini-Xception's stem and
residual modules, or a CNN's conv stages and FC layers) have no trainable parameter,
their output does not change during training (frozen BatchNorm layers stay in eval
mode), so it is computed once per image and every epoch runs only the remaining stages.
For the paper-strict transfer (`unfreeze=0`: only the new last layer learns) of the
mini-Xception this turns an epoch from ~27 images/s (forward + backward through the
whole 64 px trunk on one CPU thread) into thousands per second; unfreezing only the last
residual modules gets most of that gain too.

Departures from running every epoch through the frozen layers (written down because
they change what the model sees):
- Augmentation is drawn from a fixed set of `feature_views` views per training image:
  view 0 the image itself, view 1 its mirror, the others one draw each of `cfg.augment`
  made once with a fixed seed; each epoch picks one view per image at random.
- Dropout inside the frozen part is off (as at test time).
The learned weights live in the full model, which is checkpointed, resumed and tested
exactly as without the cache.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from deepexpr.progress import progress
from deepexpr.train.augment import augment_batch, to_input
from deepexpr.train.config import TrainConfig
from deepexpr.train.epoch import run_epoch
from deepexpr.train.table import ImageTable


def frozen_prefix(model) -> int:
    """How many leading `model.stages()` have no trainable parameter (the head never counts)."""
    if not hasattr(model, "stages"):
        return 0
    k = 0
    for modules, _ in model.stages()[:-1]:
        if any(p.requires_grad for m in modules for p in m.parameters()):
            break
        k += 1
    return k


def run_stages(model, x: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
    """Apply `model.stages()[start:stop]` to `x` in order."""
    for _, fn in model.stages()[start:stop]:
        x = fn(x)
    return x


@torch.no_grad()
def prefix_outputs(model, images: torch.Tensor, k: int, preprocess: dict, views: int = 1,
                   augment: str = "none", seed: int = 0, batch_size: int = 256,
                   channels_last: bool = False, desc: str = "caching") -> torch.Tensor:
    """Output of the first `k` stages for `views` views of each image, stored as float16.

    Args:
        model: has `stages()`; the prefix runs in eval mode (BatchNorm statistics, no dropout).
        images: (N, 3, S, S) uint8.
        views: 1 (the images), 2 (+ mirrors), more (+ draws of `augment`).

    Returns:
        (views, N, ...) float16 tensor.
    """
    runner = model.fused_for_inference() if hasattr(model, "fused_for_inference") else model
    was_training = runner.training
    runner.eval()
    gen = torch.Generator().manual_seed(seed * 7_919 + 17)
    out = []
    n = images.shape[0]
    bar = progress(total=views * n, desc=desc)
    for v in range(views):
        chunks = []
        for start in range(0, n, batch_size):
            batch = images[start:start + batch_size]
            if v == 0:
                x = batch.float()
            elif v == 1:
                x = batch.float().flip(-1)
            else:
                x = augment_batch(batch, augment, gen)
            h = run_stages(runner, to_input(x, preprocess, channels_last), 0, k)
            chunks.append(h.contiguous().to(torch.float16))
            bar.update(batch.shape[0])
        out.append(torch.cat(chunks))
    bar.close()
    runner.train(was_training)
    return torch.stack(out)


@dataclass
class FeatureCache:
    """Cached prefix outputs of a training and a validation table, and how to train on them."""

    k: int  # number of cached (frozen) stages
    train_feats: torch.Tensor  # (V, N, ...) float16 prefix outputs of V views per image
    train_labels: np.ndarray  # (N,) int64
    val_feats: torch.Tensor | None  # (N_val, ...) float16 (the images themselves), or None
    val_labels: np.ndarray  # (N_val,) int64

    @classmethod
    def build(cls, model, train: ImageTable, val: ImageTable | None, cfg: TrainConfig):
        """A cache when `model` has a frozen prefix and `cfg.cache_features`; else None."""
        k = frozen_prefix(model) if cfg.cache_features else 0
        if k == 0:
            return None
        pre = cfg.preprocess()
        views = {"none": 1, "flip": 2}.get(cfg.augment, max(1, cfg.feature_views))
        train_feats = prefix_outputs(model, train.images, k, pre, views, cfg.augment, cfg.seed,
                                     desc="caching frozen layers (train)")
        has_val = val is not None and len(val) > 0
        val_feats = prefix_outputs(model, val.images, k, pre, desc="caching frozen layers (val)")[0] \
            if has_val else None
        return cls(k, train_feats, train.labels, val_feats,
                   val.labels if has_val else np.zeros(0, np.int64))

    def train_one_epoch(self, model, optimizer, cfg: TrainConfig, epoch: int, weights,
                        frozen=(), show: bool | None = None) -> dict:
        """One pass over the cached training views; same contract as `loop.train_one_epoch`."""
        def make_forward(order, gen):
            view = torch.randint(0, self.train_feats.shape[0], (len(order),), generator=gen)
            return lambda sl, idx: run_stages(model, self.train_feats[view[sl], idx].float(), self.k)

        return run_epoch(model, optimizer, cfg, epoch, self.train_labels, make_forward, weights,
                         frozen, show, desc=" (cached)")

    @torch.no_grad()
    def val_logits(self, model, batch_size: int = 1024) -> np.ndarray:
        """(N_val, K) logits of the validation images from their cached prefix outputs."""
        if self.val_feats is None:
            return np.zeros((0, 7), np.float32)
        was_training = model.training
        model.eval()
        out = [run_stages(model, self.val_feats[s:s + batch_size].float(), self.k).numpy()
               for s in range(0, self.val_feats.shape[0], batch_size)]
        model.train(was_training)
        return np.concatenate(out)
