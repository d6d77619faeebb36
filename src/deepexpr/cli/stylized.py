"""`deepexpr landmarks`, `deepexpr train stylized-face`, `deepexpr evaluate landmarks`.

    deepexpr landmarks art/*.png --format csv --sheet detections.png
    deepexpr train stylized-face --stage detector --out runs/stylized_face
    deepexpr evaluate landmarks --out reports/landmarks.json
"""

from __future__ import annotations

import sys

from deepexpr.cli.options import add_options, add_shared
from deepexpr.cli.outputs import declare_outputs

FORMATS = ("json", "csv", "table")


def register(commands, groups) -> None:
    p = commands.add_parser("landmarks", help="stylized faces and their 49 landmarks in character images",
                            description="One entry per face: box (turned face square's bounds), score, "
                            "angle (degrees) and 49 landmarks (IntraFace order).")
    p.add_argument("paths", nargs="+", metavar="IMAGE", help="image files")
    p.add_argument("--format", choices=FORMATS, default="json", help="output format")
    p.add_argument("--sheet", default=None, metavar="PNG", help="also draw the detections into this picture")
    add_options(p, "deepexpr.stylized:StylizedConfig")
    p.set_defaults(func=run_landmarks)

    t = groups["train"].add_parser("stylized-face", help="train the stylized-face detector / landmark stage")
    add_options(t, "deepexpr.train.stylized_face:StylizedTrainConfig")
    t.add_argument("--resume", action="store_true", help="continue the stage's run from its state file")
    declare_outputs(t, out="folder", run_files=lambda a: (f"state_{a.stage}.safetensors",), overwrite=True)
    t.add_argument("--export", default=None, metavar="FILE",
                   help="after training, join both stages of --out into this .safetensors (+ .json)")
    t.set_defaults(func=run_train)

    e = groups["evaluate"].add_parser("landmarks", help="NME and detection precision/recall on held-out characters")
    e.add_argument("--model", default="stylized_face", help="stylized-face weights (bundled name, file, run folder)")
    e.add_argument("--sizes", default="64,128,256,512", help="render sizes of the NME test (comma-separated)")
    e.add_argument("--per-size", type=int, default=60, help="faces per render size")
    e.add_argument("--scenes", type=int, default=100, help="composed scenes of the detection test")
    e.add_argument("--retrieval-data", default=None, metavar="DIR",
                   help="a labelled character data set with rig landmarks (FERG layout): also score "
                        "retrieval (Eq. 6) with detected against rig landmarks")
    add_shared(e, out=None, seed=9001)
    declare_outputs(e, out="file")
    e.set_defaults(func=run_evaluate)


def run_landmarks(args) -> int:
    from deepexpr.cli.options import config_from_args
    from deepexpr.errors import InputError
    from deepexpr.io import read_image
    from deepexpr.stylized import StylizedConfig, check_model, detect_stylized_faces

    cfg = config_from_args(StylizedConfig, args)
    check_model(cfg.model, cfg.backend)
    rows, items, failed = [], [], 0
    for path in args.paths:
        try:
            image = read_image(path)
        except InputError as err:
            print(f"deepexpr: error: {err}", file=sys.stderr)
            failed += 1
            continue
        faces = detect_stylized_faces(image, cfg)
        if not faces:
            print(f"{path}: no stylized face found", file=sys.stderr)
        rows.append({"path": str(path), "size": [image.shape[1], image.shape[0]],
                     "faces": [f.to_dict() for f in faces]})
        items.append((str(path), image, faces))
    sys.stdout.write({"json": _json, "csv": _csv, "table": _table}[args.format](rows))
    if args.sheet:
        failed += _write_sheet(args.sheet, items)
    return 1 if failed else 0


def _write_sheet(path: str, items) -> int:
    from deepexpr.io import save_image
    from deepexpr.stylized import faces_sheet

    if not items:
        print(f"deepexpr: error: {path}: no readable image to draw; sheet not written", file=sys.stderr)
        return 1
    try:
        save_image(path, faces_sheet(items))
    except (OSError, ValueError, KeyError) as err:
        print(f"deepexpr: error: {path}: cannot write the sheet ({err}); pick a writable .png path",
              file=sys.stderr)
        return 1
    print(f"sheet: {path}", file=sys.stderr)
    return 0


def _json(rows) -> str:
    import json

    return json.dumps(rows, indent=1) + "\n"


def _csv(rows) -> str:
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["path", "face", "score", "angle", "box_x0", "box_y0", "box_x1", "box_y1",  # x0..y48: points
                *[f"{a}{i}" for i in range(49) for a in "xy"], "landmarks_from"])
    for r in rows:
        for k, f in enumerate(r["faces"]):
            w.writerow([r["path"], k, f["score"], f["angle"], *f["box"], *[v for p in f["landmarks"] for v in p],
                        f["landmarks_from"]])
    return buf.getvalue()


def _table(rows) -> str:
    lines = [f"{'path':<40} {'face':>4} {'score':>6} {'angle':>7}  box"]
    for r in rows:
        for k, f in enumerate(r["faces"]):
            lines.append(f"{r['path'][-40:]:<40} {k:>4} {f['score']:6.3f} {f['angle']:7.1f}  "
                         + " ".join(f"{v:.0f}" for v in f["box"]))
        if not r["faces"]:
            lines.append(f"{r['path'][-40:]:<40} {'-':>4}  no face")
    return "\n".join(lines) + "\n"


def run_train(args) -> int:
    from deepexpr.cli.options import config_from_args
    from deepexpr.train.stylized_face import StylizedTrainConfig, export_stylized, train_stylized

    cfg = config_from_args(StylizedTrainConfig, args)
    state = train_stylized(cfg, resume=args.resume)
    print(f"{cfg.stage}: {state}")
    if args.export:
        print(f"exported {export_stylized(cfg.out, args.export, cfg.model, base=cfg.init)}")
    return 0


def run_evaluate(args) -> int:
    import json

    from deepexpr.cli.options import check_range
    from deepexpr.errors import InputError
    from deepexpr.evaluation.stylized_landmarks import detection_protocol, landmark_protocol
    from deepexpr.io import write_json
    from deepexpr.stylized import StylizedConfig, check_model, detect_stylized_faces

    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        raise InputError(f"--sizes {args.sizes}: expected comma-separated integers, e.g. 64,128,256") from None
    check_range("--per-size", args.per_size)
    check_range("--scenes", args.scenes, 0)
    for s in sizes:
        check_range("--sizes", s, 32, 4096)
    check_model(args.model)
    cfg = StylizedConfig(model=args.model)
    detect = lambda image: detect_stylized_faces(image, cfg)  # noqa: E731
    report = {"model": args.model, "seed": args.seed,
              "landmarks": landmark_protocol(detect, sizes, args.per_size, args.seed),
              "detection": detection_protocol(detect, args.scenes, args.seed) if args.scenes else None}
    if args.retrieval_data:
        from deepexpr.recognition import load_recognizer
        from deepexpr.retrieval.geometry_sources import compare_geometry_sources

        report["retrieval"] = compare_geometry_sources(args.retrieval_data, load_recognizer("character"))
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        write_json(args.out, report)
    return 0
