"""The stylized-face trainer on tiny runs: exact resume, resuming runs made before a setting
existed, and the landmark crops' error scale (`jitter`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepexpr.models.registry import create_model
from deepexpr.train.state import read_state
from deepexpr.train.stylized_face import StylizedTrainConfig, landmark_samples, train_stylized


def _cfg(tmp_path, **kw) -> StylizedTrainConfig:
    base = dict(out=str(tmp_path / "run"), model="test_stylized_face", stage="landmarks", characters=2, crops=8,
                steps=2, batch=2, save_every=1, show_progress=False)
    return StylizedTrainConfig(**{**base, **kw})


def _weights(state_path) -> dict:
    return {k: v for k, v in read_state(state_path)[1].items() if k.startswith("model.net.")}


def test_an_interrupted_landmark_run_resumes_exactly(tmp_path, monkeypatch):
    from deepexpr.train import stylized_face as trainer

    straight = train_stylized(_cfg(tmp_path / "a", steps=4))
    real_save = trainer.save_state

    def save_then_stop(path, *args, **kw):
        real_save(path, *args, **kw)
        if args[2]["step"] == 2:
            raise KeyboardInterrupt  # the run is stopped right after its step-2 state

    monkeypatch.setattr(trainer, "save_state", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        train_stylized(_cfg(tmp_path / "b", steps=4))
    monkeypatch.setattr(trainer, "save_state", real_save)
    resumed = train_stylized(_cfg(tmp_path / "b", steps=4), resume=True)
    a, b = _weights(straight), _weights(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert read_state(resumed)[0]["progress"]["step"] == 4


def test_a_setting_added_later_keeps_old_runs_resumable(tmp_path):
    """A run recorded without `jitter` (made before it existed) resumes at the default and
    with a wider jitter (a curriculum); the wider value is then recorded."""
    path = train_stylized(_cfg(tmp_path, steps=1))
    assert "jitter" not in read_state(path)[0]["settings"]  # the default is not recorded
    train_stylized(_cfg(tmp_path, steps=2), resume=True)
    train_stylized(_cfg(tmp_path, steps=3, jitter=2.0), resume=True)
    meta = read_state(path)[0]
    assert meta["progress"]["step"] == 3 and meta["settings"]["jitter"] == 2.0


@pytest.fixture(scope="module")
def pools():
    from deepexpr.data.scenes import character_pool

    return character_pool(5, 2, False)


def test_jitter_scales_the_detector_like_crop_errors(pools):
    """Every other crop is cropped by a square off by detector-like errors scaled by `jitter`:
    its landmarks lie farther from where the true square puts them; the others do not change."""
    from deepexpr.data.face_frame import face_frame, frame_params
    from deepexpr.data.scenes import SceneConfig

    sc = SceneConfig(seed=5, characters=2)

    def spread(jitter):
        """Spread (s.d. of log side, centre x, y and angle over the crops) of the true face
        square in crop pixels, for the detector-like and the second-pass crops."""
        big, small = [], []
        for seed in range(10):
            for k, (_, pts) in enumerate(landmark_samples(sc, pools, np.random.default_rng(seed), 32, 4, jitter)):
                centre, side, angle = frame_params(face_frame(pts.astype(np.float64)))
                (big if k % 2 == 0 else small).append([np.log(side), centre[0] / side, centre[1] / side, angle])
        return np.std(big, axis=0).sum(), np.std(small, axis=0).sum()

    big1, small1 = spread(1.0)
    big3, small3 = spread(3.0)
    assert big3 > 1.5 * big1
    assert np.isclose(small1, small3)


def test_init_starts_one_stage_from_a_model_and_export_fills_the_other(tmp_path):
    """`init` copies only the trained stage's weights of a model; an export of a run that
    trained one stage takes the other from `base`, records where it came from, and without a
    base names the missing stage in one line."""
    from deepexpr.errors import InputError
    from deepexpr.models.checkpoint import load_model, read_config
    from deepexpr.train.stylized_face import export_stylized, init_stage

    source_run = tmp_path / "source"
    for stage in ("detector", "landmarks"):
        train_stylized(_cfg(source_run, stage=stage, scenes=2, steps=1))
    source = export_stylized(source_run / "run", tmp_path / "source.safetensors", "test_stylized_face")
    reference = load_model(source)[0].state_dict()

    torch.manual_seed(123)
    fresh = create_model("test_stylized_face")
    before = {k: v.clone() for k, v in fresh.state_dict().items()}
    init_stage(fresh, str(source), "detector")
    after = fresh.state_dict()
    assert all(torch.equal(after[k], reference[k]) for k in after if k.startswith("det_"))
    assert all(torch.equal(after[k], before[k]) for k in after if k.startswith("lmk_"))

    run = tmp_path / "tuned"
    train_stylized(_cfg(run, stage="detector", scenes=2, steps=1, init=str(source), any_rotation=0.9))
    with pytest.raises(InputError, match="no landmarks state"):
        export_stylized(run / "run", tmp_path / "no_base.safetensors", "test_stylized_face")
    out = export_stylized(run / "run", tmp_path / "tuned.safetensors", "test_stylized_face", base=str(source))
    tuned, trained = load_model(out)[0].state_dict(), _weights(run / "run" / "state_detector.safetensors")
    assert all(torch.equal(tuned[k], reference[k]) for k in tuned if k.startswith("lmk_"))
    assert all(torch.equal(tuned[k], trained[f"model.net.{k}"]) for k in tuned if k.startswith("det_"))
    training = read_config(out)["training"]
    assert training["landmarks"]["from"] == str(source) and training["landmarks"]["steps"] == 1
    assert training["detector"]["settings"]["any_rotation"] == 0.9
    assert training["detector"]["init_training"]["from"] == str(source)
    with pytest.raises(InputError, match="does not fit"):
        init_stage(create_model("stylized_face"), str(source), "detector")  # another architecture


def test_spin_turns_the_detector_like_crops_by_any_angle(pools):
    """`spin` 1: every detector-like crop's square is turned by a uniform angle (the true
    face lies at any angle in it); the second-pass crops stay nearly upright."""
    from deepexpr.data.face_frame import face_frame, frame_params
    from deepexpr.data.scenes import SceneConfig

    sc = SceneConfig(seed=5, characters=2)
    big, small = [], []
    for seed in range(12):
        for k, (_, pts) in enumerate(landmark_samples(sc, pools, np.random.default_rng(seed), 32, 4, 1.0, spin=1.0)):
            (big if k % 2 == 0 else small).append(abs(frame_params(face_frame(pts.astype(np.float64)))[2]))
    assert max(big) > 1.5 and np.mean(big) > 0.8  # uniform in +-pi: mean |angle| ~ pi / 2
    assert max(small) < 0.5


def test_occluded_draws_over_the_face_before_it_is_cropped(pools, monkeypatch):
    """`occluded` 1: every sample's face gets an occluder (`data.scenes.occlude`) drawn on the
    scene before the crops are cut (what it paints shows at the face's centre in every crop);
    0 never calls it and draws exactly the crops of a run made before the setting existed."""
    import deepexpr.train.stylized_face as trainer
    from deepexpr.data.face_frame import face_frame, frame_params
    from deepexpr.data.scenes import SceneConfig

    calls = []

    def paint_centre(scene, face, rng):  # a stand-in occluder: the face's central pixels magenta
        calls.append(face)
        cx, cy = np.round(face.centre).astype(int)
        r = max(2, int(face.side * 0.1))
        scene[cy - r:cy + r + 1, cx - r:cx + r + 1] = (255, 0, 255)

    monkeypatch.setattr(trainer, "occlude", paint_centre)
    sc = SceneConfig(seed=5, characters=2)
    for seed in range(4):
        clean = landmark_samples(sc, pools, np.random.default_rng(seed), 32, 2, 1.0)
        same = landmark_samples(sc, pools, np.random.default_rng(seed), 32, 2, 1.0, occluded=0.0)
        assert not calls
        for (a, pa), (b, pb) in zip(clean, same):
            assert np.array_equal(a, b) and np.array_equal(pa, pb)
        for crop, pts in landmark_samples(sc, pools, np.random.default_rng(seed), 32, 2, 1.0, occluded=1.0):
            x, y = np.round(frame_params(face_frame(pts.astype(np.float64)))[0]).astype(int)
            assert tuple(crop[y, x]) == (255, 0, 255)
        assert len(calls) == 1
        calls.clear()


def test_crop_min_face_sets_the_smallest_face_cut_into_crops(pools, monkeypatch):
    """The faces the landmark crops are cut from are `min_face`-200 px (40 by default)."""
    import deepexpr.train.stylized_face as trainer
    from deepexpr.data.scenes import SceneConfig

    sides, real = [], trainer.add_character

    def spy(scene, style, rng, face_side, *args, **kw):
        sides.append(face_side)
        return real(scene, style, rng, face_side, *args, **kw)

    monkeypatch.setattr(trainer, "add_character", spy)
    sc = SceneConfig(seed=5, characters=2, max_render=48)
    for min_face in (40.0, 12.0):
        sides.clear()
        for seed in range(30):
            landmark_samples(sc, pools, np.random.default_rng(seed), 16, 1, 1.0, min_face=min_face)
        assert min(sides) >= min_face and max(sides) <= 200
        assert (min(sides) < 40) == (min_face < 40)
