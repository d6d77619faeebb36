"""`deepexpr demo`: the main job end to end with fake models (real renderer, tiny settings)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from deepexpr.cli import main
from deepexpr.errors import InputError
from deepexpr.retrieval import embed
from retrieval_fakes import FakeRecognizer, landmarks_for


@pytest.fixture()
def fake_models(monkeypatch, tmp_path, private_cache):
    models = {"character": FakeRecognizer(seed=0), "human": FakeRecognizer(seed=0)}
    monkeypatch.setattr(embed, "load_recognizer_for", lambda domain, model=None: models[domain])

    def detect(image, source=""):
        image = np.asarray(image)
        if image.std() < 1:
            raise InputError(f"{source or 'image'}: no face found; pass a photo with a visible face")
        h, w = image.shape[:2]
        lms = landmarks_for(3, np.random.default_rng(0)) * (min(h, w) / 100)
        return [SimpleNamespace(box=[0, 0, w, h], aligned=image, aligned_landmarks=lms)]

    monkeypatch.setattr(embed, "detect", detect)
    return models


def test_demo_writes_astronaut_sheet_and_reuses_index(fake_models, tmp_path, capsys):
    out = tmp_path / "out"
    blank = tmp_path / "blank.png"
    Image.fromarray(np.zeros((30, 30, 3), np.uint8)).save(blank)
    args = ["demo", "--out", str(out), "--characters", "pip,mika", "--per-expression", "1",
            "--size", "48", "--workers", "1", "--top", "2"]
    assert main(args) == 0
    assert (out / "astronaut.png").is_file()
    result = json.loads((out / "astronaut_retrieval.json").read_text())
    assert set(result["queries"][0]["by_character"]) == {"pip", "mika"}
    assert Image.open(out / "astronaut_retrieval.png").size[1] > 100
    capsys.readouterr()
    # second run reuses the cached index; a photo without a face is reported, the rest kept
    assert main([*args, str(blank)]) == 1
    captured = capsys.readouterr()
    assert "no face found" in captured.err and "embedding" not in captured.err
