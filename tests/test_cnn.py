import pytest
import torch

from deepexpr.expressions import EXPRESSIONS
from deepexpr.models import create_model, list_models

TINY = ["test_cnn_small", "test_deepexpr_human", "test_deepexpr_character"]


@pytest.mark.parametrize("name", TINY)
def test_shapes_and_gradients(name):
    torch.manual_seed(0)
    net = create_model(name)
    s = net.cfg.input_size
    x = torch.randn(3, 3, s, s, requires_grad=True)
    feats = net.forward_features(x)
    assert feats.shape == (3, net.num_features)
    assert (feats >= 0).all()  # after ReLU: retrieval turns them into distributions
    logits = net(x)
    assert logits.shape == (3, 7)
    assert net.classifier.weight.shape == (7, net.num_features)
    logits.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in net.parameters())


def test_registered_names():
    names = list_models()
    for n in ["deepexpr_human", "deepexpr_character", "cnn_small", *TINY]:
        assert n in names


def test_cnn_small_is_cpu_sized_and_takes_grey():
    net = create_model("cnn_small", in_chans=1)
    n = sum(p.numel() for p in net.parameters())
    assert 0.2e6 < n < 1e6
    assert net(torch.zeros(2, 1, 64, 64)).shape == (2, 7)
    net = net.to(memory_format=torch.channels_last)
    assert net(torch.zeros(2, 1, 64, 64).contiguous(memory_format=torch.channels_last)).shape == (2, 7)


def test_paper_human_layout():
    net = create_model("deepexpr_human")
    convs = [m for m in net.features if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 5 and convs[0].kernel_size == (11, 11)
    assert net.num_features == 512 and net.cfg.input_size == 227
    char = create_model("deepexpr_character")
    assert sum(isinstance(m, torch.nn.Conv2d) for m in char.features) == 3


def test_bad_input_shape_message():
    net = create_model("test_cnn_small")
    with pytest.raises(ValueError, match="expected input"):
        net(torch.zeros(1, 1, 32, 32))


def test_checkpoint_roundtrip(tmp_path):
    from deepexpr.models.checkpoint import load_model, save_model

    net = create_model("test_cnn_small", in_chans=1)
    save_model(tmp_path / "m.safetensors", net, {"model": "test_cnn_small",
                                                 "overrides": {"in_chans": 1}})
    back, cfg = load_model(tmp_path / "m.safetensors")
    x = torch.randn(2, 1, 32, 32)
    net.eval()
    assert torch.allclose(back(x), net(x))


def test_checkpoint_with_an_unknown_override_is_refused(tmp_path):
    from deepexpr.errors import InputError
    from deepexpr.models.checkpoint import load_model, save_model

    path = tmp_path / "tiny.safetensors"
    save_model(path, create_model("test_cnn_small"), {
        "model": "test_cnn_small", "overrides": {"fc_widht": 64}, "classes": list(EXPRESSIONS),
        "preprocess": {"size": 32, "grayscale": False, "mean": [0.5] * 3, "std": [0.5] * 3}})
    with pytest.raises(InputError, match="fc_widht"):  # a typo must not be ignored silently
        load_model(path)
