"""The timm-style interface of every classifier family and the preprocessing registered with
each architecture (deepexpr.models.registry)."""

import numpy as np
import pytest
import torch

from deepexpr.errors import InputError
from deepexpr.models import create_model, default_preprocess, list_models
from deepexpr.models.preprocess import PreprocessConfig, prepare_batch

CLASSIFIERS = ["test_cnn_small", "test_deepexpr_human", "test_deepexpr_character",
               "test_minixception", "test_hagan_d"]


def _input(name: str, n: int = 3) -> torch.Tensor:
    pre = PreprocessConfig.for_model(name)
    return torch.randn(n, pre.channels, pre.size, pre.size, generator=torch.Generator().manual_seed(0))


def _built(name: str):
    """A test variant in eval mode, its features on a batch of its default input, the batch."""
    net = create_model(name).eval()
    x = _input(name)
    with torch.no_grad():
        return net, net.forward_features(x), x


def _logits(net, x):
    out = net(x)
    return out[1] if isinstance(out, tuple) else out  # HA-GAN's D: (real/fake, D^e logits)


def _head_input(net, x):
    # mini-Xception's 3x3 classifier reads the last module's map, the others the features
    return net.trunk(x) if hasattr(net, "trunk") else net.forward_features(x)


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_forward_is_forward_head_of_the_features(name):
    net, feats, x = _built(name)
    with torch.no_grad():
        logits = _logits(net, x)
        h = _head_input(net, x)
        assert feats.shape == (3, net.num_features)
        assert torch.equal(net.forward_head(h), logits)
        pre = net.forward_head(h, pre_logits=True)
        assert pre.shape == (3, net.get_classifier().weight.shape[1])
        got_feats, got_logits = net.features_and_logits(x)
        assert torch.equal(got_feats, feats) and torch.equal(got_logits, logits)
    if name != "test_minixception":  # its pre-logits are the averaged map, i.e. the features
        assert torch.equal(net.get_classifier()(pre), logits)


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_reset_classifier_changes_only_the_last_layer(name):
    net, feats, x = _built(name)
    with torch.no_grad():
        old = net.get_classifier()
        net.reset_classifier(3)
        assert net.get_classifier() is not old
        assert _logits(net, x).shape == (3, 3)
        assert torch.equal(net.forward_features(x), feats)
    if name in ("test_minixception", "test_hagan_d"):  # the plain CNNs take 0 (see below)
        with pytest.raises(ValueError, match="num_classes"):
            net.reset_classifier(0)


def test_cnn_reset_to_zero_classes_outputs_the_features():
    net = create_model("test_cnn_small").eval()
    x = _input("test_cnn_small")
    net.reset_classifier(0)
    with torch.no_grad():
        assert torch.equal(net(x), net.forward_features(x))


def test_generator_encoder_reads_as_a_classifier():
    g = create_model("test_hagan_g").eval()
    x = _input("test_hagan_g")
    with torch.no_grad():
        code = g.forward_features(x)
        assert code.shape == (3, g.num_features)
        assert torch.equal(g.forward_head(code), g.expression(g.encode(x)))
        assert torch.equal(g.forward_head(code, pre_logits=True), code)
    assert g.get_classifier() is g.expr_head


def test_every_image_model_registers_preprocessing_matching_its_input():
    for name in list_models():
        pre = default_preprocess(name)
        if "seqlstm" in name:
            assert pre is None  # sequence models take no images
            continue
        assert pre is not None, name
        if name.startswith(("deepexpr_", "hagan_d_paper")):
            continue  # full-size paper variants: seconds to build on a loaded CPU
        cfg = create_model(name).cfg
        side = getattr(cfg, "input_size", None) or cfg.image_size
        assert pre.size == side, name
        chans = getattr(cfg, "in_chans", None) or cfg.in_channels
        assert (1 if pre.grayscale else 3) == chans == len(pre.mean) == len(pre.std), name


def test_preprocess_reads_the_registry():
    for name in ("minixception", "deepexpr_human", "cnn_small", "hagan_d_paper"):
        assert PreprocessConfig.for_model(name).to_dict() == default_preprocess(name).to_dict()
    images = [np.full((50, 40, 3), 200, np.uint8), np.zeros((70, 70, 3), np.uint8)]
    x = prepare_batch(images, PreprocessConfig.for_model("test_minixception"))
    assert x.shape == (2, 1, 32, 32)
    assert torch.allclose(x[1], torch.full((1, 32, 32), -1.0))  # black, mean/std 0.5
    with pytest.raises(ValueError, match="takes no images"):
        PreprocessConfig.for_model("test_seqlstm")


def test_centre_crop_keeps_the_middle_of_the_resized_image():
    from PIL import Image

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (90, 90, 3), dtype=np.uint8)
    got = prepare_batch([img], {"size": 24, "crop": 0.75})
    big = np.asarray(Image.fromarray(img).resize((32, 32), Image.BILINEAR))
    want = prepare_batch([big[4:28, 4:28]], {"size": 24})
    assert torch.equal(got, want)
    with pytest.raises(InputError, match="crop"):
        PreprocessConfig(crop=0.0)
