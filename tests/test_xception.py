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


def test_fused_inference_copy_gives_the_same_outputs():
    torch.manual_seed(0)
    net = create_model("test_minixception").eval()
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    fast = net.fused_for_inference()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    x = torch.randn(4, 1, 32, 32)
    with torch.no_grad():
        assert torch.allclose(fast(x.contiguous(memory_format=torch.channels_last)), net(x), atol=1e-5)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())  # original untouched
