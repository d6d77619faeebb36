"""LSTM that generates 3D landmark displacement sequences (paper 003: Seo & Luo).

One network per expression. At step t it reads the displacement block row x_t (L*3 numbers,
the first row zero, see `deepexpr.animation.sequences`) and predicts x_{t+1}. Generation
starts from zero and feeds every output back as the next input, for the full length.

Choice the paper leaves open: how the neutral face enters. The paper "feeds the neutral
shape first"; here the neutral landmarks (centred on their centroid, minus the training mean
shape, scaled) are concatenated to every input step. This keeps the Fig. 3 blocks as they are
(first input zero) and lets different neutral faces give different sequences.
Normalisation constants (displacement scale, mean shape, shape scale) are buffers, so they
travel with the weights in the safetensors checkpoint.

    >>> net = create_model("test_seqlstm")
    >>> block = net.generate(neutral, steps=135)       # (B, 135, 249) displacements (mm)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from deepexpr.models.registry import register_model


@dataclass
class SeqLSTMConfig:
    landmarks: int = 83  # landmarks per frame (BU-3DFE: 83); the step is landmarks*3 numbers
    hidden: int = 128  # LSTM units per layer (paper: 128)
    layers: int = 3  # stacked LSTM layers (paper: 3), tanh cell activations
    condition: bool = True  # concatenate the (normalised) neutral shape to every input step
    offset_input: bool = True  # also feed the running sum of the displacements (the current
    # offset from the neutral face), so free-running generation knows where it is


class SeqLSTM(nn.Module):
    """Stacked LSTM + linear read-out over displacement blocks."""

    def __init__(self, config: SeqLSTMConfig):
        super().__init__()
        self.config = config
        d = config.landmarks * 3
        in_dim = d * (1 + int(config.condition) + int(config.offset_input))
        self.lstm = nn.LSTM(in_dim, config.hidden, num_layers=config.layers, batch_first=True)
        self.fc = nn.Linear(config.hidden, d)
        # normalisation, set from the training data by `set_normalisation`
        self.register_buffer("disp_scale", torch.ones(()))
        self.register_buffer("shape_mean", torch.zeros(d))
        self.register_buffer("shape_scale", torch.ones(()))
        self.register_buffer("offset_scale", torch.ones(()))

    @torch.no_grad()
    def set_normalisation(self, blocks: torch.Tensor, neutrals: torch.Tensor) -> None:
        """blocks (N, S, L*3) mm; neutrals (N, L, 3) mm."""
        nz = blocks[blocks.abs().sum(-1) > 0]
        self.disp_scale.fill_(float(nz.std()) if len(nz) else 1.0)
        self.offset_scale.fill_(float(blocks.cumsum(1).std()) or 1.0)
        c = self._centre(neutrals)
        self.shape_mean.copy_(c.mean(0))
        self.shape_scale.fill_(float((c - c.mean(0)).std()) or 1.0)

    @staticmethod
    def _centre(neutrals: torch.Tensor) -> torch.Tensor:
        return (neutrals - neutrals.mean(1, keepdim=True)).flatten(1)

    def _inputs(self, x: torch.Tensor, neutral: torch.Tensor | None,
                offset0: torch.Tensor | None = None) -> torch.Tensor:
        parts = [x / self.disp_scale]
        if self.config.offset_input:
            off = x.cumsum(1) + (0 if offset0 is None else offset0[:, None])
            parts.append(off / self.offset_scale)
        if self.config.condition:
            if neutral is None:
                raise ValueError("this model is conditioned on the neutral face; pass neutral")
            c = (self._centre(neutral) - self.shape_mean) / self.shape_scale
            parts.append(c[:, None].expand(-1, x.shape[1], -1))
        return torch.cat(parts, dim=-1)

    def forward(self, x: torch.Tensor, neutral: torch.Tensor | None = None, state=None,
                return_state: bool = False, offset0: torch.Tensor | None = None):
        """Predict the next displacement at every step.

        Args:
            x: (B, S, L*3) displacement inputs in mm.
            neutral: (B, L, 3) neutral landmarks in mm (when `condition`).
            state: LSTM (h, c) to continue from.
            offset0: (B, L*3) running displacement sum before x (when continuing), in mm.

        Returns:
            (B, S, L*3) predicted next displacements in normalised units (multiply by
            `disp_scale` for mm); with `return_state`, also the new (h, c).
        """
        if x.ndim != 3 or x.shape[-1] != self.config.landmarks * 3:
            raise ValueError(f"x: expected (B, S, {self.config.landmarks * 3}), got {tuple(x.shape)}")
        out, state = self.lstm(self._inputs(x, neutral, offset0), state)
        y = self.fc(out)
        return (y, state) if return_state else y

    @torch.no_grad()
    def generate(self, neutral: torch.Tensor | None, steps: int = 135, batch: int = 1) -> torch.Tensor:
        """Free-running generation from a neutral face, each output fed back.

        The recurrence is written out with the weights pulled out once (two `addmm` and a few
        element-wise ops per layer and step); stepping `nn.LSTM` one step at a time costs
        several times more in framework overhead. Equal to stepping `forward` (tested).

        Args:
            neutral: (B, L, 3) neutral landmarks (mm), or None for an unconditioned model.
            steps: block length (135 in the paper).

        Returns:
            (B, steps, L*3) displacement block in mm, first row zero (Fig. 3 layout).
        """
        b = neutral.shape[0] if neutral is not None else batch
        d, hid = self.config.landmarks * 3, self.config.hidden
        layers = []
        for k in range(self.config.layers):
            w_ih = getattr(self.lstm, f"weight_ih_l{k}").t()
            w_hh = getattr(self.lstm, f"weight_hh_l{k}").t().contiguous()
            bias = getattr(self.lstm, f"bias_ih_l{k}") + getattr(self.lstm, f"bias_hh_l{k}")
            layers.append([w_ih, w_hh, bias.expand(b, -1)])
        w_in = layers[0][0]
        w_off = None
        if self.config.offset_input:
            w_off = (w_in[d:2 * d] / self.offset_scale).contiguous()
        if self.config.condition:
            if neutral is None:
                raise ValueError("this model is conditioned on the neutral face; pass neutral")
            c = (self._centre(neutral.float()) - self.shape_mean) / self.shape_scale
            layers[0][2] = layers[0][2] + c @ w_in[d * (1 + int(self.config.offset_input)):]
        layers[0][0] = (w_in[:d] / self.disp_scale).contiguous()  # inputs / disp_scale
        fc_w = (self.fc.weight.t() * self.disp_scale).contiguous()
        fc_b = (self.fc.bias * self.disp_scale).expand(b, -1)
        hs = [torch.zeros(b, hid) for _ in layers]
        cs = [torch.zeros(b, hid) for _ in layers]
        x = torch.zeros(b, d)
        offset = torch.zeros(b, d)
        rows = [x]
        for _ in range(steps - 1):
            inp = x
            offset = offset + x
            for k, (w_i, w_h, bias) in enumerate(layers):
                g = torch.addmm(bias, inp, w_i).addmm_(hs[k], w_h)
                if k == 0 and w_off is not None:
                    g.addmm_(offset, w_off)
                s = torch.sigmoid(g)  # PyTorch gate order: input, forget, cell, output
                cs[k] = s[:, hid:2 * hid] * cs[k] + s[:, :hid] * torch.tanh(g[:, 2 * hid:3 * hid])
                hs[k] = s[:, 3 * hid:] * torch.tanh(cs[k])
                inp = hs[k]
            x = torch.addmm(fc_b, inp, fc_w)
            rows.append(x)
        return torch.stack(rows, dim=1)


def _build(defaults: dict, overrides: dict) -> SeqLSTM:
    cfg = SeqLSTMConfig(**{**defaults, **overrides})
    return SeqLSTM(cfg)


@register_model
def seqlstm(**overrides) -> SeqLSTM:
    """The paper's network: 3 LSTM layers x 128 units + FC."""
    return _build({}, overrides)


@register_model
def seqlstm_small(**overrides) -> SeqLSTM:
    """3 layers x 64 units: the bundled weights (six expressions within a few MB in fp16)."""
    return _build({"hidden": 64}, overrides)


@register_model
def test_seqlstm(**overrides) -> SeqLSTM:
    """Tiny variant for tests: 2 layers x 8 units."""
    return _build({"hidden": 8, "layers": 2}, overrides)


def config_dict(model: SeqLSTM) -> dict:
    return asdict(model.config)
