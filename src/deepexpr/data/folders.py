"""Image folders per class (CK+, KDEF, RAF-DB, AffectNet style exports).

Layout: `ROOT/<class>/<any sub-folders>/<image>`, where `<class>` is an expression name
in any common spelling ("happy", "Angry", "surprised"), or a numeric id of a data set's
scheme (`scheme="rafdb"` reads folders `1`..`7`, `scheme="affectnet"` reads `0`..`10`,
`scheme="fer2013"` reads `0`..`6`). Classes without a counterpart here (contempt,
"uncertain") are skipped and listed in `skipped`.

Identity for identity-independent splits comes from the file name through a regex whose
first group is the subject id; presets: `"ckplus"` (S005_001_00000011.png -> S005),
`"kdef"` (AF01ANS.JPG -> F01), `"prefix"` (everything before the first `_` or `-`).

Records and samples have the same fields as `deepexpr.data.ferg.FergDataset`'s, with the
subject id in `character`, so training code treats characters and subjects alike.

    >>> ds = FolderDataset("kdef_by_class", subject_pattern="kdef")   # doctest: +SKIP
    >>> ds[0].image.shape, ds[0].label, ds[0].character                # doctest: +SKIP
    ((562, 762, 3), 3, 'F01')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepexpr.errors import InputError
from deepexpr.expressions import SCHEMES, canonical, to_index
from deepexpr.io import read_image

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif"}
SUBJECT_PATTERNS = {
    "ckplus": r"^(S\d+)_",
    "kdef": r"^[A-Z]([FM]\d+)",
    "prefix": r"^([^_\-]+)[_\-]",
}


@dataclass
class Record:
    path: str  # image file (or "CSV#row" for rows of a csv)
    label: int  # index into deepexpr.expressions.EXPRESSIONS
    character: str | None = None  # identity: character name or subject id (None if unknown)
    landmarks: np.ndarray | None = None  # (49, 2) pixel coordinates when known


@dataclass
class Sample:
    image: np.ndarray  # RGB uint8 (H, W, 3)
    label: int  # index into EXPRESSIONS
    character: str | None  # identity (character or subject), None if unknown
    landmarks: np.ndarray | None  # (49, 2) or None
    path: str  # where the image came from


def label_of_folder(name: str, scheme: str | None) -> int | None:
    """Class index of a class folder name; None for classes without a counterpart.

    Raises:
        ValueError: a name that is neither an expression nor an id of `scheme`.
    """
    if scheme is not None and name.strip().isdigit():
        return to_index(int(name), scheme)
    if scheme is not None and isinstance(SCHEMES.get(scheme), dict):
        try:
            return to_index(name, scheme)
        except ValueError:
            pass
    key = name.strip().lower()
    if key in ("contempt", "uncertain", "none", "no-face", "noface"):
        return None
    return to_index(canonical(key))


class FolderDataset:
    """Labelled images in per-class folders.

    Args:
        root: the folder holding one sub-folder per class.
        scheme: label scheme for numeric folder names (see module docstring), or None.
        subject_pattern: preset name or regex with one group giving the subject id.
        expressions: keep only these expression names (None: all).

    Attributes:
        records: list of `Record`, sorted by path.
        skipped: list of (folder or file, reason) that were not read.
    """

    def __init__(self, root: str | Path, scheme: str | None = None,
                 subject_pattern: str | None = None, expressions=None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(f"{self.root}: not a folder; pass a folder with one sub-folder per class")
        pattern = SUBJECT_PATTERNS.get(subject_pattern, subject_pattern) if subject_pattern else None
        self._subject_re = re.compile(pattern) if pattern else None
        keep = None if expressions is None else {to_index(canonical(e)) for e in expressions}
        self.records: list[Record] = []
        self.skipped: list[tuple[str, str]] = []
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir()):
            try:
                label = label_of_folder(folder.name, scheme)
            except ValueError as err:
                self.skipped.append((str(folder), f"unknown class folder ({err})"))
                continue
            if label is None:
                self.skipped.append((str(folder), "class has no counterpart in the 7 expressions"))
                continue
            if keep is not None and label not in keep:
                continue
            for f in sorted(folder.rglob("*")):
                if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES:
                    self.records.append(Record(str(f), label, self._subject(f.name)))
        if not self.records:
            raise InputError(f"{self.root}: no images found in class folders "
                             "(expected ROOT/<expression>/<image>.png)")

    def _subject(self, filename: str) -> str | None:
        if self._subject_re is None:
            return None
        m = self._subject_re.search(filename)
        return m.group(1) if m else None

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> Sample:
        r = self.records[i]
        return Sample(read_image(r.path), r.label, r.character, r.landmarks, r.path)

    @property
    def labels(self) -> np.ndarray:
        return np.array([r.label for r in self.records], dtype=np.int64)

    @property
    def characters(self) -> list[str | None]:
        return [r.character for r in self.records]
