"""Evaluate the sequence LSTMs on held-out subjects (paper 003 + the FEGTOR accuracy protocol).

For each expression, on the subjects the model did not see (`held_out_subjects` in its
config; every 5th subject by default):

- all sequences are smoothed over time as in training (`smooth_frames` in the model config),
  ground truth included, so every method is compared on the same tracks.
- free-run error: the model generates a 135-step block from the held-out neutral face; the
  landmark positions rebuilt from that neutral are compared with the real ones: mean
  Euclidean landmark error in mm over the block's frames (zero-padded frames included),
  and the root-mean-square of the same distances (JSON: free_run_rmse_mm).
- one-step error: teacher-forced next-displacement RMSE (mm) over the block.
- baselines, both also applied to the held-out neutral face: the mean training block of the
  expression, and the training sequence whose neutral face is nearest (centred landmarks).
  Both use every non-held-out subject (including the model's validation subjects, which
  the model did not train on), the same smoothed tracks and the same block alignment.
- the model is run twice: conditioned on each held-out face ("face", what `deepexpr
  animate` does by default), and once on the training mean shape with the displacements
  added to each face ("mean shape", `--condition mean`).
- recognition: a small classifier (multinomial logistic regression on per-landmark mean and
  extreme displacement from the neutral, after removing the head translation) trained on the
  training subjects' real sequences of all six expressions; its accuracy on real held-out
  sequences and on the generated ones.
- diversity: mean distance (mm) between the landmark displacement trajectories generated from
  different held-out neutral faces, next to the same figure for the real sequences.
- generation speed: ms per 135-step sequence (one thread).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from deepexpr.errors import InputError


def landmark_error(a: np.ndarray, b: np.ndarray) -> float:
    """Mean Euclidean distance between (..., L, 3) landmark arrays."""
    return float(np.linalg.norm(a - b, axis=-1).mean())


def landmark_rmse(a: np.ndarray, b: np.ndarray) -> float:
    """Root mean squared Euclidean distance between (..., L, 3) landmark arrays (the
    quantity a mean-squared-error loss minimises; `landmark_error` is its mean-abs cousin)."""
    return float(np.sqrt(((a - b) ** 2).sum(-1).mean()))


def positions(block: np.ndarray, neutral: np.ndarray) -> np.ndarray:
    from deepexpr.data.sequences import from_block

    return from_block(block, neutral)


def features(pos: np.ndarray) -> np.ndarray:
    """(T, 83, 3) positions -> 498 features: mean and extreme (signed) displacement from frame 0,
    after removing each frame's translation of the stable points (nose bridge, eye corners)."""
    from deepexpr.landmarks83 import STABLE_ROWS

    rel = pos - pos[:, list(STABLE_ROWS)].mean(1, keepdims=True)
    d = (rel - rel[:1]).reshape(len(pos), -1)
    ext = d[np.abs(d).argmax(0), np.arange(d.shape[1])]
    return np.concatenate([d.mean(0), ext])


class SequenceClassifier:
    """Multinomial logistic regression on `features` (standardised), fitted by L-BFGS."""

    def fit(self, x: np.ndarray, y: np.ndarray, l2: float = 1e-3) -> SequenceClassifier:
        import torch

        self.mean_, self.std_ = x.mean(0), x.std(0) + 1e-6
        xt = torch.tensor((x - self.mean_) / self.std_, dtype=torch.float64)
        yt = torch.tensor(y)
        k = int(y.max()) + 1
        w = torch.zeros(x.shape[1], k, dtype=torch.float64, requires_grad=True)
        b = torch.zeros(k, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([w, b], max_iter=200, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(xt @ w + b, yt) + l2 * (w * w).sum()
            loss.backward()
            return loss

        opt.step(closure)
        self.w_, self.b_ = w.detach().numpy(), b.detach().numpy()
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return (((x - self.mean_) / self.std_) @ self.w_ + self.b_).argmax(1)


def _models(models_dir: str | None, expressions):
    from deepexpr.models.seqlstm import load_generator

    found = {}
    for e in expressions:
        path = Path(models_dir) / f"seq_{e}.safetensors" if models_dir else None
        if path is not None and not path.is_file():
            continue
        found[e] = load_generator(e, str(path) if path else None)
    if not found:
        raise InputError(f"{models_dir}: no seq_<expression>.safetensors found; train first")
    return found


def evaluate_sequences(data: str, models_dir: str | None = None, out: str | None = None,
                       threads: int = 1, show_progress: bool = True) -> dict:
    """Run the whole evaluation; returns (and optionally writes) the report dict."""
    import torch

    from deepexpr.data.bu3dfe import read_sequences
    from deepexpr.data.synthetic_sequences import SYNTH_EXPRESSIONS
    from deepexpr.progress import progress
    from deepexpr.train.sequences import blocks_of, split_subjects

    torch.set_num_threads(max(1, threads))
    corpus = read_sequences(data)
    models = _models(models_dir, SYNTH_EXPRESSIONS)
    first_cfg = next(iter(models.values()))[1]
    held = first_cfg.get("held_out_subjects") or split_subjects(corpus.subjects(), 5)[1]
    held = [s for s in held if s in set(corpus.subjects())]
    if not held:
        raise InputError(f"{data}: none of the model's held-out subjects are in this corpus")
    length = int(first_cfg.get("length", 135))
    smooth = float(first_cfg.get("training", {}).get("smooth_frames", 0.0))
    train = [s for s in corpus.sequences if s.subject not in held]
    test = [s for s in corpus.sequences if s.subject in held]
    exprs = [e for e in SYNTH_EXPRESSIONS if e in models]
    clf_train = [s for s in train if s.expression in exprs]
    tb, tn = blocks_of(clf_train, length, smooth)
    clf = SequenceClassifier().fit(
        np.stack([features(positions(b, n)) for b, n in zip(tb, tn)]),
        np.array([exprs.index(s.expression) for s in clf_train]))
    rows = []
    for e in progress(exprs, desc="evaluate", disable=None if show_progress else True):
        model, cfg = models[e]
        tr = [s for s in train if s.expression == e]
        te = [s for s in test if s.expression == e]
        if not tr or not te:
            continue
        rows.append(_evaluate_expression(e, exprs, model, tr, te, clf, length, smooth))
    report = {"data": str(data), "smooth_frames": smooth, "synthetic": _is_synthetic(data), "held_out_subjects": len(held),
              "models": {e: models[e][1].get("model") for e in exprs},
              "rows": rows}
    if out:
        from deepexpr.io import write_json, write_text

        Path(out).mkdir(parents=True, exist_ok=True)
        write_json(Path(out) / "report.json", report)
        write_text(Path(out) / "report.md", format_table(report) + "\n")
    return report


def _is_synthetic(data) -> bool | None:
    import json

    p = Path(data) / "manifest.json"
    return bool(json.loads(p.read_text()).get("synthetic")) if p.is_file() else None


def _evaluate_expression(e, exprs, model, tr, te, clf, length, smooth) -> dict:
    import torch

    from deepexpr.train.sequences import blocks_of

    trb, trn = blocks_of(tr, length, smooth)
    teb, ten = blocks_of(te, length, smooth)
    t0 = time.perf_counter()
    gen = model.generate(torch.from_numpy(ten), steps=length).double().numpy()
    gen_ms = (time.perf_counter() - t0) * 1e3 / len(te)
    t0 = time.perf_counter()
    model.generate(torch.from_numpy(ten[:1]), steps=length)
    single_ms = (time.perf_counter() - t0) * 1e3
    real = np.stack([positions(b, n) for b, n in zip(teb, ten)])
    mean_shape = model.shape_mean.reshape(1, -1, 3)
    gen_mean = model.generate(mean_shape, steps=length)[0].double().numpy()  # 'mean' condition
    mean_block = trb.mean(0)
    centred = lambda n: (n - n.mean(-2, keepdims=True)).reshape(len(n), -1)  # noqa: E731
    nearest = np.linalg.norm(centred(ten)[:, None] - centred(trn)[None], axis=-1).argmin(1)
    preds = {
        "model": np.stack([positions(b, n) for b, n in zip(gen, ten)]),
        "model_mean_shape": np.stack([positions(gen_mean, n) for n in ten]),
        "mean": np.stack([positions(mean_block, n) for n in ten]),
        "nearest": np.stack([positions(trb[j], n) for j, n in zip(nearest, ten)]),
    }
    with torch.no_grad():
        step = model(torch.from_numpy(teb), torch.from_numpy(ten)).double().numpy()
    step = step * float(model.disp_scale)
    target = np.zeros_like(teb)
    target[:, :-1] = teb[:, 1:]
    mean_target = np.zeros_like(mean_block)
    mean_target[:-1] = mean_block[1:]
    near_target = np.zeros_like(teb)
    near_target[:, :-1] = trb[nearest, 1:]
    label = exprs.index(e)
    gen_pos = preds["model"]
    disp_gen = (gen_pos - gen_pos[:, :1]).reshape(len(te), -1)
    disp_real = (real - real[:, :1]).reshape(len(te), -1)
    return {
        "expression": e, "train": len(tr), "test": len(te),
        "free_run_mm": {k: landmark_error(v, real) for k, v in preds.items()},
        "free_run_rmse_mm": {k: landmark_rmse(v, real) for k, v in preds.items()},
        "one_step_rmse_mm": {
            "model": float(np.sqrt(((step - target) ** 2).mean())),
            "mean": float(np.sqrt(((mean_target[None] - target) ** 2).mean())),
            "nearest": float(np.sqrt(((near_target - target) ** 2).mean())),
        },
        "acc_real": float((clf.predict(np.stack([features(p) for p in real])) == label).mean()),
        "acc_generated": float((clf.predict(np.stack([features(p) for p in gen_pos])) == label
                                ).mean()),
        "acc_generated_mean_shape": float((clf.predict(np.stack(
            [features(p) for p in preds["model_mean_shape"]])) == label).mean()),
        "diversity_generated_mm": _mean_pairwise(disp_gen) / (83 * length) ** 0.5,
        "diversity_real_mm": _mean_pairwise(disp_real) / (83 * length) ** 0.5,
        "generate_ms_batch": gen_ms, "generate_ms_single": single_ms,
    }


def _mean_pairwise(x: np.ndarray) -> float:
    if len(x) < 2:
        return 0.0
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    return float(d[np.triu_indices(len(x), 1)].mean())


def format_table(report: dict) -> str:
    """Markdown table of the report."""
    lines = [f"Held-out subjects: {report['held_out_subjects']}; data: {report['data']}"
             + (" (SYNTHETIC)" if report.get("synthetic") else ""),
             "",
             "| expression | free-run err mm: model (face) / model (mean shape) / mean seq / "
             "nearest seq | one-step RMSE mm: model / mean / nearest | classifier acc real / "
             "generated (face) / generated (mean shape) | diversity mm gen / real | gen ms |",
             "|---|---|---|---|---|---|"]
    for r in report["rows"]:
        f, s = r["free_run_mm"], r["one_step_rmse_mm"]
        lines.append(
            f"| {r['expression']} | {f['model']:.2f} / {f['model_mean_shape']:.2f} / "
            f"{f['mean']:.2f} / {f['nearest']:.2f} | "
            f"{s['model']:.3f} / {s['mean']:.3f} / {s['nearest']:.3f} | "
            f"{r['acc_real']:.2f} / {r['acc_generated']:.2f} / "
            f"{r['acc_generated_mean_shape']:.2f} | "
            f"{r['diversity_generated_mm']:.2f} / {r['diversity_real_mm']:.2f} | "
            f"{r['generate_ms_single']:.0f} |")
    return "\n".join(lines)
