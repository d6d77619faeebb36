"""HA-GAN's decoder that draws (issue 18, session 5): the full-size head over the character's
base picture, the landmark-weighted L1, decoder pretraining with it, the posed rig judge."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import assert_hagan_resumes_exactly
from deepexpr.models import create_model
from deepexpr.train.hagan import HaganTrainConfig, build_models, pretrain_decoder, render_l1
from deepexpr.train.hagan_losses import landmark_weights, neutral_l1_loss, weighted_l1


def _cfg(**kw):
    base = dict(preset="test", steps=2, batch_size=8, sample_every=0, checkpoint_every=0, seed=3,
                encoder_pretrain=0, decoder_pretrain=0)
    return HaganTrainConfig(**{**base, **kw})


def test_landmark_weights_peak_at_the_landmarks_and_are_one_far_away():
    w = landmark_weights(torch.tensor([[[4.5, 10.5], [12.5, 2.5]]]), 16, gain=9.0, sigma=1.0)
    assert w.shape == (1, 1, 16, 16)
    assert float(w[0, 0, 10, 4]) == pytest.approx(10.0)  # pixel (x 4, y 10) has its centre on a landmark
    assert float(w[0, 0, 2, 12]) == pytest.approx(10.0)
    assert float(w[0, 0, 15, 15]) == pytest.approx(1.0, abs=1e-6)
    assert torch.equal(landmark_weights(torch.zeros(2, 3, 2), 8, gain=0.0), torch.ones(2, 1, 8, 8))
    with pytest.raises(ValueError, match="N, K, 2"):
        landmark_weights(torch.zeros(3, 2), 8, 1.0)


def test_weighted_l1_counts_errors_at_the_features():
    target = torch.zeros(1, 3, 16, 16)
    target[..., 6:8, 4:12] = 1.0  # a mouth
    missed = torch.zeros_like(target)  # no mouth
    smeared = torch.where(target > 0, target, torch.full_like(target, 16 / 240))  # mouth right, faint error elsewhere
    assert float(neutral_l1_loss(smeared, target)) == pytest.approx(float(neutral_l1_loss(missed, target)))
    ones = torch.ones(1, 1, 16, 16)
    assert float(weighted_l1(missed, target, ones)) == pytest.approx(float(neutral_l1_loss(missed, target)))
    w = landmark_weights(torch.tensor([[[float(x) + 0.5, 6.5] for x in range(4, 12)]]), 16, gain=20.0)
    assert float(weighted_l1(missed, target, w)) > 3 * float(weighted_l1(smeared, target, w))


def test_full_res_head_sees_the_base_picture_and_draws_full_size():
    g = create_model("test_hagan_rig_g", full_res=4)
    rig = torch.zeros(2, g.cfg.rig_dim)
    out = g.draw(rig, torch.tensor([0, 1]))
    assert out.shape == (2, 3, 16, 16) and out.abs().max() <= 1
    assert g.to_image[0].in_channels == g.cfg.dec_channels[-1] + 3  # features + the base picture
    g.eval()
    with torch.no_grad():
        g.base.normal_()
        before = g.to_image[0](torch.zeros(1, g.to_image[0].in_channels, 16, 16))
        a = g.draw(rig[:1], torch.tensor([0]))
        g.base[0].add_(1.0)
        b = g.draw(rig[:1], torch.tensor([0]))
    assert before.shape[-1] == 16 and not torch.allclose(a, b)
    with pytest.raises(ValueError, match="full_res needs warp"):
        create_model("test_hagan_g", full_res=4)


@pytest.fixture(scope="module")
def pool():
    from deepexpr.data.standin import target_styles
    from deepexpr.train.hagan_data import RenderPool

    return RenderPool(target_styles(["pip", "mika"]), 12, 16, np.random.default_rng(0))


def test_render_pool_keeps_landmarks_for_the_weights(pool):
    assert pool.landmarks.shape == (24, 49, 2) and pool.neutral_landmarks.shape == (2, 49, 2)
    assert 0 <= pool.landmarks.min() and pool.landmarks.max() <= 16
    pool.batch(5)
    pts = pool.feature_points()
    assert pts.shape == (5, 98, 2)
    assert torch.equal(pts[:, 49:], torch.from_numpy(pool.neutral_landmarks[pool.chars[pool.last]]))


def test_decoder_pretraining_with_landmark_weights_learns_the_renders(pool):
    from deepexpr.data.hagan import to_tensor

    cfg = _cfg(decoder_pretrain=60, landmark_gain=10.0, g_overrides={"full_res": 4})
    g, *_ = build_models(cfg, 2)
    assert g.cfg.full_res == 4
    g.set_base(to_tensor(pool.images[[0, 12]]))
    losses = pretrain_decoder(g, pool, cfg)
    assert np.mean(losses[-10:]) < np.mean(losses[:10])
    # the weighted loss differs from the plain one on the same pairs
    torch.manual_seed(0)
    pool.rng = np.random.default_rng(5)
    with torch.no_grad():
        weighted = float(render_l1(g, pool, 8, cfg))
    pool.rng = np.random.default_rng(5)
    with torch.no_grad():
        plain = float(render_l1(g, pool, 8, _cfg()))
    assert weighted != pytest.approx(plain)


def test_posed_judge_rigs_cover_every_intensity():
    from deepexpr.data.standin import target_styles
    from deepexpr.evaluation.hagan_intensity import posed_judge_rigs

    rigs = posed_judge_rigs(target_styles(["pip", "mika"]), 40, np.random.default_rng(0))
    assert rigs.shape == (80, 23)
    aus = rigs[:, :18]
    assert aus.min() >= 0 and aus.max() <= 1 and (rigs[:, 20] == 0).all()  # head roll 0
    active = aus[aus > 0.05]
    assert active.min() < 0.3 and active.max() > 0.8  # weak and strong AUs
    assert np.std(rigs[:, 18]) > 5  # yaw spread over its range, not the poses' own


def test_reader_loss_is_zero_on_the_render_and_trains_only_g(pool):
    from deepexpr.train.hagan_reader import fit_rig_reader, reader_loss

    reader = fit_rig_reader(pool, steps=5, batch_size=4)
    assert not any(p.requires_grad for p in reader.parameters()) and not reader.training
    _, _, images = pool.batch(4)
    assert float(reader_loss(reader, images, images)) == pytest.approx(0.0, abs=1e-7)
    drawn = torch.zeros_like(images, requires_grad=True)
    loss = reader_loss(reader, drawn, images)
    loss.backward()
    assert float(loss.detach()) > 0 and drawn.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="differ"):
        reader_loss(reader, images[:2], images)


def test_resume_with_the_reader_and_landmark_weights_continues_exactly(standin_tiny, tmp_path):
    cfg = dict(preset="test", batch_size=4, sample_every=0, checkpoint_every=0, seed=1, encoder_pretrain=2,
               decoder_pretrain=3, render_pool=4, reader_weight=1.0, reader_steps=3, landmark_gain=5.0,
               render_focus="disgust", render_focus_factor=2.0, g_overrides={"full_res": 4})
    assert_hagan_resumes_exactly(standin_tiny, cfg, tmp_path)


def test_draw_true_rigs_drives_the_decoder_with_the_given_rigs():
    from deepexpr.evaluation.hagan_intensity import draw_true_rigs

    g = create_model("test_hagan_rig_g", full_res=4)
    rigs = np.zeros((3, 23), np.float32)
    rigs[1, 8] = 1.0  # AU12
    out = draw_true_rigs(g, rigs, 2)
    assert out.shape == (6, 16, 16, 3) and out.dtype == np.uint8
    with torch.no_grad():
        g.to_image[-1].bias.zero_()
        torch.nn.init.normal_(g.to_image[-1].weight, std=0.5)
    out = draw_true_rigs(g, rigs, 2)
    assert not np.array_equal(out[0], out[1])  # another rig, another drawing
    assert draw_true_rigs(create_model("test_hagan_g"), rigs, 2) is None  # no rig code
