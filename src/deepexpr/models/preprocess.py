"""Turning RGB uint8 images into model input tensors, as a checkpoint's config describes.

A checkpoint's JSON carries `"preprocess": {"size": S, "grayscale": bool, "mean": [...],
"std": [...], "crop": c}` (crop optional, 1.0); training, recognition, retrieval and HA-GAN
all go through `prepare_batch`, so a model always sees its inputs the way it was trained.
An architecture's defaults are registered with it (`deepexpr.models.registry.Preprocess`)
and read with `PreprocessConfig.for_model(name)`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from deepexpr.io import to_rgb_uint8  # re-exported: the preprocessing of every model input


@dataclass
class PreprocessConfig:
    size: int = 64  # square input side in pixels
    grayscale: bool = False  # convert to one luminance channel (ITU-R 601 weights)
    mean: list[float] = field(default_factory=lambda: [0.5, 0.5, 0.5])  # per channel, in [0, 1] units
    std: list[float] = field(default_factory=lambda: [0.5, 0.5, 0.5])  # per channel
    crop: float = 1.0  # < 1: resize to size / crop, keep the centre size x size (1: resize only)

    def __post_init__(self):
        if not 0.0 < float(self.crop) <= 1.0:
            from deepexpr.errors import InputError

            raise InputError(f"preprocess crop={self.crop}: must be in (0, 1] (1 = no crop)")

    @classmethod
    def from_dict(cls, d: dict) -> PreprocessConfig:
        return cls(**{k: d[k] for k in ("size", "grayscale", "mean", "std", "crop") if k in d})

    @classmethod
    def for_model(cls, name: str) -> PreprocessConfig:
        """The default input of registered architecture `name` (`models.registry`).

        Raises:
            ValueError: unknown name, or an architecture that takes no images.
        """
        from deepexpr.models.registry import default_preprocess

        pre = default_preprocess(name)
        if pre is None:
            raise ValueError(f"model {name!r} takes no images (no registered preprocessing)")
        return cls.from_dict(pre.to_dict())

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def channels(self) -> int:
        return 1 if self.grayscale else 3


def prepare_batch(images, preprocess: dict | PreprocessConfig):
    """Resize (and centre-crop when `crop` < 1), optionally grey, scale and normalise.

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
    side = cfg.size if cfg.crop >= 1.0 else int(round(cfg.size / cfg.crop))
    lo = (side - cfg.size) // 2
    for i, img in enumerate(images):
        arr = to_rgb_uint8(img)
        if arr.shape[:2] != (side, side):
            arr = np.asarray(Image.fromarray(arr).resize((side, side), Image.BILINEAR))
        batch[i] = arr[lo:lo + cfg.size, lo:lo + cfg.size]
    x = torch.from_numpy(batch).permute(0, 3, 1, 2).float().div_(255.0)
    if cfg.grayscale:
        w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        x = (x * w).sum(dim=1, keepdim=True)
    mean = torch.tensor(cfg.mean[: cfg.channels], dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(cfg.std[: cfg.channels], dtype=torch.float32).view(1, -1, 1, 1)
    return (x - mean) / std
