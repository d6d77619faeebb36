"""CLI of the face -> character rig: `deepexpr retarget`, `deepexpr train rigmap`,
`deepexpr evaluate retarget`.

    deepexpr retarget face.jpg --character pip --out pip.png --rig-csv rig.csv
    deepexpr retarget clip.mp4 --character mika --side-by-side --vmc 127.0.0.1:39539
    deepexpr train rigmap --export src/deepexpr/weights
    deepexpr evaluate retarget --out reports/retarget
"""

from __future__ import annotations

import sys
from dataclasses import fields


def register(commands, groups) -> None:
    p = commands.add_parser(
        "retarget", help="drive a character with a face: photo, video or folder -> drawings + rig files",
        description="Estimate the rig (FACS AUs, head pose, gaze) of every face and draw the character "
        "making it. The estimator was learned on SYNTHETIC ground truth (drawn stand-in humans).")
    p.add_argument("inputs", metavar="PHOTO|VIDEO|FOLDER")
    p.add_argument("--character", default="pip", help="built-in name or style .json (default pip)")
    p.add_argument("--out", default=None, help="out.png | out.mp4 | DIR (default <input>_<character>.png/.mp4/)")
    p.add_argument("--side-by-side", action="store_true", help="the face crop left of each drawing")
    p.add_argument("--rig-csv", default=None, help="write the rig per frame and face (CSV)")
    p.add_argument("--rig-json", default=None, help="write rigs with confidence and flags (JSON)")
    p.add_argument("--arkit", action="store_true", help="add ARKit's 52 blendshape names to the rig files")
    p.add_argument("--calibrate", default=None, metavar="NEUTRAL.jpg", help="a neutral photo of the person")
    p.add_argument("--vmc", default=None, metavar="HOST:PORT", nargs="?", const="127.0.0.1:39539",
                   help="stream VMC over OSC (default 127.0.0.1:39539)")
    p.add_argument("--face", type=int, default=None, metavar="N",
                   help="drive only face N (0 = leftmost); default: one character per face")
    p.add_argument("--size", type=int, default=256, help="drawing side in pixels")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.set_defaults(func=cmd_retarget)

    t = groups["train"].add_parser("rigmap", help="fit the face -> rig map on drawn stand-in ground truth")
    t.add_argument("--identities", type=int, default=60, help="stand-in people per seed")
    t.add_argument("--per-identity", type=int, default=40, help="images per person")
    t.add_argument("--seeds", default="100,101", help="people seeds (held-out evaluation uses 200)")
    t.add_argument("--renders", default="24,25,300", metavar="IDS,PER,SEED",
                   help="rendered 3D faces (calibrated rows only): identities, images each, seed; "
                   "'0' turns them off (held-out evaluation uses seed 400)")
    t.add_argument("--epochs", type=int, default=60)
    t.add_argument("--hidden", type=int, default=256)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--export", default="runs/rigmap", help="folder for rigmap.safetensors + rigmap.json")
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(func=cmd_train_rigmap)

    e = groups["evaluate"].add_parser("retarget", help="rig estimator on held-out ground truth + agreement")
    e.add_argument("--out", default="reports/retarget")
    e.add_argument("--identities", type=int, default=20)
    e.add_argument("--per-identity", type=int, default=30)
    e.add_argument("--character", default="pip")
    e.add_argument("--weights", default=None, help="a rig map other than the bundled one")
    e.add_argument("--quiet", action="store_true")
    e.set_defaults(func=cmd_evaluate_retarget)


def cmd_retarget(args) -> int:
    from deepexpr.retarget.run import RetargetConfig, run_retarget

    cfg = RetargetConfig(**{f.name: getattr(args, f.name) for f in fields(RetargetConfig)})
    return run_retarget(cfg)


def cmd_train_rigmap(args) -> int:
    from dataclasses import asdict
    from pathlib import Path

    from deepexpr.data.rig_truth import TruthConfig, collect_meshes
    from deepexpr.errors import InputError
    from deepexpr.io import cache_dir
    from deepexpr.models.rigmap import save_rigmap
    from deepexpr.train.rigmap import RigMapTrainConfig, concat_mesh_sets, fit_rigmap

    try:
        seeds = [int(s) for s in str(args.seeds).split(",") if s.strip()]
    except ValueError:
        raise InputError(f"--seeds {args.seeds}: use comma-separated integers, e.g. 100,101") from None
    if 200 in seeds:
        print("deepexpr: note: seed 200 is the held-out evaluation set", file=sys.stderr)
    truths = [TruthConfig(identities=args.identities, per_identity=args.per_identity, seed=s) for s in seeds]
    sets = [collect_meshes(t, cache_dir=cache_dir() / "retarget", quiet=args.quiet) for t in truths]
    renders, render_cfg = None, None
    if str(args.renders).strip() not in ("", "0"):
        from deepexpr.animation.render_truth import RenderTruthConfig, render_truth_items

        try:
            ids, per, seed = (int(v) for v in str(args.renders).split(","))
        except ValueError:
            raise InputError(f"--renders {args.renders}: use IDS,PER,SEED (e.g. 24,25,300) or 0") from None
        render_cfg = RenderTruthConfig(identities=ids, per_identity=per, seed=seed)
        renders = collect_meshes(render_cfg, cache_dir=cache_dir() / "retarget", quiet=args.quiet,
                                 items=render_truth_items(render_cfg))
    cfg = RigMapTrainConfig(epochs=args.epochs, hidden=args.hidden, threads=args.threads)
    provenance = {"truth": [asdict(t) for t in truths], "renders": asdict(render_cfg) if render_cfg else None,
                  "command": "deepexpr train rigmap"}
    model = fit_rigmap(concat_mesh_sets(sets), cfg, provenance, calibrated_only=renders)
    path = save_rigmap(model, Path(args.export) / "rigmap.safetensors")
    val = model.config["validation"]
    print(f"{path}: {model.config['rows']} images of {model.config['people']} people "
          f"(faces found {model.config['faces_found'][0]}/{model.config['faces_found'][1]}); "
          f"held-out people: AU MAE {sum(val[a] for a in list(val)[:18]) / 18:.3f}")
    return 0


def cmd_evaluate_retarget(args) -> int:
    from deepexpr.retarget.report import RetargetEvalConfig, evaluate_retarget, markdown_table

    cfg = RetargetEvalConfig(out=args.out, identities=args.identities, per_identity=args.per_identity,
                             character=args.character, weights=args.weights, quiet=args.quiet)
    result = evaluate_retarget(cfg)
    print(markdown_table(result))
    print(f"agreement: {result['agreement']}")
    a = result["astronaut"]
    print(f"astronaut: AU12 {a['aus']['AU12']} AU6 {a['aus']['AU6']} AU15 {a['aus']['AU15']}, "
          f"driven {cfg.character} read as {a['character_reading']}")
    print(f"written: {args.out}/metrics.json, table.md, sheet.png")
    return 0
