"""CLI of HA-GAN: `deepexpr train hagan`, `deepexpr translate`, `deepexpr evaluate hagan`.

    deepexpr train hagan --out runs/hagan                  # stand-in humans -> all built-ins
    deepexpr train hagan --data fer2013.csv --out runs/h   # a real labelled human set
    deepexpr translate photo.jpg --character pip --out pip.png
    deepexpr evaluate hagan --folds 10 --out reports/hagan
"""

from __future__ import annotations

import sys
from pathlib import Path


def register(commands, groups) -> None:
    _register_train(groups["train"])
    _register_translate(commands)
    _register_evaluate(groups["evaluate"])
    # `deepexpr recognize --model hagan`: deepexpr.recognition imports
    # deepexpr.translate.register_with_recognition lazily (keeps the CLI start fast).


def _register_train(train) -> None:
    p = train.add_parser("hagan", help="train HA-GAN (human face -> character with the same expression)",
                         description="Train HA-GAN's generator and two-headed discriminator. Without "
                         "--data the human side is the drawn STAND-IN (realistic-human-style faces).")
    p.add_argument("--out", default="runs/hagan", help="output directory (checkpoints, samples/, history.csv)")
    p.add_argument("--data", default="standin",
                   help="'standin' (default) or a labelled human set: FER2013 .csv or a folder of class folders")
    p.add_argument("--characters", default=None,
                   help="target characters, comma-separated (default: all built-in characters)")
    p.add_argument("--steps", type=int, default=1000, help="G+D updates in total (default 1000)")
    p.add_argument("--batch-size", type=int, default=32, help="batch size (paper: 130; default 32)")
    p.add_argument("--preset", default="default", choices=["default", "paper", "test"],
                   help="model sizes: default (64 px), paper (75 px), test (tiny)")
    p.add_argument("--image-size", type=int, default=None, help="override the preset's image side")
    p.add_argument("--augment", default="light", choices=["none", "light", "paper"],
                   help="human-side augmentation (paper: 5 crops x 11 rotations x flip)")
    p.add_argument("--l1-weight", type=float, default=5.0,
                   help="weight of the L1 to the neutral character (Eq. 4; default 5, the paper's objective: 30)")
    p.add_argument("--match-weight", type=float, default=100.0,
                   help="weight of the L1 to a real frame of the character with the same expression "
                   "(not in the paper; 0 turns it off)")
    p.add_argument("--adv-weight", type=float, default=0.1,
                   help="weight of G's adversarial (D^R) term of Eq. 3 (default 0.1; paper 1)")
    p.add_argument("--expr-weight", type=float, default=0.1,
                   help="weight of G's expression (D^e) term of Eq. 3 (default 0.1; paper 1)")
    p.add_argument("--template-init", default="medoid", choices=["median", "medoid"],
                   help="G's per-expression templates start from the median image or the medoid frame")
    p.add_argument("--pairing", default="rig", choices=["rig", "expression"],
                   help="target of the matched L1: rig = the character drawn making this very face (drawn "
                   "stand-in only; real sets fall back to expression), expression = a random frame of the "
                   "character with the same expression")
    p.add_argument("--encoder-pretrain", type=int, default=3000,
                   help="updates of G's encoder + expression head alone before the GAN (default 3000, about "
                   "2 CPU-minutes; not in the paper; 0 turns it off)")
    p.add_argument("--decoder-lr-mult", type=float, default=1.0, help="G decoder learning rate / --lr")
    p.add_argument("--template-lr-mult", type=float, default=1.0,
                   help="G template learning rate / --lr (0: the templates stay the renders they start from)")
    p.add_argument("--cls-weight", type=float, default=1.0,
                   help="weight of the encoder's auxiliary expression loss (not in the paper; 0 turns it off)")
    p.add_argument("--identities", type=int, default=64, help="stand-in: number of drawn people (default 64)")
    p.add_argument("--per-expression", type=int, default=10, help="stand-in: frames per person and expression")
    p.add_argument("--char-per-expression", type=int, default=40, help="character frames per expression")
    p.add_argument("--sample-every", type=int, default=250, help="write a sample grid every N steps")
    p.add_argument("--checkpoint-every", type=int, default=500, help="write checkpoints every N steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1: shared machine)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoints in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--export", default=None, metavar="DIR",
                   help="after training, write fp16 copies of G and D to DIR (e.g. src/deepexpr/weights)")
    p.set_defaults(func=run_train)


def _register_translate(commands) -> None:
    p = commands.add_parser("translate", help="redraw each face of a photo as a character (HA-GAN)",
                            description="Each face is redrawn as the character, side by side with the "
                            "input, with the expression D^e reads on the drawing.")
    p.add_argument("path", help="photo (JPEG/PNG)")
    p.add_argument("--character", default="all",
                   help="target character name, comma-separated names, or 'all' (default)")
    p.add_argument("--out", default=None, help="output PNG (default: PHOTO_hagan.png beside the photo)")
    p.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    p.add_argument("--weights", default=None,
                   help="a hagan_g.safetensors or a training --out directory (default: bundled)")
    p.set_defaults(func=run_translate)


def _register_evaluate(evaluate) -> None:
    p = evaluate.add_parser("hagan", help="HA-GAN: identity-independent k-fold vs a CNN, image quality",
                            description="Identity-independent k-fold accuracy of D^e on generated images "
                            "vs a plain CNN on the same human images; and, for a trained model, whether "
                            "held-out people's drawings show the intended expression and identity.")
    p.add_argument("--out", default="reports/hagan", help="output directory (report.md, *.csv, grid PNG)")
    p.add_argument("--weights", default=None, help="model to judge (default: bundled)")
    p.add_argument("--folds", type=int, default=10, help="k of the k-fold (paper: 10; 0 skips the k-fold)")
    p.add_argument("--max-folds", type=int, default=None, help="run only the first N folds (speed)")
    p.add_argument("--encoder-pretrain", type=int, default=3000, help="per fold: G's encoder pretraining updates")
    p.add_argument("--fold-steps", type=int, default=1000, help="HA-GAN steps per fold (default 1000, as the bundled model)")
    p.add_argument("--preset", default="default", choices=["default", "paper", "test"],
                   help="HA-GAN sizes trained in the k-fold")
    p.add_argument("--identities", type=int, default=64, help="stand-in people in the k-fold (default 64)")
    p.add_argument("--heldout-identities", type=int, default=12,
                   help="never-seen stand-in people used to judge --weights")
    p.add_argument("--characters", default=None,
                   help="k-fold target characters, comma-separated (default: the judged model's)")
    p.add_argument("--charid-steps", type=int, default=300, help="updates of the character-ID classifier")
    p.add_argument("--target-per-expression", type=int, default=30,
                   help="real renders per character and expression (character-ID training, Frechet)")
    p.add_argument("--kfold-only", action="store_true", help="skip judging a trained model (part 2)")
    p.add_argument("--character-model", default=None,
                   help="independent character expression model (default: the bundled one)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--workers", type=int, default=1, help="k-fold: folds trained at once, one process each")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run_evaluate)


def _characters(spec) -> tuple[str, ...] | None:
    return tuple(s.strip() for s in spec.split(",") if s.strip()) if spec else None


def run_train(args) -> int:
    from deepexpr.data.standin import (
        STANDIN_NOTICE,
        StandinConfig,
        build_standin_data,
        human_data_from_records,
    )
    from deepexpr.errors import InputError
    from deepexpr.train.hagan import HaganTrainConfig, train_hagan

    sizes = {"default": 64, "paper": 75, "test": 16}
    size = args.image_size or sizes[args.preset]
    scfg = StandinConfig(identities=args.identities, per_expression=args.per_expression,
                         char_per_expression=args.char_per_expression,
                         characters=_characters(args.characters), image_size=size,
                         load_size=int(round(size * 1.125)), seed=args.seed)
    print(f"hagan: preparing data ({size} px, characters: {', '.join(scfg.characters or ['all built-ins'])})",
          file=sys.stderr)
    data = build_standin_data(scfg)
    if args.data == "standin":
        print(f"hagan: {STANDIN_NOTICE}", file=sys.stderr)
    else:
        records = _read_records(Path(args.data))
        data = human_data_from_records(records, data, scfg.load_size, source=str(args.data))
        if len(set(data.human_labels.tolist())) < 2:
            raise InputError(f"{args.data}: fewer than two expression classes; HA-GAN needs labelled faces")
    cfg = HaganTrainConfig(preset=args.preset, image_size=args.image_size, steps=args.steps,
                           batch_size=args.batch_size, l1_weight=args.l1_weight, augment=args.augment,
                           match_weight=args.match_weight, cls_weight=args.cls_weight,
                           adv_weight=args.adv_weight, expr_weight=args.expr_weight,
                           template_init=args.template_init, pairing=args.pairing,
                           encoder_pretrain=args.encoder_pretrain, decoder_lr_mult=args.decoder_lr_mult,
                           template_lr_mult=args.template_lr_mult,
                           sample_every=args.sample_every, checkpoint_every=args.checkpoint_every,
                           seed=args.seed, threads=args.threads)
    from deepexpr.train.hagan import effective_pairing

    print(f"hagan: {len(data.human_images)} human faces ({data.source}); "
          f"{len(data.char_images)} character images of {', '.join(data.characters)}; "
          f"matched-L1 pairing: {effective_pairing(cfg, data)}", file=sys.stderr)
    result = train_hagan(data, cfg, args.out, resume=args.resume, quiet=args.quiet)
    last = result.history[-1] if result.history else {}
    if result.pretrain_seconds:
        print(f"hagan: encoder pretraining: {cfg.encoder_pretrain} updates in {result.pretrain_seconds:.0f} s")
    print(f"hagan: {result.steps} steps, {result.steps_per_second:.2f} steps/s; "
          f"D^e accuracy on generated images (training batches) {last.get('de_acc_fake', float('nan')):.2f}")
    print(f"hagan: wrote {result.generator}, {result.discriminator}"
          + (f", samples in {result.samples[-1].parent}" if result.samples else ""))
    if args.export:
        from deepexpr.train.hagan import export_bundle

        print(f"hagan: exported {', '.join(map(str, export_bundle(args.out, args.export)))}")
    return 0


def _read_records(path: Path):
    """FER2013 csv or image folders, through the shared readers."""
    from deepexpr.errors import InputError

    if not path.exists():
        raise InputError(f"{path}: no such file or folder; pass 'standin', a FER2013 .csv or a folder")
    if path.suffix.lower() == ".csv":
        from deepexpr.data import fer2013

        reader = getattr(fer2013, "Fer2013Dataset", None) or getattr(fer2013, "FER2013Dataset", None)
    else:
        from deepexpr.data import folders

        reader = getattr(folders, "ImageFolderDataset", None) or getattr(folders, "FolderDataset", None)
    if reader is None:
        raise InputError(f"{path}: no reader for this format is installed")
    return list(reader(path))


def run_translate(args) -> int:
    from deepexpr.io import save_image
    from deepexpr.translate import load_hagan, side_by_side, translate

    model = load_hagan(args.weights)
    names = None if args.character == "all" else _characters(args.character)
    results = translate(args.path, names, seed=args.seed, model=model)
    out = Path(args.out) if args.out else Path(args.path).with_name(Path(args.path).stem + "_hagan.png")
    save_image(out, side_by_side(results))
    for t in results:
        probs = " ".join(f"{c}={p:.2f}" for c, p in zip(t.classes, t.probs))
        print(f"face {t.box}: {t.character}: {t.label} ({probs})")
    print(f"wrote {out}")
    return 0


def run_evaluate(args) -> int:
    from deepexpr.evaluation.hagan import HaganEvalConfig, evaluate_hagan

    cfg = HaganEvalConfig(folds=args.folds, max_folds=args.max_folds, fold_steps=args.fold_steps,
                          encoder_pretrain=args.encoder_pretrain,
                          preset=args.preset, charid_steps=args.charid_steps,
                          target_per_expression=args.target_per_expression,
                          identities=args.identities, heldout_identities=args.heldout_identities,
                          character_model=args.character_model, seed=args.seed, threads=args.threads,
                          workers=args.workers,
                          characters=_characters(args.characters), judge_model=not args.kfold_only)
    report = evaluate_hagan(cfg, args.out, weights=args.weights, quiet=args.quiet)
    print(report.markdown)
    print(f"wrote {report.out_dir}")
    return 0
