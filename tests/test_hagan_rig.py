"""HA-GAN's rig code (issue 18): rig supervision, the decoder as a renderer, D^e on G's
drawings (AC-GAN), the intensity metric."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepexpr.data.hagan import rig_dict, rig_scale, rig_targets
from deepexpr.models import create_model
from deepexpr.train.hagan import (
    HaganTrainConfig,
    PairSampler,
    build_models,
    discriminator_loss,
    expression_loss,
    make_optimizers,
    pretrain_decoder,
    pretrain_encoder,
    rig_loss,
    train_step,
)
from hagan_fakes import bar_images, rig_faces

_images = bar_images


@pytest.fixture
def rig_data():
    """Tiny faces whose bar row encodes the label and whose rig's AU1 is label / 6."""
    return rig_faces("AU1")


def _cfg(**kw):
    base = dict(preset="test", steps=2, batch_size=6, sample_every=0, checkpoint_every=0, seed=3,
                encoder_pretrain=0, decoder_pretrain=0)
    return HaganTrainConfig(**{**base, **kw})


def test_rig_targets_mirror_level_and_round_trip():
    from deepexpr.characters.rig import RIG_CONTROLS

    raw = np.zeros((2, 23), np.float32)
    raw[:, RIG_CONTROLS.index("AU12")] = 0.7
    raw[:, RIG_CONTROLS.index("head_yaw")] = 10.0
    raw[:, RIG_CONTROLS.index("head_roll")] = 5.0
    raw[:, RIG_CONTROLS.index("gaze_x")] = 0.5
    t = rig_targets(raw, np.array([False, True]))
    yaw, gx = RIG_CONTROLS.index("head_yaw"), RIG_CONTROLS.index("gaze_x")
    assert t[0, yaw] == pytest.approx(10 / 25) and t[1, yaw] == pytest.approx(-10 / 25)
    assert t[1, gx] == pytest.approx(-0.5) and np.all(t[:, RIG_CONTROLS.index("head_roll")] == 0)
    assert np.abs(t).max() <= 1 and rig_scale().shape == (23,)
    back = rig_dict(t[0])
    assert back["AU12"] == pytest.approx(0.7) and back["head_yaw"] == pytest.approx(10.0)
    assert rig_dict(np.full(23, 9.0))["AU12"] == 1.0  # clipped to the control's limit


def test_rig_generator_draws_from_the_rig_and_the_rig_gets_gradient():
    g = create_model("test_hagan_rig_g")
    assert g.cfg.rig_code and g.cfg.templates is False and g.cfg.z_dim == 0
    rig = torch.zeros(3, 23, requires_grad=True)
    out = g.draw(rig, torch.tensor([0, 1, 0]))
    assert out.shape == (3, 3, 16, 16) and out.abs().max() <= 1
    out.mean().backward()
    assert rig.grad is not None and rig.grad.abs().sum() > 0  # the drawing depends on the rig
    with pytest.raises(ValueError, match="rig must be"):
        g.draw(torch.zeros(3, 5), torch.tensor([0, 1, 0]))
    with pytest.raises(ValueError, match="rig_code"):
        create_model("test_hagan_g").draw(torch.zeros(1, 23), torch.tensor([0]))
    with pytest.raises(ValueError, match="rig_dim"):
        create_model("test_hagan_g", rig_code=True)


def test_encoder_rig_supervision_lowers_the_rig_error(rig_data):
    cfg = _cfg(encoder_pretrain=80, rig_weight=10.0)
    g, *_ = build_models(cfg, 2)
    x = torch.from_numpy(rig_data.human_images[:, 1:17, 1:17]).permute(0, 3, 1, 2).float() / 127.5 - 1
    target = torch.from_numpy(rig_targets(rig_data.human_rigs))
    with torch.no_grad():
        before = float(rig_loss(g.eval().rig(g.encode(x)), target))
    before_w = g.rig_head.weight.detach().clone()
    pretrain_encoder(g, rig_data, cfg, 16, np.random.default_rng(0))
    with torch.no_grad():
        after = float(rig_loss(g.eval().rig(g.encode(x)), target))
    assert not torch.equal(before_w, g.rig_head.weight)
    assert after < 0.5 * before


def test_train_step_supervises_the_rig_and_trains_de_on_drawings(rig_data):
    cfg = _cfg(d_fake_expr_weight=1.0)
    g, d, *_ = build_models(cfg, 2)
    opt_g, opt_d = make_optimizers(g, d, cfg)
    batch = PairSampler(rig_data, 16, "light", np.random.default_rng(0)).batch(6)
    assert batch["rig"].shape == (6, 23)
    w = g.rig_head.weight.detach().clone()
    losses = train_step(g, d, opt_g, opt_d, batch, cfg)
    assert "rig" in losses and losses["rig"] > 0
    assert not torch.equal(w, g.rig_head.weight)
    with pytest.raises(ValueError, match="rig shapes"):
        rig_loss(torch.zeros(2, 3), torch.zeros(2, 4))


def test_discriminator_loss_adds_de_on_generated_images():
    torch.manual_seed(0)
    rr, rf, er, ef = torch.randn(4), torch.randn(4), torch.randn(4, 7), torch.randn(4, 7)
    y, yf = torch.tensor([0, 1, 2, 3]), torch.tensor([4, 5, 6, 0])
    plain = discriminator_loss(rr, rf, er, y)
    with_fake = discriminator_loss(rr, rf, er, y, 1.0, ef, yf, 2.0)
    assert float(with_fake - plain) == pytest.approx(float(expression_loss(ef, yf)), rel=1e-5)
    assert float(discriminator_loss(rr, rf, er, y, 1.0, ef, yf, 0.0)) == pytest.approx(float(plain))


def _train_d_on(fake, labels, fake_expr_weight, steps=120):
    torch.manual_seed(0)
    d = create_model("test_hagan_d")
    real = torch.zeros_like(fake)
    opt = torch.optim.Adam(d.parameters(), lr=1e-3)
    for _ in range(steps):
        rl, re = d(real)
        fl, fe = d(fake)
        loss = discriminator_loss(rl, fl, re, labels, 0.0, fe, labels, fake_expr_weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return float((d.expression(fake).argmax(1) == labels).float().mean())


def test_de_learns_to_read_generated_drawings():
    """D^e trained on 'G's drawings' labelled with the human's expression comes to read them;
    without that term (Eq. 5 alone) it never sees them."""
    from deepexpr.data.hagan import to_tensor

    labels = torch.arange(7).repeat(2)
    fake = to_tensor(_images(14, 16, labels.numpy()))
    assert _train_d_on(fake, labels, 1.0) > 0.9
    assert _train_d_on(fake, labels, 0.0) < 0.5


def test_decoder_pretraining_learns_renders_of_the_characters():
    from deepexpr.data.hagan import to_tensor
    from deepexpr.data.standin import target_styles
    from deepexpr.train.hagan_data import RenderPool, random_rigs

    styles = target_styles(["pip", "mika"])
    raw, chars = random_rigs(styles, 9, np.random.default_rng(0))
    assert raw.shape == (18, 23) and set(chars.tolist()) == {0, 1} and raw[:, :18].max() <= 1
    pool = RenderPool(styles, 12, 16, np.random.default_rng(0))
    assert pool.images.shape == (24, 16, 16, 3)
    cfg = _cfg(decoder_pretrain=60, batch_size=8)
    g, *_ = build_models(cfg, 2)
    g.set_base(to_tensor(pool.images[[0, 12]]))
    enc = g.encoder[0][0].weight.detach().clone()
    losses = pretrain_decoder(g, pool, cfg)
    assert np.mean(losses[-10:]) < np.mean(losses[:10])
    assert torch.equal(enc, g.encoder[0][0].weight)  # only the decoder trains


def test_intensity_agreement_against_numpy():
    from deepexpr.evaluation.hagan_intensity import intensity_agreement, pearson

    rng = np.random.default_rng(0)
    a, b = rng.random(50), rng.random(50)
    assert pearson(a, b) == pytest.approx(np.corrcoef(a, b)[0, 1])
    assert np.isnan(pearson(np.ones(5), b[:5]))
    labels = np.repeat([0, 1], 50)
    face = np.zeros((100, 23))
    face[:, 0] = np.r_[np.full(50, 0.2), np.full(50, 0.8)] + rng.normal(0, 0.05, 100)  # AU1
    template = np.zeros((100, 23))
    template[:, 0] = np.r_[np.full(50, 0.2), np.full(50, 0.8)]  # one drawing per class
    q = intensity_agreement(face, template, labels)
    assert q["per_au"]["AU1"] > 0.9  # the class alone correlates
    assert np.isnan(q["within_per_au"]["AU1"])  # nothing within a class
    q = intensity_agreement(face, face + rng.normal(0, 0.01, face.shape), labels)
    assert q["within_mean_r"] > 0.9 and list(q["per_au"]) == ["AU1"]


def test_feature_weighted_l1_counts_the_expression_features():
    from deepexpr.train.hagan_losses import feature_weighted_l1, neutral_l1_loss

    neutral = torch.zeros(1, 3, 16, 16)
    target = neutral.clone()
    target[..., 6:8, 4:12] = 1.0  # a mouth: 16 of 256 pixels
    missed = neutral.clone()  # draws the neutral face: misses the mouth
    noisy = target + (neutral_l1_loss(missed, target) * torch.ones_like(target))  # same plain L1, all over
    assert float(neutral_l1_loss(missed, target)) == pytest.approx(float(neutral_l1_loss(noisy, target)))
    assert float(feature_weighted_l1(missed, target, neutral, 0.0)) == pytest.approx(
        float(neutral_l1_loss(missed, target)))
    assert float(feature_weighted_l1(missed, target, neutral, 20.0)) > 3 * float(
        feature_weighted_l1(noisy, target, neutral, 20.0))
