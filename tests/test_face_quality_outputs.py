"""`retrieve` and `translate` never present a low-confidence face (profile, tiny, occluded) as a
confident answer: a `?` and the reason in text, the quality fields in JSON."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
from PIL import Image

from deepexpr.cli import main
from retrieval_fakes import FakeRecognizer, character_image, landmarks_for, make_ferg_tree

QUALITY = {"score": 0.41, "iod": 9.0, "yaw": 71.0, "pitch": 0.0, "roll": 0.0, "low_confidence": True,
           "reason": "profile (yaw 71)"}


def _face(box, low: bool, aligned=None, landmarks49=None):
    quality = {**QUALITY, "low_confidence": low, "reason": QUALITY["reason"] if low else ""}
    return SimpleNamespace(box=box, aligned=aligned, aligned_landmarks=landmarks_for(3, np.random.default_rng(0)),
                           landmarks49=landmarks49, low_confidence=low, reason=quality["reason"],
                           quality=lambda: quality)


def test_retrieve_marks_a_low_confidence_face(monkeypatch, tmp_path, capsys):
    from deepexpr.retrieval import embed

    model = FakeRecognizer(seed=0)
    monkeypatch.setattr(embed, "load_recognizer_for", lambda domain, model_ref=None: model)
    low = {"flag": True}
    monkeypatch.setattr(embed, "detect", lambda image, source="": [
        _face([0, 0, image.shape[1], image.shape[0]], low["flag"], aligned=np.asarray(image))])
    root, idx = tmp_path / "chars", tmp_path / "chars.safetensors"
    make_ferg_tree(root, per_class=1)
    assert main(["index", "build", "--data", str(root), "--out", str(idx)]) == 0
    photo = tmp_path / "photo.png"
    Image.fromarray(character_image(3, np.random.default_rng(1), size=64)).save(photo)
    capsys.readouterr()

    assert main(["retrieve", str(photo), "--index", str(idx)]) == 0
    table = capsys.readouterr().out
    assert "matched label joy?  (low confidence: profile (yaw 71))" in table
    assert main(["retrieve", str(photo), "--index", str(idx), "--format", "json"]) == 0
    query = json.loads(capsys.readouterr().out)["queries"][0]["query"]
    assert query["low_confidence"] is True and query["reason"] == "profile (yaw 71)" and query["yaw"] == 71.0

    low["flag"] = False  # a confident face: no mark
    assert main(["retrieve", str(photo), "--index", str(idx)]) == 0
    table = capsys.readouterr().out
    assert "matched label joy  [" in table and "?" not in table.splitlines()[0]


def test_translate_marks_a_low_confidence_face(monkeypatch, tmp_path, capsys):
    import deepexpr.translate as tr

    lms = np.zeros((49, 2), np.float32)
    lms[19:25], lms[25:31], lms[14:19], lms[31:] = [12, 15], [28, 15], [20, 24], [20, 30]
    crop = np.full((40, 40, 3), 128, np.uint8)
    faces = [_face((0, 0, 40, 40), True, crop, lms), _face((1, 1, 39, 39), False, crop, lms)]
    monkeypatch.setattr(tr, "find_faces", lambda photo: faces)
    photo = tmp_path / "p.png"
    Image.fromarray(np.full((40, 40, 3), 90, np.uint8)).save(photo)

    assert main(["translate", str(photo), "--out", str(tmp_path / "side.png")]) == 0  # bundled HA-GAN
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("face ")]
    unsure = [ln for ln in lines if ln.startswith("face (0, 0, 40, 40)")]
    sure = [ln for ln in lines if ln.startswith("face (1, 1, 39, 39)")]
    assert unsure and len(unsure) == len(sure) and len(lines) == 2 * len(sure)
    assert all("?  (low confidence: profile (yaw 71))" in ln for ln in unsure)
    assert not any("?" in ln or "low confidence" in ln for ln in sure)
