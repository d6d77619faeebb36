"""The supervised training loop: SGD with step decay, class balancing, per-epoch
validation, metrics to CSV/JSON, safetensors checkpoints and resume after an interrupt.

Determinism and resume: every epoch seeds its own generators from (seed, epoch)
(train/epoch.py). After each epoch the one training state (`train_state.safetensors`,
train/state.py: weights, momentum buffers, epoch, history, RNG states, settings) is
written atomically, then the model for inference (`last.safetensors` + .json) and the
metrics; `fit(..., resume=True)` continues from the last finished epoch and reaches the
same weights as an uninterrupted run.
"""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from deepexpr.expressions import EXPRESSIONS
from deepexpr.models.checkpoint import save_model
from deepexpr.train.augment import augment_batch, to_input
from deepexpr.train.cached import FeatureCache
from deepexpr.train.config import TrainConfig
from deepexpr.train.epoch import class_weights, epoch_order, run_epoch  # noqa: F401 (re-exported)
from deepexpr.train.schedule import schedule_lr, set_lr
from deepexpr.train.state import load_state, save_state
from deepexpr.train.table import ImageTable

STATE_NAME = "train_state.safetensors"  # the one training state (train/state.py)
LAST_NAME = "last.safetensors"


def make_optimizer(param_groups: list[dict], cfg: TrainConfig) -> torch.optim.Optimizer:
    """SGD (momentum, weight decay), or Adam, over groups carrying an `lr_mult`."""
    groups = [{**g, "lr": cfg.lr * g.get("lr_mult", 1.0)} for g in param_groups]
    if cfg.optimizer == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr, betas=(cfg.momentum, 0.999),
                                weight_decay=cfg.weight_decay)
    if cfg.optimizer != "sgd":
        raise ValueError(f"unknown optimizer {cfg.optimizer!r}; choose sgd or adam")
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


@torch.no_grad()
def predict_logits(model, table: ImageTable, preprocess: dict, batch_size: int = 256,
                   channels_last: bool = False) -> np.ndarray:
    """Logits (N, K) of the whole images of `table` (no augmentation), model in eval mode."""
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, len(table), batch_size):
        x = to_input(table.images[start:start + batch_size], preprocess, channels_last)
        out.append(model(x).float().numpy())
    model.train(was_training)
    return np.concatenate(out) if out else np.zeros((0, len(EXPRESSIONS)), np.float32)


def _loss_acc(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    if len(labels) == 0:
        return float("nan"), float("nan")
    t = torch.from_numpy(logits)
    loss = F.cross_entropy(t, torch.from_numpy(labels)).item()
    return loss, float((logits.argmax(1) == labels).mean())


def train_one_epoch(model, optimizer, table: ImageTable, cfg: TrainConfig, epoch: int,
                    weights: torch.Tensor | None, frozen=(), show: bool | None = None) -> dict:
    """One pass over `table` (images augmented per batch); returns `run_epoch`'s metrics."""
    preprocess = cfg.preprocess()

    def make_forward(order, gen):
        return lambda sl, idx: model(to_input(augment_batch(table.images[idx], cfg.augment, gen),
                                              preprocess, cfg.channels_last))

    return run_epoch(model, optimizer, cfg, epoch, table.labels, make_forward, weights, frozen, show)


# ---------------------------------------------------------------- metrics files

def write_history(out_dir: Path, history: list[dict]) -> None:
    """metrics.csv (one row per epoch) and metrics_history.json."""
    from deepexpr.io import write_json, write_text

    if not history:
        return
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(history[0]))
    writer.writeheader()
    writer.writerows(history)
    write_text(out_dir / "metrics.csv", buf.getvalue())
    write_json(out_dir / "metrics_history.json", history)


# ---------------------------------------------------------------- fit

# Settings a resumed run may change: more (or fewer) epochs, another thread count.
EXTENDABLE = ("epochs", "threads")


def resume_settings(cfg: TrainConfig, train: ImageTable, val: ImageTable | None) -> dict:
    """What a resumed run must share with the run it continues (checked by `load_state`)."""
    return {**cfg.to_dict(), "train_images": len(train),
            "val_images": 0 if val is None else len(val)}


def fit(model, train: ImageTable, val: ImageTable | None, cfg: TrainConfig,
        out_dir: str | Path | None = None, checkpoint_config: dict | None = None,
        param_groups: list[dict] | None = None, frozen=(), resume: bool = False,
        show_progress: bool | None = None, log=None) -> list[dict]:
    """Train `model` on `train`, validating on `val` after every epoch.

    Args:
        model: an nn.Module producing (N, 7) logits from `cfg.preprocess()` inputs.
        train, val: image tables (val may be None or empty).
        cfg: the training configuration.
        out_dir: where checkpoints and metrics go (None: keep nothing on disk).
        checkpoint_config: the JSON config saved with the weights ("model", "overrides",
            "preprocess", ...); required with `out_dir`.
        param_groups: optimizer groups with `lr_mult` (transfer); default all parameters.
        frozen: modules kept in eval mode (transfer).
        resume: continue from `out_dir`'s last finished epoch if one was saved.
        log: callable taking one line of text per epoch (None: silent).

    Returns:
        The history: one dict per epoch (epoch, lr, train_loss, train_acc, val_loss,
        val_acc, images_per_s, seconds).
    """
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    groups = param_groups or [{"params": [p for p in model.parameters() if p.requires_grad],
                               "lr_mult": 1.0}]
    optimizer = make_optimizer(groups, cfg)
    weights = class_weights(train.labels) if cfg.balance == "loss" else None
    out = Path(out_dir) if out_dir is not None else None
    settings = resume_settings(cfg, train, val)
    start, history = 0, []
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        if resume and (out / STATE_NAME).is_file():
            progress_ = load_state(out / STATE_NAME, {"model": model}, {"optimizer": optimizer},
                                   settings, EXTENDABLE).progress
            start, history = int(progress_["epoch"]), list(progress_["history"])
            if log:
                log(f"resuming after epoch {start} from {out}")
    cache = _feature_cache(model, train, val, cfg, frozen, log) if start < cfg.epochs else None
    for epoch in range(start, cfg.epochs):
        history.append(_train_epoch(model, optimizer, train, val, cfg, epoch, weights, frozen,
                                    cache, show_progress))
        if log:
            log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in history[-1].items()))
        if out is not None:
            save_state(out / STATE_NAME, {"model": model}, {"optimizer": optimizer},
                       {"epoch": epoch + 1, "history": history}, settings)
            save_model(out / LAST_NAME, model, {**checkpoint_config, "epochs_done": epoch + 1})
            write_history(out, history)
    return history


def _feature_cache(model, train, val, cfg: TrainConfig, frozen, log) -> FeatureCache | None:
    """Transfer: run the frozen layers once (train/cached.py); None without frozen layers."""
    if not frozen:
        return None
    cache = FeatureCache.build(model, train, val, cfg)
    if cache is not None and log:
        log(f"frozen layers cached: first {cache.k} stages, "
            f"{cache.train_feats.shape[0]} views of {cache.train_feats.shape[1]} images")
    return cache


def _train_epoch(model, optimizer, train: ImageTable, val: ImageTable | None, cfg: TrainConfig,
                 epoch: int, weights, frozen, cache: FeatureCache | None, show) -> dict:
    """Set the epoch's rate, train one epoch, validate; returns the epoch's history row."""
    lr = set_lr(optimizer, schedule_lr(cfg, epoch))
    row = {"epoch": epoch + 1, "lr": lr}
    if cache is not None:
        row.update(cache.train_one_epoch(model, optimizer, cfg, epoch, weights, frozen, show))
    else:
        row.update(train_one_epoch(model, optimizer, train, cfg, epoch, weights, frozen, show))
    if val is not None and len(val):
        logits = cache.val_logits(model) if cache is not None else predict_logits(
            model, val, cfg.preprocess(), channels_last=cfg.channels_last)
        row["val_loss"], row["val_acc"] = _loss_acc(logits, val.labels)
    return row


def bare_step_rate(model, x: torch.Tensor, y: torch.Tensor, steps: int = 20,
                   warmup: int = 3, lr: float = 0.01) -> float:
    """Images/s of forward + backward + SGD step on one fixed, ready-made batch.

    The reference for the data-pipeline target: a full epoch should reach >= 80% of it.
    """
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr, momentum=0.9)
    model.train()
    for i in range(warmup + steps):
        if i == warmup:
            t0 = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return steps * x.shape[0] / (time.perf_counter() - t0)
