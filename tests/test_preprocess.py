import numpy as np
import pytest
from PIL import Image

from deepexpr.models.preprocess import PreprocessConfig, prepare_batch, to_rgb_uint8


def test_prepare_batch_shapes_and_range():
    imgs = [np.full((30, 40, 3), 255, np.uint8), np.zeros((64, 64), np.uint8)]
    x = prepare_batch(imgs, {"size": 16, "grayscale": True, "mean": [0.5], "std": [0.5]})
    assert x.shape == (2, 1, 16, 16)
    assert np.allclose(x[0].numpy(), 1.0, atol=1e-5) and np.allclose(x[1].numpy(), -1.0)


def test_to_rgb_handles_rgba_16bit_float():
    rgba = np.zeros((4, 4, 4), np.uint8)  # fully transparent -> white
    assert (to_rgb_uint8(rgba) == 255).all()
    assert to_rgb_uint8(np.full((3, 3), 65535, np.uint16)).max() == 255
    assert to_rgb_uint8(np.ones((2, 2, 3), np.float32)).min() == 255
    assert to_rgb_uint8(Image.new("L", (5, 5), 7)).shape == (5, 5, 3)


def test_bad_shape_raises():
    with pytest.raises(ValueError, match="expected an HxW"):
        to_rgb_uint8(np.zeros((2, 2, 2), np.uint8))


def test_config_roundtrip():
    cfg = PreprocessConfig(size=32, grayscale=False)
    assert PreprocessConfig.from_dict(cfg.to_dict()) == cfg
