"""Read FERG-DB-layout character data sets: the real FERG-DB and deepexpr's own export.

Layout (both): ``ROOT/<char>/<char>_<expr>/<char>_<expr>_<N>.png``. The real FERG-DB ships
as ``FERG_DB_256/`` with characters aia, bonnie, jules, malcolm, mery, ray; passing its
parent folder works too. deepexpr's export adds ``ROOT/landmarks.csv`` (49 landmarks and
rig values per image); without it, landmarks are None.

    ds = FergDataset("data/chars", expressions=["joy", "sadness"])
    sample = ds[0]                      # Sample(image, label, character, landmarks, path)
    train, test = split_by_character(ds, "pip")

Random splits of FERG-DB are saturated (simple CNNs reach ~100%); report a
leave-one-character-out split (`split_by_character`) too.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepexpr.errors import InputError
from deepexpr.expressions import EXPRESSIONS, INDEX, canonical
from deepexpr.io import read_image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
FERG_CHARACTERS = ("aia", "bonnie", "jules", "malcolm", "mery", "ray")
_LAYOUT = "ROOT/<char>/<char>_<expr>/<char>_<expr>_<N>.png"


@dataclass(frozen=True)
class Record:
    """One image, without its pixels."""

    path: str  # absolute path of the image file
    label: int  # index into EXPRESSIONS
    character: str  # character name (folder name)
    landmarks: np.ndarray | None = field(default=None, compare=False)  # (49, 2) or None
    rig: dict | None = field(default=None, compare=False)  # rig values when exported by deepexpr

    @property
    def expression(self) -> str:
        return EXPRESSIONS[self.label]


@dataclass
class Sample:
    """One loaded image."""

    image: np.ndarray  # uint8 (H, W, 3) RGB
    label: int  # index into EXPRESSIONS
    character: str  # character name
    landmarks: np.ndarray | None  # float32 (49, 2) image coordinates, or None
    path: str  # image file

    @property
    def expression(self) -> str:
        return EXPRESSIONS[self.label]


def _natural_key(path: Path):
    m = re.search(r"(\d+)(?=\.[^.]+$)", path.name)
    return (int(m.group(1)) if m else -1, path.name)


def _find_root(root: Path) -> Path:
    if not root.exists():
        raise InputError(f"{root}: no such folder; give a FERG-DB root ({_LAYOUT})")
    if not root.is_dir():
        raise InputError(f"{root}: not a folder; give a FERG-DB root ({_LAYOUT})")
    inner = root / "FERG_DB_256"
    if inner.is_dir():
        return inner
    return root


def _expression_of(char: str, folder: Path) -> str | None:
    prefix = f"{char}_"
    if not folder.name.startswith(prefix):
        return None
    try:
        return canonical(folder.name[len(prefix):])
    except ValueError:
        return None


def _read_landmarks_csv(root: Path) -> dict[str, tuple[np.ndarray, dict]]:
    path = root / "landmarks.csv"
    if not path.exists():
        return {}
    out = {}
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader)
            xi = header.index("x0")
            rig_cols = header[xi + 98:]
            for row in reader:
                if not row:
                    continue
                coords = np.asarray(row[xi:xi + 98], dtype=np.float32).reshape(49, 2)
                rig = {k: float(v) for k, v in zip(rig_cols, row[xi + 98:])}
                out[row[0]] = (coords, rig or None)
    except (StopIteration, ValueError, IndexError, csv.Error) as err:
        raise InputError(f"{path}: malformed landmarks file ({err}); re-render the data set "
                         "or delete landmarks.csv to read images without landmarks") from None
    return out


class FergDataset:
    """Images in the FERG-DB layout, with labels, characters and optional landmarks.

    Args:
        root: the data set folder (or the folder holding FERG_DB_256).
        characters: keep only these characters (names or "a,b"; None = all).
        expressions: keep only these expressions (names or aliases, or "joy,sad"; None = all).

    Attributes:
        root: resolved root folder.
        records: list of `Record` (no pixels loaded).
        characters: sorted character names present.
        labels: int64 array of labels, one per record.

    Raises:
        InputError: missing root, wrong layout, no images, unknown filter names.
    """

    def __init__(self, root, characters=None, expressions=None):
        self.root = _find_root(Path(root))
        records = self._scan()
        if characters is not None:
            wanted = characters.split(",") if isinstance(characters, str) else list(characters)
            have = sorted({r.character for r in records})
            missing = [c for c in wanted if c not in have]
            if missing:
                raise InputError(f"{self.root}: no character(s) {', '.join(missing)}; "
                                 f"available: {', '.join(have)}")
            records = [r for r in records if r.character in set(wanted)]
        if expressions is not None:
            wanted = expressions.split(",") if isinstance(expressions, str) else list(expressions)
            try:
                keep = {INDEX[canonical(e)] for e in wanted}
            except ValueError as err:
                raise InputError(f"{self.root}: {err}") from None
            records = [r for r in records if r.label in keep]
        if not records:
            raise InputError(f"{self.root}: no images match the filters "
                             f"(characters={characters}, expressions={expressions})")
        self._set(records)

    @classmethod
    def from_records(cls, root, records: list[Record]) -> FergDataset:
        """A dataset over given records (used by `subset` and the split helpers)."""
        ds = cls.__new__(cls)
        ds.root = Path(root)
        ds._set(list(records))
        return ds

    def _set(self, records: list[Record]) -> None:
        self.records = records
        self.labels = np.array([r.label for r in records], dtype=np.int64)
        self.characters = sorted({r.character for r in records})

    def _scan(self) -> list[Record]:
        root = self.root
        lms = _read_landmarks_csv(root)
        char_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
        if not char_dirs:
            raise InputError(f"{root}: no character folders; expected the FERG-DB layout {_LAYOUT}")
        records = []
        for cdir in char_dirs:
            expr_dirs = [(d, _expression_of(cdir.name, d)) for d in sorted(cdir.iterdir()) if d.is_dir()]
            expr_dirs = [(d, e) for d, e in expr_dirs if e is not None]
            if not expr_dirs:
                raise InputError(
                    f"{cdir}: no <char>_<expression> sub-folders (e.g. {cdir.name}_joy); "
                    f"expected the FERG-DB layout {_LAYOUT}"
                )
            for edir, expr in expr_dirs:
                files = sorted((f for f in edir.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES
                                and not f.name.startswith(".")), key=_natural_key)
                for f in files:
                    rel = f"{cdir.name}/{edir.name}/{f.name}"
                    lm, rig = lms.get(rel, (None, None))
                    records.append(Record(str(f), INDEX[expr], cdir.name, lm, rig))
        if not records:
            raise InputError(f"{root}: the character folders hold no images (.png/.jpg); "
                             f"expected {_LAYOUT}")
        return records

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> Sample:
        rec = self.records[i]
        return Sample(read_image(rec.path), rec.label, rec.character, rec.landmarks, rec.path)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    @property
    def paths(self) -> list[str]:
        return [r.path for r in self.records]

    def subset(self, indices) -> FergDataset:
        """A dataset of the records at `indices` (ints or a boolean mask)."""
        idx = np.asarray(indices)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        return FergDataset.from_records(self.root, [self.records[int(i)] for i in idx])

    def counts(self) -> dict[str, dict[str, int]]:
        """Images per character and expression."""
        out: dict[str, dict[str, int]] = {}
        for r in self.records:
            out.setdefault(r.character, {e: 0 for e in EXPRESSIONS})[r.expression] += 1
        return out

    def __repr__(self) -> str:
        return f"FergDataset({str(self.root)!r}, {len(self)} images, characters={self.characters})"


def split_by_character(ds: FergDataset, held_out) -> tuple[FergDataset, FergDataset]:
    """Leave-characters-out split: (train = other characters, test = `held_out`).

    Raises:
        InputError: a held-out name is not in the data set, or nothing would be left to train.
    """
    held = [held_out] if isinstance(held_out, str) else list(held_out)
    missing = [c for c in held if c not in ds.characters]
    if missing:
        raise InputError(f"held-out character(s) {', '.join(missing)} not in the data set; "
                         f"available: {', '.join(ds.characters)}")
    test_mask = np.array([r.character in set(held) for r in ds.records])
    if test_mask.all():
        raise InputError("split_by_character: holding out every character leaves nothing to train on")
    return ds.subset(~test_mask), ds.subset(test_mask)


def random_split(ds: FergDataset, frac: float, seed: int = 0) -> tuple[FergDataset, FergDataset]:
    """Random split: (first with round(frac * len) records, the rest), deterministic by seed."""
    if not 0.0 < float(frac) < 1.0:
        raise InputError(f"random_split: frac={frac} must be strictly between 0 and 1")
    order = np.random.default_rng(seed).permutation(len(ds))
    k = int(round(float(frac) * len(ds)))
    return ds.subset(np.sort(order[:k])), ds.subset(np.sort(order[k:]))
