"""Data set export: FERG layout, landmarks.csv, manifest, resume / refuse, workers."""

import csv
import json

import numpy as np
import pytest
from PIL import Image

from deepexpr.characters import face_landmarks, get_character, render_dataset, sample_poses
from deepexpr.errors import InputError
from deepexpr.expressions import EXPRESSIONS

SMALL = dict(characters="pip,tabby", per_expression=2, size=48, seed=5)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("chars") / "ds"
    manifest = render_dataset(out, **SMALL)
    return out, manifest


def test_layout_csv_and_manifest(exported):
    out, manifest = exported
    for char in ("pip", "tabby"):
        for expr in EXPRESSIONS:
            for n in (1, 2):
                img = Image.open(out / char / f"{char}_{expr}" / f"{char}_{expr}_{n}.png")
                assert img.size == (48, 48) and img.mode == "RGB"
            assert not (out / char / f"{char}_{expr}" / f"{char}_{expr}_3.png").exists()
    assert not list(out.rglob(".*.tmp"))
    rows = list(csv.DictReader((out / "landmarks.csv").open()))
    assert len(rows) == 2 * 7 * 2
    assert rows[0]["path"] == "pip/pip_anger/pip_anger_1.png"
    assert {"x0", "y48", "AU12", "head_yaw", "gaze_y"} <= set(rows[0])
    # the CSV landmarks are the rig's landmarks of that frame
    rig = sample_poses(get_character("pip"), "anger", 2, seed=5)[0]
    pts = np.array([[float(rows[0][f"x{i}"]), float(rows[0][f"y{i}"])] for i in range(49)])
    assert np.allclose(pts, face_landmarks(get_character("pip"), rig, 48), atol=2e-3)
    m = json.loads((out / "manifest.json").read_text())
    assert m == json.loads(json.dumps(manifest))
    assert m["complete"] and m["counts"]["total"] == 28
    assert m["settings"]["seed"] == 5 and m["settings"]["characters"] == ["pip", "tabby"]
    assert "deepexpr" in m["versions"] and "pip" in m["settings"]["styles"]


def test_rerun_resumes_and_different_settings_refuse(exported):
    out, _ = exported
    victim = out / "pip" / "pip_joy" / "pip_joy_2.png"
    before = victim.read_bytes()
    victim.unlink()
    stale = victim.with_name(".pip_joy_2.png.tmp")
    stale.write_bytes(b"half")
    m = render_dataset(out, **SMALL)
    assert not stale.exists()
    assert m["resumed"] and victim.read_bytes() == before
    with pytest.raises(InputError, match="different data set.*per_expression"):
        render_dataset(out, **(SMALL | {"per_expression": 3}))
    with pytest.raises(InputError, match="seed"):
        render_dataset(out, **(SMALL | {"seed": 6}))


def test_refuses_foreign_folder_and_bad_arguments(tmp_path):
    (tmp_path / "other.txt").write_text("x")
    with pytest.raises(InputError, match="not empty"):
        render_dataset(tmp_path, **SMALL)
    with pytest.raises(InputError, match="unknown character"):
        render_dataset(tmp_path / "a", characters="pip,nobody", per_expression=1, size=32)
    with pytest.raises(InputError, match="expression"):
        render_dataset(tmp_path / "b", characters="pip", per_expression=1, size=32,
                       expressions=["joy", "boredom"])
    with pytest.raises(InputError, match="per-expression"):
        render_dataset(tmp_path / "c", characters="pip", per_expression=0)
    assert not (tmp_path / "a").exists()


def test_workers_give_identical_images(tmp_path):
    kw = dict(characters="random:1", per_expression=3, size=40, seed=2, expressions=["joy", "fear"])
    render_dataset(tmp_path / "one", workers=1, **kw)
    render_dataset(tmp_path / "two", workers=2, **kw)
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.png"))
    assert len(files) == 6 and str(files[0]).startswith("rand_2_0/")
    for f in files:
        assert (tmp_path / "one" / f).read_bytes() == (tmp_path / "two" / f).read_bytes()
    assert (tmp_path / "one" / "landmarks.csv").read_text() == (tmp_path / "two" / "landmarks.csv").read_text()
