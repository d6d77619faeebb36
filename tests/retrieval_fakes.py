"""Tiny stand-ins for the recognizers and data sets retrieval tests need (no set-up, no network)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepexpr.expressions import EXPRESSIONS

# A mean-face-like 49-point template in a 100x100 box (x right, y down).
TEMPLATE = np.array(
    [[20, 30], [25, 27], [30, 26], [35, 27], [40, 29], [60, 29], [65, 27], [70, 26], [75, 27], [80, 30],
     [50, 35], [50, 42], [50, 49], [50, 55], [42, 58], [46, 59], [50, 60], [54, 59], [58, 58],
     [25, 40], [29, 37], [34, 37], [38, 40], [34, 42], [29, 42],
     [62, 40], [66, 37], [71, 37], [75, 40], [71, 42], [66, 42],
     [35, 72], [40, 69], [45, 68], [50, 69], [55, 68], [60, 69], [65, 72], [60, 77], [55, 79],
     [50, 80], [45, 79], [40, 77],
     [42, 72], [50, 72], [58, 72], [58, 74], [50, 74], [42, 74]], dtype=np.float32)

COLORS = np.array([[200, 30, 30], [60, 160, 40], [120, 40, 160], [240, 200, 40],
                   [128, 128, 128], [40, 70, 200], [240, 120, 200]], dtype=np.float32)


class FakeRecognizer:
    """Features = a seeded random projection of the mean colour; probs from a linear layer.

    Images coloured with COLORS[label] (plus noise) are recognised as that label.
    """

    def __init__(self, seed: int = 0, dim: int = 16):
        import torch

        rng = np.random.default_rng(seed)
        self.proj = rng.normal(size=(3, dim)).astype(np.float32)
        feats = self._feats(COLORS[:, None, None, :])
        # classifier: least-squares fit of one-hot targets (scaled) from the colour features
        w, *_ = np.linalg.lstsq(np.c_[feats, np.ones(7)], 8 * np.eye(7) - 4, rcond=None)
        self.classifier_weight = w[:-1].T.astype(np.float32)  # (7, D)
        self.bias = w[-1].astype(np.float32)
        self.model = torch.nn.Linear(dim, 7)
        with torch.no_grad():
            self.model.weight.copy_(torch.from_numpy(self.classifier_weight))
            self.model.bias.copy_(torch.from_numpy(self.bias))
        self.name = f"fake-{seed}"
        self.calls = 0

    def _feats(self, images):
        mean = np.stack([np.asarray(im, dtype=np.float32).reshape(-1, 3).mean(0) for im in images]) / 255.0
        return np.maximum(mean @ self.proj, 0.0) + 0.1 * np.abs(mean @ self.proj)

    takes_faces = False

    def features_and_probs(self, images):
        return self.features(images), self.probs(images)

    def features(self, images):
        self.calls += len(images)
        return self._feats(images)

    def probs(self, images):
        z = self._feats(images) @ self.classifier_weight.T + self.bias
        z = z - z.max(1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(1, keepdims=True)


def character_image(label: int, rng, size: int = 32) -> np.ndarray:
    base = COLORS[label] + rng.normal(0, 8, size=3)
    img = base + rng.normal(0, 4, size=(size, size, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def landmarks_for(label: int, rng) -> np.ndarray:
    """Template landmarks with a label-dependent mouth opening and brow raise, plus jitter."""
    pts = TEMPLATE.copy()
    pts[46:49, 1] += 2 * label  # inner lower lip drops with the label number
    pts[0:10, 1] -= label  # brows go up
    return pts + rng.normal(0, 0.3, size=pts.shape).astype(np.float32)


def make_ferg_tree(root: Path, characters=("aia", "bob", "cy"), per_class: int = 3, seed: int = 0) -> dict:
    """A FERG-layout folder of coloured squares; returns {abs path: landmarks}."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    lms = {}
    for char in characters:
        for label, expr in enumerate(EXPRESSIONS):
            folder = root / char / f"{char}_{expr}"
            folder.mkdir(parents=True, exist_ok=True)
            for n in range(1, per_class + 1):
                path = folder / f"{char}_{expr}_{n}.png"
                Image.fromarray(character_image(label, rng)).save(path)
                lms[str(path.resolve())] = landmarks_for(label, rng)
    return lms
