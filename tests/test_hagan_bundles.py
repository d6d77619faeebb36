"""Both bundled HA-GAN generators resolve by name, load with their discriminators and draw."""

import numpy as np
import pytest

from deepexpr.models.hagan_pair import load_hagan
from deepexpr.models.resolve import weights_file

RUN_FILES = ("hagan_g_ema.safetensors", "hagan_g.safetensors")


@pytest.mark.parametrize("name", ["hagan_g", "hagan_g_templated"])
def test_bundled_generator_draws_every_character(name):
    model = load_hagan(weights_file(name, run_file=RUN_FILES, option="--weights"))
    faces = np.full((2, model.load_size, model.load_size, 3), 128, np.uint8)
    faces[1, :, :, 0] = 255  # two different inputs
    assert len(model.characters) == 6
    drawings, probs = model.run(faces, [model.character_index(model.characters[0])], seed=0)
    size = model.image_size
    assert drawings.shape == (2, size, size, 3) and drawings.dtype == np.uint8
    assert drawings.std() > 5  # a drawing, not a flat image
    assert probs.shape == (2, 7) and np.allclose(probs.sum(1), 1, atol=1e-4)
