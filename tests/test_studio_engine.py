"""The studio engine's own logic, without loading models: puppet rig blend, character
names, face quality, animation housekeeping."""

from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np
import pytest

from deepexpr.characters import RIG_CONTROLS, get_character, key_poses
from deepexpr.expressions import EXPRESSIONS
from deepexpr.studio.engine import Engine, _prune, face_quality
from deepexpr.studio.uploads import StudioError


def test_puppet_rig_is_the_probability_weighted_key_poses():
    engine = Engine()
    style = get_character("mika")
    one_hot = np.eye(len(EXPRESSIONS))[EXPRESSIONS.index("surprise")]
    assert engine.puppet_rig(one_hot, "mika") == pytest.approx(key_poses(style, "surprise")[0])
    probs = np.zeros(len(EXPRESSIONS))
    probs[EXPRESSIONS.index("joy")], probs[EXPRESSIONS.index("sadness")] = 3, 1  # unnormalised on purpose
    joy, sad = key_poses(style, "joy")[0], key_poses(style, "sadness")[0]
    rig = engine.puppet_rig(probs, "mika")
    assert set(rig) == set(RIG_CONTROLS)
    for c in RIG_CONTROLS:
        assert rig[c] == pytest.approx(0.75 * joy.get(c, 0) + 0.25 * sad.get(c, 0))
    image = engine.puppet(probs, "mika", size=64)
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8


@pytest.mark.parametrize("name", ["../pip", "/etc/passwd", "pip.json", "standin_0_1", "rand_1", "rand_1_2_3", "x" * 500])
def test_only_builtin_or_generated_names_resolve(name):
    with pytest.raises(StudioError) as err:
        Engine().style(name)
    assert err.value.status == 404 and len(err.value.message) < 300


def test_generated_characters_resolve_from_their_name():
    engine = Engine()
    name, style = engine.random_character(5)
    assert name == "rand_5_0" and engine.style(name).to_dict() == style
    assert engine.render_character(name, "joy", 48).shape == (48, 48, 3)
    with pytest.raises(StudioError):
        engine.render_character(name, "bored", 48)


def _face(box, nose_shift=0.0, texture=True):
    rng = np.random.default_rng(0)
    aligned = (rng.uniform(0, 255, (64, 64, 3)) if texture else np.full((64, 64, 3), 128)).astype(np.uint8)
    lm = np.zeros((49, 2), np.float32)
    lm[19], lm[28], lm[16] = (0, 0), (40, 0), (20 + nose_shift, 25)
    return SimpleNamespace(box=box, aligned=aligned, landmarks49=lm)


def test_face_quality_orders_size_sharpness_and_pose():
    good = face_quality(_face([0, 0, 120, 130]))
    assert good["frontal"] == 1.0 and good["size_px"] == 120
    assert face_quality(_face([0, 0, 30, 30]))["score"] < good["score"]  # small
    assert face_quality(_face([0, 0, 120, 130], texture=False))["score"] < good["score"]  # flat, blurry
    turned = face_quality(_face([0, 0, 120, 130], nose_shift=10))
    assert turned["frontal"] < 0.5 and turned["score"] < good["score"]


def test_prune_keeps_the_newest_animations(tmp_path):
    for i in range(5):
        folder = tmp_path / f"job{i}"
        folder.mkdir()
        (folder / "done").write_text("x")
        os.utime(folder, (1000 + i, 1000 + i))
    (tmp_path / ".tmp-partial").mkdir()
    _prune(tmp_path, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".tmp-partial", "job3", "job4"]


def test_a_second_animation_request_does_not_wait_for_the_first(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPEXPR_CACHE", str(tmp_path))  # nothing generated yet
    engine = Engine()
    engine._anim_lock.acquire()
    try:
        with pytest.raises(StudioError) as err:
            engine.animate("joy", frames=7)
        assert err.value.status == 503
    finally:
        engine._anim_lock.release()
    with pytest.raises(StudioError) as err:
        engine.animate("neutral")
    assert err.value.status == 422
    with pytest.raises(StudioError):
        engine.animation_file("nope", "preview.mp4")
    with pytest.raises(StudioError):
        engine.animation_file("nope", "../../etc/passwd")
