"""Stylized-face detector + 49-landmark regressor: one CPU-sized family, two stages.

| name | detector channels | landmark channels | params |
|---|---|---|---|
| `stylized_face` | 16, 32, 64, 96 | 24, 48, 96, 128 | ~0.7M |
| `test_stylized_face` | 4, 8, 8, 8 | 4, 8, 8, 8 | <10k |

**Detector** (CenterNet-style, fully convolutional): an image (N, 3, H, W), H and W
multiples of 16, -> (N, 6, H/4, W/4): a centre heatmap logit, log of the face square's
side in input pixels / 4 (`SIDE_UNIT`), the face angle as (sin, cos), the centre's
sub-cell offset (x, y) in cells, and with `angle_bins` B > 0, B orientation logits (bin k
centred on the angle 360 k / B degrees): a classification that, unlike the (sin, cos)
regression, does not average an upright and an upside-down reading into a sideways one.
A face's square, centre and angle are those of
`deepexpr.data.face_frame` (eye corners and nose fitted to a template).

**Landmark regressor**: the upright face crop (`face_frame.aligned_crop(..., region="face")`,
(N, 3, S, S), S = `landmark_input`) -> (N, 49, 2) landmarks in crop pixels, by a soft-argmax
over 49 heatmaps at stride 4 (sub-pixel, differentiable). The application runs it on the
detector's square, then on the square re-fitted to its own landmarks, again while it moves.

Preprocessing (registered): colour, mean/std 0.5, the landmark crop's size; the detector
takes the same normalisation at any size.

    >>> net = create_model("test_stylized_face")
    >>> net.detect(torch.zeros(1, 3, 64, 64)).shape       # torch.Size([1, 6, 16, 16])
    >>> net.landmarks(torch.zeros(2, 3, 48, 48)).shape    # torch.Size([2, 49, 2])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from deepexpr.data.face_frame import warp
from deepexpr.models.registry import Preprocess, register_model

STRIDE = 4  # output cell of both heads, in input pixels
SIDE_UNIT = 4.0  # the detector's size output is log(side / SIDE_UNIT)
DET_OUTPUTS = ("heat", "log_side", "sin", "cos", "dx", "dy")


@dataclass
class StylizedFaceConfig:
    det_channels: list[int] = field(default_factory=lambda: [16, 32, 64, 96])  # per stride 2, 4, 8, 16
    lmk_channels: list[int] = field(default_factory=lambda: [24, 48, 96, 128])  # per stride 2, 4, 8, 16
    landmark_input: int = 80  # face crop side (pixels), a multiple of 16
    detector_input: int = 256  # longest side the application gives the detector
    num_landmarks: int = 49
    angle_bins: int = 0  # detector orientation logits (0: none; 4: quarters of the circle)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def input_size(self) -> int:
        """The registered preprocessing's size: the landmark crop's side."""
        return self.landmark_input

    @property
    def in_chans(self) -> int:
        return 3


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class _Pyramid(nn.Module):
    """Four stride-2 stages, then a top-down path back to stride 4 (an FPN's shape).

    (N, 3, H, W) -> (N, channels[1], H/4, W/4).
    """

    def __init__(self, channels: list[int]):
        super().__init__()
        c1, c2, c3, c4 = channels
        self.stages = nn.ModuleList([
            nn.Sequential(_conv(3, c1, 2)),
            nn.Sequential(_conv(c1, c2, 2), _conv(c2, c2)),
            nn.Sequential(_conv(c2, c3, 2), _conv(c3, c3)),
            nn.Sequential(_conv(c3, c4, 2), _conv(c4, c4)),
        ])
        self.lateral16 = nn.Conv2d(c4, c3, 1)
        self.lateral8 = nn.Conv2d(c3, c2, 1)
        self.smooth = _conv(c2, c2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f2 = self.stages[0](x)
        f4 = self.stages[1](f2)
        f8 = self.stages[2](f4)
        f16 = self.stages[3](f8)
        p8 = f8 + F.interpolate(self.lateral16(f16), size=f8.shape[-2:], mode="nearest")
        p4 = f4 + F.interpolate(self.lateral8(p8), size=f4.shape[-2:], mode="nearest")
        return self.smooth(p4)


class StylizedFaceNet(nn.Module):
    """The detector and the landmark regressor (see the module docstring)."""

    def __init__(self, cfg: StylizedFaceConfig):
        super().__init__()
        self.cfg = cfg
        self.det_body = _Pyramid(cfg.det_channels)
        if cfg.angle_bins < 0:
            raise ValueError(f"angle_bins: expected 0 or more, got {cfg.angle_bins}")
        self.det_head = nn.Conv2d(cfg.det_channels[1], len(DET_OUTPUTS) + cfg.angle_bins, 1)
        self.lmk_body = _Pyramid(cfg.lmk_channels)
        self.lmk_head = nn.Conv2d(cfg.lmk_channels[1], cfg.num_landmarks, 1)
        with torch.no_grad():  # CenterNet's prior: few cells hold a centre
            self.det_head.bias.zero_()
            self.det_head.bias[0] = -4.0

    def detect(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) normalised image, H, W multiples of 16 -> (N, 6 + angle_bins, H/4, W/4)
        raw maps (heat and orientation bins are logits; sin/cos unnormalised)."""
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[-1] % 16 or x.shape[-2] % 16:
            raise ValueError(f"detector input: expected (N, 3, H, W) with H, W multiples of 16, got {tuple(x.shape)}")
        return self.det_head(self.det_body(x))

    def landmark_maps(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) face crops -> (N, 49, S/4, S/4) heatmap logits."""
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[-1] % 16 or x.shape[-1] != x.shape[-2]:
            raise ValueError(f"landmark input: expected (N, 3, S, S) with S a multiple of 16, got {tuple(x.shape)}")
        return self.lmk_head(self.lmk_body(x))

    def landmarks(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) face crops -> (N, 49, 2) landmarks (x, y) in crop pixels."""
        return soft_argmax(self.landmark_maps(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.landmarks(x)


def soft_argmax(maps: torch.Tensor) -> torch.Tensor:
    """(N, K, h, w) logits -> (N, K, 2) expected (x, y) in input pixels (cell j's centre is
    STRIDE * j + (STRIDE - 1) / 2, pixel centres being integers)."""
    n, k, h, w = maps.shape
    prob = maps.flatten(2).softmax(-1).view(n, k, h, w)
    xs = torch.arange(w, dtype=maps.dtype, device=maps.device) * STRIDE + (STRIDE - 1) / 2
    ys = torch.arange(h, dtype=maps.dtype, device=maps.device) * STRIDE + (STRIDE - 1) / 2
    return torch.stack([(prob.sum(2) * xs).sum(-1), (prob.sum(3) * ys).sum(-1)], dim=-1)


def orientation_targets(angle: torch.Tensor, bins: int) -> torch.Tensor:
    """Soft orientation-bin targets: (...,) angles (radians) -> (..., bins), summing to 1.

    Bin k is centred on 2 pi k / bins; an angle shares its weight between the two nearest
    bins as cos(bins / 4 * its distance to each centre) (none beyond one bin's width), so a
    face turned half-way between two bins is not forced into either.
    """
    centres = torch.arange(bins, dtype=angle.dtype, device=angle.device) * (2 * torch.pi / bins)
    dist = torch.remainder(angle[..., None] - centres + torch.pi, 2 * torch.pi) - torch.pi
    weight = torch.where(dist.abs() < 2 * torch.pi / bins, torch.cos(dist * bins / 4), torch.zeros_like(dist))
    return weight / weight.sum(-1, keepdim=True)


def fuse_for_inference(net: StylizedFaceNet) -> StylizedFaceNet:
    """An inference copy of `net`: eval mode, every batch norm folded into the convolution
    before it, weights in channels-last layout (CPU convolutions run faster on NHWC).

    The copy computes the same maps as `net.eval()` (up to float rounding) and takes inputs
    in either memory layout; it cannot be trained (no batch norms left).
    """
    import copy

    from torch.nn.utils.fusion import fuse_conv_bn_eval

    fused = copy.deepcopy(net).eval()
    for block in fused.modules():
        if isinstance(block, nn.Sequential) and len(block) == 3 and isinstance(block[1], nn.BatchNorm2d):
            block[0] = fuse_conv_bn_eval(block[0], block[1])
            block[1] = nn.Identity()
    return fused.to(memory_format=torch.channels_last)


class _Stage(nn.Module):
    """One stage of a net as a plain module for export (no shape checks to trace)."""

    def __init__(self, body: nn.Module, head: nn.Module):
        super().__init__()
        self.body, self.head = body, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class OnnxStylizedFace:
    """A `StylizedFaceNet` for inference run by ONNX Runtime (CPU): the same `detect`,
    `landmark_maps`, `landmarks` and `cfg`, torch tensors in and out, the same maps (to
    ~1e-5); the whole pipeline takes ~20% less CPU than on eager torch
    (benchmarks/RESULTS.md, "Session 7"). Made by `onnx_for_inference`; one ONNX Runtime
    session per thread count, that of `torch.get_num_threads()` at the call (so
    `models.threads.torch_threads` governs both paths)."""

    def __init__(self, net: StylizedFaceNet):
        import io
        import warnings

        self.cfg = net.cfg
        self._graphs, self._sessions = {}, {}
        stages = {"detect": (_Stage(net.det_body, net.det_head), (1, 3, 64, 64), {0: "n", 2: "h", 3: "w"}),
                  "landmarks": (_Stage(net.lmk_body, net.lmk_head),
                                (2, 3, net.cfg.landmark_input, net.cfg.landmark_input), {0: "n"})}
        for name, (stage, shape, axes) in stages.items():
            buffer = io.BytesIO()
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")  # the exporter's notes on the legacy path
                torch.onnx.export(stage.eval(), torch.zeros(shape), buffer, input_names=["x"], output_names=["y"],
                                  dynamic_axes={"x": axes, "y": axes}, opset_version=17, dynamo=False)
            self._graphs[name] = buffer.getvalue()

    def _run(self, name: str, x: torch.Tensor) -> torch.Tensor:
        from deepexpr.models.onnx_runtime import cpu_session

        threads = max(1, torch.get_num_threads())
        if (name, threads) not in self._sessions:
            self._sessions[name, threads] = cpu_session(self._graphs[name], threads)
        x = x.detach().float().contiguous().numpy()
        return torch.from_numpy(self._sessions[name, threads].run(None, {"x": x})[0])

    def detect(self, x: torch.Tensor) -> torch.Tensor:
        """As `StylizedFaceNet.detect`."""
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[-1] % 16 or x.shape[-2] % 16:
            raise ValueError(f"detector input: expected (N, 3, H, W) with H, W multiples of 16, got {tuple(x.shape)}")
        return self._run("detect", x)

    def landmark_maps(self, x: torch.Tensor) -> torch.Tensor:
        """As `StylizedFaceNet.landmark_maps` (crops of side `cfg.landmark_input`)."""
        side = self.cfg.landmark_input
        if x.ndim != 4 or x.shape[1] != 3 or tuple(x.shape[-2:]) != (side, side):
            raise ValueError(f"landmark input: expected (N, 3, {side}, {side}), got {tuple(x.shape)}")
        return self._run("landmarks", x)

    def landmarks(self, x: torch.Tensor) -> torch.Tensor:
        """As `StylizedFaceNet.landmarks`."""
        return soft_argmax(self.landmark_maps(x))


def onnx_for_inference(net: StylizedFaceNet) -> OnnxStylizedFace:
    """`net` (eval mode, batch norms folded or not) exported to ONNX and run by ONNX Runtime.

    Raises:
        ImportError: onnxruntime or onnx is not installed (`onnx_runtime.onnx_available()`).
    """
    from deepexpr.models.onnx_runtime import onnx_available

    if not onnx_available():
        raise ImportError("the ONNX path needs onnxruntime and onnx: pip install onnxruntime 'onnx<1.17'")
    return OnnxStylizedFace(net.eval())


def letterbox(image, side: int, multiple: int = 16):
    """Scale an (H, W, 3) uint8 image so its longest side is `side`, pad right and bottom
    (grey) to a multiple of `multiple`.

    Returns:
        canvas (h', w', 3) uint8 and the affine (2, 3) image pixels -> canvas pixels.
    """
    import numpy as np

    h, w = image.shape[:2]
    s = side / max(h, w)
    a = np.array([[s, 0, 0.5 * s - 0.5], [0, s, 0.5 * s - 0.5]])
    out_h = -(-max(1, round(h * s)) // multiple) * multiple
    out_w = -(-max(1, round(w * s)) // multiple) * multiple
    return warp(image, a, out_w, out_h), a


def _build(defaults: dict, overrides: dict) -> StylizedFaceNet:
    return StylizedFaceNet(StylizedFaceConfig(**{**defaults, **overrides}))


@register_model(preprocess=Preprocess(size=80))
def stylized_face(**overrides) -> StylizedFaceNet:
    """The bundled CPU-sized stylized-face detector + landmark regressor."""
    return _build({}, overrides)


@register_model(preprocess=Preprocess(size=32))
def test_stylized_face(**overrides) -> StylizedFaceNet:
    """Tiny variant for tests."""
    return _build({"det_channels": [4, 8, 8, 8], "lmk_channels": [4, 8, 8, 8], "landmark_input": 32,
                   "detector_input": 64}, overrides)
