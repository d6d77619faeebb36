"""Fit the rig map (`deepexpr.models.rigmap`) on ground truth with known rigs.

Two steps, each a plain function:

1. `deepexpr.data.rig_truth.collect_meshes(TruthConfig)`: the stand-in ground truth through
   the real face pipeline, as 478-point meshes with their rigs (cached).
2. `fit_rigmap(meshes, ...)`: population neutral = the mean frontalised calibration mesh
   (iterated: the pose fit's target is the neutral itself); a small MLP (AdamW, cosine,
   smooth L1, input noise; optional loss weight per AU, `--au-weight`) on the features of
   `deepexpr.models.rigmap` (`--geometry` adds the distances), with held-out *people* of
   the training set giving the per-control reliability (the confidence scale).
   Tried first: ridge regression (see `deepexpr.models.rigmap`).

The run folder (`--out`) holds the one training state (`deepexpr.train.state`, saved after
every epoch) and the fitted map; `--resume` continues a stopped run exactly (the same
weights, bit for bit, as a run that never stopped) or extends a finished one with more
`--epochs`.

    deepexpr train rigmap --export src/deepexpr/weights
    deepexpr train rigmap --resume --epochs 80
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from deepexpr.characters.rig import AUS
from deepexpr.data.rig_truth import MeshSet, collect_meshes  # noqa: F401  (re-exported for training scripts)
from deepexpr.errors import InputError, check_settings, setting
from deepexpr.models.rigmap import (
    FROM_POSE_MAP,
    N_MESH,
    OUTPUTS,
    NeutralFace,
    RigMap,
    appearance_delta,
    mesh_features,
    mlp_input,
    normalise_reference,
    save_rigmap,
)
from deepexpr.train.state import load_state, save_state


def population_neutral(ms: MeshSet) -> np.ndarray:
    """(468, 3) mean frontal neutral: calibration meshes fitted to their mean, twice."""
    neutral = ms.meshes[ms.calibration][:, :N_MESH]
    ref = normalise_reference(neutral[0])
    for _ in range(3):
        ref = np.mean([mesh_features(m, ref).frontal for m in neutral], 0)
    return ref.astype(np.float64)


def design(ms: MeshSet, reference: np.ndarray, with_geometry: bool = False,
           appearance_mean: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Network inputs of every non-calibration row, relative to the population neutral
    ("population") and to the person's own neutral ("calibrated"), with row indices
    (`with_geometry`: the mouth/eye/brow distances too, `models.rigmap.geometry`;
    `appearance_mean`: the rows' patch features `ms.appearance` minus that population mean,
    or minus the person's own neutral's in the calibrated rows)."""
    feats = [mesh_features(m, reference) for m in ms.meshes]
    app = None if appearance_mean is None else ms.appearance
    own = {str(ms.identity[i]): NeutralFace(feats[i].frontal[:N_MESH], None if app is None else app[i])
           for i in np.nonzero(ms.calibration)[0]}
    rows = [i for i in range(len(feats)) if not ms.calibration[i] and str(ms.identity[i]) in own]

    def row(i, neutral):
        delta = None if app is None else appearance_delta(app[i], neutral, appearance_mean)
        return mlp_input(feats[i], reference, neutral, with_geometry, delta)

    return {
        "rows": np.array(rows, np.int64),
        "population": np.stack([row(i, None) for i in rows]),
        "calibrated": np.stack([row(i, own[str(ms.identity[i])]) for i in rows]),
    }


@dataclass
class RigMapTrainConfig:
    """Settings of the rig map fit (`deepexpr train rigmap` options are generated from these)."""

    hidden: int = setting(256, "width of the two hidden layers", min=1, max=4096)
    epochs: int = setting(60, "passes over the training rows", min=1, max=10_000)
    lr: float = setting(1e-3, "AdamW learning rate (cosine annealed)", above=0)
    weight_decay: float = setting(1e-4, "AdamW weight decay", min=0)
    dropout: float = setting(0.1, "dropout after the first hidden layer", min=0, max=0.9)
    input_noise: float = setting(0.05, "Gaussian noise on the standardised inputs (robustness)", min=0)
    batch_size: int = setting(64, "rows per step", min=1, max=100_000)
    val_fraction: float = setting(0.2, "people held out of the fit; their figures are the confidence scale",
                                  above=0, max=0.9)
    seed: int = setting(0, "initialisation, shuffling and held-out people")
    threads: int = setting(1, "torch threads", min=1, max=64)
    geometry: bool = setting(False, "also read distances around the mouth, eyes and brows "
                             "(relative to the neutral; `models.rigmap.MEASURES`)")
    au_weight: str = setting("", "loss weight per AU, e.g. AU16=2,AU17=2 (others 1)")
    appearance: bool = setting(False, "also read HOG and shading of patches around the mouth, chin, eyes, "
                               "brows, nose and cheeks (`deepexpr.faces.appearance`); the head angles "
                               "then come from a second, mesh-only map")

    def __post_init__(self):
        check_settings(self)
        self.loss_weights()  # refuse a bad --au-weight now

    def loss_weights(self) -> np.ndarray | None:
        """(23,) loss weight per output from `au_weight`, or None (all 1)."""
        if not self.au_weight:
            return None
        weights = np.ones(len(OUTPUTS), np.float32)
        for part in self.au_weight.split(","):
            name, _, value = part.partition("=")
            try:
                weights[OUTPUTS.index(name.strip())] = float(value)
            except ValueError:
                raise InputError(f"--au-weight {part!r}: use CONTROL=WEIGHT, e.g. AU16=2 "
                                 f"(controls: {', '.join(OUTPUTS)})") from None
        return weights


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else 0.0


# The training state (`deepexpr.train.state`) in the run folder: weights, AdamW moments, the
# cosine schedule, the shuffling and dropout RNGs, per-epoch losses, the settings.
STATE_NAME = "train_state.safetensors"
MODEL_NAME = "rigmap.safetensors"
# Settings a resumed run may change: more epochs (the cosine then spans the new total from the
# epoch reached), another thread count.
EXTENDABLE = ("epochs", "threads")


@dataclass
class _Run:
    """The MLP, its optimizer, schedule and shuffling generator (everything a resume restores)."""

    net: object  # torch.nn.Sequential
    opt: object  # torch.optim.AdamW
    sched: object  # torch.optim.lr_scheduler.CosineAnnealingLR
    gen: object  # torch.Generator: shuffling and input noise (dropout draws torch's global RNG)


def _build(d_in: int, d_out: int, cfg: RigMapTrainConfig) -> _Run:
    import torch

    torch.set_num_threads(max(1, int(cfg.threads)))
    torch.manual_seed(cfg.seed)
    nn = torch.nn
    net = nn.Sequential(nn.Linear(d_in, cfg.hidden), nn.GELU(approximate="tanh"), nn.Dropout(cfg.dropout),
                        nn.Linear(cfg.hidden, cfg.hidden), nn.GELU(approximate="tanh"),
                        nn.Linear(cfg.hidden, d_out))
    opt = torch.optim.AdamW(net.parameters(), cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, cfg.epochs))
    return _Run(net, opt, sched, torch.Generator().manual_seed(cfg.seed))


def _save(path: Path, run: _Run, epoch: int, history: list[dict], settings: dict) -> None:
    save_state(path, {"mlp": run.net}, {"adamw": run.opt},
               {"epoch": epoch, "history": history, "scheduler": run.sched.state_dict()},
               settings, extra={"shuffle_rng": run.gen.get_state()})


def _restore(path: Path, run: _Run, cfg: RigMapTrainConfig, settings: dict) -> tuple[int, list[dict]]:
    """Fill `run` from the state at `path`; (epochs done, history)."""
    restored = load_state(path, {"mlp": run.net}, {"adamw": run.opt}, settings, EXTENDABLE)
    done = int(restored.progress["epoch"])
    if done > cfg.epochs:
        raise InputError(f"{path}: the run already did {done} epochs; resume with --epochs {done} or more")
    run.gen.set_state(restored.extra["shuffle_rng"])
    run.sched.load_state_dict(restored.progress["scheduler"])
    if run.sched.T_max != max(1, cfg.epochs):  # extended: the cosine spans the new total from here
        run.sched.T_max = max(1, cfg.epochs)
        for group, base in zip(run.opt.param_groups, run.sched.base_lrs):
            group["lr"] = base * 0.5 * (1.0 + math.cos(math.pi * done / run.sched.T_max))
        run.sched._last_lr = [g["lr"] for g in run.opt.param_groups]
    return done, list(restored.progress["history"])


def _epoch(run: _Run, a, b, cfg: RigMapTrainConfig) -> float:
    """One pass over the rows (a (N, D), b (N, 23) tensors); mean smooth-L1 loss."""
    import torch

    weights = cfg.loss_weights()
    weights = None if weights is None else torch.tensor(weights)
    perm = torch.randperm(len(a), generator=run.gen)
    losses = []
    for i in range(0, len(a), cfg.batch_size):
        idx = perm[i:i + cfg.batch_size]
        xb = a[idx] + cfg.input_noise * torch.randn(len(idx), a.shape[1], generator=run.gen)
        # smooth L1: robust to the few meshes mediapipe fits badly
        if weights is None:
            loss = torch.nn.functional.smooth_l1_loss(run.net(xb), b[idx], beta=0.05)
        else:
            each = torch.nn.functional.smooth_l1_loss(run.net(xb), b[idx], beta=0.05, reduction="none")
            loss = (each * weights).mean()
        run.opt.zero_grad()
        loss.backward()
        run.opt.step()
        losses.append(float(loss.detach()))
    run.sched.step()
    return float(np.mean(losses))


def data_digest(x: np.ndarray, y: np.ndarray) -> str:
    """Short SHA-256 of the training rows: a resume must see the same meshes."""
    h = hashlib.sha256(np.ascontiguousarray(x, np.float32).tobytes())
    h.update(np.ascontiguousarray(y, np.float32).tobytes())
    return h.hexdigest()[:16]


def _train_mlp(x: np.ndarray, y: np.ndarray, cfg: RigMapTrainConfig, out: Path | None = None,
               resume: bool = False, settings: dict | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Fit the MLP on standardised inputs x (N, D) and scaled targets y (N, 23).

    With `out`, the training state is saved there after every epoch; `resume` continues
    from it (if one was saved) exactly as if the run had not stopped.
    """
    import torch

    run = _build(x.shape[1], y.shape[1], cfg)
    settings = {**(settings or {}), **asdict(cfg), "rows": int(len(x)), "data": data_digest(x, y)}
    start, history = 0, []
    if out is not None and resume and (out / STATE_NAME).is_file():
        start, history = _restore(out / STATE_NAME, run, cfg, settings)
    a, b = torch.tensor(x), torch.tensor(y)
    run.net.train()
    for epoch in range(start, cfg.epochs):
        lr = run.opt.param_groups[0]["lr"]
        history.append({"epoch": epoch + 1, "lr": lr, "loss": _epoch(run, a, b, cfg)})
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            _save(out / STATE_NAME, run, epoch + 1, history, settings)
    linears = [m for m in run.net if isinstance(m, torch.nn.Linear)]
    return [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy()) for m in linears]


def fit_rigmap(ms: MeshSet, cfg: RigMapTrainConfig | None = None, provenance: dict | None = None,
               calibrated_only: MeshSet | None = None, out_dir: str | Path | None = None,
               resume: bool = False) -> RigMap:
    """Fit the rig map on a `MeshSet`, holding out `cfg.val_fraction` of the people.

    Every image gives two training rows: features relative to the population neutral and
    relative to the person's own neutral (calibrated flag on). `calibrated_only` images
    (the rendered 3D faces, whose AU labels are relative to the photo's own expression)
    give only the calibrated row. With `out_dir`, the training state is kept there after
    every epoch (`STATE_NAME`; `resume=True` continues it exactly: same settings and rows
    required, more epochs allowed) and the fitted map is written as `MODEL_NAME` + JSON.

    Returns:
        a `RigMap`; `reliability_` holds the held-out people's Pearson r per control
        (population-neutral rows) and `config["validation"]` their MAE.
    """
    cfg = cfg or RigMapTrainConfig()
    reference = population_neutral(ms)
    appearance_mean = _appearance_mean(ms, cfg, calibrated_only)
    d = design(ms, reference, cfg.geometry, appearance_mean)
    y = ms.rigs[d["rows"]].astype(np.float32)
    people = np.unique(ms.identity[d["rows"]])
    rng = np.random.default_rng(cfg.seed)
    val_people = set(rng.choice(people, max(1, int(len(people) * cfg.val_fraction)), replace=False))
    val = np.array([str(p) in val_people for p in ms.identity[d["rows"]]])
    x_train = np.concatenate([d["population"][~val], d["calibrated"][~val]])
    y_train = np.concatenate([y[~val], y[~val]])
    extra = {}
    if calibrated_only is not None:
        dc = design(calibrated_only, reference, cfg.geometry, appearance_mean)
        yc = calibrated_only.rigs[dc["rows"]].astype(np.float32)
        ids = calibrated_only.identity[dc["rows"]]
        held = set(rng.choice(np.unique(ids), max(1, int(len(np.unique(ids)) * cfg.val_fraction)), replace=False))
        vc = np.array([str(p) in held for p in ids])
        x_train, y_train = np.concatenate([x_train, dc["calibrated"][~vc]]), np.concatenate([y_train, yc[~vc]])
        extra = {"x": dc["calibrated"][vc], "y": yc[vc], "people": sorted(str(p) for p in held)}
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    scale = np.array([1.0] * len(AUS) + [25.0, 15.0, 12.0, 1.0, 1.0], np.float32)
    out = Path(out_dir) if out_dir is not None else None
    layers = _train_mlp((x_train - mean) / std, y_train / scale, cfg, out, resume, provenance)
    model = RigMap(reference, layers, mean.astype(np.float32), std.astype(np.float32), scale,
                   appearance_mean_=appearance_mean)
    pred = model.forward(d["population"][val])
    pred[:, :len(AUS)] = np.clip(pred[:, :len(AUS)], 0, 1)
    model.reliability_ = {c: round(_pearson(pred[:, k], y[val, k]), 4) for k, c in enumerate(OUTPUTS)}
    mae = np.abs(pred - y[val]).mean(0)
    model.config = {**(provenance or {}), "train": asdict(cfg), "rows": int(len(y)), "people": int(len(people)),
                    "validation_people": sorted(str(p) for p in val_people), "faces_found": list(ms.found),
                    "validation": {c: round(float(v), 4) for c, v in zip(OUTPUTS, mae)}}
    if extra:
        pred = model.forward(extra["x"])
        pred[:, :len(AUS)] = np.clip(pred[:, :len(AUS)], 0, 1)
        model.config["validation_calibrated_only"] = {
            "people": extra["people"], "faces_found": list(calibrated_only.found),
            "mae": {c: round(float(v), 4) for c, v in zip(OUTPUTS, np.abs(pred - extra["y"]).mean(0))}}
    if cfg.appearance:
        _add_pose_map(model, ms, cfg, calibrated_only)
    if out is not None:
        save_rigmap(model, out / MODEL_NAME)
    return model


def _appearance_mean(ms: MeshSet, cfg: RigMapTrainConfig, calibrated_only: MeshSet | None) -> np.ndarray | None:
    """(N_APPEARANCE,) mean patch features of the training neutrals, or None without `cfg.appearance`."""
    if not cfg.appearance:
        return None
    if ms.appearance is None or (calibrated_only is not None and calibrated_only.appearance is None):
        raise InputError("fit_rigmap: appearance=True needs the sets' patch features "
                         "(`data.rig_truth.with_appearance`)")
    return ms.appearance[ms.calibration].mean(0).astype(np.float32)


def _add_pose_map(model: RigMap, ms: MeshSet, cfg: RigMapTrainConfig, calibrated_only: MeshSet | None) -> None:
    """Give an appearance map a mesh-only map for the head angles and gaze_x (same rows and
    recipe; `FROM_POSE_MAP` says why): on the photo-textured renders it is the better one, and
    on a real photo the patches move those values (gaze_y keeps the eye patches)."""
    pose = fit_rigmap(ms, replace(cfg, appearance=False), calibrated_only=calibrated_only)
    model.pose_map_ = pose
    model.reliability_.update({c: pose.reliability_[c] for c in FROM_POSE_MAP})
    model.config["validation"].update({c: pose.config["validation"][c] for c in FROM_POSE_MAP})


def concat_mesh_sets(sets: list[MeshSet]) -> MeshSet:
    """Several `MeshSet`s (different people) as one."""
    appearance = None if any(s.appearance is None for s in sets) else np.concatenate([s.appearance for s in sets])
    return MeshSet(*(np.concatenate([getattr(s, f) for s in sets])
                     for f in ("meshes", "rigs", "identity", "expression", "calibration")),
                   (sum(s.found[0] for s in sets), sum(s.found[1] for s in sets)), appearance)
