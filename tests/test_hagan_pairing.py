"""HA-GAN rig pairing: the matched-L1 target is the character making the human's very face."""

from __future__ import annotations

import numpy as np
import pytest

from deepexpr.characters import get_character, render_face
from deepexpr.characters.rig import RIG_CONTROLS, neutral_rig
from deepexpr.data.standin import paired_rig, render_paired, rig_vector
from deepexpr.errors import InputError
from deepexpr.train.hagan import HaganData, HaganTrainConfig, PairSampler, effective_pairing


def _rig(**values):
    return rig_vector({**neutral_rig(), **values})


def test_rig_vector_round_trips_and_paired_rig_levels_and_mirrors():
    vec = _rig(AU12=0.8, head_yaw=10.0, head_roll=5.0, gaze_x=0.4, head_pitch=3.0)
    assert vec.shape == (len(RIG_CONTROLS),)
    rig = paired_rig(vec)
    assert rig["AU12"] == pytest.approx(0.8) and rig["head_yaw"] == pytest.approx(10.0)
    assert rig["head_roll"] == 0.0  # align_face levels the eyes: no roll left to copy
    mirrored = paired_rig(vec, flipped=True)
    assert mirrored["head_yaw"] == pytest.approx(-10.0) and mirrored["gaze_x"] == pytest.approx(-0.4)
    assert mirrored["head_pitch"] == pytest.approx(3.0) and mirrored["AU12"] == pytest.approx(0.8)


def test_render_paired_draws_each_character_with_the_face_rig():
    styles = [get_character("pip"), get_character("mika")]
    rigs = np.stack([_rig(AU12=1.0, AU6=0.8), _rig(AU1=1.0, AU2=1.0, AU5=1.0, AU26=0.9)])
    out = render_paired(styles, rigs, np.array([1, 0]), 32)
    assert out.shape == (2, 32, 32, 3) and out.dtype == np.uint8
    assert np.array_equal(out[0], render_face(styles[1], paired_rig(rigs[0]), 32)[0])
    assert np.array_equal(out[1], render_face(styles[0], paired_rig(rigs[1]), 32)[0])
    assert not np.array_equal(out[1], render_face(styles[0], neutral_rig(), 32)[0])


def _data(with_rigs: bool) -> HaganData:
    """Two 'people' whose faces are dark on the image left; rig yaw +12 (turned right)."""
    size = 16
    humans = np.full((14, 18, 18, 3), 230, np.uint8)
    humans[:, :, :6] = 20  # asymmetric: a flipped view is dark on the right
    labels = np.tile(np.arange(7), 2)
    chars = np.repeat(np.arange(2), 7)
    char_images = np.full((14, size, size, 3), 200, np.uint8)
    rigs = np.stack([_rig(AU12=1.0, head_yaw=12.0) for _ in labels]) if with_rigs else None
    styles = [get_character("pip"), get_character("mika")] if with_rigs else None
    return HaganData(humans, labels, np.repeat(np.arange(2), 7), char_images, np.tile(np.arange(7), 2), chars,
                     char_images[:2], ["pip", "mika"], "fixture", rigs, styles)


def test_sampler_rig_pairing_follows_the_mirrored_face():
    data = _data(with_rigs=True)
    batch = PairSampler(data, 16, "light", np.random.default_rng(1), pairing="rig").batch(12)
    humans = ((batch["human"].numpy() + 1) * 127.5).mean(axis=(1, 2))  # (N, W) column brightness
    flipped = humans[:, :5].mean(1) > humans[:, -5:].mean(1)  # dark side moved to the right
    assert 0 < flipped.sum() < len(flipped)  # both kinds drawn
    matched = np.round((batch["matched"].numpy().transpose(0, 2, 3, 1) + 1) * 127.5).astype(np.uint8)
    for i in range(len(flipped)):
        style = data.target_styles[int(batch["character"][i])]
        want = render_face(style, paired_rig(data.human_rigs[0], bool(flipped[i])), 16)[0]
        assert np.abs(matched[i].astype(int) - want.astype(int)).max() <= 1


def test_rig_pairing_needs_rigs_and_falls_back_for_real_sets():
    plain = _data(with_rigs=False)
    assert effective_pairing(HaganTrainConfig(pairing="rig"), plain) == "expression"
    assert effective_pairing(HaganTrainConfig(pairing="rig"), _data(with_rigs=True)) == "rig"
    assert effective_pairing(HaganTrainConfig(pairing="expression"), _data(with_rigs=True)) == "expression"
    with pytest.raises(InputError, match="needs drawn humans"):
        PairSampler(plain, 16, "light", np.random.default_rng(0), pairing="rig")
    with pytest.raises(InputError, match="pairing 'x'"):
        PairSampler(plain, 16, "light", np.random.default_rng(0), pairing="x")
    rows = _data(with_rigs=True).subset_humans(np.arange(14) < 7)
    assert rows.human_rigs.shape == (7, len(RIG_CONTROLS)) and rows.can_pair_rigs


def test_decoder_ablation_measures_distance_to_the_paired_drawing(tmp_path):
    from types import SimpleNamespace

    from deepexpr.evaluation.hagan import decoder_ablation
    from deepexpr.train.hagan import train_hagan
    from deepexpr.translate import load_hagan

    rng = np.random.default_rng(0)
    labels = np.tile(np.arange(7), 2)
    data = HaganData(rng.integers(0, 255, (14, 18, 18, 3), dtype=np.uint8), labels, np.repeat(np.arange(2), 7),
                     rng.integers(0, 255, (14, 16, 16, 3), dtype=np.uint8), labels, np.repeat(np.arange(2), 7),
                     rng.integers(0, 255, (2, 16, 16, 3), dtype=np.uint8), ["a", "b"], "fixture")
    cfg = HaganTrainConfig(preset="test", steps=2, batch_size=4, sample_every=0, checkpoint_every=0,
                           encoder_pretrain=2)
    model = load_hagan(train_hagan(data, cfg, tmp_path / "run", quiet=True).generator)
    humans = data.human_images[:5]
    judge = SimpleNamespace(probs=lambda images: np.eye(7)[np.zeros(len(images), int)])  # always "anger"
    paired = rng.integers(0, 255, (2 * 5, 16, 16, 3), dtype=np.uint8)
    out = decoder_ablation(model, humans, labels[:5], judge, seed=0, paired=paired)
    full = np.concatenate([model.run(humans, [c] * 5, seed=0)[0] for c in range(2)]).astype(np.float32)
    assert out["l1_paired_full"] == pytest.approx(np.abs(full - paired).mean() / 127.5, rel=1e-5)
    assert out["judge_full"] == pytest.approx(0.2)  # one of the five labels is anger
    assert "l1_paired_full" not in decoder_ablation(model, humans, labels[:5], judge, seed=0)
