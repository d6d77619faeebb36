"""Inputs and video options of `deepexpr recognize` (files, folders, globs, videos, a camera).

    deepexpr recognize photos/ "shots/*.jpg"                  # every face of every photo
    deepexpr recognize clip.mp4 --every 2 --smooth 0.6 --csv clip.csv --plot timeline.png
    deepexpr recognize clip.mp4 --annotate clip_annotated.mp4
    deepexpr recognize --camera 0 --max-frames 300

Not a command module: `deepexpr.cli.perception` adds these options to `recognize`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from deepexpr.cli.options import add_options, check_range, config_from_args

VIDEO_TABLE_FORMATS = ("csv", "parquet", "json")


def add_media_arguments(p) -> None:
    """Options for folders/globs, the pixel guard, and video/stream analysis.

    The analysis settings (--every, --smooth, --max-pixels, ...) are generated from
    `deepexpr.video.VideoConfig`; the output files and the camera are this command's own.
    """
    add_options(p, "deepexpr.video:VideoConfig")
    v = p.add_argument_group("video and camera outputs (human faces)")
    v.add_argument("--plot", metavar="PNG", help="draw each track's probabilities over time")
    v.add_argument("--annotate", metavar="MP4", help="write the video with boxes, labels and bars")
    for fmt in VIDEO_TABLE_FORMATS:
        v.add_argument(f"--{fmt}", metavar="FILE", help=f"write the per-frame table as {fmt}")
    v.add_argument("--camera", type=int, metavar="INDEX", help="analyse a local camera (OpenCV) instead of files")
    v.add_argument("--max-frames", type=int, default=0, metavar="N", help="stop after N frames (0 = all)")


def video_config(args):
    """The `VideoConfig` of the parsed options (bad values: one line naming the option)."""
    from deepexpr.video import VideoConfig

    return config_from_args(VideoConfig, args)


def split_inputs(args) -> tuple[list[str], list[str], list[str]]:
    """(image paths, video paths, one-line errors) from the command's PATH arguments."""
    from deepexpr.inputs import expand_inputs

    items, errors = expand_inputs(args.paths, videos=args.domain == "human")
    images = [i.path for i in items if i.kind == "image"]
    videos = [i.path for i in items if i.kind == "video"]
    return images, videos, errors


def _check_outputs(args) -> None:
    from deepexpr.errors import InputError

    for opt in ("annotate", "plot", *VIDEO_TABLE_FORMATS):
        if getattr(args, opt) and Path(getattr(args, opt)).is_dir():
            raise InputError(f"--{opt} {getattr(args, opt)}: is a folder; pass a file name")


def _output_for(path: str | None, source: str, many: bool) -> str | None:
    """The output file for one source: `path` itself, or `stem_<source stem>.ext` when many."""
    if not path or not many:
        return path
    p = Path(path)
    return str(p.with_name(f"{p.stem}_{Path(source).stem}{p.suffix}"))


def run_videos(args, videos: list[str]) -> tuple[list, list[str]]:
    """Analyse each video (and the camera); write the asked outputs.

    Returns:
        (per-source DataFrames with a "source" column, one-line errors).
    """
    from deepexpr.errors import InputError

    _check_outputs(args)
    check_range("--max-frames", args.max_frames, minimum=0)
    cfg = video_config(args)
    sources = [(v, False) for v in videos] + ([(f"camera{args.camera}", True)] if args.camera is not None else [])
    tables, errors = [], []
    for source, is_camera in sources:
        try:
            df = _run_one(args, cfg, source, is_camera, many=len(sources) > 1)
        except InputError as err:
            errors.append(str(err))
            continue
        df.insert(0, "source", source)
        tables.append(df)
    return tables, errors


def _run_one(args, cfg, source: str, is_camera: bool, many: bool):
    """One video or camera -> DataFrame, with the plot, the annotated video and the table files."""
    import itertools

    from deepexpr.recognition import load_recognizer
    from deepexpr.video import (
        analyze_video,
        camera_frames,
        process_stream,
        to_dataframe,
    )

    annotate = _output_for(args.annotate, source, many)
    if is_camera:
        frames = itertools.islice(camera_frames(args.camera), None, None, cfg.every)
        rec = load_recognizer("human", args.model)
        results, fps = process_stream(frames, rec, cfg, 30.0, keep_frames=bool(annotate)), 30.0
    else:
        from deepexpr.video import open_video

        meta, reader = open_video(source, cfg.max_pixels)  # fails early with a one-line error
        reader.close()
        fps = meta["fps"]
        rec = load_recognizer("human", args.model)
        results = analyze_video(source, cfg, rec, keep_frames=bool(annotate))
    if args.max_frames:
        results = itertools.islice(results, args.max_frames)
    if annotate:
        results = _annotating(results, annotate, fps / cfg.every)
    df = to_dataframe(results)
    if df.empty:
        print(f"deepexpr: warning: {source}: no face found; the table is empty", file=sys.stderr)
    _write_tables(args, df, source, many)
    if args.plot:
        from deepexpr.video_draw import plot_timeline

        plot_timeline(df, _output_for(args.plot, source, many), title=Path(source).name)
    return df


def _annotating(results, path: str, fps: float):
    """Pass results through while writing their annotated frames to `path`."""
    from deepexpr.video_draw import AnnotatedVideoWriter, annotate_frame

    with AnnotatedVideoWriter(path, fps) as out:
        for r in results:
            out.write(annotate_frame(r.image, r))
            r.image = None  # keep memory bounded: the frame is written
            yield r


def _write_tables(args, df, source: str, many: bool) -> None:
    from deepexpr.errors import InputError
    from deepexpr.io import atomic_path

    for fmt in VIDEO_TABLE_FORMATS:
        out = _output_for(getattr(args, fmt), source, many)
        if not out:
            continue
        with atomic_path(out) as tmp:
            if fmt == "csv":
                df.to_csv(tmp, index=False)
            elif fmt == "json":
                df.to_json(tmp, orient="records", indent=1)
            else:
                try:
                    df.to_parquet(tmp, index=False)
                except ImportError as err:
                    raise InputError(f"--parquet {out}: needs pyarrow; pip install 'deepexpr[parquet]' "
                                     "or use --csv") from err


def format_video_rows(tables: list, fmt: str) -> str:
    """The per-frame rows of all sources as text (table, csv or json) for stdout."""
    import pandas as pd

    from deepexpr.expressions import EXPRESSIONS
    from deepexpr.video import COLUMNS

    df = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=["source", *COLUMNS])
    if fmt == "csv":
        return df.to_csv(index=False)
    if fmt == "json":
        return df.to_json(orient="records", indent=1) + "\n"
    lines = [f"{'source':<22} {'frame':>6} {'time':>7} {'track':>5} {'box':<17} {'label':<9} "
             + " ".join(f"{c[:5]:>5}" for c in EXPRESSIONS)]
    for r in df.itertuples(index=False):
        src = r.source if len(r.source) <= 22 else "…" + r.source[-21:]
        box = f"{r.x0:.0f} {r.y0:.0f} {r.x1:.0f} {r.y1:.0f}"
        label = r.label + ("?" if r.low_confidence else "")
        probs = " ".join(f"{getattr(r, c):5.2f}" for c in EXPRESSIONS)
        tail = f"  ({r.reason})" if r.low_confidence else ""
        lines.append(f"{src:<22} {r.frame:>6} {r.time:>7.2f} {r.track:>5} {box:<17} {label:<9} {probs}{tail}")
    return "\n".join(lines) + "\n"

