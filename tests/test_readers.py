import numpy as np
import pytest
from PIL import Image

from deepexpr.data.fer2013 import Fer2013Dataset
from deepexpr.data.folders import FolderDataset
from deepexpr.errors import InputError
from deepexpr.expressions import INDEX


def _pixels(v):
    return " ".join([str(v)] * 2304)


def test_fer2013_reads_and_skips_malformed(tmp_path):
    csv = tmp_path / "fer2013.csv"
    csv.write_text("emotion,pixels,Usage\n"
                   f"3,{_pixels(200)},Training\n"
                   f"6,{_pixels(10)},PublicTest\n"
                   "2,1 2 3,Training\n"            # too few pixels
                   f"9,{_pixels(5)},Training\n"     # unknown emotion id
                   f"x,{_pixels(5)},Training\n"     # not a number
                   f"0,{_pixels(300)},Training\n")  # out of range
    ds = Fer2013Dataset(csv)
    assert len(ds) == 2 and len(ds.skipped) == 4
    assert [r.label for r in ds.records] == [INDEX["joy"], INDEX["neutral"]]
    s = ds[0]
    assert s.image.shape == (48, 48, 3) and s.image.dtype == np.uint8 and s.image[0, 0, 0] == 200
    assert ds.usage == ["Training", "PublicTest"]
    assert len(Fer2013Dataset(csv, usage=["Training"])) == 1


def test_fer2013_bad_header_and_all_bad(tmp_path):
    f = tmp_path / "test.csv"
    f.write_text("pixels\n1 2 3\n")
    with pytest.raises(InputError, match="emotion"):
        Fer2013Dataset(f)
    f.write_text("emotion,pixels\n1,1 2\n")
    with pytest.raises(InputError, match="no well-formed rows"):
        Fer2013Dataset(f)


def _img(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((20, 30, 3), value, np.uint8)).save(path)


def test_folders_aliases_subjects_and_skips(tmp_path):
    _img(tmp_path / "Happy" / "S005_001_0001.png", 10)
    _img(tmp_path / "angry" / "sub" / "S010_002_0003.png", 20)
    _img(tmp_path / "surprised" / "S005_003_0001.jpg", 30)
    _img(tmp_path / "contempt" / "S011_001_0001.png", 40)
    (tmp_path / "surprised" / "notes.txt").write_text("x")
    ds = FolderDataset(tmp_path, subject_pattern="ckplus")
    assert len(ds) == 3
    assert sorted(ds.labels.tolist()) == sorted([INDEX["joy"], INDEX["anger"], INDEX["surprise"]])
    assert set(ds.characters) == {"S005", "S010"}
    assert any("contempt" in f for f, _ in ds.skipped)
    s = ds[0]
    assert s.image.shape == (20, 30, 3)


def test_folders_numeric_scheme_and_kdef(tmp_path):
    _img(tmp_path / "4" / "AF01HAS.JPG", 1)   # RAF-DB 4 = happiness
    _img(tmp_path / "1" / "BM22SUS.JPG", 2)   # RAF-DB 1 = surprise
    ds = FolderDataset(tmp_path, scheme="rafdb", subject_pattern="kdef")
    labels = {r.character: r.label for r in ds.records}
    assert labels == {"F01": INDEX["joy"], "M22": INDEX["surprise"]}


def test_folders_empty_and_broken(tmp_path):
    (tmp_path / "happy").mkdir()
    with pytest.raises(InputError, match="no images"):
        FolderDataset(tmp_path)
    with pytest.raises(InputError, match="not a folder"):
        FolderDataset(tmp_path / "missing")
    (tmp_path / "happy" / "bad.png").write_bytes(b"not a png")
    ds = FolderDataset(tmp_path)
    with pytest.raises(InputError, match="bad.png"):
        ds[0]
