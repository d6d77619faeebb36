"""FER2013 csv reader: `emotion,pixels,Usage` rows -> 48x48 grey faces.

The Kaggle file `fer2013.csv` has a header `emotion,pixels,Usage`; `emotion` is the
FER2013 id (0 Angry, 1 Disgust, 2 Fear, 3 Happy, 4 Sad, 5 Surprise, 6 Neutral, mapped
with `to_index(x, "fer2013")`), `pixels` is 2304 space-separated grey values, `Usage`
is Training / PublicTest / PrivateTest. The split files `train.csv` (`emotion,pixels`)
are read too; a file without `emotion` (Kaggle's unlabeled test.csv) is refused.

Malformed rows (wrong pixel count, values outside 0..255, unknown emotion) are skipped
and listed in `skipped` as (line number, reason); the rest are kept. FER2013 has no
subject ids, so `character` is None and identity-independent splits are impossible:
training falls back to the file's `Usage` split (see `usage`).

Samples are RGB uint8 (48, 48, 3) (grey repeated), as every reader returns.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from deepexpr.data.folders import Record, Sample
from deepexpr.errors import InputError
from deepexpr.expressions import to_index

SIDE = 48


def parse_pixels(text: str) -> np.ndarray:
    """'v v v ...' (2304 values 0..255) -> (48, 48) uint8.

    Raises:
        ValueError: wrong count or out-of-range values.
    """
    values = np.array(text.split(), dtype=np.int64) if text.strip() else np.zeros(0, np.int64)
    if values.size != SIDE * SIDE:
        raise ValueError(f"{values.size} pixel values, expected {SIDE * SIDE}")
    if values.min() < 0 or values.max() > 255:
        raise ValueError("pixel values outside 0..255")
    return values.astype(np.uint8).reshape(SIDE, SIDE)


class Fer2013Dataset:
    """All well-formed rows of a FER2013 csv, decoded once into memory (~2.3 KB a face).

    Args:
        csv_path: fer2013.csv (or train.csv-style file with emotion and pixels).
        usage: keep only rows whose Usage is one of these (e.g. ["Training"]); None: all.

    Attributes:
        records: list of `Record` (path "CSV#line").
        usage: list of the Usage value of each kept row ("" when the column is absent).
        skipped: list of (line number, reason) for malformed rows.
    """

    def __init__(self, csv_path: str | Path, usage=None):
        self.path = Path(csv_path)
        if not self.path.is_file():
            raise InputError(f"{self.path}: file not found; pass FER2013's fer2013.csv")
        self.records: list[Record] = []
        self.usage: list[str] = []
        self.skipped: list[tuple[int, str]] = []
        try:
            images = self._read_rows(usage)
        except (UnicodeDecodeError, csv.Error) as err:
            raise InputError(f"{self.path}: not a FER2013 csv text file ({type(err).__name__}: {err}); "
                             "pass FER2013's emotion,pixels,Usage csv") from err
        if not self.records:
            raise InputError(f"{self.path}: no well-formed rows ({len(self.skipped)} malformed)")
        self._images = np.stack(images)

    def _read_rows(self, usage) -> list[np.ndarray]:
        images: list[np.ndarray] = []
        with open(self.path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            cols = [c.strip().lower() for c in (reader.fieldnames or [])]
            if "emotion" not in cols or "pixels" not in cols:
                raise InputError(f"{self.path}: header {reader.fieldnames} lacks 'emotion' and "
                                 "'pixels'; expected FER2013's emotion,pixels,Usage csv")
            reader.fieldnames = cols
            for line, row in enumerate(reader, start=2):
                try:
                    label = to_index(int(str(row["emotion"]).strip()), "fer2013")
                    img = parse_pixels(row["pixels"] or "")
                except (ValueError, TypeError, AttributeError) as err:
                    self.skipped.append((line, str(err)))
                    continue
                use = (row.get("usage") or "").strip()
                if usage is not None and use not in usage:
                    continue
                self.records.append(Record(f"{self.path}#{line}", label, None))
                self.usage.append(use)
                images.append(img)
        return images

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> Sample:
        r = self.records[i]
        grey = self._images[i]
        return Sample(np.repeat(grey[:, :, None], 3, axis=2), r.label, None, None, r.path)

    @property
    def labels(self) -> np.ndarray:
        return np.array([r.label for r in self.records], dtype=np.int64)

    @property
    def characters(self) -> list[str | None]:
        return [None] * len(self.records)
