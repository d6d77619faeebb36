"""`deepexpr retarget`: a photo, a video or a folder of photos -> the character making the
same faces, plus rig files (CSV/JSON, optional ARKit names) and a VMC stream.

    run_retarget(RetargetConfig(inputs="face.jpg", character="pip", out="pip.png"))
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepexpr.errors import InputError, check_settings, setting
from deepexpr.io import atomic_path, read_image
from deepexpr.retarget.drive import (
    StreamFrame,
    as_character,
    compose,
    drive,
    retarget_stream,
    rig_row,
    write_rig_csv,
    write_rig_json,
)
from deepexpr.retarget.estimate import calibrate, estimate_rig

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


@dataclass
class RetargetConfig:
    """Settings of `deepexpr retarget` (the CLI options are generated from these fields)."""

    inputs: str = setting("", "PHOTO | VIDEO | FOLDER of photos", cli=False)
    character: str = setting("pip", "built-in name or style .json")
    out: str | None = setting(None, "out.png | out.mp4 | DIR (default <input>_<character>.png/.mp4/)")
    side_by_side: bool = setting(False, "the face crop left of each drawing")
    rig_csv: str | None = setting(None, "write the rig per frame and face (CSV)")
    rig_json: str | None = setting(None, "write rigs with confidence, quality and flags (JSON)")
    arkit: bool = setting(False, "add ARKit's 52 blendshape names to the rig files")
    calibrate: str | None = setting(None, "a neutral photo of the person (NEUTRAL.jpg)")
    vmc: str | None = setting(None, "stream VMC over OSC to HOST:PORT (VSeeFace, VNyan, Warudo listen "
                              "on 127.0.0.1:39539; ':PORT' or 'HOST' fill in the other part)")
    face: int | None = setting(None, "drive only face N (0 = leftmost); default: one character per face",
                               min=0)
    size: int = setting(256, "drawing side in pixels", min=32, max=2048)
    overwrite: bool = setting(False, "replace existing outputs")

    def __post_init__(self):
        check_settings(self)


def _kind(path: Path) -> str:
    if path.is_dir():
        return "folder"
    if not path.exists():
        raise InputError(f"{path}: no such file or folder; pass a photo, a video or a folder of photos")
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return "video"
    return "photo"


def _default_out(path: Path, kind: str, character: str) -> Path:
    name = f"{path.stem}_{Path(str(character)).stem}"
    return Path(name) if kind == "folder" else Path(name + (".mp4" if kind == "video" else ".png"))


def _check_new(paths: list[Path | None], overwrite: bool) -> None:
    for p in paths:
        if p is not None and p.exists() and not overwrite:
            raise InputError(f"{p}: already exists; pass --overwrite to replace it or choose another name")


def _read_video(path: Path):
    """(frame iterator, fps) of a video file."""
    import imageio.v2 as imageio

    try:
        reader = imageio.get_reader(str(path), format="FFMPEG")
        fps = float(reader.get_meta_data().get("fps") or 25.0)
    except Exception as err:  # noqa: BLE001 - any decoder failure is one input error
        raise InputError(f"{path}: not a readable video ({type(err).__name__}); pass an MP4/AVI/MOV file") from err

    def frames():
        with reader:
            for frame in reader:
                yield np.ascontiguousarray(frame[..., :3])
    return frames(), fps


def _neutral(cfg: RetargetConfig):
    if not cfg.calibrate:
        return None
    from deepexpr.faces.rigface import find_rig_faces

    faces = find_rig_faces(read_image(cfg.calibrate))
    if not faces:
        raise InputError(f"{cfg.calibrate}: no face found in the calibration photo; pass a frontal "
                         "neutral photo of the same person, or leave out --calibrate")
    return calibrate(faces[0])


def _records(frame: StreamFrame, arkit: bool, source: str) -> tuple[list[dict], list[dict]]:
    """CSV rows and JSON records of one frame."""
    from deepexpr.retarget.arkit import to_arkit

    rows, records = [], []
    for k, rig in enumerate(frame.rigs):
        rows.append(rig_row(frame.index, frame.time, k, rig, arkit))
        rec = {"source": source, "frame": frame.index, "time": round(frame.time, 4), "face": k, **rig.as_dict()}
        if arkit:
            rec["arkit"] = to_arkit(rig.values)
        records.append(rec)
    return rows, records


def run_retarget(cfg: RetargetConfig, report=print) -> int:
    """Run the command; returns the exit code (0 ok, 1 some photos of a folder failed)."""
    path = Path(cfg.inputs)
    kind = _kind(path)
    as_character(cfg.character)  # an unknown character fails before any work
    sender = None
    if cfg.vmc:
        from deepexpr.retarget.vmc import VMCSender, parse_address

        sender = VMCSender(*parse_address(cfg.vmc))
    out = Path(cfg.out) if cfg.out else _default_out(path, kind, cfg.character)
    extra = [Path(p) for p in (cfg.rig_csv, cfg.rig_json) if p]
    _check_new([None if kind == "folder" else out, *extra], cfg.overwrite)
    neutral = _neutral(cfg)
    rows, records, failed = [], [], 0
    try:
        if kind == "video":
            frames_in, fps = _read_video(path)
            n = _video(cfg, frames_in, fps, neutral, out, rows, records, sender)
            report(f"{path}: {n} frames -> {out}")
        else:
            photos = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) \
                if kind == "folder" else [path]
            if kind == "folder" and not photos:
                raise InputError(f"{path}: no photos (JPEG, PNG, ...) in this folder")
            for i, photo in enumerate(photos):
                target = out / f"{photo.stem}.png" if kind == "folder" else out
                try:
                    _check_new([target], cfg.overwrite)
                    _photo(cfg, photo, i, neutral, target, rows, records, sender)
                    report(f"{photo}: -> {target}")
                except InputError as err:
                    if kind != "folder":
                        raise
                    failed += 1
                    print(f"deepexpr: skipped: {err}", file=sys.stderr)  # the error names the photo
    finally:
        if sender is not None:
            sender.close()
    if cfg.rig_csv:
        write_rig_csv(rows, cfg.rig_csv, cfg.arkit)
    if cfg.rig_json:
        write_rig_json(records, cfg.rig_json, {"character": str(cfg.character), "input": str(path),
                                               "calibrated": neutral is not None})
    return 1 if failed else 0


def _photo(cfg, photo: Path, index: int, neutral, target: Path, rows, records, sender) -> None:
    """One photo: every face (or face `cfg.face`) drawn as the character."""
    from deepexpr.faces.rigface import find_rig_faces

    image = read_image(photo)
    faces = find_rig_faces(image)
    if not faces:
        raise InputError(f"{photo}: no face found; pass a photo with a visible face")
    if cfg.face is not None and not 0 <= cfg.face < len(faces):
        raise InputError(f"{photo}: --face {cfg.face} but the photo has {len(faces)} face(s) "
                         f"(0..{len(faces) - 1}, left to right)")
    chosen = faces if cfg.face is None else [faces[cfg.face]]
    rigs = [estimate_rig(f, neutral) for f in chosen]
    frame = StreamFrame(index, 0.0, chosen, rigs, [drive(cfg.character, r, cfg.size) for r in rigs])
    r, rec = _records(frame, cfg.arkit, str(photo))
    rows += r
    records += rec
    if sender is not None:
        sender.send(frame.rigs[0].values, 0.0)
    from PIL import Image

    with atomic_path(target) as tmp:
        Image.fromarray(compose(image, frame, cfg.size, cfg.side_by_side)).save(tmp)


def _video(cfg, frames_in, fps: float, neutral, out: Path, rows, records, sender) -> int:
    """A video: every frame, smoothed; frames without a face hold or fall back (flagged)."""
    from deepexpr.animation.preview import write_video

    pictures, current = [], {}
    face = 0 if cfg.face is None else cfg.face  # a video drives one character (one track)

    def tap():  # keeps the frame being processed for the side-by-side picture
        for image in frames_in:
            current["image"] = image
            yield image

    for frame in retarget_stream(tap(), cfg.character, cfg.size, fps=fps, neutral=neutral, face=face):
        r, rec = _records(frame, cfg.arkit, str(cfg.inputs))
        rows += r
        records += rec
        if sender is not None:
            sender.send(frame.rigs[0].values, frame.time)
        pictures.append(compose(current["image"], frame, cfg.size, cfg.side_by_side))
    if not pictures:
        raise InputError(f"{cfg.inputs}: the video has no frames")
    write_video(pictures, out, fps)
    return len(pictures)
