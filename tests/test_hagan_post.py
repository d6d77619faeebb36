"""HA-GAN's post-GAN encoder fine-tuning (issue 18, session 10): `--post-finetune` on the
exported (moving-average) G, resumable on a finished run, with an expression focus."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepexpr.characters.rig import RIG_CONTROLS
from deepexpr.errors import InputError
from deepexpr.expressions import EXPRESSIONS
from deepexpr.models.checkpoint import load_model
from deepexpr.train.hagan import HaganTrainConfig, train_hagan
from deepexpr.train.hagan_decoder import rig_focus_probabilities
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


def test_rig_focus_probabilities_favour_rigs_with_the_named_controls():
    rigs = np.zeros((4, len(RIG_CONTROLS)), np.float32)
    rigs[1, RIG_CONTROLS.index("AU9")] = 1.0
    rigs[2, RIG_CONTROLS.index("AU10")] = 0.5
    p = rig_focus_probabilities(rigs, "AU9,AU10", 4.0)
    assert p.sum() == pytest.approx(1.0)
    assert p[1] == pytest.approx(5 * p[0]) and p[2] == pytest.approx(3 * p[0]) and p[3] == pytest.approx(p[0])
    assert rig_focus_probabilities(rigs, "", 4.0) is None and rig_focus_probabilities(rigs, "AU9", 0.0) is None
    with pytest.raises(InputError, match="AU99"):
        rig_focus_probabilities(rigs, "AU99", 1.0)
    with pytest.raises(InputError, match="AU99"):
        HaganTrainConfig(post_decoder_focus="AU99")


def test_post_decoder_moves_only_the_exported_decoder_then_the_encoder_follows(standin_tiny, tmp_path):
    cfg = dict(preset="test", steps=2, batch_size=4, sample_every=0, checkpoint_every=0, seed=3,
               encoder_pretrain=0, decoder_pretrain=2, render_pool=6, reader_weight=0.3, reader_steps=2)
    plain = train_hagan(standin_tiny, HaganTrainConfig(**cfg), tmp_path / "a", quiet=True)
    ema = plain.generator.with_name("hagan_g_ema.safetensors")
    before, raw_before = _weights(ema), _weights(plain.generator)
    post = dict(post_decoder=3, post_decoder_focus="AU9,AU10", post_decoder_factor=4.0)
    train_hagan(standin_tiny, HaganTrainConfig(**cfg, **post), tmp_path / "a", resume=True, quiet=True)
    after = _weights(ema)
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed and not any(k.startswith(ENCODER_PARTS) for k in changed)  # the decoder only
    assert all(torch.equal(raw_before[k], v) for k, v in _weights(plain.generator).items())
    straight = train_hagan(standin_tiny, HaganTrainConfig(**cfg, **post), tmp_path / "b", quiet=True)
    ref = _weights(straight.generator.with_name("hagan_g_ema.safetensors"))
    assert all(torch.allclose(ref[k], after[k], atol=1e-6) for k in ref)  # resume == straight run
    train_hagan(standin_tiny, HaganTrainConfig(**cfg, **post, post_finetune=2), tmp_path / "a", resume=True,
                quiet=True)
    last = _weights(ema)
    moved = [k for k in after if not torch.equal(after[k], last[k])]
    assert moved and all(k.startswith(ENCODER_PARTS) for k in moved)  # decoder done: only the encoder now


def test_render_l1_adds_the_feature_weights_to_the_landmark_weights():
    """An error on a stroke away from the landmarks costs more with both weights than with
    the landmark weights alone; the weights sum (1 + gain_l x blobs + gain_f x |render - neutral|)."""
    from deepexpr.data.standin import target_styles
    from deepexpr.train.hagan_data import RenderPool
    from deepexpr.train.hagan_decoder import render_l1

    pool = RenderPool(target_styles(["pip"]), 6, 16, np.random.default_rng(0))

    class Painter(torch.nn.Module):  # draws the neutral face whatever the rig: misses every stroke
        def draw(self, rigs, chars):
            return pool.neutral[chars]

    both = HaganTrainConfig(landmark_gain=4.0, feature_gain=20.0, landmark_weight=0.0)
    lmk = HaganTrainConfig(landmark_gain=4.0, landmark_weight=0.0)
    losses = []
    for cfg in (lmk, both):
        pool.rng = np.random.default_rng(7)
        losses.append(float(render_l1(Painter(), pool, 6, cfg)))
    pool.rng = np.random.default_rng(7)
    _, chars, images = pool.batch(6)
    diff = (images - pool.neutral[chars]).abs()
    w = 1 + 4.0 * pool.landmark_blobs() + 20.0 * diff.mean(1, keepdim=True)
    assert losses[1] == pytest.approx(float((diff * w).sum() / (w.sum() * 3)), rel=1e-5)
    assert losses[1] > losses[0]


def test_mirror_rig_reads_a_face_and_its_mirror_image_alike():
    """With `mirror_rig` the rig of a mirrored face is the face's rig with yaw and horizontal
    gaze negated (exactly: the mean is symmetric); without it, run() is G's own forward."""
    from deepexpr.data.hagan import mirror_rig_signs
    from deepexpr.models import create_model
    from deepexpr.models.hagan_pair import HaganModel

    torch.manual_seed(0)
    g = create_model("test_hagan_rig_g", rig_dim=len(RIG_CONTROLS)).eval()
    with torch.no_grad():
        g.rig_head.weight.mul_(1000.0)  # rigs of order 0.1, not 1e-4
    d = create_model("test_hagan_d").eval()
    model = HaganModel(g, d, ["a", "b"], list(EXPRESSIONS), 16, 18)
    faces = np.random.default_rng(0).integers(0, 255, (3, 18, 18, 3), dtype=np.uint8)
    rig, rig_of_mirror = model.rig(faces), model.rig(faces[:, :, ::-1].copy())
    assert np.abs(rig).max() > 0.01
    np.testing.assert_allclose(rig_of_mirror, rig * mirror_rig_signs(), atol=1e-4)
    model.mirror_rig = False
    plain = model.rig(faces)
    assert not np.allclose(model.rig(faces[:, :, ::-1].copy()), plain * mirror_rig_signs(), atol=1e-3)
    from deepexpr.data.hagan import human_view, to_tensor, to_uint8

    with torch.inference_mode():
        own = to_uint8(g(to_tensor(human_view(faces, 16)), torch.tensor([0, 1, 0]), torch.zeros(3, g.cfg.z_dim)))
    assert np.array_equal(model.run(faces, [0, 1, 0])[0], own)
    model.mirror_rig = True
    assert not np.array_equal(model.run(faces, [0, 1, 0])[0], own)
