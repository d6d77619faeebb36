"""The FERG-DB reader on a FERG-shaped fixture and on deepexpr's own export."""

import numpy as np
import pytest
from PIL import Image

from deepexpr.characters import render_dataset
from deepexpr.data.ferg import FergDataset, random_split, split_by_character
from deepexpr.errors import InputError
from deepexpr.expressions import EXPRESSIONS, INDEX
from deepexpr.io import read_image

CHARS = ("aia", "bonnie", "ray")


def make_ferg(root, chars=CHARS, per=2, exprs=EXPRESSIONS):
    rng = np.random.default_rng(0)
    for c in chars:
        for e in exprs:
            d = root / c / f"{c}_{e}"
            d.mkdir(parents=True)
            for n in range(1, per + 1):
                Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(d / f"{c}_{e}_{n}.png")
    return root


@pytest.fixture
def ferg(tmp_path):
    return make_ferg(tmp_path / "FERG_DB_256")


def test_reads_real_ferg_layout(ferg):
    ds = FergDataset(ferg)
    assert len(ds) == 3 * 7 * 2 and ds.characters == list(CHARS)
    s = ds[0]
    assert s.image.shape == (20, 20, 3) and s.image.dtype == np.uint8
    assert s.landmarks is None and s.character == "aia" and s.label == INDEX["anger"]
    assert ds.labels.dtype == np.int64 and set(ds.labels) == set(range(7))
    # the parent of FERG_DB_256 works too
    assert len(FergDataset(ferg.parent)) == len(ds)
    assert ds.counts()["ray"]["joy"] == 2


def test_natural_order_of_frames(tmp_path):
    root = make_ferg(tmp_path / "r", chars=("mery",), per=11, exprs=("joy",))
    names = [p.split("/")[-1] for p in FergDataset(root).paths]
    assert names[:3] == ["mery_joy_1.png", "mery_joy_2.png", "mery_joy_3.png"] and names[-1] == "mery_joy_11.png"


def test_filters_subset_and_splits(ferg):
    ds = FergDataset(ferg, characters=["aia", "ray"], expressions=["happy", "sadness"])
    assert len(ds) == 8 and set(ds.labels) == {INDEX["joy"], INDEX["sadness"]}
    assert FergDataset(ferg, characters="aia,ray", expressions="joy,sad").paths == ds.paths
    sub = ds.subset([0, 3])
    assert len(sub) == 2 and sub.records[1] == ds.records[3]
    train, test = split_by_character(FergDataset(ferg), "bonnie")
    assert test.characters == ["bonnie"] and "bonnie" not in train.characters
    assert len(train) + len(test) == 42
    a, b = random_split(FergDataset(ferg), 0.75, seed=1)
    assert len(a) == 32 and len(b) == 10 and not set(a.paths) & set(b.paths)
    a2, _ = random_split(FergDataset(ferg), 0.75, seed=1)
    assert a.paths == a2.paths
    with pytest.raises(InputError, match="bonnie"):
        FergDataset(ferg, characters=["malcolm"])
    with pytest.raises(InputError, match="expression"):
        FergDataset(ferg, expressions=["boredom"])
    with pytest.raises(InputError, match="available"):
        split_by_character(ds, "jules")


def test_reads_deepexpr_export_with_landmarks(tmp_path):
    render_dataset(tmp_path / "x", characters="moxi", per_expression=1, size=40, seed=0)
    ds = FergDataset(tmp_path / "x")
    assert len(ds) == 7 and ds.characters == ["moxi"]
    s = ds[INDEX["surprise"]]
    assert s.landmarks.shape == (49, 2) and s.image.shape == (40, 40, 3)
    assert ds.records[0].rig["AU4"] >= 0.6  # anger


def test_bad_inputs_name_the_file(tmp_path, ferg):
    with pytest.raises(InputError, match="no such folder"):
        FergDataset(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no character folders"):
        FergDataset(tmp_path / "empty")
    bad = tmp_path / "flat" / "aia"
    bad.mkdir(parents=True)
    (bad / "img.png").write_bytes(b"")
    with pytest.raises(InputError, match="aia_joy"):
        FergDataset(tmp_path / "flat")
    hollow = tmp_path / "hollow" / "aia" / "aia_joy"
    hollow.mkdir(parents=True)
    with pytest.raises(InputError, match="no images"):
        FergDataset(tmp_path / "hollow")
    broken = ferg / "aia" / "aia_joy" / "aia_joy_1.png"
    broken.write_bytes(b"not a png")
    empty = ferg / "aia" / "aia_joy" / "aia_joy_2.png"
    empty.write_bytes(b"")
    ds = FergDataset(ferg, characters="aia", expressions="joy")
    with pytest.raises(InputError, match="aia_joy_1.png: not a readable image"):
        ds[0]
    with pytest.raises(InputError, match="aia_joy_2.png: empty"):
        read_image(empty)
