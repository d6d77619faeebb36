"""Turning RGB uint8 images into model input tensors, as a checkpoint's config describes.

A checkpoint's JSON carries `"preprocess": {"size": S, "grayscale": bool, "mean": [...],
"std": [...]}`; training, recognition, retrieval and HA-GAN all go through
`prepare_batch`, so a model always sees its inputs the way it was trained.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from deepexpr.io import to_rgb_uint8  # re-exported: the preprocessing of every model input


@dataclass
class PreprocessConfig:
    size: int = 64  # square input side in pixels (images are resized, not cropped)
    grayscale: bool = False  # convert to one luminance channel (ITU-R 601 weights)
    mean: list[float] = field(default_factory=lambda: [0.5, 0.5, 0.5])  # per channel, in [0, 1] units
    std: list[float] = field(default_factory=lambda: [0.5, 0.5, 0.5])  # per channel

    @classmethod
    def from_dict(cls, d: dict) -> PreprocessConfig:
        return cls(**{k: d[k] for k in ("size", "grayscale", "mean", "std") if k in d})

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def channels(self) -> int:
        return 1 if self.grayscale else 3


def prepare_batch(images, preprocess: dict | PreprocessConfig):
    """Resize, optionally grey, scale and normalise a list of images.

    Args:
        images: sequence of images (anything `to_rgb_uint8` takes), any sizes.
        preprocess: a `PreprocessConfig` or its dict form.

    Returns:
        torch.float32 tensor of shape (N, C, S, S), C = 1 if grayscale else 3.
    """
    import torch
    from PIL import Image

    cfg = preprocess if isinstance(preprocess, PreprocessConfig) else PreprocessConfig.from_dict(preprocess)
    batch = np.empty((len(images), cfg.size, cfg.size, 3), dtype=np.uint8)
    for i, img in enumerate(images):
        arr = to_rgb_uint8(img)
        if arr.shape[:2] != (cfg.size, cfg.size):
            arr = np.asarray(Image.fromarray(arr).resize((cfg.size, cfg.size), Image.BILINEAR))
        batch[i] = arr
    x = torch.from_numpy(batch).permute(0, 3, 1, 2).float().div_(255.0)
    if cfg.grayscale:
        w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        x = (x * w).sum(dim=1, keepdim=True)
    mean = torch.tensor(cfg.mean[: cfg.channels], dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(cfg.std[: cfg.channels], dtype=torch.float32).view(1, -1, 1, 1)
    return (x - mean) / std
