"""Plain expression CNNs: the paper's human and character networks and CPU-sized variants.

One configurable family (conv stages -> fully connected layers -> a linear classifier),
registered under several names:

| name | what | input | params |
|---|---|---|---|
| `deepexpr_human` | DeepExpr's human CNN: AlexNet-style CONV1-5, FC6 512, FC7 7 | 227 (crops of 256) | ~8.4M |
| `deepexpr_character` | DeepExpr's character CNN: CONV1-3 only, FC6 512, FC7 7 | 227 | ~8.6M |
| `cnn_small` | CPU-sized default: 4 conv blocks (BN, ReLU, pool), FC6 128 | 64 | ~0.36M |
| `test_*` | tiny variant of each for tests | 32 / 48 | <50k |

Every model has the registry's interface: `forward_features(x) -> (N, D)` (the FC6-like
penultimate features used by retrieval, after ReLU), `forward_head(h, pre_logits=False)`,
`forward(x) -> (N, 7)` logits, where the last layer is a linear `classifier` with weight
(7, D) (`get_classifier`, `reset_classifier`), so retrieval can weight features by it.
Default inputs (registered): colour, mean/std 0.5, the input size of the variant; the
paper variants centre-crop 227 of 256.

Choices the paper leaves open (its layer table is in the unavailable supplement):
AlexNet's layer sizes ([41] in the paper: 96-11x11/4, 256-5x5, 384-3x3, 384-3x3, 256-3x3,
3x3/2 max pools after CONV1, CONV2 and CONV5); the character net keeps CONV1-3 and pools
after CONV3; ReLU everywhere, dropout 0.5 before FC7 as in AlexNet; no LRN (BatchNorm is
off for the paper variants, on for the CPU variants, which train much faster with it).

    >>> import torch
    >>> from deepexpr.models import create_model
    >>> net = create_model("test_cnn_small")
    >>> net(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 7])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import torch
from torch import nn

from deepexpr.models.registry import Preprocess, register_model


@dataclass
class ConvStage:
    channels: int  # output channels of this convolution
    kernel: int = 3  # square kernel size
    stride: int = 1  # convolution stride
    padding: int | None = None  # None -> kernel // 2 ("same" for stride 1)
    pool: bool = False  # 2x2 (or 3x3/2 when `pool_kernel` = 3) max-pool after the activation


@dataclass
class CNNConfig:
    stages: list[ConvStage] = field(default_factory=list)  # convolution stages, in order
    in_chans: int = 3  # 3 for colour input, 1 for grey
    input_size: int = 64  # square input side the FC sizes are computed for
    pool_kernel: int = 2  # max-pool kernel; 3 with stride 2 (overlapping, AlexNet) when 3
    batch_norm: bool = True  # BatchNorm after each convolution
    feature_grid: int = 0  # >0: adaptive average pool to this grid before FC (size-agnostic)
    fc_dims: list[int] = field(default_factory=lambda: [128])  # hidden FC widths; last = feature dim D
    dropout: float = 0.5  # dropout before each FC layer
    num_classes: int = 7  # outputs of the linear classifier

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> CNNConfig:
        d = dict(d)
        unknown = sorted(set(d) - {f.name for f in fields(cls)})
        if unknown:  # a typo in a checkpoint's overrides must not be ignored silently
            raise ValueError(f"unknown CNNConfig fields: {', '.join(unknown)}")
        d["stages"] = [s if isinstance(s, ConvStage) else ConvStage(**s) for s in d.get("stages", [])]
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})


class ExpressionCNN(nn.Module):
    """Conv stages -> flatten -> FC layers (ReLU, dropout) -> linear classifier.

    Attributes:
        features: the convolution stages (`nn.Sequential`), input (N, C, S, S).
        fc: the hidden fully connected layers; output (N, D) is `forward_features`.
        classifier: `nn.Linear(D, num_classes)`.
    """

    def __init__(self, cfg: CNNConfig):
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = []
        chans = cfg.in_chans
        for stage in cfg.stages:
            pad = stage.kernel // 2 if stage.padding is None else stage.padding
            layers.append(nn.Conv2d(chans, stage.channels, stage.kernel, stage.stride, pad,
                                    bias=not cfg.batch_norm))
            if cfg.batch_norm:
                layers.append(nn.BatchNorm2d(stage.channels))
            layers.append(nn.ReLU(inplace=True))
            if stage.pool:
                layers.append(nn.MaxPool2d(cfg.pool_kernel, 2))
            chans = stage.channels
        if cfg.feature_grid > 0:
            layers.append(nn.AdaptiveAvgPool2d(cfg.feature_grid))
        self.features = nn.Sequential(*layers)
        flat = self._flat_size()
        fc: list[nn.Module] = []
        for width in cfg.fc_dims:
            fc += [nn.Dropout(cfg.dropout), nn.Linear(flat, width), nn.ReLU(inplace=True)]
            flat = width
        self.fc = nn.Sequential(*fc)
        self.num_features = flat
        self.dropout = nn.Dropout(cfg.dropout)
        self.classifier = nn.Linear(flat, cfg.num_classes)
        self._init_weights()

    def _flat_size(self) -> int:
        with torch.no_grad():
            x = torch.zeros(1, self.cfg.in_chans, self.cfg.input_size, self.cfg.input_size)
            return int(self.features(x).numel())

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):  # He init: N(0, 0.01) (Caffe's) stalls small nets
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.classifier.weight, 0.0, 0.01)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate (FC6-like) features.

        Args:
            x: (N, C, S, S) float images, normalised as the checkpoint's preprocess says.

        Returns:
            (N, D) non-negative features (after ReLU).
        """
        if x.ndim != 4 or x.shape[1] != self.cfg.in_chans:
            raise ValueError(f"expected input (N, {self.cfg.in_chans}, H, W), got {tuple(x.shape)}")
        return self.fc(torch.flatten(self.features(x), 1))

    def forward_head(self, h: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """(N, D) `forward_features` output -> (N, num_classes) logits, or `h` itself when
        `pre_logits` (the features the classifier reads)."""
        return h if pre_logits else self.head(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (N, num_classes); softmax gives the expression probabilities."""
        return self.head(self.forward_features(x))

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One pass: ((N, D) features, (N, num_classes) logits)."""
        h = self.forward_features(x)
        return h, self.head(h)

    def get_classifier(self) -> nn.Module:
        """The last layer, `nn.Linear(D, num_classes)`."""
        return self.classifier

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the last layer by a new one with `num_classes` outputs, initialised as a
        new model's (0 gives `nn.Identity`: the model then outputs its features)."""
        self.cfg.num_classes = int(num_classes)
        if num_classes > 0:
            self.classifier = nn.Linear(self.num_features, int(num_classes))
            nn.init.normal_(self.classifier.weight, 0.0, 0.01)
            nn.init.zeros_(self.classifier.bias)
        else:
            self.classifier = nn.Identity()

    def conv_features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, S, S) -> (N, F) flattened output of the conv stages."""
        return torch.flatten(self.features(x), 1)

    def head(self, h: torch.Tensor) -> torch.Tensor:
        """(N, D) penultimate features -> (N, num_classes) logits (dropout, classifier)."""
        return self.classifier(self.dropout(h))

    def stages(self) -> list[tuple[list[nn.Module], object]]:
        """`forward` as a chain of (modules, function): conv stages, FC layers, head.

        Composing the functions gives `forward`; `deepexpr.train.cached` runs a frozen
        prefix of the chain once and trains the rest.
        """
        return [([self.features], self.conv_features), ([self.fc], self.fc),
                ([self.dropout, self.classifier], self.head)]


def _build(cfg: CNNConfig, overrides: dict) -> ExpressionCNN:
    merged = {**cfg.to_dict(), **overrides}
    return ExpressionCNN(CNNConfig.from_dict(merged))


def _alexnet_stages(n_conv: int, width: float = 1.0) -> list[ConvStage]:
    w = lambda c: max(4, int(round(c * width)))  # noqa: E731
    table = [
        ConvStage(w(96), 11, 4, 0, pool=True),
        ConvStage(w(256), 5, 1, 2, pool=True),
        ConvStage(w(384), 3, 1, 1),
        ConvStage(w(384), 3, 1, 1),
        ConvStage(w(256), 3, 1, 1),
    ][:n_conv]
    table[-1].pool = True
    return table


@register_model(preprocess=Preprocess(size=227, crop=227 / 256))
def deepexpr_human(**overrides) -> ExpressionCNN:
    """Paper's human CNN: CONV1-5 (AlexNet sizes), FC6 512, FC7 7; 227x227 colour input."""
    cfg = CNNConfig(stages=_alexnet_stages(5), input_size=227, pool_kernel=3,
                    batch_norm=False, fc_dims=[512], dropout=0.5)
    return _build(cfg, overrides)


@register_model(preprocess=Preprocess(size=227, crop=227 / 256))
def deepexpr_character(**overrides) -> ExpressionCNN:
    """Paper's character CNN: CONV1-3 only (pool after CONV3), FC6 512, FC7 7; 227 input."""
    cfg = CNNConfig(stages=_alexnet_stages(3), input_size=227, pool_kernel=3,
                    batch_norm=False, fc_dims=[512], dropout=0.5)
    return _build(cfg, overrides)


@register_model(preprocess=Preprocess(size=64))
def cnn_small(**overrides) -> ExpressionCNN:
    """CPU-sized CNN: 4 x (conv3x3, BN, ReLU, pool 2) 16-32-64-128, FC6 128; 64 px input.

    The 4x4 grid is flattened, not averaged: where a feature is (brows vs mouth) matters.
    Pass `in_chans=1` for grey input.
    """
    cfg = CNNConfig(stages=[ConvStage(c, pool=True) for c in (16, 32, 64, 128)],
                    input_size=64, fc_dims=[128], dropout=0.1)
    return _build(cfg, overrides)


@register_model(preprocess=Preprocess(size=67))
def test_deepexpr_human(**overrides) -> ExpressionCNN:
    """Tiny deepexpr_human (same layer pattern, 1/16 width, 67 px input) for tests."""
    cfg = CNNConfig(stages=_alexnet_stages(5, 1 / 16), input_size=67, pool_kernel=3,
                    batch_norm=False, fc_dims=[16], dropout=0.5)
    return _build(cfg, overrides)


@register_model(preprocess=Preprocess(size=67))
def test_deepexpr_character(**overrides) -> ExpressionCNN:
    """Tiny deepexpr_character for tests."""
    cfg = CNNConfig(stages=_alexnet_stages(3, 1 / 16), input_size=67, pool_kernel=3,
                    batch_norm=False, fc_dims=[16], dropout=0.5)
    return _build(cfg, overrides)


@register_model(preprocess=Preprocess(size=32))
def test_cnn_small(**overrides) -> ExpressionCNN:
    """Tiny cnn_small (4-8-8 channels, 32 px) for tests."""
    cfg = CNNConfig(stages=[ConvStage(c, pool=True) for c in (4, 8, 8)], input_size=32,
                    fc_dims=[16], dropout=0.0)
    return _build(cfg, overrides)
