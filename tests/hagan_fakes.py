"""Tiny learnable HA-GAN inputs shared by the HA-GAN tests."""

import numpy as np


def bar_images(n: int, size: int, labels, base: int = 200) -> np.ndarray:
    """Flat (n, size, size, 3) uint8 images with a bar whose row and darkness encode the label."""
    x = np.full((n, size, size, 3), base, np.uint8)
    for i, lab in enumerate(labels):
        x[i, 2 + lab : 5 + lab, 2 : size - 2] = 30 * int(lab)
    return x


def rig_faces(control: str = "AU1"):
    """Tiny HaganData for two characters whose human faces carry rigs: the bar row encodes the
    label and the rig's `control` is label / 6 (every other control 0)."""
    from deepexpr.characters.rig import RIG_CONTROLS
    from deepexpr.data.hagan import HaganData

    hl = np.repeat(np.arange(7), 4)
    rigs = np.zeros((len(hl), len(RIG_CONTROLS)), np.float32)
    rigs[:, RIG_CONTROLS.index(control)] = hl / 6.0
    cl = np.tile(np.repeat(np.arange(7), 2), 2)
    return HaganData(bar_images(len(hl), 18, hl), hl, np.tile(np.arange(4), 7), bar_images(len(cl), 16, cl, 240),
                     cl, np.repeat(np.arange(2), 14), bar_images(2, 16, [4, 4], 240), ["a", "b"], "fixture",
                     human_rigs=rigs)
