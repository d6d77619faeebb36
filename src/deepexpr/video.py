"""Expressions over time: video files, cameras and any stream of frames.

Every frame goes through the one face pipeline in stream mode (`deepexpr.faces.pipeline.
FaceStream`: the full-range detector every few frames, the mesh on each tracked face in
between, track ids from `deepexpr.faces.tracking`), then the human expression CNN; the
probabilities can be smoothed per track (exponential moving average).

    >>> from deepexpr.video import analyze_video, video_dataframe, process_stream
    >>> for result in analyze_video("clip.mp4", VideoConfig(every=2)):   # a generator
    ...     result.frame, result.time, [(f.track_id, f.label) for f in result.faces]
    >>> df = video_dataframe("clip.mp4")       # one row per face per frame (py-feat Fex-like)
    >>> for result in process_stream(webcam_frames()):   # any iterator of RGB uint8 frames
    ...     ...

Table columns: frame, time (s), track, x0, y0, x1, y1, score, yaw, pitch, roll, iod,
low_confidence, reason, the seven probabilities (EXPRESSIONS order), label.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepexpr.errors import InputError, check_settings, setting
from deepexpr.expressions import EXPRESSIONS
from deepexpr.io import MAX_PIXELS, check_pixels

COLUMNS = ("frame", "time", "track", "x0", "y0", "x1", "y1", "score", "yaw", "pitch", "roll", "iod",
           "low_confidence", "reason", *EXPRESSIONS, "label")


@dataclass
class VideoConfig:
    """Settings of video and stream analysis (the `recognize` options are generated from it)."""

    every: int = setting(1, "analyse every N-th frame", min=1)
    smooth: float = setting(0.0, "smooth probabilities per face track: EMA weight of the past "
                                 "(0 = off, 0.7 = strong)", min=0.0, max=0.95)
    max_gap_seconds: float = setting(1.0, "a face back within this many seconds keeps its track id", min=0.0)
    detect_every: int = setting(10, "run the full face detector every N analysed frames "
                                    "(and whenever a face is lost)", min=1)
    min_iod: float = setting(20.0, "smallest inter-ocular distance searched for, in pixels", above=0.0)
    max_pixels: int = setting(MAX_PIXELS, "refuse images and video frames with more pixels", min=1)

    def __post_init__(self):
        check_settings(self)


@dataclass
class FaceResult:
    """One face of one frame."""

    track_id: int
    box: list[float]  # [x0, y0, x1, y1] frame pixels
    score: float  # detector score
    yaw: float
    pitch: float
    roll: float
    iod: float  # inter-ocular distance in px
    low_confidence: bool
    reason: str
    probs: np.ndarray  # (7,) float32 in EXPRESSIONS order (smoothed when asked)

    @property
    def label(self) -> str:
        return EXPRESSIONS[int(np.argmax(self.probs))]


@dataclass
class FrameResult:
    """The faces of one analysed frame."""

    frame: int  # index in the source (0-based)
    time: float  # seconds from the start
    faces: list[FaceResult] = field(default_factory=list)
    image: np.ndarray | None = None  # (H, W, 3) uint8 RGB frame when asked for (annotation)


# --------------------------------------------------------------------------- reading

def _ffmpeg_problem(err: Exception) -> str:
    """What an ffmpeg failure means, in a few words."""
    text = str(err)
    if "does not contain any stream" in text:
        return "audio only, no video stream" if "Audio:" in text else "no video stream (zero frames)"
    if "moov atom not found" in text:
        return "truncated or corrupt video (moov atom not found)"
    if "Invalid data found" in text:
        return "corrupt or not a video (invalid data)"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith(" ")]
    return lines[-1] if lines else type(err).__name__


def open_video(path: str | Path, max_pixels: int = MAX_PIXELS) -> tuple[dict, Iterator[bytes]]:
    """Open a video with ffmpeg (imageio-ffmpeg): (meta {"size", "fps", "duration", "nframes"}, frames).

    Raises:
        InputError: missing, corrupt, truncated, audio-only, no frames, or absurd frame size.
    """
    import imageio_ffmpeg

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such video file; pass an existing video (mp4, mov, mkv, ...)")
    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    try:
        meta = next(reader)
    except (OSError, RuntimeError, StopIteration) as err:
        raise InputError(f"{path}: cannot read video: {_ffmpeg_problem(err)}; pass a video ffmpeg can decode") from err
    size = meta.get("size") or (0, 0)
    try:
        check_pixels(path, int(size[0]), int(size[1]), max_pixels)
    except InputError:
        reader.close()
        raise
    fps = float(meta.get("fps") or 0) or 25.0
    duration = float(meta.get("duration") or 0)
    meta = {"size": (int(size[0]), int(size[1])), "fps": fps, "duration": duration,
            "nframes": int(round(duration * fps)) if duration else None}
    return meta, reader


def video_frames(path: str | Path, every: int = 1, max_pixels: int = MAX_PIXELS):
    """(meta, generator of (frame index, RGB uint8 (H, W, 3))) for every `every`-th frame.

    The generator raises InputError when the video has no frame or breaks off with an error.
    """
    meta, reader = open_video(path, max_pixels)
    w, h = meta["size"]

    def frames():
        count = 0
        try:
            for i, buf in enumerate(reader):
                count += 1
                if i % every == 0:
                    yield i, np.frombuffer(buf, np.uint8).reshape(h, w, 3)
        except (OSError, RuntimeError) as err:
            raise InputError(f"{path}: decoding stopped after {count} frames: {_ffmpeg_problem(err)}") from err
        finally:
            reader.close()
        if count == 0:
            raise InputError(f"{path}: the video has no frames; pass a video with a picture")

    return meta, frames()


def camera_frames(index: int = 0) -> Iterator[np.ndarray]:
    """RGB uint8 frames of a local camera through OpenCV, until it stops (opened now, read lazily).

    Raises:
        InputError: no camera with that index can be opened.
    """
    import cv2

    level = cv2.getLogLevel()
    cv2.setLogLevel(0)  # silent: our one line says what is wrong
    try:
        cap = cv2.VideoCapture(int(index))
    finally:
        cv2.setLogLevel(level)
    if not cap.isOpened():
        raise InputError(f"camera {index}: cannot be opened (no camera, or in use); pass another --camera index")

    def frames():
        try:
            while True:
                ok, bgr = cap.read()
                if not ok:
                    return
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            cap.release()

    return frames()


# --------------------------------------------------------------------------- analysis

def _probs_of(recognizer, faces) -> np.ndarray:
    if not faces:
        return np.zeros((0, len(EXPRESSIONS)), np.float32)
    items = faces if recognizer.takes_faces else [f.aligned for f in faces]
    return np.asarray(recognizer.probs(items), np.float32)


def process_stream(frames: Iterable, recognizer=None, config: VideoConfig | None = None,
                   fps: float = 30.0, keep_frames: bool = False) -> Iterator[FrameResult]:
    """Faces, track ids and expression probabilities of each frame of a stream.

    Args:
        frames: any iterable of RGB uint8 (H, W, 3) frames, or of (frame index, frame) pairs.
        recognizer: human recognizer (`deepexpr.recognition.load_recognizer("human")` when None).
        config: `VideoConfig` (its `every` is applied by the reader, not here).
        fps: frames per second of the source (for `time` and the track gap).
        keep_frames: attach each frame to its result (for annotation).

    Yields:
        `FrameResult` per frame; the tracker state lives as long as the generator.
    """
    from deepexpr.faces.pipeline import FacePipeline, PipelineConfig
    from deepexpr.recognition import load_recognizer

    cfg = config or VideoConfig()
    rec = recognizer or load_recognizer("human")
    pipeline = FacePipeline(PipelineConfig(min_iod=cfg.min_iod, detect_every=cfg.detect_every))
    max_gap = max(1, int(round(cfg.max_gap_seconds * fps / max(cfg.every, 1))))
    stream = pipeline.stream(max_gap=max_gap)
    ema: dict[int, np.ndarray] = {}
    try:
        yield from _stream_results(frames, stream, rec, cfg, fps, keep_frames, ema)
    finally:
        stream.close()  # free the per-track mediapipe graphs


def _stream_results(frames, stream, rec, cfg: VideoConfig, fps: float, keep_frames: bool, ema: dict):
    """`process_stream`'s loop: faces, probabilities (EMA per track in `ema`), one result per frame."""
    for n, item in enumerate(frames):
        index, frame = item if isinstance(item, tuple) else (n, item)
        frame = np.ascontiguousarray(frame)
        check_pixels("frame", frame.shape[1], frame.shape[0], cfg.max_pixels)
        faces = stream.process(frame)
        probs = _probs_of(rec, faces)
        out = []
        for face, p in zip(faces, probs):
            if cfg.smooth > 0 and face.track_id in ema:
                p = cfg.smooth * ema[face.track_id] + (1 - cfg.smooth) * p
            ema[face.track_id] = p
            out.append(FaceResult(int(face.track_id), [round(float(v), 1) for v in face.box], face.score,
                                  face.yaw, face.pitch, face.roll, face.iod, face.low_confidence,
                                  face.reason, p))
        yield FrameResult(int(index), index / fps, out, frame if keep_frames else None)


def analyze_video(path: str | Path, config: VideoConfig | None = None, recognizer=None,
                  keep_frames: bool = False, progress: bool | None = None) -> Iterator[FrameResult]:
    """Per-frame results of a video file (a generator; memory stays bounded).

    Args:
        path: any video ffmpeg reads.
        config: `VideoConfig`.
        recognizer: see `process_stream`.
        keep_frames: attach frames to the results (for `annotate_frame`).
        progress: show a progress bar with frames/s (None = when stderr is a terminal).

    Raises:
        InputError: the video cannot be read (see `open_video`); raised on the first `next()`.
    """
    from deepexpr.progress import progress as bar

    cfg = config or VideoConfig()
    meta, frames = video_frames(path, max(cfg.every, 1), cfg.max_pixels)
    total = None if not meta["nframes"] else -(-meta["nframes"] // max(cfg.every, 1))
    results = process_stream(frames, recognizer, cfg, meta["fps"], keep_frames)
    yield from bar(results, total=total, desc=Path(path).name, unit="frame",
                   disable=None if progress is None else not progress)


def results_to_rows(results: Iterable[FrameResult]) -> Iterator[dict]:
    """One dict per face per frame, keys `COLUMNS`."""
    for r in results:
        for f in r.faces:
            row = {"frame": r.frame, "time": round(r.time, 4), "track": f.track_id,
                   "x0": f.box[0], "y0": f.box[1], "x1": f.box[2], "y1": f.box[3],
                   "score": round(f.score, 4), "yaw": round(f.yaw, 2), "pitch": round(f.pitch, 2),
                   "roll": round(f.roll, 2), "iod": round(f.iod, 2), "low_confidence": f.low_confidence,
                   "reason": f.reason}
            row.update({c: round(float(v), 6) for c, v in zip(EXPRESSIONS, f.probs)})
            row["label"] = f.label
            yield row


def to_dataframe(results: Iterable[FrameResult]):
    """A pandas DataFrame (columns `COLUMNS`) of per-frame results; empty when no face."""
    import pandas as pd

    return pd.DataFrame(list(results_to_rows(results)), columns=list(COLUMNS))


def video_dataframe(path: str | Path, config: VideoConfig | None = None, recognizer=None):
    """A video's faces over time as a DataFrame (one row per face per frame).

    A video without any face gives an empty table and a `UserWarning`.
    """
    df = to_dataframe(analyze_video(path, config, recognizer))
    if df.empty:
        warnings.warn(f"{path}: no face found in the video; the table is empty", stacklevel=2)
    return df
