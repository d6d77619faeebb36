"""Drive a character with estimated rigs: one image, a stream of frames, rig files.

    >>> from deepexpr.retarget import drive, retarget_stream
    >>> image = drive("pip", rig, size=256)                  # (256, 256, 3) uint8
    >>> for frame in retarget_stream(webcam_frames, "pip"):  # the web app's Live view
    ...     show(frame.images[0]); send(frame.rigs[0].values)
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepexpr.characters import CharacterStyle, get_character, render_face
from deepexpr.characters.rig import AUS, RIG_CONTROLS
from deepexpr.errors import InputError
from deepexpr.io import atomic_path
from deepexpr.retarget.arkit import ARKIT_NAMES, to_arkit
from deepexpr.retarget.estimate import Rig, RigTracker, TrackerConfig

CSV_COLUMNS = ("frame", "time", "face") + AUS + ("head_yaw", "head_pitch", "head_roll", "gaze_x", "gaze_y")


def as_character(character) -> CharacterStyle:
    """A character name, style.json path or `CharacterStyle` -> `CharacterStyle`.

    Raises:
        InputError: an unknown character (one line, with the names to use).
    """
    if isinstance(character, CharacterStyle):
        return character
    return get_character(character)


def drive(character, rig, size: int = 256, supersample: int = 2) -> np.ndarray:
    """Draw a character making a rig.

    Args:
        character: name, style.json path or `CharacterStyle`.
        rig: a `Rig` or a {control: value} dict.
        size: output side in pixels.
        supersample: 2 = anti-aliased (default), 1 = faster.

    Returns:
        (size, size, 3) uint8 RGB.
    """
    values = rig.values if isinstance(rig, Rig) else rig
    image, _ = render_face(as_character(character), values, int(size), supersample)
    return image


@dataclass
class StreamFrame:
    """One processed frame: faces left to right, their rigs and the driven characters."""

    index: int
    time: float
    faces: list = field(default_factory=list)  # RigFace per driven face (None when missing)
    rigs: list[Rig] = field(default_factory=list)
    images: list[np.ndarray] = field(default_factory=list)  # character drawings (size, size, 3)


def retarget_stream(frames: Iterable[np.ndarray], character, size: int = 256, fps: float = 25.0,
                    neutral: np.ndarray | None = None, face: int | None = None,
                    tracker: TrackerConfig | None = None, draw: bool = True,
                    supersample: int = 2, faces=None) -> Iterator[StreamFrame]:
    """Frames in, driven characters out, one `StreamFrame` per input frame.

    Args:
        frames: RGB uint8 (H, W, 3) frames.
        character: name, style.json path or `CharacterStyle` (checked before the first frame).
        size: drawing side in pixels.
        fps: frame rate (times are index / fps; the smoothing uses them).
        neutral: a `calibrate` result (the person's neutral), or None.
        face: drive only the face with this left-to-right index (0-based); None = every
            face, one rig tracker per face track of the face pipeline.
        tracker: smoothing / hold / fallback settings.
        draw: False skips drawing (rigs only).
        faces: a `RigFaceStream` to use (default: a new one over the face pipeline).

    Yields:
        `StreamFrame`. Frames without a face yield held or neutral rigs, flagged.
    """
    from deepexpr.faces.rigface import RigFaceStream

    style = as_character(character)
    stream = faces or RigFaceStream()
    rigs_of = RigTrackers(tracker, neutral)
    try:
        for index, frame in enumerate(frames):
            t = index / float(fps)
            found = stream.process(frame)
            chosen = ([found[face]] if face < len(found) else [None]) if face is not None else (found or [None])
            rigs = rigs_of.update(chosen, t, keyed=face is None)
            images = [drive(style, r, size, supersample) for r in rigs] if draw else []
            yield StreamFrame(index, t, chosen, rigs, images)
    finally:
        if faces is None:
            stream.close()


class RigTrackers:
    """One `RigTracker` per face track: smoothing and hold/fallback follow each person.

    Faces are matched to trackers by the face pipeline's `track_id` (`keyed`), else by
    position; a frame without a face updates the tracker of the last frame's first face (it
    holds, then falls back). Trackers of tracks unseen for `forget` frames are dropped.
    """

    def __init__(self, config: TrackerConfig | None = None, neutral: np.ndarray | None = None,
                 forget: int = 250):
        self.config, self.neutral, self.forget = config, neutral, int(forget)
        self._trackers: dict = {}  # key -> [RigTracker, frame last seen]
        self._last_keys: list = [0]
        self._frame = 0

    def update(self, faces: list, t: float, keyed: bool = True) -> list[Rig]:
        """Rigs of this frame's faces (`RigFace` or None) at time `t` seconds."""
        if faces and faces[0] is not None:
            keys = [f.track_id if keyed and f.track_id is not None else k for k, f in enumerate(faces)]
        else:
            keys = self._last_keys[:1]
        rigs = []
        for key, f in zip(keys, faces):
            entry = self._trackers.setdefault(key, [RigTracker(self.config, self.neutral), self._frame])
            entry[1] = self._frame
            rigs.append(entry[0].update(f, t))
        self._last_keys = keys
        self._frame += 1
        for key in [k for k, (_, seen) in self._trackers.items() if self._frame - seen > self.forget]:
            del self._trackers[key]
        return rigs


def rig_row(frame: int, time: float, face: int, rig: Rig, arkit: bool = False) -> dict:
    """One CSV row: frame, time, face, the 23 controls (and the 52 ARKit values)."""
    row = {"frame": int(frame), "time": round(float(time), 4), "face": int(face)}
    row.update({c: round(float(rig.values[c]), 4) for c in RIG_CONTROLS})
    if arkit:
        row.update({k: round(v, 4) for k, v in to_arkit(rig.values).items()})
    return row


def write_rig_csv(rows: list[dict], path: str | Path, arkit: bool = False) -> Path:
    """Write rig rows (`rig_row`) as CSV, atomically: `CSV_COLUMNS` (+ ARKit names)."""
    path = Path(path)
    columns = list(CSV_COLUMNS) + (list(ARKIT_NAMES) if arkit else [])
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_rig_json(records: list[dict], path: str | Path, meta: dict | None = None) -> Path:
    """Write rig records ({frame, time, face, values, confidence, quality, flags[, arkit]})."""
    path = Path(path)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps({**(meta or {}), "frames": records}, indent=1))
    return path


def face_panel(image: np.ndarray, rig_face, size: int) -> np.ndarray:
    """A square crop of the face (box + margin) resized to size, or grey when missing."""
    from PIL import Image

    if rig_face is None:
        return np.full((size, size, 3), 96, np.uint8)
    x0, y0, x1, y1 = rig_face.box
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) * 0.7
    crop = Image.fromarray(image).crop((int(cx - half), int(cy - half), int(cx + half), int(cy + half)))
    return np.asarray(crop.resize((size, size), Image.BILINEAR))


def compose(image: np.ndarray, frame: StreamFrame, size: int, side_by_side: bool) -> np.ndarray:
    """One output picture for a frame: the drawings in a row, each after its face crop
    when `side_by_side`."""
    if not frame.images:
        raise InputError("nothing drawn for this frame")
    tiles = []
    for f, drawn in zip(frame.faces, frame.images):
        if side_by_side:
            tiles.append(face_panel(image, f, size))
        tiles.append(drawn)
    return np.concatenate(tiles, axis=1)
