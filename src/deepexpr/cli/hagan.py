"""CLI of HA-GAN: `deepexpr train hagan`, `deepexpr translate`, `deepexpr evaluate hagan`.

    deepexpr train hagan --out runs/hagan                  # stand-in humans -> all built-ins
    deepexpr train hagan --data fer2013.csv --out runs/h   # a real labelled human set
    deepexpr translate photo.jpg --character pip --out pip.png
    deepexpr evaluate hagan --folds 10 --out reports/hagan
"""

from __future__ import annotations

import sys
from pathlib import Path

from deepexpr.cli.options import add_options, add_shared, config_from_args
from deepexpr.cli.outputs import declare_outputs

# the generator in a training run folder: the moving average of G first (cleaner drawings)
GENERATOR_FILE = ("hagan_g_ema.safetensors", "hagan_g.safetensors")


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
    p.add_argument("--data", default="standin",
                   help="'standin' or a labelled human set: FER2013 .csv or a folder of class folders")
    add_shared(p, out="runs/hagan", quiet=False)
    add_options(p, "deepexpr.train.hagan:HaganTrainConfig")
    # the stand-in's image side and seed follow the training config's
    add_options(p, "deepexpr.data.standin:StandinConfig", exclude=("image_size", "load_size", "render_size", "seed"))
    p.add_argument("--resume", action="store_true", help="continue from the checkpoints in --out")
    declare_outputs(p, ("state.safetensors", "hagan_g.safetensors"), overwrite=True, out="folder", export="folder")
    p.add_argument("--export", default=None, metavar="DIR",
                   help="after training, write fp16 copies of G and D to DIR (e.g. src/deepexpr/weights)")
    p.set_defaults(func=run_train)


def _register_translate(commands) -> None:
    p = commands.add_parser("translate", help="redraw each face of a photo as a character (HA-GAN)",
                            description="Each face is redrawn as the character, side by side with the "
                            "input, with the expression D^e reads on the drawing.")
    p.add_argument("path", help="photo (JPEG/PNG)")
    p.add_argument("--character", default="all",
                   help="target character name, comma-separated names, or 'all'")
    add_shared(p, out=None, seed=0)
    p.add_argument("--weights", default=None,
                   help="a hagan_g.safetensors, a bundled name or a training --out folder (default: bundled)")
    p.set_defaults(func=run_translate)


def _register_evaluate(evaluate) -> None:
    p = evaluate.add_parser("hagan", help="HA-GAN: identity-independent k-fold vs a CNN, image quality",
                            description="Identity-independent k-fold accuracy of D^e on generated images "
                            "vs a plain CNN on the same human images; and, for a trained model, whether "
                            "held-out people's drawings show the intended expression and identity.")
    add_shared(p, out="reports/hagan", quiet=False)
    declare_outputs(p, out="folder")
    p.add_argument("--weights", default=None,
                   help="model to judge: a hagan_g.safetensors, bundled name or run folder (default: bundled)")
    add_options(p, "deepexpr.evaluation.hagan:HaganEvalConfig")
    p.set_defaults(func=run_evaluate)


def preset_image_size(preset: str) -> int:
    """The image side of a preset's generator (as registered with the model)."""
    from deepexpr.models import create_model
    from deepexpr.models.hagan import PRESETS

    return create_model(PRESETS[preset].generator).cfg.image_size


def run_train(args) -> int:
    from deepexpr.data.standin import (
        STANDIN_NOTICE,
        StandinConfig,
        build_standin_data,
        human_data_from_records,
    )
    from deepexpr.errors import DataError
    from deepexpr.train.hagan import HaganTrainConfig, effective_pairing, train_hagan

    cfg = config_from_args(HaganTrainConfig, args)
    size = cfg.image_size or preset_image_size(cfg.preset)
    scfg = config_from_args(StandinConfig, args, image_size=size, load_size=int(round(size * 1.125)),
                            seed=cfg.seed)
    print(f"hagan: preparing data ({size} px, characters: {', '.join(scfg.characters or ['all built-ins'])})",
          file=sys.stderr)
    data = build_standin_data(scfg)
    if args.data == "standin":
        print(f"hagan: {STANDIN_NOTICE}", file=sys.stderr)
    else:
        records = _read_records(Path(args.data))
        styles = data.target_styles
        data = human_data_from_records(records, data, scfg.load_size, source=str(args.data))
        data.target_styles = styles  # a rig-code G's decoder still learns from the renderer
        if len(set(data.human_labels.tolist())) < 2:
            raise DataError(f"{args.data}: fewer than two expression classes; HA-GAN needs labelled faces")
    print(f"hagan: {len(data.human_images)} human faces ({data.source}); "
          f"{len(data.char_images)} character images of {', '.join(data.characters)}; "
          f"matched-L1 pairing: {effective_pairing(cfg, data)}", file=sys.stderr)
    result = train_hagan(data, cfg, args.out, resume=args.resume, quiet=args.quiet)
    last = result.history[-1] if result.history else {}
    if result.pretrain_seconds:
        print(f"hagan: pretraining (encoder {cfg.encoder_pretrain} updates, a rig-code decoder "
              f"{cfg.decoder_pretrain}) in {result.pretrain_seconds:.0f} s")
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
    from deepexpr.cli.training import load_dataset
    from deepexpr.errors import InputError

    if not path.exists():
        raise InputError(f"{path}: no such file or folder; pass 'standin', a FER2013 .csv or a folder")
    return list(load_dataset("human", str(path)))


def run_translate(args) -> int:
    from deepexpr.io import save_image
    from deepexpr.models.resolve import weights_file
    from deepexpr.translate import find_faces, load_hagan, read_photo, side_by_side, translate

    model = load_hagan(weights_file(args.weights, run_file=GENERATOR_FILE, option="--weights"))
    names = None if args.character == "all" else [c.strip() for c in args.character.split(",") if c.strip()]
    photo = read_photo(args.path)
    faces = find_faces(photo)  # kept: each result line carries its face's quality
    results = translate(photo if faces else args.path, names, seed=args.seed, model=model, faces=faces)
    out = Path(args.out) if args.out else Path(args.path).with_name(Path(args.path).stem + "_hagan.png")
    save_image(out, side_by_side(results))
    by_box = {tuple(int(v) for v in f.box): f for f in faces}
    for t in results:
        face = by_box.get(t.box)
        probs = " ".join(f"{c}={p:.2f}" for c, p in zip(t.classes, t.probs))
        unsure = f"?  (low confidence: {face.reason})" if getattr(face, "low_confidence", False) else ""
        print(f"face {t.box}: {t.character}: {t.label}{unsure} ({probs})")
    print(f"wrote {out}")
    return 0


def run_evaluate(args) -> int:
    from deepexpr.evaluation.hagan import HaganEvalConfig, evaluate_hagan
    from deepexpr.models.resolve import weights_file

    cfg = config_from_args(HaganEvalConfig, args, character_model=weights_file(args.character_model,
                                                                                option="--character-model"))
    weights = weights_file(args.weights, run_file=GENERATOR_FILE, option="--weights")
    report = evaluate_hagan(cfg, args.out, weights=weights, quiet=args.quiet)
    print(report.markdown)
    print(f"wrote {report.out_dir}")
    return 0
