"""Train the per-expression sequence LSTMs (paper 003): MSE on displacements, Adam 1e-3, batch 5.

    >>> train_sequences(SeqTrainConfig(data="data/sequences", expression="surprise", out="runs/seq"))

Per expression E, OUT/seq_E.safetensors + .json hold the model (loadable with
`deepexpr.models.checkpoint.load_model`); OUT/seq_E.state.safetensors + .json hold the
optimizer state and epoch so `resume=True` continues where a run stopped.
Subjects are split once, deterministically: every `holdout_every`-th subject (sorted by
name) is held out for `deepexpr evaluate sequences`; the split is written to the config.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from deepexpr.errors import InputError


@dataclass
class SeqTrainConfig:
    data: str = "data/sequences"  # corpus folder (reader layout, see deepexpr.data.bu3dfe)
    expression: str = "all"  # one expression or 'all' (one model each)
    out: str = "runs/sequences"  # output folder for checkpoints
    model: str = "seqlstm"  # registered model name (seqlstm, seqlstm_small, test_seqlstm)
    epochs: int = 300  # passes over the training sequences
    batch_size: int = 5  # sequences per step (paper: 5)
    lr: float = 1e-3  # Adam learning rate (paper: 1e-3)
    length: int = 135  # block length (paper: 135)
    holdout_every: int = 5  # every N-th subject is held out for evaluation (0: none)
    seed: int = 0  # shuffling and initialisation
    threads: int = 1  # torch threads (the machine is shared)
    resume: bool = False  # continue from OUT's state files
    checkpoint_every: int = 10  # epochs between checkpoints
    smooth_frames: float = 1.5  # Gaussian temporal smoothing (sigma, frames) of the landmark
    # tracks before differencing: frame-to-frame tracking noise otherwise dominates the
    # displacements and the fed-back generation drifts (0: off)
    time_limit: float = 0.0  # stop after this many seconds per expression (0: no limit)
    show_progress: bool = True  # tqdm bar


def split_subjects(subjects: list[str], holdout_every: int) -> tuple[list[str], list[str]]:
    """(train, held out): every `holdout_every`-th subject of the sorted list is held out."""
    subjects = sorted(subjects)
    if holdout_every <= 0:
        return subjects, []
    held = subjects[holdout_every - 1::holdout_every]
    return [s for s in subjects if s not in held], held


def smooth_tracks(frames: np.ndarray, sigma: float) -> np.ndarray:
    """(T, L, 3) landmark tracks smoothed over time (Gaussian, `sigma` frames; 0: unchanged)."""
    if sigma <= 0:
        return frames
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(frames, sigma, axis=0, mode="nearest")


def blocks_of(sequences, length: int, smooth: float = 0.0):
    """Sequences -> (blocks (N, S, L*3) float32, neutrals (N, L, 3) float32)."""
    from deepexpr.animation.sequences import to_block

    tracks = [smooth_tracks(s.frames, smooth) for s in sequences]
    blocks = np.stack([to_block(t, length) for t in tracks]).astype(np.float32)
    neutrals = np.stack([t[0] for t in tracks]).astype(np.float32)
    return blocks, neutrals


def _save_state(path: Path, optimizer, epoch: int, history: list) -> None:
    """Adam state as safetensors (flat keys) + JSON (epoch, step counts, history)."""
    import torch
    from safetensors.torch import save_file

    from deepexpr.io import atomic_path, write_json

    tensors, steps = {}, {}
    for i, st in optimizer.state_dict()["state"].items():
        tensors[f"{i}.exp_avg"] = st["exp_avg"].contiguous()
        tensors[f"{i}.exp_avg_sq"] = st["exp_avg_sq"].contiguous()
        steps[str(i)] = float(st["step"]) if torch.is_tensor(st["step"]) else st["step"]
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp))
    write_json(path.with_suffix(".json"), {"epoch": epoch, "steps": steps, "history": history})


def _load_state(path: Path, optimizer) -> tuple[int, list]:
    import torch
    from safetensors.torch import load_file

    meta = json.loads(path.with_suffix(".json").read_text())
    tensors = load_file(str(path))
    sd = optimizer.state_dict()
    for i in sd["param_groups"][0]["params"]:
        if f"{i}.exp_avg" in tensors:
            sd["state"][i] = {"step": torch.tensor(meta["steps"][str(i)]),
                              "exp_avg": tensors[f"{i}.exp_avg"],
                              "exp_avg_sq": tensors[f"{i}.exp_avg_sq"]}
    optimizer.load_state_dict(sd)
    return int(meta["epoch"]), list(meta.get("history", []))


def train_expression(config: SeqTrainConfig, expression: str, train_seqs, held: list[str],
                     provenance: dict) -> dict:
    """Train one expression's LSTM; returns a summary dict."""
    import torch

    from deepexpr.models import create_model
    from deepexpr.models.checkpoint import load_model, save_model
    from deepexpr.progress import progress

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    weights = out / f"seq_{expression}.safetensors"
    state_file = out / f"seq_{expression}.state.safetensors"
    torch.manual_seed(config.seed)
    blocks, neutrals = blocks_of(train_seqs, config.length, config.smooth_frames)
    x_all = torch.from_numpy(blocks)
    n_all = torch.from_numpy(neutrals)
    target = torch.zeros_like(x_all)
    target[:, :-1] = x_all[:, 1:]  # target = input shifted left, last zero
    start_epoch, history = 0, []
    if config.resume and weights.is_file() and state_file.is_file():
        model, _ = load_model(weights)
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=config.lr)
        start_epoch, history = _load_state(state_file, opt)
    else:
        model = create_model(config.model)
        model.set_normalisation(x_all, n_all)
        opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    rng = np.random.default_rng(config.seed + start_epoch)
    began = time.time()
    bar = progress(range(start_epoch, config.epochs), total=config.epochs, initial=start_epoch,
                   desc=f"train {expression}", disable=None if config.show_progress else True)
    epoch = start_epoch
    for epoch in bar:
        order = rng.permutation(len(x_all))
        total = 0.0
        for i in range(0, len(order), config.batch_size):
            idx = torch.from_numpy(order[i:i + config.batch_size])
            pred = model(x_all[idx], n_all[idx])
            loss = torch.nn.functional.mse_loss(pred, target[idx] / model.disp_scale)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        history.append(total / len(x_all))
        bar.set_postfix(mse=f"{history[-1]:.4f}")
        done = epoch + 1
        out_of_time = config.time_limit and time.time() - began > config.time_limit
        if done % config.checkpoint_every == 0 or done == config.epochs or out_of_time:
            _checkpoint(save_model, _save_state, weights, state_file, model, opt, config,
                        expression, held, provenance, done, history)
        if out_of_time:
            break
    return {"expression": expression, "epochs": epoch + 1 if history else start_epoch,
            "train_sequences": len(x_all), "final_mse": history[-1] if history else None,
            "seconds": round(time.time() - began, 1), "weights": str(weights)}


def _checkpoint(save_model, save_state, weights, state_file, model, opt, config, expression,
                held, provenance, epoch, history):
    overrides = asdict(model.config)
    save_model(weights, model, {
        "model": config.model, "overrides": overrides, "expression": expression,
        "classes": [expression], "length": config.length, "epochs": epoch,
        "final_mse": history[-1], "training": {k: v for k, v in asdict(config).items()
                                               if k not in ("show_progress", "resume")},
        "held_out_subjects": held, "data": provenance,
    })
    save_state(state_file, opt, epoch, history)


def train_sequences(config: SeqTrainConfig) -> list[dict]:
    """Train one model per requested expression; returns their summaries."""
    import torch

    from deepexpr.animation.synth import SYNTH_EXPRESSIONS
    from deepexpr.data.bu3dfe import read_sequences
    from deepexpr.expressions import canonical

    torch.set_num_threads(max(1, config.threads))
    if config.expression == "all":
        wanted = list(SYNTH_EXPRESSIONS)
    else:
        try:
            wanted = [canonical(config.expression)]
        except ValueError as err:
            raise InputError(f"--expression: {err}") from err
    corpus = read_sequences(config.data, wanted)
    train_subj, held = split_subjects(corpus.subjects(), config.holdout_every)
    manifest = Path(config.data) / "manifest.json"
    provenance = {"path": str(config.data), "synthetic": None, "skipped": len(corpus.skipped)}
    if manifest.is_file():
        meta = json.loads(manifest.read_text())
        provenance.update(synthetic=bool(meta.get("synthetic")), note=meta.get("note"),
                          seed=meta.get("seed"), subjects=meta.get("subjects"))
    results = []
    for expr in wanted:
        seqs = [s for s in corpus.by_expression(expr) if s.subject in set(train_subj)]
        if not seqs:
            raise InputError(f"{config.data}: no training sequences for {expr!r}")
        results.append(train_expression(config, expr, seqs, held, provenance))
    return results


def export_fp16(src: str | Path, dst: str | Path, expressions=None) -> list[Path]:
    """Copy trained seq_<expr> checkpoints from `src` to `dst` with fp16 weights (bundling)."""
    from deepexpr.animation.synth import SYNTH_EXPRESSIONS
    from deepexpr.models.checkpoint import load_model, save_model

    written = []
    for e in expressions or SYNTH_EXPRESSIONS:
        path = Path(src) / f"seq_{e}.safetensors"
        if not path.is_file():
            continue
        model, cfg = load_model(path)
        cfg = {k: v for k, v in cfg.items() if k != "versions"}
        cfg["dtype"] = "float16"
        out = Path(dst) / path.name
        save_model(out, model.half(), cfg)
        written.append(out)
    return written
