"""Augmentation aimed at art style: what differs between artists, not between expressions.

`style_augment` (mode "style" of `deepexpr.train.augment.augment_batch`) changes, per
image and at random: framing (zoom 0.75-1.25, rotation up to 15 degrees, shift up to 10%
of the side), colour (hue rotation, saturation, brightness, contrast), greyscale, blur,
resolution (down- and up-sampling), JPEG compression, a cutout patch, and a mirror. Each
is label-preserving for the seven expressions: art styles draw faces in any palette, line
weight, resolution and framing. The cutout is kept small (at most a quarter of the side)
so it rarely hides a whole mouth or both eyes.

`style_augment(x, gen, hue_max=CUE_HUE_MAX)` (mode "stylecue") turns hues by at most 30
degrees instead of all the way round: artists colour faces for expression (a green face is
sick or disgusted, a blue or pale one afraid, a red one angry), and a full hue rotation
teaches the model to ignore those cues (issue 12, session 5). Greyscale stays.
"""

from __future__ import annotations

import io
import math

import torch
import torch.nn.functional as F


def _u(n: int, gen: torch.Generator, lo: float, hi: float) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=gen)


def _chance(n: int, gen: torch.Generator, p: float) -> torch.Tensor:
    return torch.rand(n, generator=gen) < p


def framing(x: torch.Tensor, gen: torch.Generator, p: float = 0.8) -> torch.Tensor:
    """Random zoom/rotation/shift of a float batch (B, C, S, S); border pixels extend."""
    b = x.shape[0]
    pick = _chance(b, gen, p)
    if not pick.any():
        return x
    k = int(pick.sum())
    angle = _u(k, gen, -math.radians(15), math.radians(15))
    zoom = _u(k, gen, 0.75, 1.25)
    theta = torch.zeros(k, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = torch.cos(angle) / zoom
    theta[:, 0, 1] = -torch.sin(angle) / zoom
    theta[:, 1, 0] = torch.sin(angle) / zoom
    theta[:, :, 2] = _u(2 * k, gen, -0.2, 0.2).view(k, 2)  # grid units: 2 = the side
    grid = F.affine_grid(theta, [k, *x.shape[1:]], align_corners=False)
    x = x.clone()
    x[pick] = F.grid_sample(x[pick], grid, mode="bilinear", padding_mode="border",
                            align_corners=False)
    return x


CUE_HUE_MAX = math.radians(30)


def colour(x: torch.Tensor, gen: torch.Generator, p_hue: float = 0.5,
           p_grey: float = 0.15, hue_max: float = math.pi) -> torch.Tensor:
    """Hue rotation (in YIQ, by up to +-hue_max radians), saturation, brightness, contrast,
    greyscale. x: (B, 3, S, S)."""
    b = x.shape[0]
    to_yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
    yiq = torch.einsum("ij,bjhw->bihw", to_yiq, x)
    hue = _u(b, gen, -hue_max, hue_max) * _chance(b, gen, p_hue)
    sat = _u(b, gen, 0.5, 1.5) * (~_chance(b, gen, p_grey))  # 0: greyscale
    cos, sin = (torch.cos(hue) * sat).view(b, 1, 1), (torch.sin(hue) * sat).view(b, 1, 1)
    i, q = yiq[:, 1], yiq[:, 2]
    yiq = torch.stack([yiq[:, 0], cos * i - sin * q, sin * i + cos * q], 1)
    x = torch.einsum("ij,bjhw->bihw", torch.linalg.inv(to_yiq), yiq)
    contrast = _u(b, gen, 0.7, 1.3).view(b, 1, 1, 1)
    bright = _u(b, gen, 0.75, 1.25).view(b, 1, 1, 1)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (((x - mean) * contrast + mean) * bright).clamp_(0, 255)


def blur_or_resample(x: torch.Tensor, gen: torch.Generator, p_blur: float = 0.2,
                     p_low: float = 0.2) -> torch.Tensor:
    """A 3x3 or 5x5 box-Gaussian blur on some images; down/up-sampling on others."""
    b, c, s, _ = x.shape
    x = x.clone()
    blur = _chance(b, gen, p_blur)
    if blur.any():
        k = 3 if torch.rand(1, generator=gen).item() < 0.6 else 5
        g = torch.exp(-((torch.arange(k) - k // 2) ** 2) / (2 * (k / 4) ** 2))
        w = (g[:, None] * g[None, :]) / (g.sum() ** 2)
        w = w.view(1, 1, k, k).repeat(c, 1, 1, 1)
        x[blur] = F.conv2d(F.pad(x[blur], [k // 2] * 4, mode="replicate"), w, groups=c)
    low = _chance(b, gen, p_low) & ~blur
    if low.any():
        side = max(8, int(s * _u(1, gen, 0.35, 0.7).item()))
        small = F.interpolate(x[low], size=(side, side), mode="area")
        x[low] = F.interpolate(small, size=(s, s), mode="bilinear", align_corners=False)
    return x


def jpeg(x: torch.Tensor, gen: torch.Generator, p: float = 0.15) -> torch.Tensor:
    """JPEG round trip (quality 15-60) of some images (PIL; cheap at 64 px)."""
    import numpy as np
    from PIL import Image

    pick = _chance(x.shape[0], gen, p).nonzero().flatten().tolist()
    if not pick or x.shape[1] != 3:
        return x
    x = x.clone()
    for i in pick:
        q = int(_u(1, gen, 15, 60).item())
        buf = io.BytesIO()
        arr = x[i].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()
        Image.fromarray(arr).save(buf, format="JPEG", quality=q)
        back = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
        x[i] = torch.from_numpy(back.copy()).permute(2, 0, 1).float()
    return x


def cutout(x: torch.Tensor, gen: torch.Generator, p: float = 0.3, max_frac: float = 0.25) -> torch.Tensor:
    """Fill one random square (side up to `max_frac` of the image) with a flat random colour."""
    b, c, s, _ = x.shape
    x = x.clone()
    for i in _chance(b, gen, p).nonzero().flatten().tolist():
        side = max(2, int(s * _u(1, gen, 0.1, max_frac).item()))
        y0, x0 = (torch.randint(0, s - side + 1, (2,), generator=gen)).tolist()
        x[i, :, y0:y0 + side, x0:x0 + side] = (torch.rand(c, generator=gen) * 255).view(c, 1, 1)
    return x


def style_augment(x: torch.Tensor, gen: torch.Generator, hue_max: float = math.pi) -> torch.Tensor:
    """All of the above plus a mirror. x: (B, 3, S, S) uint8 -> float (B, 3, S, S) in 0..255;
    hue_max: the largest hue turn (radians; `CUE_HUE_MAX` keeps colour cues)."""
    out = framing(x.float(), gen)
    if out.shape[1] == 3:
        out = colour(out, gen, hue_max=hue_max)
    out = blur_or_resample(out, gen)
    out = jpeg(out, gen)
    out = cutout(out, gen)
    flip = _chance(out.shape[0], gen, 0.5)
    out[flip] = out[flip].flip(-1)
    return out.clamp_(0, 255)
