"""The supervised training loop: SGD with step decay, class balancing, per-epoch
validation, metrics to CSV/JSON, safetensors checkpoints and resume after an interrupt.

Determinism and resume: every epoch seeds its own generators from (seed, epoch), so the
sample order, augmentation and dropout of epoch e do not depend on what ran before.
After each epoch the model (`last.safetensors`) and the optimizer state
(`train_state.safetensors` + `train_state.json`: momentum buffers, epoch, history) are
saved atomically; `fit(..., resume=True)` continues from the last finished epoch and
reaches the same weights as an uninterrupted run.
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from deepexpr.expressions import EXPRESSIONS
from deepexpr.progress import progress
from deepexpr.train.augment import augment_batch, to_input
from deepexpr.train.config import TrainConfig
from deepexpr.train.schedule import schedule_lr, set_lr
from deepexpr.train.table import ImageTable
from deepexpr.train.transfer import train_mode

STATE_NAME = "train_state"
LAST_NAME = "last.safetensors"


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


def train_one_epoch(model, optimizer, table: ImageTable, cfg: TrainConfig, epoch: int,
                    weights: torch.Tensor | None, frozen=(), show: bool | None = None) -> dict:
    """One pass over `table` (images augmented per batch); returns `run_epoch`'s metrics."""
    preprocess = cfg.preprocess()

    def make_forward(order, gen):
        return lambda sl, idx: model(to_input(augment_batch(table.images[idx], cfg.augment, gen),
                                              preprocess, cfg.channels_last))

    return run_epoch(model, optimizer, cfg, epoch, table.labels, make_forward, weights, frozen, show)


# ---------------------------------------------------------------- training state (resume)

def save_train_state(out_dir: Path, optimizer, epoch: int, history: list[dict]) -> None:
    """Optimizer tensors to train_state.safetensors, the rest to train_state.json (atomic)."""
    from safetensors.torch import save_file

    from deepexpr.io import atomic_path, write_json

    sd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for pid, state in sd["state"].items():
        for key, value in state.items():
            if torch.is_tensor(value):
                tensors[f"state.{pid}.{key}"] = value.detach().contiguous().cpu()
            else:
                scalars.setdefault(str(pid), {})[key] = value
    groups = [{k: v for k, v in g.items()} for g in sd["param_groups"]]
    with atomic_path(out_dir / f"{STATE_NAME}.safetensors") as tmp:
        save_file(tensors, str(tmp))
    write_json(out_dir / f"{STATE_NAME}.json", {"epoch": epoch, "param_groups": groups,
                                                "scalars": scalars, "history": history})


def load_train_state(out_dir: Path, optimizer) -> tuple[int, list[dict]]:
    """Restore the optimizer; returns (epochs done, history)."""
    from safetensors.torch import load_file

    meta = json.loads((out_dir / f"{STATE_NAME}.json").read_text())
    tensors = load_file(str(out_dir / f"{STATE_NAME}.safetensors"))
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        _, pid, key = name.split(".", 2)
        state.setdefault(int(pid), {})[key] = value
    for pid, extra in meta["scalars"].items():
        state.setdefault(int(pid), {}).update(extra)
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    return int(meta["epoch"]), list(meta["history"])


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
    from deepexpr.models.checkpoint import save_model

    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    groups = param_groups or [{"params": [p for p in model.parameters() if p.requires_grad],
                               "lr_mult": 1.0}]
    optimizer = make_optimizer(groups, cfg)
    weights = class_weights(train.labels) if cfg.balance == "loss" else None
    out = Path(out_dir) if out_dir is not None else None
    start, history = 0, []
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        if resume and (out / f"{STATE_NAME}.json").is_file() and (out / LAST_NAME).is_file():
            _load_weights(model, out / LAST_NAME)
            start, history = load_train_state(out, optimizer)
            if log:
                log(f"resuming after epoch {start} from {out}")
    cache = None
    if frozen and start < cfg.epochs:  # transfer: run the frozen layers once (train/cached.py)
        from deepexpr.train.cached import FeatureCache

        cache = FeatureCache.build(model, train, val, cfg)
        if cache is not None and log:
            log(f"frozen layers cached: first {cache.k} stages, "
                f"{cache.train_feats.shape[0]} views of {cache.train_feats.shape[1]} images")
    for epoch in range(start, cfg.epochs):
        lr = set_lr(optimizer, schedule_lr(cfg, epoch))
        row = {"epoch": epoch + 1, "lr": lr}
        if cache is not None:
            row.update(cache.train_one_epoch(model, optimizer, cfg, epoch, weights, frozen,
                                             show_progress))
        else:
            row.update(train_one_epoch(model, optimizer, train, cfg, epoch, weights, frozen,
                                       show_progress))
        if val is not None and len(val):
            logits = cache.val_logits(model) if cache is not None else predict_logits(
                model, val, cfg.preprocess(), channels_last=cfg.channels_last)
            row["val_loss"], row["val_acc"] = _loss_acc(logits, val.labels)
        history.append(row)
        if log:
            log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in row.items()))
        if out is not None:
            save_model(out / LAST_NAME, model, {**checkpoint_config, "epochs_done": epoch + 1})
            save_train_state(out, optimizer, epoch + 1, history)
            write_history(out, history)
    return history


def _load_weights(model, path: Path) -> None:
    from safetensors.torch import load_file

    model.load_state_dict(load_file(str(path)))


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
