"""Train the per-expression sequence LSTMs (paper 003): MSE on displacements, Adam 1e-3, batch 5.

    >>> train_sequences(SeqTrainConfig(data="data/sequences", expression="surprise", out="runs/seq"))

Two phases, run one after the other:
1. teacher forcing (`epochs`, the paper): the real displacement x_t is the input and the
   next one x_{t+1} the target, MSE.
2. free running (`free_run_epochs`, our addition): the model is unrolled from the neutral
   face feeding its own outputs back, exactly as at generation time, and the loss is the
   MSE of the whole generated sequence against the real one: positions (running sum of
   the displacements, i.e. the offset from the neutral face) plus displacements, each in
   its normalised unit. Teacher forcing alone leaves the exposure bias: at generation
   time the network sees its own outputs, which drift away from anything it was trained
   on (the bundled joy model of session 1 overshot and closed the mouth). Trained on the
   whole sequence, the network learns the conditional mean sequence given the neutral
   face, which is what the held-out free-run error measures.

Convergence (`early_stop`): a validation set of training subjects (every `val_every`-th,
never the held-out evaluation subjects) is scored after every epoch with the phase's own
loss; a phase has converged when its validation loss has not improved on its best by more
than `min_improvement` (relative, 1%) for `patience` epochs. The phase then stops and the
best weights are restored.

Per expression E, OUT/seq_E.safetensors + .json hold the model (loadable with
`deepexpr.models.checkpoint.load_model`); OUT/seq_E.state.safetensors is the one training
state (train/state.py: weights, Adam, the shuffling generator and torch's RNG, epoch
counters, history, the early-stopping plateau, settings), so `resume=True` continues
exactly where a run stopped.
Subjects are split once, deterministically: every `holdout_every`-th subject (sorted by
name) is held out for `deepexpr evaluate sequences`; the split is written to the config.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from deepexpr.errors import InputError, check_settings, setting
from deepexpr.models.checkpoint import save_model
from deepexpr.train.state import load_state, save_state


@dataclass
class SeqTrainConfig:
    data: str = setting("data/sequences", "corpus folder (SUBJECT/EXPRESSION[.npy], see deepexpr.data.bu3dfe)")
    expression: str = setting("all", "an expression or 'all' (one model each)")
    out: str = setting("runs/sequences", "checkpoint folder")
    model: str = setting("seqlstm", "registered architecture: seqlstm (paper 3x128), seqlstm_small "
                         "(3x64, bundled), test_seqlstm")
    epochs: int = setting(300, "teacher-forced epochs (the paper's training)", min=1, max=1_000_000)
    batch_size: int = setting(5, "sequences per step (paper: 5)", min=1, max=100_000)
    lr: float = setting(1e-3, "Adam learning rate (paper: 1e-3)", above=0)
    length: int = setting(135, "block length (paper: 135)", min=2, max=100_000)
    holdout_every: int = setting(5, "every N-th subject is held out for evaluation (0: none)", min=0)
    seed: int = setting(0, "shuffling and initialisation")
    threads: int = setting(1, "torch threads (the machine is shared)", min=1)
    resume: bool = setting(False, "continue from the checkpoints in --out")
    checkpoint_every: int = setting(10, "epochs between checkpoints", min=1)
    # Tracking noise otherwise dominates the frame differences and the fed-back generation drifts.
    smooth_frames: float = setting(1.5, "Gaussian temporal smoothing (sigma, frames) of the landmark "
                                   "tracks before differencing (0: off)", min=0)
    time_limit: float = setting(0.0, "seconds per expression, then checkpoint and stop (0: none)", min=0)
    show_progress: bool = True  # tqdm bar
    free_run_epochs: int = setting(0, "then epochs of free-running training: the model is unrolled on "
                                   "its own outputs, MSE on the whole sequence (fixes exposure bias)", min=0)
    early_stop: bool = setting(False, "stop each phase at convergence: validation loss not improved by "
                               "more than --min-improvement for --patience epochs; best weights kept")
    patience: int = setting(15, "epochs without a > --min-improvement gain before a phase stops", min=1)
    min_improvement: float = setting(0.01, "relative improvement of the validation loss that counts", min=0)
    val_every: int = setting(8, "with --early-stop, every N-th training subject validates (0: none)", min=0)
    # A regulariser (like localisation noise on the first frame) so the net keys on robust
    # traits (face size) rather than memorising each training face.
    neutral_jitter: float = setting(0.0, "std (mm) of noise added to the conditioning neutral face "
                                    "in training (0: off)", min=0)

    def __post_init__(self):
        check_settings(self)


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
    from deepexpr.data.sequences import to_block

    tracks = [smooth_tracks(s.frames, smooth) for s in sequences]
    blocks = np.stack([to_block(t, length) for t in tracks]).astype(np.float32)
    neutrals = np.stack([t[0] for t in tracks]).astype(np.float32)
    return blocks, neutrals


def teacher_forced_loss(model, blocks, neutrals):
    """The paper's loss: MSE of the predicted next displacements, inputs the real ones.

    Args:
        blocks: (B, S, L*3) displacement blocks (mm); neutrals: (B, L, 3) (mm).
    """
    import torch

    target = torch.zeros_like(blocks)
    target[:, :-1] = blocks[:, 1:]  # target = input shifted left, last zero
    return torch.nn.functional.mse_loss(model(blocks, neutrals), target / model.disp_scale)


def free_run_loss(model, blocks, neutrals):
    """MSE of a free-running generation against the real sequence (module doc, phase 2).

    Positions relative to the neutral face (running sums) in units of `offset_scale`, plus
    displacements in units of `disp_scale`.

    Args:
        blocks: (B, S, L*3) displacement blocks (mm); neutrals: (B, L, 3) (mm).
    """
    gen = model.free_run(neutrals, steps=blocks.shape[1])
    pos = ((gen.cumsum(1) - blocks.cumsum(1)) / model.offset_scale).pow(2).mean()
    return pos + ((gen - blocks) / model.disp_scale).pow(2).mean()


LOSSES = {"teacher": teacher_forced_loss, "free": free_run_loss}


def _epoch(model, opt, loss_fn, x_all, n_all, batch_size: int, rng, jitter: float = 0.0
           ) -> float:
    """One pass over the training blocks in random batches; mean loss."""
    import torch

    model.train()
    order = rng.permutation(len(x_all))
    total = 0.0
    for i in range(0, len(order), batch_size):
        idx = torch.from_numpy(order[i:i + batch_size])
        neutral = n_all[idx]
        if jitter:
            neutral = neutral + jitter * torch.randn_like(neutral)
        loss = loss_fn(model, x_all[idx], neutral)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += float(loss.detach()) * len(idx)
    return total / len(x_all)


def _validate(model, loss_fn, x_val, n_val) -> float:
    import torch

    model.eval()
    with torch.no_grad():
        return float(loss_fn(model, x_val, n_val))


def _tensors(seqs, config):
    import torch

    blocks, neutrals = blocks_of(seqs, config.length, config.smooth_frames)
    return torch.from_numpy(blocks), torch.from_numpy(neutrals)


# Settings a resumed run may change: longer phases, the time budget, where files are, how
# it runs; every other setting (and the subjects) must be the run's own.
EXTENDABLE = ("epochs", "free_run_epochs", "time_limit", "checkpoint_every", "threads", "resume",
              "show_progress", "data", "out", "expression")


def resume_settings(config: SeqTrainConfig, expression: str, train_seqs, val_seqs) -> dict:
    """What a resumed run must share with the run it continues (checked by `load_state`)."""
    return {**asdict(config), "trained_expression": expression,
            "train_subjects": [s.subject for s in train_seqs],
            "val_subjects": [s.subject for s in val_seqs]}


@dataclass
class Plateau:
    """Early-stopping bookkeeping of the running phase (saved with the training state)."""

    best: float | None = None  # best validation loss of the phase
    ref: float | None = None  # last loss that beat the previous reference by min_improvement
    since: int = 0  # epochs since `ref` was set
    best_state: dict | None = None  # the model's state_dict at `best`

    def update(self, val: float, model, min_improvement: float) -> None:
        import copy

        if self.best is None or val < self.best:
            self.best, self.best_state = val, copy.deepcopy(model.state_dict())
        if self.ref is None or val < self.ref * (1 - min_improvement):
            self.ref, self.since = val, 0
        else:
            self.since += 1

    def scalars(self) -> dict:
        return {"best": self.best, "ref": self.ref, "since": self.since}


class SeqRun:
    """One expression's model, optimizer, shuffling generator and progress, and their files."""

    def __init__(self, config: SeqTrainConfig, expression: str, train_seqs, val_seqs, meta: dict):
        import torch

        from deepexpr.models import create_model

        out = Path(config.out)
        out.mkdir(parents=True, exist_ok=True)
        self.config, self.expression, self.meta = config, expression, meta
        self.weights = out / f"seq_{expression}.safetensors"
        self.state_file = out / f"seq_{expression}.state.safetensors"
        self.settings = resume_settings(config, expression, train_seqs, val_seqs)
        torch.manual_seed(config.seed)
        self.x_all, self.n_all = _tensors(train_seqs, config)
        self.x_val, self.n_val = _tensors(val_seqs, config) if len(val_seqs) else (None, None)
        self.model = create_model(config.model)
        self.model.set_normalisation(self.x_all, self.n_all)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.rng = np.random.default_rng(config.seed)  # restored with the state, never reseeded
        self.st = {"epoch": 0, "phase": "teacher", "done": {"teacher": 0, "free": 0},
                   "history": [], "val": [], "converged": {}}
        self.plateau = Plateau()

    def resume(self) -> None:
        """Continue exactly from the training state (settings checked)."""
        restored = load_state(self.state_file, {"model": self.model}, {"adam": self.opt},
                              self.settings, EXTENDABLE, {"shuffle": self.rng})
        self.st = restored.progress["run"]
        best = {k[len("best."):]: v for k, v in restored.extra.items() if k.startswith("best.")}
        self.plateau = Plateau(**restored.progress["plateau"], best_state=best or None)

    def save(self) -> None:
        """The training state first (what resume reads), then the weights for inference."""
        best = {f"best.{k}": v for k, v in (self.plateau.best_state or {}).items()}
        save_state(self.state_file, {"model": self.model}, {"adam": self.opt},
                   {"run": self.st, "plateau": self.plateau.scalars()}, self.settings,
                   {"shuffle": self.rng}, best)
        save_model(self.weights, self.model, self._weights_config())

    def _weights_config(self) -> dict:
        st, config = self.st, self.config
        return {"model": config.model, "overrides": asdict(self.model.config),
                "expression": self.expression, "classes": [self.expression],
                "length": config.length, "epochs": st["epoch"], "phase": st["phase"],
                "converged": st["converged"],
                "final_mse": st["history"][-1] if st["history"] else None,
                "final_val": st["val"][-1] if st["val"] else None,
                "training": {k: v for k, v in asdict(config).items()
                             if k not in ("show_progress", "resume")},
                **self.meta}

    def epoch(self, phase: str) -> tuple[float, float]:
        """One training epoch of `phase` and its validation; returns (train, val) losses."""
        loss_fn = LOSSES[phase]
        train_loss = _epoch(self.model, self.opt, loss_fn, self.x_all, self.n_all,
                            self.config.batch_size, self.rng, self.config.neutral_jitter)
        has_val = self.x_val is not None
        val = _validate(self.model, loss_fn, self.x_val, self.n_val) if has_val else train_loss
        self.st["epoch"] += 1
        self.st["done"][phase] += 1
        self.st["history"].append(train_loss)
        self.st["val"].append(val if has_val else None)
        self.plateau.update(val, self.model, self.config.min_improvement)
        return train_loss, val

    def run_phase(self, phase: str, bar, out_of_time) -> bool:
        """Train `phase` up to its budget or convergence; True when the time ran out."""
        config, st = self.config, self.st
        budget = config.epochs if phase == "teacher" else config.free_run_epochs
        if phase in st["converged"] or st["done"][phase] >= budget:
            return False
        if st["phase"] != phase:  # a new phase starts its own plateau
            st["phase"], self.plateau = phase, Plateau()
        while st["done"][phase] < budget:
            train_loss, val = self.epoch(phase)
            bar.update(1)
            bar.set_postfix(phase=phase, loss=f"{train_loss:.4f}", val=f"{val:.4f}")
            if config.early_stop and self.plateau.since >= config.patience:
                self.model.load_state_dict(self.plateau.best_state)  # the plateau's best epoch
                st["converged"][phase] = st["epoch"]
                return False
            if out_of_time():
                return True
            if st["epoch"] % config.checkpoint_every == 0:
                self.save()
        return False


def train_expression(config: SeqTrainConfig, expression: str, train_seqs, held: list[str],
                     provenance: dict, val_seqs=()) -> dict:
    """Train one expression's LSTM (teacher-forced, then free-running); returns a summary."""
    from deepexpr.progress import progress

    meta = {"held_out_subjects": held, "validation_subjects": [s.subject for s in val_seqs],
            "data": provenance}
    run = SeqRun(config, expression, train_seqs, val_seqs, meta)
    if config.resume and run.state_file.is_file():
        run.resume()
    st = run.st
    began, cpu0 = time.time(), time.process_time()
    bar = progress(total=config.epochs + config.free_run_epochs, initial=sum(st["done"].values()),
                   desc=f"train {expression}", disable=None if config.show_progress else True)

    def out_of_time() -> bool:
        return bool(config.time_limit and time.time() - began > config.time_limit)

    for phase in ("teacher", "free"):  # a resumed run continues unfinished phases
        if run.run_phase(phase, bar, out_of_time):
            break
    bar.close()
    run.save()
    return {"expression": expression, "epochs": st["epoch"], "train_sequences": len(run.x_all),
            "val_sequences": len(val_seqs), "final_mse": st["history"][-1] if st["history"]
            else None, "final_val": st["val"][-1] if st["val"] else None,
            "converged": dict(st["converged"]), "phase": st["phase"], "done": dict(st["done"]),
            "seconds": round(time.time() - began, 1),
            "cpu_seconds": round(time.process_time() - cpu0, 1), "weights": str(run.weights)}


def train_sequences(config: SeqTrainConfig) -> list[dict]:
    """Train one model per requested expression; returns their summaries."""
    import torch

    from deepexpr.data.bu3dfe import read_sequences
    from deepexpr.data.synthetic_sequences import SYNTH_EXPRESSIONS
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
    if corpus.skipped:  # on the terminal, not only in the run's JSON
        print(f"deepexpr: skipped {len(corpus.skipped)} unreadable or invalid sequence(s) of {config.data} "
              f"(first: {corpus.skipped[0]})", file=sys.stderr)
    train_subj, held = split_subjects(corpus.subjects(), config.holdout_every)
    manifest = Path(config.data) / "manifest.json"
    provenance = {"path": str(config.data), "synthetic": None, "skipped": len(corpus.skipped)}
    if manifest.is_file():
        meta = json.loads(manifest.read_text())
        provenance.update(synthetic=bool(meta.get("synthetic")), note=meta.get("note"),
                          seed=meta.get("seed"), subjects=meta.get("subjects"))
    val_subj = (set(train_subj[config.val_every - 1::config.val_every])
                 if config.early_stop and config.val_every > 0 else set())
    fit_subj = set(train_subj) - val_subj
    results = []
    for expr in wanted:
        seqs = [s for s in corpus.by_expression(expr) if s.subject in fit_subj]
        val = [s for s in corpus.by_expression(expr) if s.subject in val_subj]
        if not seqs:
            raise InputError(f"{config.data}: no training sequences for {expr!r}")
        results.append(train_expression(config, expr, seqs, held, provenance, val))
    return results


def export_fp16(src: str | Path, dst: str | Path, expressions=None) -> list[Path]:
    """Copy trained seq_<expr> checkpoints from `src` to `dst` with fp16 weights (bundling)."""
    from deepexpr.data.synthetic_sequences import SYNTH_EXPRESSIONS
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
