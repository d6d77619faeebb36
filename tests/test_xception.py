"""mini-Xception: shapes, gradients, Keras-style padding, registry variants."""

from __future__ import annotations

import torch

from deepexpr.models import create_model
from deepexpr.models.xception import same_pad


def test_keras_same_padding_puts_the_extra_pixel_after():
    assert same_pad(torch.zeros(1, 1, 5, 5), 3, 2).shape[-2:] == (7, 7)
    even = same_pad(torch.ones(1, 1, 4, 4), 3, 2)
    assert even.shape[-2:] == (5, 5) and torch.equal(even[..., :4, :4], torch.ones(1, 1, 4, 4))


def test_shapes_and_gradients_tiny_and_full():
    for name, size in (("test_minixception", 32), ("minixception", 64)):
        net = create_model(name)
        x = torch.randn(2, 1, size, size)
        feats, logits = net.features_and_logits(x)
        assert logits.shape == (2, 7) and feats.shape == (2, net.cfg.block_channels[-1])
        assert torch.allclose(net(x), logits) and torch.allclose(net.forward_features(x), feats)
        logits.sum().backward()
        assert all(p.grad is not None for p in net.parameters())
        assert net.classifier_weight().shape == (7, net.cfg.block_channels[-1])


def test_overrides_colour_input_and_odd_size():
    net = create_model("test_minixception", in_channels=3, block_channels=[4, 8, 16], num_classes=5).eval()
    assert net(torch.randn(1, 3, 45, 45)).shape == (1, 5)
    assert net.forward_features(torch.randn(1, 3, 45, 45)).shape == (1, 16)
