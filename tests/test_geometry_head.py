"""`deepexpr train geometry-head` and the CNN + geometry-head fusion used by
`predict_emotion` / `recognize --domain character` when the head is bundled."""

import json

import numpy as np
import pytest

from deepexpr import recognition
from deepexpr.cli import main
from deepexpr.io import read_image


@pytest.fixture(scope="module")
def chars(tmp_path_factory):
    out = tmp_path_factory.mktemp("geo") / "chars"
    assert main(["characters", "render", "--out", str(out), "--characters", "pip,mika",
                 "--per-expression", "2", "--size", "96"]) == 0
    return out


@pytest.fixture(scope="module")
def head(chars, tmp_path_factory):
    path = tmp_path_factory.mktemp("head") / "h.safetensors"
    assert main(["train", "geometry-head", "--data", str(chars), "--out", str(path),
                 "--procedural-per-class", "4", "--fusion-weight", "0.5"]) == 0
    return path


def test_training_writes_the_head_and_refuses_to_overwrite(head, chars, capsys):
    config = json.loads(head.with_suffix(".json").read_text())
    assert config["fusion_weight"] == 0.5
    assert config["images"] == {"procedural": 28}
    assert 0 < config["faces_found"]["procedural"] <= 28
    assert main(["train", "geometry-head", "--data", str(chars), "--out", str(head)]) != 0
    assert "--overwrite" in capsys.readouterr().err


def test_bad_weight_is_one_line(chars, tmp_path, capsys):
    assert main(["train", "geometry-head", "--data", str(chars), "--out", str(tmp_path / "h.safetensors"),
                 "--fusion-weight", "-1"]) != 0
    err = capsys.readouterr().err.strip()
    assert "fusion" in err and "\n" not in err


def test_fused_recognizer_moves_the_cnn_toward_the_geometry(head, chars):
    cnn = recognition.load_recognizer("character", "character_realart")
    fused = recognition.geometry_fused(cnn, head)
    images = [read_image(p) for p in sorted(chars.rglob("*.png"))[:6]]
    p_cnn, p_fused, p_geo = cnn.probs(images), fused.probs(images), fused.geometry_probs(images)
    assert p_fused.shape == (6, 7)
    np.testing.assert_allclose(p_fused.sum(1), 1.0, atol=1e-5)
    found = np.isfinite(p_geo).all(1)
    assert found.any()
    # where a face was found the fused answer leans toward the geometry's; else the CNN's stands
    toward = np.sum(p_fused[found] * p_geo[found], 1) >= np.sum(p_cnn[found] * p_geo[found], 1) - 1e-6
    assert toward.all()
    np.testing.assert_allclose(p_fused[~found], p_cnn[~found], atol=1e-6)
    np.testing.assert_allclose(fused.features(images), cnn.features(images))
    assert fused.config is cnn.config


def test_missing_head_is_one_line(tmp_path):
    cnn = recognition.load_recognizer("character", "character_realart")
    with pytest.raises(recognition.InputError, match="geometry-head"):
        recognition.geometry_fused(cnn, tmp_path / "none.safetensors")


def test_predict_emotion_answers_with_the_named_head(chars):
    img = read_image(sorted(chars.rglob("*_joy_*.png"))[0])
    detail = recognition.predict_emotion(img, model=recognition.GEOMETRY_HEAD, detail=True)
    default = recognition.predict_emotion(img, detail=True)
    fused = recognition.load_recognizer("character", recognition.GEOMETRY_HEAD).probs([img])[0]
    cnn = recognition.load_recognizer("character", None).probs([img])[0]
    got = np.array([detail["probs"][c] for c in recognition.EXPRESSIONS])
    np.testing.assert_allclose(got, fused, atol=1e-5)
    np.testing.assert_allclose([default["probs"][c] for c in recognition.EXPRESSIONS], cnn, atol=1e-5)
    assert np.abs(np.log(fused) - np.log(cnn)).max() > 0.1  # the head changed the answer's probabilities


def test_an_unreadable_image_is_skipped(chars, tmp_path, capsys):
    import shutil

    data = tmp_path / "chars"
    shutil.copytree(chars, data)
    bad = sorted(data.rglob("*.png"))[0]
    bad.write_bytes(b"not a png")
    out = tmp_path / "h.safetensors"
    assert main(["train", "geometry-head", "--data", str(data), "--out", str(out),
                 "--procedural-per-class", "4"]) == 0
    assert bad.name in capsys.readouterr().err
    assert json.loads(out.with_suffix(".json").read_text())["faces_found"]["procedural"] < 28
