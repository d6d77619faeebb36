"""Batch augmentation on uint8 tensors, and the conversion to normalised network input.

Modes (`TrainConfig.augment`):
- "fivecrop": the paper's 5 crops + mirrors. The paper crops 227 of 256; here each
  training image gets one of the 10 views (4 corners + centre, each maybe mirrored)
  chosen at random per epoch, a crop of side round(S * 227 / 256), resized back to S so
  the network's input size does not change. (Choosing one view per epoch instead of
  adding all ten copies keeps an epoch the same length; in expectation it is the same
  data.) Evaluation uses the whole image, as `prepare_batch` does.
- "random": the cheaper CPU choice: shift by up to S/8 pixels (edge padding) and a
  random mirror.
- "mild": a small random similarity warp (rotation up to 8 degrees, scale 0.92-1.08,
  shift up to 6% of the side; applied to 70% of the images so the rest stay pixel-crisp),
  brightness/contrast/saturation jitter of up to 12%, and a random mirror. The drawn
  characters vary in head pose, line weight and palette; this covers small variations
  of those between rendered frames without changing what an expression looks like.
- "style": framing, colour/hue/greyscale, blur, resolution, JPEG, cutout and mirror, aimed
  at differences between art styles (`deepexpr.train.style_augment`).
- "stylecue": "style" with hue turns of at most 30 degrees, so the colours artists use
  for expression (green disgust, blue fear, red anger) stay cues.
- "flip": random mirror only. "none": no augmentation.

Mirroring is label-preserving: the seven expressions are left-right symmetric.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from deepexpr.train.style_augment import CUE_HUE_MAX, style_augment

MODES = ("fivecrop", "random", "mild", "style", "stylecue", "flip", "none")
PAPER_CROP = 227 / 256


def _mirror(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    flip = torch.rand(x.shape[0], generator=gen) < 0.5
    if flip.any():
        x = x.clone()
        x[flip] = x[flip].flip(-1)
    return x


def five_crop(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One random paper view per image. x: (B, C, S, S) uint8 -> (B, C, S, S) float in 0..255."""
    b, _, s, _ = x.shape
    c = int(round(s * PAPER_CROP))
    m = s - c
    corners = torch.tensor([[0, 0], [0, m], [m, 0], [m, m], [m // 2, m // 2]])
    which = torch.randint(0, 5, (b,), generator=gen)
    crops = torch.stack([x[i, :, corners[k, 0]:corners[k, 0] + c, corners[k, 1]:corners[k, 1] + c]
                         for i, k in enumerate(which.tolist())])
    crops = F.interpolate(crops.float(), size=(s, s), mode="bilinear", align_corners=False)
    return _mirror(crops, gen)


def random_shift(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Shift each image by up to S/8 px (edge-replicated border) and maybe mirror it."""
    b, _, s, _ = x.shape
    pad = max(1, s // 8)
    padded = F.pad(x.float(), (pad, pad, pad, pad), mode="replicate")
    off = torch.randint(0, 2 * pad + 1, (b, 2), generator=gen).tolist()
    out = torch.stack([padded[i, :, dy:dy + s, dx:dx + s] for i, (dy, dx) in enumerate(off)])
    return _mirror(out, gen)


def _uniform(n: int, gen: torch.Generator, half_width: float) -> torch.Tensor:
    return (torch.rand(n, generator=gen) * 2 - 1) * half_width


def mild(x: torch.Tensor, gen: torch.Generator, degrees: float = 8.0, scale: float = 0.08,
         shift: float = 0.06, colour: float = 0.12, p_warp: float = 0.7) -> torch.Tensor:
    """Small similarity warp + colour jitter + mirror. x: (B, C, S, S) uint8 -> float 0..255.

    Args:
        degrees: maximum rotation; scale: maximum relative zoom; shift: maximum
            translation as a fraction of the side; colour: maximum relative change of
            brightness, contrast and saturation; p_warp: share of images warped
            (the others keep their exact pixels).
    """
    b = x.shape[0]
    out = x.float()
    angle = _uniform(b, gen, math.radians(degrees))
    zoom = 1 + _uniform(b, gen, scale)
    warp = torch.rand(b, generator=gen) < p_warp
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = torch.cos(angle) / zoom
    theta[:, 0, 1] = -torch.sin(angle) / zoom
    theta[:, 1, 0] = torch.sin(angle) / zoom
    theta[:, :, 2] = _uniform(2 * b, gen, 2 * shift).view(b, 2)  # grid units: 2 = the side
    if warp.any():
        grid = F.affine_grid(theta[warp], list(out[warp].shape), align_corners=False)
        out[warp] = F.grid_sample(out[warp], grid, mode="bilinear", padding_mode="border",
                                  align_corners=False)
    bright, contrast, sat = (1 + _uniform(b, gen, colour).view(b, 1, 1, 1) for _ in range(3))
    if out.shape[1] == 3:
        grey = (out * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
        out = grey + (out - grey) * sat
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    out = ((out - mean) * contrast + mean) * bright
    return _mirror(out.clamp_(0, 255), gen)


def augment_batch(x: torch.Tensor, mode: str, gen: torch.Generator) -> torch.Tensor:
    """Apply `mode` to a uint8 batch (B, C, S, S); returns float (B, C, S, S) in 0..255."""
    if mode == "fivecrop":
        return five_crop(x, gen)
    if mode == "random":
        return random_shift(x, gen)
    if mode == "mild":
        return mild(x, gen)
    if mode == "style":
        return style_augment(x, gen)
    if mode == "stylecue":
        return style_augment(x, gen, hue_max=CUE_HUE_MAX)
    if mode == "flip":
        return _mirror(x.float(), gen)
    if mode == "none":
        return x.float()
    raise ValueError(f"unknown augmentation {mode!r}; choose one of {', '.join(MODES)}")


def to_input(x: torch.Tensor, preprocess: dict, channels_last: bool = False) -> torch.Tensor:
    """0..255 RGB batch (B, 3, S, S) -> normalised input (B, C, S, S), as `prepare_batch`.

    Same arithmetic as `deepexpr.models.preprocess.prepare_batch` after its resize.
    """
    x = x.float().div_(255.0)
    if preprocess.get("grayscale"):
        w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        x = (x * w).sum(dim=1, keepdim=True)
    c = x.shape[1]
    mean = torch.tensor(preprocess["mean"][:c], dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(preprocess["std"][:c], dtype=torch.float32).view(1, -1, 1, 1)
    x = (x - mean) / std
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x
