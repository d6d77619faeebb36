"""HA-GAN: models, losses, training step, checkpoints/resume, translate, CLI, bad input."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from deepexpr.errors import InputError
from deepexpr.models import create_model
from deepexpr.train.hagan import (
    HaganData,
    HaganTrainConfig,
    augment_human,
    build_models,
    discriminator_loss,
    expression_loss,
    generator_adversarial_loss,
    generator_loss,
    make_optimizers,
    neutral_l1_loss,
    train_hagan,
    train_step,
)
from hagan_fakes import bar_images

_images = bar_images


@pytest.fixture
def tiny_data():
    hl = np.repeat(np.arange(7), 4)
    hid = np.tile(np.arange(4), 7)
    cl = np.tile(np.repeat(np.arange(7), 2), 2)
    cid = np.repeat(np.arange(2), 14)
    return HaganData(_images(len(hl), 18, hl), hl, hid, _images(len(cl), 16, cl, 240), cl, cid,
                     _images(2, 16, [4, 4], 240), ["a", "b"], "fixture")


def _cfg(**kw):
    base = dict(preset="test", steps=4, batch_size=6, sample_every=0, checkpoint_every=0, seed=3, encoder_pretrain=3)
    return HaganTrainConfig(**{**base, **kw})


# ---- models -----------------------------------------------------------------------------


def test_generator_and_discriminator_shapes_and_gradients():
    g = create_model("test_hagan_g", num_characters=3)
    d = create_model("test_hagan_d")
    x = torch.randn(5, 3, 16, 16, requires_grad=True)
    y = g(x, torch.tensor([0, 1, 2, 0, 1]))
    assert y.shape == (5, 3, 16, 16) and y.abs().max() <= 1
    real, expr = d(y)
    assert real.shape == (5,) and expr.shape == (5, 7)
    assert d.forward_features(y).shape == (5, d.cfg.fc_dim)
    (real.sum() + expr.sum()).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in g.parameters())
    assert all(p.grad is not None for p in d.parameters())


def test_noise_and_character_change_the_drawing():
    g = create_model("test_hagan_g", num_characters=2).eval()
    x = torch.randn(2, 3, 16, 16)
    z = torch.randn(2, 4)
    a = g(x, torch.tensor([0, 0]), z)
    assert torch.equal(a, g(x, torch.tensor([0, 0]), z))
    assert not torch.allclose(a, g(x, torch.tensor([1, 1]), z))
    assert not torch.allclose(a, g(x, torch.tensor([0, 0]), torch.randn(2, 4)))


def test_paper_size_and_odd_sizes():
    g = create_model("hagan_g_paper", num_characters=1).eval()
    d = create_model("hagan_d_paper").eval()
    assert d.cfg.fc_dim == 1024 and create_model("hagan_d").cfg.fc_dim < 1024  # paper's FC; smaller CPU default
    y = g(torch.randn(1, 3, 75, 75), torch.tensor([0]))
    assert y.shape == (1, 3, 75, 75)
    assert d(y)[1].shape == (1, 7)
    with pytest.raises(ValueError, match="human must be"):
        g(torch.randn(1, 1, 75, 75), torch.tensor([0]))


# ---- losses on hand-made tensors ----------------------------------------------------------


def test_generator_adversarial_loss_is_non_saturating():
    assert generator_adversarial_loss(torch.zeros(4)).item() == pytest.approx(math.log(2))
    assert generator_adversarial_loss(torch.full((4,), 20.0)).item() == pytest.approx(0, abs=1e-6)
    # Non-saturating: a confident "fake" still gives a large loss (and gradient).
    logit = torch.full((1,), -10.0, requires_grad=True)
    generator_adversarial_loss(logit).backward()
    assert generator_adversarial_loss(torch.full((1,), -10.0)).item() == pytest.approx(10, abs=1e-3)
    assert logit.grad.abs().item() == pytest.approx(1.0, abs=1e-3)


def test_expression_loss_and_l1():
    logits = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]])
    assert expression_loss(logits, torch.tensor([0, 0])).item() == pytest.approx(
        (math.log(2) + math.log(4 / 3)) / 2)
    a = torch.zeros(1, 3, 2, 2)
    b = torch.full((1, 3, 2, 2), 0.5)
    b[0, 0, 0, 0] = -1.5
    assert neutral_l1_loss(a, b).item() == pytest.approx((11 * 0.5 + 1.5) / 12)


def test_discriminator_loss_is_halved_sum():
    ln2 = math.log(2)
    loss = discriminator_loss(torch.zeros(2), torch.zeros(3), torch.zeros(2, 7), torch.tensor([1, 5]))
    assert loss.item() == pytest.approx(0.5 * (ln2 + ln2 + math.log(7)))
    perfect = discriminator_loss(torch.full((2,), 30.0), torch.full((2,), -30.0),
                                 torch.tensor([[30.0, 0], [0, 30.0]]), torch.tensor([0, 1]))
    assert perfect.item() == pytest.approx(0, abs=1e-6)


def test_generator_loss_weights_terms():
    gen, neu = torch.ones(1, 3, 2, 2), torch.zeros(1, 3, 2, 2)
    total, parts = generator_loss(torch.zeros(1), torch.zeros(1, 7), torch.tensor([0]), gen, neu,
                                  l1_weight=10.0, expr_weight=2.0)
    assert parts["l1"] == pytest.approx(1.0)
    assert total.item() == pytest.approx(math.log(2) + 2 * math.log(7) + 10)


def test_generator_loss_matched_l1_and_encoder_term():
    gen, neu, same = torch.ones(1, 3, 2, 2), torch.zeros(1, 3, 2, 2), torch.full((1, 3, 2, 2), 0.5)
    code_logits = torch.tensor([[0.0] * 7])
    total, parts = generator_loss(torch.zeros(1), torch.zeros(1, 7), torch.tensor([0]), gen, neu,
                                  l1_weight=1.0, expr_weight=1.0, matched=same, match_weight=4.0,
                                  code_logits=code_logits, cls_weight=3.0)
    assert parts["match"] == pytest.approx(0.5) and parts["cls"] == pytest.approx(math.log(7))
    assert total.item() == pytest.approx(math.log(2) + math.log(7) + 1.0 + 4 * 0.5 + 3 * math.log(7))
    _, plain = generator_loss(torch.zeros(1), torch.zeros(1, 7), torch.tensor([0]), gen, neu)
    assert "match" not in plain and "cls" not in plain


def test_decoder_blocks_and_encoder_expression_head():
    resize = create_model("test_hagan_g", num_characters=2)
    transpose = create_model("test_hagan_g", num_characters=2, upsample="transpose")
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in resize.modules())
    assert any(isinstance(m, torch.nn.ConvTranspose2d) for m in transpose.modules())
    x = torch.randn(3, 3, 16, 16)
    assert transpose(x, torch.tensor([0, 1, 0])).shape == resize(x, torch.tensor([0, 1, 0])).shape
    code = resize.encode(x)
    assert resize.expression(code).shape == (3, 7)
    # The decoder is conditioned on the head's prediction: changing the head changes the drawing.
    resize.eval()
    z = torch.randn(3, 4)
    before = resize.decode(code, torch.tensor([0, 1, 0]), z)
    with torch.no_grad():
        resize.expr_head.bias += torch.arange(7.0) * 3
    assert not torch.allclose(before, resize.decode(code, torch.tensor([0, 1, 0]), z))
    paperish = create_model("test_hagan_g", expr_head=False, expr_condition=False, templates=False)
    assert paperish.expr_head is None
    with pytest.raises(ValueError, match="no expression head"):
        paperish.expression(paperish.encode(x))


def test_templates_start_the_drawing_as_the_character_and_expression():
    g = create_model("test_hagan_g", num_characters=2).eval()
    torch.nn.init.zeros_(g.to_image[0].weight)
    torch.nn.init.zeros_(g.to_image[0].bias)  # decoder adds nothing: the drawing is the template
    t = torch.rand(2, 7, 3, 16, 16) * 1.6 - 0.8
    g.set_templates(t)
    with torch.no_grad():
        g.expr_head.weight.zero_()
        g.expr_head.bias.copy_(torch.tensor([0, 0, 0, 50.0, 0, 0, 0]))  # encoder says "joy"
    y = g(torch.randn(2, 3, 16, 16), torch.tensor([1, 0]))
    assert torch.allclose(y[0], t[1, 3], atol=1e-4) and torch.allclose(y[1], t[0, 3], atol=1e-4)
    with pytest.raises(ValueError, match="templates must be"):
        g.set_templates(torch.zeros(3, 7, 3, 16, 16))


def test_training_starts_templates_from_expression_medians(tiny_data, tmp_path):
    from deepexpr.models.checkpoint import load_model
    from deepexpr.train.hagan import ema_decay_at, expression_medians, to_tensor

    med = expression_medians(tiny_data)
    assert med.shape == (2, 7, 3, 16, 16)
    pick = (tiny_data.char_ids == 1) & (tiny_data.char_labels == 5)
    assert torch.allclose(med[1, 5], to_tensor(np.median(tiny_data.char_images[pick], 0).astype(np.uint8)[None])[0])
    medoid = expression_medians(tiny_data, "medoid")[1, 5]  # a real frame of that class, not a blend
    assert any(torch.equal(medoid, to_tensor(im[None])[0]) for im in tiny_data.char_images[pick])
    with pytest.raises(InputError):
        expression_medians(tiny_data, "mean")
    res = train_hagan(tiny_data, _cfg(steps=1, lr=1e-6, preset="test_templated"), tmp_path / "r", quiet=True)
    g = load_model(res.generator)[0]
    assert torch.allclose(torch.tanh(g.templates), med, atol=0.03)
    # The moving average warms up: early steps follow the model, later ones average.
    assert ema_decay_at(0.999, 0) == pytest.approx(0.1)
    assert ema_decay_at(0.999, 100) < 0.95 and ema_decay_at(0.999, 100000) == 0.999


def test_bundled_weights_stay_small():
    from pathlib import Path

    import deepexpr

    files = list((Path(deepexpr.__file__).parent / "weights").glob("hagan_*.safetensors"))
    assert files and all(f.stat().st_size < 3 * 2**20 for f in files)


def test_paper_augmentation_views():
    img = np.random.default_rng(0).integers(0, 255, (20, 20, 3), dtype=np.uint8)
    rng = np.random.default_rng(0)
    views = {augment_human(img, 16, "paper", rng).tobytes() for _ in range(400)}
    assert 60 < len(views) <= 110  # five crops x 11 rotations x flip = 110 distinct views
    assert augment_human(img, 16, "none", rng).shape == (16, 16, 3)
    with pytest.raises(InputError):
        augment_human(img, 16, "wild", rng)


# ---- training ---------------------------------------------------------------------------


def test_one_training_step_changes_both_networks(tiny_data):
    from deepexpr.train.hagan import PairSampler

    cfg = _cfg()
    g, d, *_ = build_models(cfg, 2)
    before_g = [p.detach().clone() for p in g.parameters()]
    before_d = [p.detach().clone() for p in d.parameters()]
    opt_g, opt_d = make_optimizers(g, d, cfg)
    batch = PairSampler(tiny_data, 16, "light", np.random.default_rng(0)).batch(6)
    losses = train_step(g, d, opt_g, opt_d, batch, cfg)
    assert {"loss_d", "loss_g", "adv", "expr", "l1", "match", "cls", "code_acc"} <= set(losses)
    assert any(not torch.equal(a, b) for a, b in zip(before_g, g.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(before_d, d.parameters()))


def test_resume_continues_exactly(tiny_data, tmp_path):
    train_hagan(tiny_data, _cfg(steps=6), tmp_path / "a", quiet=True)
    train_hagan(tiny_data, _cfg(steps=3), tmp_path / "b", quiet=True)
    resumed = train_hagan(tiny_data, _cfg(steps=6), tmp_path / "b", resume=True, quiet=True)
    assert resumed.steps == 6
    from safetensors.torch import load_file

    for name in ("hagan_g.safetensors", "hagan_d.safetensors", "hagan_g_ema.safetensors"):
        a, b = load_file(str(tmp_path / "a" / name)), load_file(str(tmp_path / "b" / name))
        assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert (tmp_path / "b" / "samples" / "step_000006.png").is_file()
    with pytest.raises(InputError, match="nothing to resume"):
        train_hagan(tiny_data, _cfg(), tmp_path / "empty", resume=True, quiet=True)


def test_data_missing_an_expression_is_rejected(tiny_data, tmp_path):
    keep = tiny_data.char_labels != 3
    bad = HaganData(tiny_data.human_images, tiny_data.human_labels, tiny_data.human_ids,
                    tiny_data.char_images[keep], tiny_data.char_labels[keep], tiny_data.char_ids[keep],
                    tiny_data.neutral_images, tiny_data.characters)
    with pytest.raises(InputError, match="no images of joy"):
        train_hagan(bad, _cfg(), tmp_path, quiet=True)


# ---- use: translate, recognition, bad input -----------------------------------------------


@pytest.fixture
def trained(tiny_data, tmp_path):
    train_hagan(tiny_data, _cfg(steps=2), tmp_path / "run", quiet=True)
    return tmp_path / "run"


def _fake_face(size=40):
    lms = np.zeros((49, 2), np.float32)
    lms[19:25] = [12, 15]
    lms[25:31] = [28, 15]
    lms[14:19] = [20, 24]
    lms[31:] = [20, 30]
    return SimpleNamespace(box=(0, 0, size, size), aligned=np.full((size, size, 3), 128, np.uint8),
                           landmarks49=lms)


def test_translate_api_and_side_by_side(trained):
    from deepexpr.translate import load_hagan, side_by_side, translate

    model = load_hagan(trained)
    photo = np.full((40, 40, 3), 100, np.uint8)
    out = translate(photo, None, seed=1, model=model, faces=[_fake_face(), _fake_face()])
    assert len(out) == 4 and {t.character for t in out} == {"a", "b"}
    t = out[0]
    assert t.image.shape == (16, 16, 3) and t.image.dtype == np.uint8
    assert t.probs.shape == (7,) and t.probs.sum() == pytest.approx(1, abs=1e-5)
    assert t.label in t.classes
    assert set(t.rig) >= {"AU12", "head_yaw", "gaze_x"} and 0 <= t.rig["AU12"] <= 1  # the rig G read
    again = translate(photo, "a", seed=1, model=model, faces=[_fake_face()])
    assert np.array_equal(again[0].image, t.image)
    pic = side_by_side(out)
    assert pic.ndim == 3 and pic.shape[2] == 3


def test_translate_bad_input(trained, tmp_path):
    from deepexpr.translate import load_hagan, translate

    model = load_hagan(trained)
    photo = np.zeros((40, 40, 3), np.uint8)
    with pytest.raises(InputError, match="no face found"):
        translate(photo, "a", model=model, faces=[])
    with pytest.raises(InputError, match="not a target"):
        translate(photo, "nobody", model=model, faces=[_fake_face()])
    corrupt = tmp_path / "broken.jpg"
    corrupt.write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(InputError):
        translate(corrupt, "a", model=model, faces=[_fake_face()])
    with pytest.raises(InputError, match="not found"):
        load_hagan(tmp_path / "missing")


def test_cli_translate(trained, tmp_path, monkeypatch, capsys):
    from PIL import Image

    import deepexpr.translate as tr
    from deepexpr.cli import main

    photo = tmp_path / "p.png"
    Image.fromarray(np.full((40, 40, 3), 90, np.uint8)).save(photo)
    monkeypatch.setattr(tr, "find_faces", lambda img: [_fake_face()])
    out = tmp_path / "side.png"
    assert main(["translate", str(photo), "--character", "b", "--weights", str(trained), "--out", str(out)]) == 0
    assert out.is_file() and "b:" in capsys.readouterr().out
    assert main(["translate", str(photo), "--character", "zz", "--weights", str(trained)]) == 2
    assert "not a target" in capsys.readouterr().err
    monkeypatch.setattr(tr, "find_faces", lambda img: [])
    assert main(["translate", str(photo), "--weights", str(trained)]) == 2
    assert "no face found" in capsys.readouterr().err
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    assert main(["translate", str(bad), "--weights", str(trained)]) == 2


def test_cli_train_on_standin(tmp_path, monkeypatch, capsys, private_cache):
    from deepexpr.cli import main

    out = tmp_path / "run"
    code = main(["train", "hagan", "--preset", "test", "--characters", "pip,mika", "--identities", "2",
                 "--per-expression", "1", "--char-per-expression", "2", "--steps", "2",
                 "--batch-size", "4", "--encoder-pretrain", "3", "--decoder-pretrain", "3", "--render-pool", "4", "--out", str(out), "--quiet"])
    assert code == 0
    assert "STAND-IN" in capsys.readouterr().err
    assert (out / "hagan_g.safetensors").is_file() and (out / "state.safetensors").is_file()
    code = main(["train", "hagan", "--preset", "test", "--characters", "pip,mika", "--identities", "2",
                 "--per-expression", "1", "--char-per-expression", "2", "--steps", "3",
                 "--batch-size", "4", "--encoder-pretrain", "3", "--decoder-pretrain", "3", "--render-pool", "4", "--out", str(out), "--quiet", "--resume"])
    assert code == 0 and "3 steps" in capsys.readouterr().out
    assert main(["train", "hagan", "--preset", "test", "--characters", "nobody", "--out", str(out)]) == 2


def test_export_fp16_bundle_gives_the_same_drawings(trained, tmp_path):
    from deepexpr.train.hagan import export_bundle
    from deepexpr.translate import load_hagan

    paths = export_bundle(trained, tmp_path / "weights")
    assert [p.name for p in paths] == ["hagan_g.safetensors", "hagan_d.safetensors"]
    full, half = load_hagan(trained), load_hagan(tmp_path / "weights")
    faces = np.random.default_rng(0).integers(0, 255, (3, 18, 18, 3), dtype=np.uint8)
    (g1, p1), (g2, p2) = full.run(faces, [1]), half.run(faces, [1])
    assert np.abs(g1.astype(int) - g2.astype(int)).max() <= 3
    assert np.allclose(p1, p2, atol=0.02)
    assert half.characters == ["a", "b"]


def test_cli_evaluate_on_standin(tmp_path, monkeypatch, capsys, private_cache):
    from deepexpr.cli import main
    from deepexpr.models.checkpoint import save_model

    run = tmp_path / "run"
    assert main(["train", "hagan", "--preset", "test", "--characters", "pip,mika", "--identities", "2",
                 "--per-expression", "1", "--char-per-expression", "2", "--steps", "2",
                 "--batch-size", "4", "--encoder-pretrain", "3", "--decoder-pretrain", "3", "--render-pool", "4", "--out", str(run), "--quiet"]) == 0
    judge = tmp_path / "judge.safetensors"
    save_model(judge, create_model("test_cnn_small").eval(),
               {"model": "test_cnn_small", "overrides": {}, "classes": ["anger", "disgust", "fear", "joy",
                "neutral", "sadness", "surprise"], "preprocess": {"size": 32}})
    out = tmp_path / "report"
    code = main(["evaluate", "hagan", "--weights", str(run), "--character-model", str(judge),
                 "--heldout-identities", "1", "--folds", "2", "--max-folds", "1", "--fold-steps", "2",
                 "--identities", "2", "--preset", "test", "--charid-steps", "20", "--encoder-pretrain", "3",
                 "--decoder-pretrain", "3", "--render-pool", "4", "--rig-judge-steps", "5",
                 "--target-per-expression", "3", "--out", str(out), "--quiet"])
    assert code == 0
    text = (out / "report.md").read_text()
    assert "STAND-IN" in text and "intended expression" in text and "CNN baseline" in text
    assert "intensity: Pearson r" in text and "ideal drawing" in text
    assert (out / "hagan_grid.png").is_file() and (out / "kfold.csv").is_file()
    assert (out / "quality.csv").is_file()
    assert main(["evaluate", "hagan", "--weights", str(tmp_path / "none"), "--out", str(out)]) == 2


def test_kfold_in_worker_processes_gives_the_serial_figures(tmp_path, monkeypatch, private_cache):
    from deepexpr.evaluation.hagan import HaganEvalConfig, kfold

    base = dict(folds=2, fold_steps=2, preset="test", identities=2, per_expression=1, judge_model=False,
                encoder_pretrain=3, decoder_pretrain=3, render_pool=4)
    serial = kfold(HaganEvalConfig(**base), tmp_path / "serial", ("pip", "mika"))
    pooled = kfold(HaganEvalConfig(**base, workers=2), tmp_path / "pooled", ("pip", "mika"))
    assert [r["fold"] for r in pooled] == [0, 1] and (tmp_path / "pooled" / "kfold.csv").is_file()
    for a, b in zip(serial, pooled):
        assert a["test_people"] == b["test_people"] == 1
        for key in ("hagan_acc", "cnn_acc", "encoder_acc"):
            assert a[key] == pytest.approx(b[key])


def test_encoder_pretraining_trains_only_the_encoder(tiny_data):
    from deepexpr.train.hagan import pretrain_encoder

    cfg = _cfg(encoder_pretrain=60)
    g, _, *_ = build_models(cfg, 2)
    before = {n: p.detach().clone() for n, p in g.named_parameters()}
    losses = pretrain_encoder(g, tiny_data, cfg, 16, np.random.default_rng(0))
    assert len(losses) == 60 and np.mean(losses[-10:]) < np.mean(losses[:10])
    changed = {n for n, p in g.named_parameters() if not torch.equal(before[n], p)}
    assert changed and all(n.startswith(("encoder.", "expr_head.")) for n in changed)


def test_learning_rate_groups_and_frozen_templates(tiny_data):
    from deepexpr.train.hagan import PairSampler

    cfg = _cfg(decoder_lr_mult=3.0, template_lr_mult=0.0, encoder_lr_mult=2.0, preset="test_templated")
    g, d, *_ = build_models(cfg, 2)
    opt_g, _ = make_optimizers(g, d, cfg)
    assert [grp["lr"] for grp in opt_g.param_groups] == pytest.approx([cfg.lr * 2, cfg.lr * 3, 0.0])
    templates = g.templates.detach().clone()
    opt_g, opt_d = make_optimizers(g, d, cfg)
    train_step(g, d, opt_g, opt_d, PairSampler(tiny_data, 16, "light", np.random.default_rng(0)).batch(6), cfg)
    assert torch.equal(templates, g.templates)


def test_training_config_rejects_negative_rates_and_weights():
    for bad in ({"template_lr_mult": -1.0}, {"match_weight": -5.0}, {"encoder_pretrain": -1}, {"batch_size": 0}):
        with pytest.raises(InputError, match="must be >= "):
            HaganTrainConfig(**bad)
