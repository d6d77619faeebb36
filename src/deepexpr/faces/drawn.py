"""Is this a drawn character rather than a photo? A cheap check that tells the user to pass
`--query-domain character` instead of reading a cartoon with the human face pipeline.

Drawn art (cel, flat, line art, pixel art, most soft 3D) paints large areas in one colour:
most pixels have a 3x3 neighbourhood within 2 grey levels of themselves. Photos have sensor
noise and texture. Measured (`flat_fraction` over the face region): skimage photos 0.04
(astronaut's face), 0.04-0.04 (chelsea, coffee); the project's characters 0.71-0.78
(classic, 128 px) and 0.27-0.83 (wide styles: the soft gradient ones lowest). Grey images
are not judged (a grey photo with a clear sky reaches 0.37).
"""

from __future__ import annotations

import numpy as np

DRAWN_FLAT_FRACTION = 0.45  # above: drawn (photos measured <= 0.12 in colour)


def flat_fraction(image: np.ndarray) -> float:
    """Fraction of interior pixels whose 8 neighbours are within 2 levels in every channel.

    Args:
        image: (H, W, 3) uint8.
    """
    a = np.asarray(image, dtype=np.int16)
    if a.ndim != 3 or a.shape[0] < 3 or a.shape[1] < 3:
        return 0.0
    centre = a[1:-1, 1:-1]
    flat = np.ones(centre.shape[:2], dtype=bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            shifted = a[1 + dy:a.shape[0] - 1 + dy, 1 + dx:a.shape[1] - 1 + dx]
            flat &= np.abs(shifted - centre).max(axis=-1) <= 2
    return float(flat.mean())


def looks_drawn(image: np.ndarray, box=None) -> bool:
    """True when `image` (or its `box` [x0, y0, x1, y1] region) looks like drawn art.

    Args:
        image: (H, W, 3) uint8 RGB.
        box: the face box to judge (None: the whole image).
    """
    a = np.asarray(image)
    if box is not None:
        x0, y0, x1, y1 = (int(round(v)) for v in np.asarray(box, dtype=float).ravel()[:4])
        a = a[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)]
    if a.ndim != 3 or a.size == 0:
        return False
    if np.abs(a.astype(np.int16) - a[..., :1]).max() <= 2:  # grey: not judged
        return False
    return flat_fraction(a) > DRAWN_FLAT_FRACTION
