"""Continuing a trained CNN at a larger input size (deepexpr.train.resize_input)."""

import torch

from deepexpr.models import create_model
from deepexpr.models.checkpoint import load_model, save_model
from deepexpr.train.resize_input import main, resize_input


def _source(tmp_path, name="test_cnn_small"):
    torch.manual_seed(0)
    model = create_model(name).eval()
    path = tmp_path / "src.safetensors"
    save_model(path, model, {"model": name, "overrides": {}, "preprocess": {"size": 32},
                             "temperature": 0.9})
    return model, path


def test_resized_model_keeps_every_weight_and_reads_the_new_size(tmp_path):
    model, path = _source(tmp_path)
    cfg = resize_input(path, 48, tmp_path / "big.safetensors")
    big, big_cfg = load_model(tmp_path / "big.safetensors")
    assert big_cfg["preprocess"]["size"] == 48 and cfg["resized_from"]["size"] == 32
    assert "temperature" not in big_cfg  # refitted after fine-tuning, not carried over
    for (k, a), (k2, b) in zip(model.state_dict().items(), big.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    assert big(torch.rand(2, 3, 48, 48)).shape == (2, 7)
    # at the source's own size the pool is the identity: the same answers
    x = torch.rand(3, 3, 32, 32)
    assert torch.allclose(big(x), model(x), atol=1e-5)


def test_resize_refuses_smaller_inputs_and_other_families(tmp_path, capsys):
    _, path = _source(tmp_path)
    assert main([str(path), "16", str(tmp_path / "small.safetensors")]) == 1
    assert "smaller size" in capsys.readouterr().err
    assert not (tmp_path / "small.safetensors").exists()
    assert main([str(path), "100000", str(tmp_path / "huge.safetensors")]) == 1
    assert "more than 1024" in capsys.readouterr().err
    other = tmp_path / "x.safetensors"
    save_model(other, create_model("test_minixception"), {"model": "test_minixception",
                                                          "overrides": {}, "preprocess": {"size": 32}})
    assert main([str(other), "48", str(tmp_path / "o.safetensors")]) == 1
    assert "not a plain CNN" in capsys.readouterr().err
    assert main([str(path), "big", "out"]) == 2
    assert main([str(path), "40", str(tmp_path / "ok.safetensors")]) == 0
    before = (tmp_path / "ok.safetensors").read_bytes()
    assert main([str(path), "48", str(tmp_path / "ok.safetensors")]) == 1  # never overwritten
    assert "exists" in capsys.readouterr().err and (tmp_path / "ok.safetensors").read_bytes() == before
