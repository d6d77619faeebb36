"""Expression geometry that is meant to transfer across drawing styles: brow raise, eye
opening, mouth width / opening / corner height, each measured relative to the distance
between the eye centres (inter-ocular distance, IOD) of 49 landmarks, plus a tiny
classifier on them (issue 12, "an auxiliary landmark or geometry head").

Why IOD and not the face box: on real art the face box of the 49 points changes with the
artist's proportions (an icon's mouth sits low, a chibi's eyes are huge), the eye distance
is the one length every face drawing has. Left and right measurements are averaged: the
stylized-face detector's landmarks are noisy, and the seven expressions are symmetric.

Landmark order: `deepexpr.landmarks` (IntraFace 49; brows 0-4 / 5-9 run outer -> inner /
inner -> outer, eye corners 19/22 and 25/28, lids 20-21 / 23-24 and 26-27 / 29-30).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from deepexpr import landmarks as L
from deepexpr.expressions import EXPRESSIONS

FEATURE_NAMES = (
    "brow_inner_height", "brow_outer_height", "brow_slope", "eye_opening", "eye_width",
    "eye_aspect", "mouth_width", "mouth_opening", "mouth_height", "mouth_aspect",
    "corner_lift", "mouth_drop", "nose_to_mouth",
)
NUM_FEATURES = len(FEATURE_NAMES)
_INNER_BROW, _OUTER_BROW = [4, 5], [0, 9]
_UPPER_LIDS, _LOWER_LIDS = [20, 21, 26, 27], [23, 24, 29, 30]


def _levelled(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 49, 2) landmarks rotated so the eye line is horizontal, origin at the eyes'
    midpoint and divided by the IOD; and the (N,) IOD in input pixels."""
    right, left = points[:, L.RIGHT_EYE].mean(1), points[:, L.LEFT_EYE].mean(1)
    d = left - right
    iod = np.hypot(d[:, 0], d[:, 1])
    c, s = d[:, 0] / np.maximum(iod, 1e-9), d[:, 1] / np.maximum(iod, 1e-9)
    rot = np.stack([np.stack([c, s], -1), np.stack([-s, c], -1)], -2)  # rotates d onto +x
    centred = points - (0.5 * (right + left))[:, None]
    return np.einsum("nij,nkj->nki", rot, centred) / np.maximum(iod, 1e-9)[:, None, None], iod


def expression_geometry(landmarks: np.ndarray) -> np.ndarray:
    """The `FEATURE_NAMES` measurements of one face or a batch, in IOD units.

    Args:
        landmarks: (49, 2) or (N, 49, 2) pixel coordinates (x right, y down).

    Returns:
        (13,) or (N, 13) float32. Heights are positive upward from the eye line (brows) or
        downward (mouth); `brow_slope` = inner minus outer brow height (worried > 0, angry
        < 0); `corner_lift` = mouth centre minus corner y (smile > 0).

    Raises:
        ValueError: wrong shape, non-finite values, or eyes on top of each other.
    """
    pts = L.check_landmarks(landmarks).astype(np.float64)
    single = pts.ndim == 2
    p, iod = _levelled(pts.reshape(-1, L.NUM_LANDMARKS, 2))
    if (iod <= 1e-6).any():
        raise ValueError("landmarks: the two eye centres coincide")
    x, y = p[..., 0], p[..., 1]
    inner, outer = -y[:, _INNER_BROW].mean(1), -y[:, _OUTER_BROW].mean(1)
    eye_open = y[:, _LOWER_LIDS].mean(1) - y[:, _UPPER_LIDS].mean(1)
    eye_width = 0.5 * (np.abs(x[:, 22] - x[:, 19]) + np.abs(x[:, 28] - x[:, 25]))
    corners = p[:, [L.MOUTH_CORNER_RIGHT, L.MOUTH_CORNER_LEFT]]
    mouth_w = np.hypot(*(corners[:, 1] - corners[:, 0]).T)
    mouth_h = y[:, L.LOWER_LIP_BOTTOM] - y[:, L.UPPER_LIP_TOP]
    centre_y = 0.5 * (y[:, L.LOWER_LIP_BOTTOM] + y[:, L.UPPER_LIP_TOP])
    feats = np.stack([
        inner, outer, inner - outer, eye_open, eye_width, eye_open / np.maximum(eye_width, 1e-3),
        mouth_w, np.maximum(y[:, L.INNER_LOWER_MID] - y[:, L.INNER_UPPER_MID], 0.0), mouth_h,
        mouth_h / np.maximum(mouth_w, 1e-3), centre_y - corners[:, :, 1].mean(1), centre_y,
        y[:, L.UPPER_LIP_TOP] - y[:, L.NOSE_BASE].mean(1),
    ], axis=1)
    feats = np.clip(feats, -5.0, 5.0).astype(np.float32)  # a wild detection must not dominate
    return feats[0] if single else feats


@dataclass
class GeometryClassifierConfig:
    """The geometry classifier: standardised features -> MLP -> 7 classes."""

    hidden: int = 32  # 0: multinomial logistic regression
    steps: int = 600
    lr: float = 0.02
    weight_decay: float = 1e-3
    seed: int = 0


class GeometryClassifier(nn.Module):
    """(N, 13) raw `expression_geometry` features -> (N, 7) logits; the standardisation
    (mean, scale) is a buffer so the saved weights are the whole model."""

    def __init__(self, hidden: int = 32):
        super().__init__()
        self.register_buffer("mean", torch.zeros(NUM_FEATURES))
        self.register_buffer("scale", torch.ones(NUM_FEATURES))
        self.net = (nn.Sequential(nn.Linear(NUM_FEATURES, hidden), nn.GELU(), nn.Linear(hidden, len(EXPRESSIONS)))
                    if hidden else nn.Linear(NUM_FEATURES, len(EXPRESSIONS)))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.net((feats - self.mean) / self.scale)

    def probs(self, feats: np.ndarray) -> np.ndarray:
        """(N, 13) features -> (N, 7) float32 probabilities."""
        with torch.no_grad():
            return torch.softmax(self(torch.as_tensor(feats, dtype=torch.float32)), 1).numpy()


def fit_geometry_classifier(feats: np.ndarray, labels: np.ndarray,
                            cfg: GeometryClassifierConfig | None = None) -> GeometryClassifier:
    """Full-batch Adam on (N, 13) features and (N,) class indices, classes weighted equally.

    Returns:
        the trained `GeometryClassifier` (eval mode).
    """
    cfg = cfg or GeometryClassifierConfig()
    torch.manual_seed(cfg.seed)
    model = GeometryClassifier(cfg.hidden)
    x = torch.as_tensor(feats, dtype=torch.float32)
    y = torch.as_tensor(labels, dtype=torch.long)
    model.mean.copy_(x.mean(0))
    model.scale.copy_(x.std(0).clamp_min(1e-3))
    counts = torch.bincount(y, minlength=len(EXPRESSIONS)).float().clamp_min(1)
    loss_fn = nn.CrossEntropyLoss(weight=counts.sum() / (len(EXPRESSIONS) * counts))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    for _ in range(cfg.steps):
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    return model.eval()


def fuse_probs(cnn: np.ndarray, geometry: np.ndarray | None, weight: float) -> np.ndarray:
    """Late fusion: p ~ p_cnn * p_geometry ** weight, renormalised; rows whose geometry is
    missing (NaN, no face found) keep the CNN's probabilities.

    Args:
        cnn: (N, 7) probabilities.
        geometry: (N, 7) probabilities (rows may be NaN) or None.
        weight: the geometry's exponent (0: the CNN alone).
    """
    if geometry is None or weight == 0:
        return cnn
    have = np.isfinite(geometry).all(1)
    logp = np.log(np.clip(cnn, 1e-8, 1.0))
    logp[have] += weight * np.log(np.clip(geometry[have], 1e-8, 1.0))
    logp -= logp.max(1, keepdims=True)
    p = np.exp(logp)
    return (p / p.sum(1, keepdims=True)).astype(np.float32)


GEOMETRY_FORMAT = "deepexpr-expression-geometry-1"


def save_geometry_head(path, model: GeometryClassifier, fusion_weight: float, meta: dict) -> None:
    """`model` to `path` (.safetensors) and its config (+ `meta`: data, counts) to the
    .json beside it, each written under a temporary name and renamed."""
    from safetensors.torch import save_file

    from deepexpr.io import atomic_path, write_json

    path = Path(path)
    hidden = model.net[0].out_features if isinstance(model.net, nn.Sequential) else 0
    with atomic_path(path) as tmp:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp))
    write_json(path.with_suffix(".json"), {"format": GEOMETRY_FORMAT, "features": list(FEATURE_NAMES),
                                           "classes": list(EXPRESSIONS), "hidden": hidden,
                                           "fusion_weight": float(fusion_weight), **meta})


def load_geometry_head(path) -> tuple[GeometryClassifier, dict]:
    """(classifier in eval mode, its JSON config) of a `save_geometry_head` file.

    Raises:
        InputError: missing or unreadable files, or another feature set / class order.
    """
    from safetensors.torch import load_file

    from deepexpr.errors import InputError

    path = Path(path)
    cfg_file = path.with_suffix(".json")
    try:
        config = json.loads(cfg_file.read_text())
        state = load_file(str(path))
    except (OSError, ValueError) as err:
        raise InputError(f"{path}: not a readable geometry head ({err}); retrain it with "
                         "`deepexpr train geometry-head`") from err
    if config.get("format") != GEOMETRY_FORMAT or config.get("features") != list(FEATURE_NAMES) \
            or config.get("classes") != list(EXPRESSIONS):
        raise InputError(f"{cfg_file}: another geometry feature set or class order; retrain it with "
                         "`deepexpr train geometry-head`")
    model = GeometryClassifier(int(config["hidden"]))
    model.load_state_dict(state)
    return model.eval(), config
