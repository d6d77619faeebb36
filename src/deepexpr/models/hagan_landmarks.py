"""A landmark stage for HA-GAN's rig-code decoder (issue 18, session 6; `landmark_maps`).

Session 5's decoder turned the rig vector into a picture through a 4x4 bottleneck and
upsampling: on the faces' true rigs the independent judge read 80-82% of its drawings, the
thin brow, lid and mouth lines coming out soft and the open mouths faint. Here the rig first
says *where* the features go, then the convolutions draw them there:

1. `LandmarkHead`: an MLP (rig, character one-hot) -> the 49 landmarks of the character
   making that face, as offsets from the character's neutral landmarks. The render pool
   has the exact landmarks of every render, so this is supervised directly (the
   landmark loss the issue asks for; `deepexpr.train.hagan.render_l1`).
2. `landmark_flow`: a dense backward flow that carries the neutral picture's features to the
   predicted landmarks (Nadaraya-Watson interpolation of the landmark displacements,
   fading to zero away from them): brows rise, lids close, the mouth stretches before any
   convolution runs.
3. `landmark_maps`: the predicted landmarks drawn as soft lines, one channel per feature
   (brows, nose, eyes, lips), and filled eye and inner-mouth polygons: spatial inputs of
   the decoder's full-size head, which then only has to paint what is already placed.

Coordinates: landmarks are in grid units of `torch.nn.functional.grid_sample` with
align_corners=False (x, y in [-1, 1]; a pixel coordinate p maps to 2 p / S - 1).

    >>> head = LandmarkHead(rig_dim=23, num_characters=6)
    >>> lm = head(rig, onehot, neutral_landmarks)            # (N, 49, 2)
    >>> maps = landmark_maps(lm, 64)                         # (N, NUM_MAPS, 64, 64)
    >>> flow = landmark_flow(lm, neutral_landmarks, 64)      # (N, 64, 64, 2)
"""

from __future__ import annotations

import torch
from torch import nn

from deepexpr.landmarks import (
    DRAW_PATHS,
    INNER_LIP,
    LEFT_EYE,
    MOUTH_CORNER_LEFT,
    MOUTH_CORNER_RIGHT,
    RIGHT_EYE,
)

# Filled polygons: the two eyes and the mouth's opening (corners + inner lips).
FILLS = (RIGHT_EYE, LEFT_EYE, [MOUTH_CORNER_RIGHT, *INNER_LIP[:3], MOUTH_CORNER_LEFT, *INNER_LIP[3:]])
NUM_MAPS = len(DRAW_PATHS) + len(FILLS)


class LandmarkHead(nn.Module):
    """(N, rig_dim) rigs + (N, C) one-hots + (N, 49, 2) neutral landmarks -> (N, 49, 2) landmarks.

    Two hidden layers; the output (an offset, x 0.25) starts at zero, so an untrained head
    returns the neutral landmarks.
    """

    def __init__(self, rig_dim: int, num_characters: int, hidden: int = 256, points: int = 49):
        super().__init__()
        self.points = points
        self.net = nn.Sequential(nn.Linear(rig_dim + num_characters, hidden), nn.ReLU(True),
                                 nn.Linear(hidden, hidden), nn.ReLU(True), nn.Linear(hidden, 2 * points))

    def forward(self, rig: torch.Tensor, onehot: torch.Tensor, neutral: torch.Tensor) -> torch.Tensor:
        offset = self.net(torch.cat([rig, onehot], 1)).view(-1, self.points, 2)
        return neutral + 0.25 * offset


def _pixel_grid(size: int, like: torch.Tensor) -> torch.Tensor:
    """(S*S, 2) pixel centres in grid units (x, y), row-major."""
    axis = (torch.arange(size, dtype=like.dtype, device=like.device) * 2 + 1) / size - 1
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)


@torch.no_grad()
def landmark_flow(target: torch.Tensor, neutral: torch.Tensor, size: int, sigma_px: float = 4.0,
                  floor: float = 0.3) -> torch.Tensor:
    """The backward flow (N, S, S, 2) that moves the neutral picture's features to `target`.

    flow(p) = sum_k w_k(p) (neutral_k - target_k) / (sum_k w_k(p) + floor), w_k(p) =
    exp(-|p - target_k|^2 / 2 sigma^2): a pixel on a moved landmark samples the neutral
    picture where that landmark was; far from every landmark the flow fades to 0. Computed
    at a quarter of the size and upsampled (it is smooth: 4x4 points a cell, 16x cheaper),
    without gradient (as `landmark_maps`).

    Args:
        target, neutral: (N, K, 2) landmarks in grid units.
        size: S. sigma_px: the kernel's radius in pixels of S. floor: how fast it fades.
    """
    if target.shape != neutral.shape or target.ndim != 3:
        raise ValueError(f"target and neutral must both be (N, K, 2), got {tuple(target.shape)}, "
                         f"{tuple(neutral.shape)}")
    half = max(1, size // 4)
    p = _pixel_grid(half, target)  # (P, 2)
    sigma = 2.0 * sigma_px / size
    d2 = ((p.view(1, -1, 1, 2) - target.unsqueeze(1)) ** 2).sum(-1)  # (N, P, K)
    w = torch.exp(-d2 / (2 * sigma * sigma))
    flow = torch.einsum("npk,nkd->npd", w, neutral - target) / (w.sum(-1, keepdim=True) + floor)
    flow = flow.view(-1, half, half, 2).permute(0, 3, 1, 2)
    flow = torch.nn.functional.interpolate(flow, size=(size, size), mode="bilinear", align_corners=False)
    return flow.permute(0, 2, 3, 1)


@torch.no_grad()
def landmark_maps(points: torch.Tensor, size: int) -> torch.Tensor:
    """The landmarks drawn as (N, NUM_MAPS, S, S) maps in [0, 1]: one anti-aliased 1-px line per
    `deepexpr.landmarks.DRAW_PATHS` feature, then the filled eyes and mouth opening (`FILLS`).

    Drawn with OpenCV (sub-pixel, no gradient: the landmarks are supervised directly, and
    drawing them differentiably cost ~1 CPU-s a batch of 32, 5x the rest of an update).

    Args:
        points: (N, 49, 2) landmarks in grid units. size: S.
    """
    import cv2
    import numpy as np

    if points.ndim != 3 or points.shape[-1] != 2:
        raise ValueError(f"points must be (N, K, 2), got {tuple(points.shape)}")
    shift = 4  # cv2's fixed-point sub-pixel bits
    # grid units -> cv2 pixel coordinates (pixel centres at integers), fixed point
    fixed = np.round(((points.detach().float().cpu().numpy() + 1) * (size / 2) - 0.5) * (1 << shift)).astype(np.int32)
    out = np.zeros((len(fixed), NUM_MAPS, size, size), np.uint8)
    for n, pts in enumerate(fixed):
        for m, (path, closed) in enumerate(DRAW_PATHS):
            cv2.polylines(out[n, m], [pts[path]], closed, 255, 1, cv2.LINE_AA, shift)
        for m, poly in enumerate(FILLS, len(DRAW_PATHS)):
            cv2.fillPoly(out[n, m], [pts[list(poly)]], 255, cv2.LINE_AA, shift)
    return torch.from_numpy(out).to(points.device, points.dtype) / 255.0


def pixels_to_grid(points: torch.Tensor, size: int) -> torch.Tensor:
    """Pixel coordinates (x, y; pixel i covers [i, i + 1)) -> grid units: 2 p / S - 1."""
    return points * (2.0 / size) - 1.0
