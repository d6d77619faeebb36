"""Tiny learnable HA-GAN inputs shared by the HA-GAN tests."""

import numpy as np


def bar_images(n: int, size: int, labels, base: int = 200) -> np.ndarray:
    """Flat (n, size, size, 3) uint8 images with a bar whose row and darkness encode the label."""
    x = np.full((n, size, size, 3), base, np.uint8)
    for i, lab in enumerate(labels):
        x[i, 2 + lab : 5 + lab, 2 : size - 2] = 30 * int(lab)
    return x
