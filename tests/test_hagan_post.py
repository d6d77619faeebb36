"""HA-GAN's post-GAN encoder fine-tuning (issue 18, session 10): `--post-finetune` on the
exported (moving-average) G, resumable on a finished run, with an expression focus."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepexpr.errors import InputError
from deepexpr.expressions import EXPRESSIONS
from deepexpr.models.checkpoint import load_model
from deepexpr.train.hagan import HaganTrainConfig, train_hagan
from deepexpr.train.hagan_encoder import ENCODER_PARTS, focus_probabilities, human_batch
from hagan_fakes import rig_faces


@pytest.fixture
def rig_data():
    return rig_faces("AU9")


def _cfg(**kw):
    base = dict(preset="test", steps=2, batch_size=6, sample_every=0, checkpoint_every=0, seed=3,
                encoder_pretrain=0, decoder_pretrain=0)
    return HaganTrainConfig(**{**base, **kw})


def _weights(path):
    model, _ = load_model(path)
    return {k: v.float() for k, v in model.state_dict().items()}


def test_focus_probabilities_weigh_the_named_expressions():
    labels = np.repeat(np.arange(7), 3)
    p = focus_probabilities(labels, "disgust, anger", 4.0)
    dis, ang, joy = (EXPRESSIONS.index(e) for e in ("disgust", "anger", "joy"))
    assert p.sum() == pytest.approx(1.0)
    assert p[labels == dis][0] == pytest.approx(4 * p[labels == joy][0])
    assert p[labels == ang][0] == pytest.approx(p[labels == dis][0])
    assert focus_probabilities(labels, "", 4.0) is None and focus_probabilities(labels, "joy", 1.0) is None
    with pytest.raises(InputError, match="disgusted"):
        focus_probabilities(labels, "disgusted", 2.0)
    with pytest.raises(InputError, match="disgusted"):
        HaganTrainConfig(post_focus="disgusted")  # refused before any training


def test_focused_batches_draw_the_focused_expression_more(rig_data):
    rng = np.random.default_rng(0)
    probs = focus_probabilities(rig_data.human_labels, "disgust", 20.0)
    _, labels, rigs = human_batch(rig_data, 400, 16, "none", rng, probs)
    share = float((labels.numpy() == EXPRESSIONS.index("disgust")).mean())
    assert share > 0.6  # 20 / 26 = 0.77 expected; uniform would give 1/7
    _, labels, _ = human_batch(rig_data, 400, 16, "none", rng)
    assert float((labels.numpy() == EXPRESSIONS.index("disgust")).mean()) < 0.3


def test_post_finetune_moves_only_the_exported_encoder_and_resumes_exactly(rig_data, tmp_path):
    straight = train_hagan(rig_data, _cfg(post_finetune=4, post_focus="disgust", post_focus_factor=3),
                           tmp_path / "straight", quiet=True)
    plain = train_hagan(rig_data, _cfg(), tmp_path / "plain", quiet=True)
    before = _weights(plain.generator.with_name("hagan_g_ema.safetensors"))
    raw_before = _weights(plain.generator)
    # the finished run resumed with the post stage: the same weights as the straight run
    train_hagan(rig_data, _cfg(post_finetune=4, post_focus="disgust", post_focus_factor=3),
                tmp_path / "plain", resume=True, quiet=True)
    after = _weights(plain.generator.with_name("hagan_g_ema.safetensors"))
    for k, v in before.items():
        if not k.startswith(ENCODER_PARTS):
            assert torch.equal(v, after[k]), f"{k} changed: the decoder must stay frozen"
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("encoder."))
    raw_after = _weights(plain.generator)
    assert all(torch.equal(raw_before[k], raw_after[k]) for k in raw_before)  # only the exported G
    ref = _weights(straight.generator.with_name("hagan_g_ema.safetensors"))
    assert all(torch.allclose(ref[k], after[k]) for k in ref)
    # resuming again with the same setting makes no further updates
    train_hagan(rig_data, _cfg(post_finetune=4, post_focus="disgust", post_focus_factor=3),
                tmp_path / "plain", resume=True, quiet=True)
    again = _weights(plain.generator.with_name("hagan_g_ema.safetensors"))
    assert all(torch.equal(again[k], after[k]) for k in after)


def test_post_finetune_is_refused_up_front_without_rigs(rig_data, tmp_path):
    no_rigs = rig_data.subset_humans(np.ones(len(rig_data.human_images), bool))
    no_rigs.human_rigs = None
    with pytest.raises(InputError, match="--post-finetune need"):
        train_hagan(no_rigs, _cfg(post_finetune=2, pairing="expression"), tmp_path / "run", quiet=True)
