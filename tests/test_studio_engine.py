"""The studio engine's own logic, without loading the recognition models: the rig-estimator
puppet and its expression-blend fallback, the live session's tracking, character names,
animation housekeeping."""

from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np
import pytest

from deepexpr.characters import RIG_CONTROLS, get_character, key_poses
from deepexpr.expressions import EXPRESSIONS
from deepexpr.studio.engine import FALLBACK_SOURCE, PUPPET_SOURCE, Engine, FaceResult, _prune
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


def _result(face, probs=None):
    probs = np.eye(len(EXPRESSIONS))[EXPRESSIONS.index("joy")] if probs is None else probs
    return FaceResult([0, 0, 10, 10], probs.astype(np.float32), {}, None, face)


def test_puppet_is_the_rig_estimator_on_the_mesh_and_the_blend_without_one(astronaut):
    from deepexpr.faces import detect_faces
    from deepexpr.retarget import estimate_rig

    engine = Engine()
    (face,) = detect_faces(astronaut)
    puppet = engine.drive(_result(face), "pip", size=64)
    assert puppet.source == PUPPET_SOURCE == "rig" and puppet.image.shape == (64, 64, 3)
    assert puppet.rig == pytest.approx(estimate_rig(face).values)
    assert puppet.rig["AU12"] > 0.7 and puppet.rig["AU15"] < 0.2  # her smile, from the mesh
    blend = engine.drive(_result(None), "pip", size=64)  # no mesh: the expression blend
    assert blend.source == FALLBACK_SOURCE and blend.rig == pytest.approx(engine.puppet_rig(_result(None).probs, "pip"))


def test_live_session_tracks_and_holds_the_rig(astronaut):
    from studio_helpers import webcam_frames

    engine = Engine()
    engine.human = SimpleNamespace(features_and_probs=None)  # no model needed: stub the probabilities
    engine.results = lambda faces: [_result(f) for f in faces]
    session = engine.live_session()
    try:
        frames = webcam_frames(3)
        first = session.frame(frames[0], "pip", 64)
        second = session.frame(frames[1], "pip", 64)
        assert first[1].source == "rig" and second[1].rig["AU12"] > 0.5
        assert first[0][0].face.track_id == second[0][0].face.track_id  # the same person, tracked
        faces, puppet = session.frame(np.full_like(frames[0], 128), "pip", 64)
        assert faces == [] and puppet is None
        held = session.rigs.update([None], 1e9)[0]  # the tracker saw the missing face: held, flagged
        assert "held" in held.flags and held.values["AU12"] > 0.5
    finally:
        session.close()


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
