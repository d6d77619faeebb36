"""LSTM that generates 3D landmark displacement sequences (paper 003: Seo & Luo).

One network per expression. At step t it reads the displacement block row x_t (L*3 numbers,
the first row zero, see `deepexpr.data.sequences`) and predicts x_{t+1}. Generation
starts from zero and feeds every output back as the next input, for the full length.

Choice the paper leaves open: how the neutral face enters. The paper "feeds the neutral
shape first"; here the neutral landmarks (centred on their centroid, minus the training mean
shape, scaled) are concatenated to every input step. This keeps the Fig. 3 blocks as they are
(first input zero) and lets different neutral faces give different sequences.
Normalisation constants (displacement scale, mean shape, shape scale) are buffers, so they
travel with the weights in the safetensors checkpoint.

Three ways to run the same network: `forward` (teacher forcing: real inputs, the paper's
training), `free_run` (differentiable unrolling on its own outputs, for free-running
training, see `deepexpr.train.sequences`) and `generate` (the same unrolling, fast and
without gradients). All three agree (tested).

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
        self.disp_scale.fill_((float(nz.std()) if len(nz) > 1 else 0.0) or 1.0)
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

    def folded_weights(self, neutral: torch.Tensor | None, batch: int = 1) -> dict:
        """Weights of the free-running recurrence with the feedback folded in.

        In free-running generation the input of step t is the previous output,
        x_t = h2_{t-1} W_fc + b_fc, and the offset input is the running sum of those,
        offset_t = S_t W_fc + t b_fc with S_t = sum_{s<t} h2_s. Both are linear in the top
        layer's hidden states, so the first layer's pre-activation becomes

            g0_t = bias0_t + [h2_{t-1}, S_t, h0_{t-1}] @ W0

        (bias0_t absorbs the neutral-face conditioning and the b_fc terms). The FC and the
        three input projections of a step collapse into one matmul, and the outputs come
        out of one (steps, hidden) x (hidden, L*3) product at the end.

        Args:
            neutral: (B, L, 3) neutral landmarks (mm), or None for an unconditioned model.
            batch: B when `neutral` is None.

        Returns:
            dict with "w" (list per layer of (in, 4H) matrices: layer 0 takes
            [h_top, S, h0], layer k the [h_{k-1}, h_k] pair), "b" (per layer (4H,) biases
            for layers >= 1), "bias0" (B, 4H), "bias0_step" (4H,) added once per step,
            "bias0_fed" (4H,) added from step 1 on, "fc_w" (H, L*3) and "fc_b" (L*3,) in mm.
        """
        cfg = self.config
        d = cfg.landmarks * 3
        b = neutral.shape[0] if neutral is not None else batch
        w_ih0 = self.lstm.weight_ih_l0.t()  # (in_dim, 4H): rows x | offset | condition
        fc_w = self.fc.weight.t() * self.disp_scale  # (H, d) in mm
        fc_b = self.fc.bias * self.disp_scale
        w_x = w_ih0[:d] / self.disp_scale
        w_off = (w_ih0[d:2 * d] / self.offset_scale if cfg.offset_input
                 else torch.zeros_like(w_x))
        bias0 = (self.lstm.bias_ih_l0 + self.lstm.bias_hh_l0).expand(b, -1)
        if cfg.condition:
            if neutral is None:
                raise ValueError("this model is conditioned on the neutral face; pass neutral")
            c = (self._centre(neutral.float()) - self.shape_mean) / self.shape_scale
            bias0 = bias0 + c @ w_ih0[d * (1 + int(cfg.offset_input)):]
        w0 = torch.cat([fc_w @ w_x, fc_w @ w_off, self.lstm.weight_hh_l0.t()])
        ws, bs = [w0], [None]
        for k in range(1, cfg.layers):
            ws.append(torch.cat([getattr(self.lstm, f"weight_ih_l{k}").t(),
                                 getattr(self.lstm, f"weight_hh_l{k}").t()]))
            bs.append(getattr(self.lstm, f"bias_ih_l{k}") + getattr(self.lstm, f"bias_hh_l{k}"))
        return {"w": ws, "b": bs, "bias0": bias0, "bias0_step": fc_b @ w_off,
                "bias0_fed": fc_b @ w_x, "fc_w": fc_w, "fc_b": fc_b}

    def free_run(self, neutral: torch.Tensor | None, steps: int = 135,
                 batch: int = 1) -> torch.Tensor:
        """Differentiable free-running generation (each output fed back), for training.

        Same recurrence as `generate` (see `folded_weights`), written with out-of-place
        ops so gradients flow through the whole unrolled sequence. Each layer's weight
        gradient is one product over all steps at the end of back-propagation
        (`_StepLinear`) instead of a full-size gradient added up at every step.

        Args:
            neutral: (B, L, 3) neutral landmarks (mm), or None for an unconditioned model.
            steps: block length.

        Returns:
            (B, steps, L*3) displacement block in mm, first row zero.
        """
        f = self.folded_weights(neutral, batch)
        b, hid = f["bias0"].shape[0], self.config.hidden
        zero = f["bias0"].new_zeros(b, hid)
        hs, cs = [zero] * self.config.layers, [zero] * self.config.layers
        total, tops = zero, []
        tapes = [[] for _ in range(self.config.layers)]
        for t in range(steps - 1):
            inp = None
            for k in range(self.config.layers):
                if k == 0:
                    bias = f["bias0"] + t * f["bias0_step"] + (f["bias0_fed"] if t else 0)
                    z = torch.cat([hs[-1], total, hs[0]], dim=1)
                else:
                    bias = f["b"][k].expand(b, -1)
                    z = torch.cat([inp, hs[k]], dim=1)
                gates = _StepLinear.apply(bias, z, f["w"][k], tapes[k], t == 0)
                hs[k], cs[k] = _cell(gates, cs[k], hid)
                inp = hs[k]
            total = total + inp
            tops.append(inp)
        out = torch.addmm(f["fc_b"], torch.stack(tops, 1).flatten(0, 1), f["fc_w"])
        out = out.reshape(b, steps - 1, -1)
        return torch.cat([out.new_zeros(b, 1, out.shape[-1]), out], dim=1)

    @torch.inference_mode()
    def generate(self, neutral: torch.Tensor | None, steps: int = 135, batch: int = 1) -> torch.Tensor:
        """Free-running generation from a neutral face, each output fed back (fast path).

        The feedback is folded into the first layer's weights (`folded_weights`), so a step
        is one `addmm` per layer on a preallocated state buffer plus the gate
        nonlinearities, written in place; the outputs are one product at the end. Equal to
        stepping `forward` and to `free_run` (tested).

        Args:
            neutral: (B, L, 3) neutral landmarks (mm), or None for an unconditioned model.
            steps: block length (135 in the paper).

        Returns:
            (B, steps, L*3) displacement block in mm, first row zero (Fig. 3 layout).
        """
        f = self.folded_weights(neutral, batch)
        b, hid, n = f["bias0"].shape[0], self.config.hidden, self.config.layers
        # gate columns reordered i, f, o, g: one sigmoid and one tanh per layer and step
        order = torch.cat([torch.arange(2 * hid), torch.arange(3 * hid, 4 * hid),
                           torch.arange(2 * hid, 3 * hid)])
        ws = [w[:, order].contiguous() for w in f["w"]]
        bs = [None] + [bias[order] for bias in f["b"][1:]]
        step0 = f["bias0_step"][order]
        bias0 = (f["bias0"] + f["bias0_fed"])[:, order] - step0
        bias_first = f["bias0"][:, order]
        # state buffer: [h_top(t-1) | S | h_0 | ... | h_top]; layer 0 reads the first three
        # blocks, layer k >= 1 reads [h_{k-1} | h_k] = blocks k+1, k+2 (contiguous views).
        state = torch.zeros(b, (n + 2) * hid)
        cells = [torch.zeros(b, hid) for _ in range(n)]
        tops = torch.empty(steps - 1, b, hid)
        views = [state[:, :3 * hid]] + [state[:, (k + 1) * hid:(k + 3) * hid] for k in range(1, n)]
        outs = [state[:, (k + 2) * hid:(k + 3) * hid] for k in range(n)]
        first, total = state[:, :hid], state[:, hid:2 * hid]
        gates = torch.empty(b, 4 * hid)
        sig, tanh_g = gates[:, :3 * hid], gates[:, 3 * hid:]
        forget, inp_gate, out_gate = gates[:, hid:2 * hid], gates[:, :hid], gates[:, 2 * hid:3 * hid]
        for t in range(steps - 1):
            bias0.add_(step0)  # bias0 at step t: + t * step0 (+ fed from step 1 on)
            for k in range(n):
                bias = (bias_first if t == 0 else bias0) if k == 0 else bs[k]
                torch.addmm(bias, views[k], ws[k], out=gates)
                sig.sigmoid_()
                tanh_g.tanh_()
                cells[k].mul_(forget).addcmul_(inp_gate, tanh_g)
                torch.tanh(cells[k], out=outs[k])
                outs[k].mul_(out_gate)
            top = outs[-1]
            first.copy_(top)
            total.add_(top)
            tops[t] = top
        out = torch.addmm(f["fc_b"], tops.transpose(0, 1).reshape(-1, hid), f["fc_w"])
        return torch.cat([torch.zeros(b, 1, out.shape[-1]), out.reshape(b, steps - 1, -1)], 1)


class _StepLinear(torch.autograd.Function):
    """bias + z @ w for one step of an unrolled recurrence, with the weight gradient batched.

    Back-propagation reaches the steps in reverse order and the first step last (every
    later step depends on it). Each step records (z, grad) on a shared tape and returns no
    weight gradient; the first step returns the whole sum, Z^T @ G over all steps, in one
    product.
    """

    @staticmethod
    def forward(ctx, bias, z, w, tape, first):
        ctx.save_for_backward(z, w)
        ctx.tape, ctx.first = tape, first
        return torch.addmm(bias, z, w)

    @staticmethod
    def backward(ctx, grad):
        z, w = ctx.saved_tensors
        ctx.tape.append((z, grad))
        grad_w = None
        if ctx.first and ctx.needs_input_grad[2]:
            zs, gs = zip(*ctx.tape)
            grad_w = torch.cat(zs).t() @ torch.cat(gs)
            ctx.tape.clear()
        grad_z = grad @ w.t() if ctx.needs_input_grad[1] else None
        return grad, grad_z, grad_w, None, None


def _cell(gates: torch.Tensor, c: torch.Tensor, hid: int) -> tuple[torch.Tensor, torch.Tensor]:
    """LSTM cell update from (B, 4H) pre-activations (PyTorch gate order i, f, g, o)."""
    s = torch.sigmoid(gates)
    c = s[:, hid:2 * hid] * c + s[:, :hid] * torch.tanh(gates[:, 2 * hid:3 * hid])
    return s[:, 3 * hid:] * torch.tanh(c), c


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


def load_generator(expression: str, weights: str | None = None):
    """(model, config) of an expression's LSTM (bundled unless `weights` is given).

    Raises:
        InputError: an unknown expression or a missing weights file.
    """
    from pathlib import Path

    from deepexpr.errors import InputError
    from deepexpr.expressions import canonical
    from deepexpr.models.checkpoint import load_model
    from deepexpr.models.resolve import WEIGHTS_DIR

    try:
        expression = canonical(expression)
    except ValueError as err:
        raise InputError(f"--expression: {err}") from err
    path = Path(weights) if weights else WEIGHTS_DIR / f"seq_{expression}.safetensors"
    if not path.is_file():
        raise InputError(f"{path}: no sequence weights for {expression!r}; train them with "
                         "`deepexpr train sequences` and pass --weights")
    model, cfg = load_model(path, expect=SeqLSTM)
    return model.float(), cfg
