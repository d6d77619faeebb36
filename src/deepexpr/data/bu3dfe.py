"""Reader for BU-3DFE / BU-4DFE style 83-landmark sequences (and the synthetic corpus).

Supported layout (documented exactly; nothing else is guessed):

    ROOT/<subject>/<expression>/<frame>.bnd     one text file per frame, or
    ROOT/<subject>/<expression>.npy             one (T, 83, 3) float array per sequence

- <expression>: any spelling `deepexpr.expressions.canonical` knows (Angry, Happy, Sad,
  Surprise, Disgust, Fear as in BU-4DFE, or the project's names); other folders are skipped
  with a warning in the result's `skipped` list.
- Frame files: suffix .bnd, .txt or .lm3; frames are ordered by the last integer in the file
  name (natural order: 2 before 10). Each file holds exactly 83 non-empty lines, each
  "x y z" or "index x y z" (whitespace or comma separated); lines starting with # are
  comments. Units are those of the file (BU: mm); nothing is rescaled.
- A sequence needs at least 2 frames. Broken files or sequences are skipped and reported;
  the good ones are kept.

    >>> corpus = read_sequences("data/sequences")
    >>> corpus.sequences[0].frames.shape     # (T, 83, 3)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepexpr.errors import InputError

N_LANDMARKS = 83
FRAME_SUFFIXES = (".bnd", ".txt", ".lm3")


@dataclass
class Sequence:
    subject: str  # subject folder name
    expression: str  # canonical expression name
    frames: np.ndarray  # (T, 83, 3) float64 landmark positions
    source: str  # file or folder read


@dataclass
class Corpus:
    sequences: list[Sequence] = field(default_factory=list)  # good sequences, sorted
    skipped: list[str] = field(default_factory=list)  # "PATH: reason" for everything dropped

    def subjects(self) -> list[str]:
        return sorted({s.subject for s in self.sequences})

    def by_expression(self, expression: str) -> list[Sequence]:
        return [s for s in self.sequences if s.expression == expression]


def read_frame_file(path: str | Path) -> np.ndarray:
    """One landmark text file -> (83, 3). Raises InputError with the reason."""
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err})") from err
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p for p in re.split(r"[,\s]+", line) if p]
        if len(parts) not in (3, 4):
            raise InputError(f"{path}: line {line[:40]!r} is not 'x y z' or 'index x y z'")
        try:
            rows.append([float(p) for p in parts[-3:]])
        except ValueError as err:
            raise InputError(f"{path}: line {line[:40]!r} has a non-number") from err
    arr = np.array(rows, dtype=np.float64).reshape(-1, 3)
    if len(arr) != N_LANDMARKS:
        raise InputError(f"{path}: has {len(arr)} landmarks, expected {N_LANDMARKS}")
    if not np.isfinite(arr).all():
        raise InputError(f"{path}: contains NaN or infinite coordinates")
    return arr


def _frame_key(path: Path):
    nums = re.findall(r"\d+", path.stem)
    return (int(nums[-1]) if nums else -1, path.name)


def read_sequence(path: str | Path) -> np.ndarray:
    """A sequence folder of frame files or a .npy file -> (T, 83, 3)."""
    from deepexpr.data.sequences import check_frames

    path = Path(path)
    if path.suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise InputError(f"{path}: not a readable .npy array ({err})") from err
    else:
        files = sorted((p for p in path.iterdir() if p.suffix.lower() in FRAME_SUFFIXES),
                       key=_frame_key)
        if not files:
            raise InputError(f"{path}: no frame files ({', '.join(FRAME_SUFFIXES)})")
        arr = np.stack([read_frame_file(p) for p in files])
    return check_frames(arr, str(path), N_LANDMARKS)


def read_sequences(root: str | Path, expressions: list[str] | None = None) -> Corpus:
    """Read every ROOT/<subject>/<expression>(/ or .npy) sequence; skip and report bad ones.

    Args:
        root: corpus folder.
        expressions: keep only these canonical names (None: all).
    """
    from deepexpr.expressions import canonical

    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: not a folder; pass a corpus made by `deepexpr sequences make`")
    corpus = Corpus()
    for subject in sorted(p for p in root.iterdir() if p.is_dir()):
        for item in sorted(subject.iterdir()):
            name = item.stem if item.suffix == ".npy" else item.name
            if not (item.is_dir() or item.suffix == ".npy"):
                continue
            try:
                expr = canonical(name)
            except ValueError:
                corpus.skipped.append(f"{item}: unknown expression {name!r}")
                continue
            if expressions and expr not in expressions:
                continue
            try:
                frames = read_sequence(item)
            except InputError as err:
                corpus.skipped.append(str(err))
                continue
            corpus.sequences.append(Sequence(subject.name, expr, frames, str(item)))
    if not corpus.sequences:
        raise InputError(f"{root}: no readable sequences (layout SUBJECT/EXPRESSION/*.bnd or "
                         "SUBJECT/EXPRESSION.npy)" + (f"; first problem: {corpus.skipped[0]}"
                                                      if corpus.skipped else ""))
    return corpus


def write_frame_file(path: str | Path, points: np.ndarray) -> None:
    """Write (83, 3) points as 83 lines "x y z" (the format `read_frame_file` takes)."""
    from deepexpr.io import write_text

    write_text(path, "".join(f"{x:.4f} {y:.4f} {z:.4f}\n" for x, y, z in points))


def write_sequence(root: str | Path, subject: str, expression: str, frames: np.ndarray,
                   fmt: str = "npy") -> Path:
    """Write one sequence in the reader's layout: 'npy' (one file) or 'bnd' (file per frame)."""
    from deepexpr.io import atomic_path

    base = Path(root) / subject
    base.mkdir(parents=True, exist_ok=True)
    if fmt == "npy":
        out = base / f"{expression}.npy"
        with atomic_path(out) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, np.asarray(frames, dtype=np.float32))
        return out
    out = base / expression
    out.mkdir(exist_ok=True)
    for t, pts in enumerate(frames):
        write_frame_file(out / f"{t:03d}.bnd", pts)
    return out
