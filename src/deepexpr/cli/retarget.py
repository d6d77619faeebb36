"""CLI of the face -> character rig: `deepexpr retarget`, `deepexpr train rigmap`,
`deepexpr evaluate retarget`, `deepexpr train standin-reader`. Options are generated from `RetargetConfig`, `RigMapData` +
`RigMapTrainConfig` and `RetargetEvalConfig`.

    deepexpr retarget face.jpg --character pip --out pip.png --rig-csv rig.csv
    deepexpr retarget clip.mp4 --character mika --side-by-side --vmc 127.0.0.1:39539
    deepexpr train rigmap --export src/deepexpr/weights     (run folder: --out runs/rigmap; --resume)
    deepexpr evaluate retarget --out reports/retarget
    deepexpr train standin-reader --export src/deepexpr/weights   (the `--human standin` reader)
"""

from __future__ import annotations

import sys

from deepexpr.cli.options import add_options, config_from_args
from deepexpr.cli.outputs import declare_outputs


def register(commands, groups) -> None:
    p = commands.add_parser(
        "retarget", help="drive a character with a face: photo, video or folder -> drawings + rig files",
        description="Estimate the rig (FACS AUs, head pose, gaze) of every face and draw the character "
        "making it. The estimator was learned on SYNTHETIC ground truth (drawn stand-in humans and "
        "rendered 3D faces).")
    p.add_argument("inputs", metavar="PHOTO|VIDEO|FOLDER")
    add_options(p, "deepexpr.retarget.run:RetargetConfig")
    declare_outputs(p, rig_csv="file", rig_json="file")
    p.set_defaults(func=cmd_retarget)

    t = groups["train"].add_parser("rigmap", help="fit the face -> rig map on SYNTHETIC ground truth "
                                   "(drawn stand-ins + rendered 3D faces)")
    add_options(t, "deepexpr.data.rig_truth:RigMapData")
    add_options(t, "deepexpr.train.rigmap:RigMapTrainConfig")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    t.add_argument("--resume", action="store_true", help="continue the run in --out exactly (more --epochs allowed)")
    declare_outputs(t, ("train_state.safetensors", "rigmap.safetensors"), overwrite=True, out="folder",
                    export="folder")
    t.set_defaults(func=cmd_train_rigmap)

    h = groups["train"].add_parser("standin-reader", help="a human expression reader trained on drawn "
                                   "stand-in people, for `evaluate retarget --human standin`")
    h.add_argument("--faces", default="runs/standin_faces", help="folder for the aligned stand-in faces "
                   "(class folders; kept and reused when finished with the same settings)")
    h.add_argument("--identities", type=int, default=60, help="stand-in people")
    h.add_argument("--per-expression", type=int, default=8, help="faces per person and expression")
    h.add_argument("--seed", type=int, default=150, help="people seed (the evaluation's people are 200)")
    h.add_argument("--model", default="cnn_small", help="architecture (a registered name)")
    h.add_argument("--epochs", type=int, default=15, help="training epochs")
    h.add_argument("--out", default="runs/standin_reader", help="training run folder (`train human`'s)")
    h.add_argument("--export", default=None, help="also write human_standin.safetensors + .json here "
                   "(src/deepexpr/weights to bundle)")
    h.add_argument("--quiet", action="store_true", help="no progress bars or epoch lines")
    declare_outputs(h, ("model.safetensors",), overwrite=True, out="folder", faces="folder", export="folder")
    h.set_defaults(func=cmd_train_standin_reader)

    e = groups["evaluate"].add_parser("retarget", help="rig estimator on held-out ground truth + agreement")
    add_options(e, "deepexpr.retarget.report:RetargetEvalConfig")
    declare_outputs(e, out="folder")
    e.set_defaults(func=cmd_evaluate_retarget)


def cmd_retarget(args) -> int:
    from deepexpr.retarget.run import RetargetConfig, run_retarget

    return run_retarget(config_from_args(RetargetConfig, args, inputs=args.inputs))


def cmd_train_rigmap(args) -> int:
    from dataclasses import asdict
    from pathlib import Path

    from deepexpr.data.rig_truth import RigMapData, TruthConfig, collect_meshes, with_appearance
    from deepexpr.io import cache_dir
    from deepexpr.models.rigmap import save_rigmap
    from deepexpr.train.rigmap import MODEL_NAME, RigMapTrainConfig, concat_mesh_sets, fit_rigmap

    data = config_from_args(RigMapData, args)
    if 200 in data.seeds:
        print("deepexpr: note: seed 200 is the held-out evaluation set", file=sys.stderr)
    cfg = config_from_args(RigMapTrainConfig, args)
    store = cache_dir() / "retarget"
    truths = [TruthConfig(identities=data.identities, per_identity=data.per_identity, seed=s) for s in data.seeds]
    sets = [collect_meshes(t, cache_dir=store, quiet=args.quiet) for t in truths]
    if cfg.appearance:
        sets = [with_appearance(s, t, store, args.quiet) for s, t in zip(sets, truths)]
    renders, render_cfgs = None, []
    if data.render_identities > 0:
        from deepexpr.animation.render_truth import RenderTruthConfig, render_truth_items

        if 400 in data.render_seeds:
            print("deepexpr: note: render seed 400 is the held-out evaluation set", file=sys.stderr)
        render_cfgs = [RenderTruthConfig(identities=data.render_identities, per_identity=data.render_per_identity,
                                         seed=s, base=data.render_base) for s in data.render_seeds]
        rsets = [collect_meshes(c, cache_dir=store, quiet=args.quiet, items=render_truth_items(c))
                 for c in render_cfgs]
        if cfg.appearance:
            rsets = [with_appearance(s, c, store, args.quiet, items=render_truth_items(c))
                     for s, c in zip(rsets, render_cfgs)]
        renders = concat_mesh_sets(rsets)
    from deepexpr.characters.export import RENDERER_VERSION
    from deepexpr.characters.geometry import STANDIN_MOUTH_VERSION
    from deepexpr.data.rig_truth import CACHE_VERSION
    from deepexpr.data.synthetic_sequences import AU_MODEL_VERSION

    # the ground truth's generators: a map trained on older drawings is told apart by these
    provenance = {"truth": [asdict(t) for t in truths], "renders": [asdict(c) for c in render_cfgs] or None,
                  "command": "deepexpr train rigmap", "truth_versions": {
                      "rig_truth": CACHE_VERSION, "au_model": AU_MODEL_VERSION, "renderer": RENDERER_VERSION,
                      "standin_mouth": STANDIN_MOUTH_VERSION}}
    model = fit_rigmap(concat_mesh_sets(sets), cfg, provenance, calibrated_only=renders, out_dir=data.out,
                       resume=args.resume)
    path = Path(data.out) / MODEL_NAME
    if data.export:
        path = save_rigmap(model, Path(data.export) / MODEL_NAME)
    val = model.config["validation"]
    print(f"{path}: {model.config['rows']} images of {model.config['people']} people "
          f"(faces found {model.config['faces_found'][0]}/{model.config['faces_found'][1]}); "
          f"held-out people: AU MAE {sum(val[a] for a in list(val)[:18]) / 18:.3f}")
    return 0


def cmd_train_standin_reader(args) -> int:
    """Stand-in faces through the face pipeline, then `deepexpr train human` on them."""
    import shutil
    from pathlib import Path

    from deepexpr.cli import main
    from deepexpr.data.standin import write_standin_faces
    from deepexpr.errors import InputError
    from deepexpr.retarget.report import STANDIN_READER

    if args.seed == 200:
        raise InputError("--seed 200: those are the evaluation's people; choose another seed")
    for flag, value, most in (("--identities", args.identities, 10_000), ("--per-expression", args.per_expression, 1000),
                              ("--epochs", args.epochs, 10_000)):
        if not 1 <= value <= most:  # checked before any face is drawn or folder made
            raise InputError(f"{flag} {value}: give a whole number from 1 to {most:,}")
    made = write_standin_faces(args.faces, args.identities, args.per_expression, args.seed, quiet=args.quiet)
    print(f"{args.faces}: {made['images']} aligned stand-in faces ({made['missed']} not found by the pipeline)")
    argv = ["train", "human", "--data", str(args.faces), "--subject-pattern", "prefix",
            "--model", args.model, "--epochs", str(args.epochs), "--optimizer", "adam", "--protocol", "random",
            "--threads", "1", "--out", str(args.out)] + (["--overwrite"] if args.overwrite else []) + \
        (["--quiet"] if args.quiet else [])
    code = main(argv)
    if code == 0 and args.export:
        Path(args.export).mkdir(parents=True, exist_ok=True)
        for suffix in (".safetensors", ".json"):
            shutil.copyfile(Path(args.out) / f"model{suffix}", Path(args.export) / f"{STANDIN_READER}{suffix}")
        print(f"exported {Path(args.export) / STANDIN_READER}.safetensors")
    return code


def cmd_evaluate_retarget(args) -> int:
    from deepexpr.retarget.report import (
        RetargetEvalConfig,
        agreement_table,
        evaluate_retarget,
        markdown_table,
    )

    cfg = config_from_args(RetargetEvalConfig, args)
    result = evaluate_retarget(cfg)
    print(markdown_table(result))
    print(agreement_table(result))
    a = result["astronaut"]
    print(f"astronaut: AU12 {a['aus']['AU12']} AU6 {a['aus']['AU6']} AU15 {a['aus']['AU15']}, "
          f"driven {cfg.character} read as {a['character_reading']}")
    print(f"written: {cfg.out}/metrics.json, table.md, sheet.png")
    return 0
