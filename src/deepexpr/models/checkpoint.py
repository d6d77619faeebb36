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
        return json.loads(cfg_file.read_text())
    except json.JSONDecodeError as err:
        raise InputError(f"{cfg_file}: not valid JSON ({err}); re-save the checkpoint") from err


def load_model(path: str | Path, map_location: str = "cpu"):
    """Rebuild a registered model from a checkpoint and load its weights.

    Returns:
        (model in eval mode, config dict)
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from deepexpr.models.registry import create_model

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: checkpoint not found; train one or pass an existing file")
    config = read_config(path)
    model = create_model(config["model"], **config.get("overrides", {}))
    try:
        state = load_file(str(path), device=map_location)
    except (SafetensorError, OSError) as err:
        raise InputError(f"{path}: not a readable safetensors file ({err})") from err
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise InputError(
            f"{path}: weights do not fit model {config['model']!r} "
            f"(missing {list(missing)[:3]}, unexpected {list(unexpected)[:3]})"
        )
    model.eval()
    return model, config
