"""The one training state of every trainer: one safetensors file, written atomically.

A state file holds everything a trainer needs to continue exactly where it stopped:
- tensors: the weights of each named module (`model.<name>.<key>`), each optimizer's
  per-parameter state (`optim.<name>.<param id>.<key>`: momentum buffers, Adam moments and
  step counts, dtypes kept), extra tensors a trainer keeps (`extra.<key>`: e.g. the best
  weights of an early-stopping plateau) and torch's global RNG state (`rng.torch`);
- JSON in the safetensors metadata (`deepexpr_state`): the format version, the counters
  and history (`progress`), the settings the run was made with, each optimizer's
  parameter groups, and the Python, NumPy-global and named NumPy `Generator` states.

The file is written to a temporary name and renamed onto the old one, so a kill at any
instant leaves either the old state or the new one, never a mix. Files a trainer writes
beside it for people and for inference (weights + JSON config, metrics) are outputs:
resume reads only the state file, and rewrites them at the next save.

On resume, the settings the run continues with must equal the ones it was made with,
except those named `extendable` (e.g. more epochs): otherwise `load_state` raises an
InputError naming the differing settings.

    >>> save_state(out / "state.safetensors", {"model": net}, {"opt": opt}, {"epoch": 3},
    ...            settings=cfg.to_dict())
    >>> progress = load_state(out / "state.safetensors", {"model": net}, {"opt": opt},
    ...                       settings=cfg.to_dict(), extendable={"epochs"}).progress
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from deepexpr.errors import InputError
from deepexpr.io import atomic_path

FORMAT = "deepexpr-train-state/1"
META_KEY = "deepexpr_state"


@dataclass
class Restored:
    """What `load_state` gives back besides the modules and optimizers it filled in."""

    progress: dict  # the counters and history saved with the state
    extra: dict[str, torch.Tensor] = field(default_factory=dict)  # the extra tensors, by key


def _plain(obj):
    """JSON round trip (tuples -> lists), so saved and current settings compare equal."""
    return json.loads(json.dumps(obj))


def _optimizer_parts(name: str, optimizer: torch.optim.Optimizer, tensors: dict) -> dict:
    """Put `optimizer`'s tensor state into `tensors`; return its JSON part."""
    sd = optimizer.state_dict()
    scalars: dict[str, dict] = {}
    for pid, state in sd["state"].items():
        for key, value in state.items():
            if torch.is_tensor(value):
                tensors[f"optim.{name}.{pid}.{key}"] = value.detach().clone().contiguous().cpu()
            else:
                scalars.setdefault(str(pid), {})[key] = value
    return {"param_groups": sd["param_groups"], "scalars": scalars}


def _restore_optimizer(name: str, optimizer, meta: dict, tensors: dict) -> None:
    state: dict[int, dict] = {}
    prefix = f"optim.{name}."
    for key, value in tensors.items():
        if key.startswith(prefix):
            pid, field_name = key[len(prefix):].split(".", 1)
            state.setdefault(int(pid), {})[field_name] = value
    for pid, extra in meta["scalars"].items():
        state.setdefault(int(pid), {}).update(extra)
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def _rng_states(generators: dict[str, np.random.Generator]) -> dict:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {"python": _plain(random.getstate()),
            "numpy": [kind, keys.tolist(), pos, has_gauss, cached],
            "generators": {k: g.bit_generator.state for k, g in generators.items()}}


def _restore_rngs(meta: dict, generators: dict[str, np.random.Generator]) -> None:
    version, internal, gauss = meta["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = meta["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    for key, gen in generators.items():
        gen.bit_generator.state = meta["generators"][key]


def save_state(path: str | Path, modules: dict[str, torch.nn.Module],
               optimizers: dict[str, torch.optim.Optimizer], progress: dict, settings: dict,
               generators: dict[str, np.random.Generator] | None = None,
               extra: dict[str, torch.Tensor] | None = None) -> None:
    """Write the whole training state to `path` (.safetensors) in one atomic rename.

    Args:
        modules: name -> module whose `state_dict()` is saved (names without dots).
        optimizers: name -> optimizer.
        progress: JSON-able counters and history (epoch/step, phase, losses, ...).
        settings: JSON-able settings the run is made with (checked on resume).
        generators: name -> NumPy Generator the trainer draws from (besides the global ones).
        extra: more tensors to keep (e.g. best weights), restored into `Restored.extra`.
    """
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        for key, value in module.state_dict().items():
            tensors[f"model.{name}.{key}"] = value.detach().clone().contiguous().cpu()
    optim_meta = {name: _optimizer_parts(name, opt, tensors) for name, opt in optimizers.items()}
    for key, value in (extra or {}).items():
        tensors[f"extra.{key}"] = value.detach().clone().contiguous().cpu()
    tensors["rng.torch"] = torch.get_rng_state()
    meta = {"format": FORMAT, "progress": progress, "settings": settings,
            "optimizers": optim_meta, "rng": _rng_states(generators or {}),
            "modules": sorted(modules), "extra": sorted(extra or {})}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={META_KEY: json.dumps(meta)})


def read_state(path: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """(JSON part, tensors) of a state file; InputError when it is not one."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get(META_KEY)
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as err:
        raise InputError(f"{path}: not a readable training state ({err}); start a new run "
                         "without --resume") from err
    meta = json.loads(raw) if raw else {}
    if meta.get("format") != FORMAT:
        raise InputError(f"{path}: not a {FORMAT} training state (written by an older version?); "
                         "start a new run without --resume")
    return meta, tensors


def check_resume_settings(path: str | Path, saved: dict, current: dict, extendable=()) -> None:
    """InputError (one line) naming every setting that differs, except `extendable` ones."""
    current = _plain(current)
    missing = object()
    differ = [k for k in sorted(set(saved) | set(current))
              if k not in extendable and saved.get(k, missing) != current.get(k, missing)]
    if differ:
        said = "; ".join(f"{k}: {saved.get(k)!r} there, {current.get(k)!r} now" for k in differ)
        raise InputError(f"{path}: cannot resume with different settings ({said}); use the "
                         "run's settings or start a new run without --resume")


def load_state(path: str | Path, modules: dict[str, torch.nn.Module],
               optimizers: dict[str, torch.optim.Optimizer], settings: dict, extendable=(),
               generators: dict[str, np.random.Generator] | None = None) -> Restored:
    """Check the settings, then restore modules, optimizers and every RNG from `path`.

    Call it after building the modules and optimizers (building draws random numbers;
    restoring the RNGs last makes the run continue exactly).

    Raises:
        InputError: the file is not a training state, or the settings differ.
    """
    meta, tensors = read_state(path)
    check_resume_settings(path, meta["settings"], settings, extendable)
    if sorted(modules) != meta["modules"] or sorted(optimizers) != sorted(meta["optimizers"]):
        raise InputError(f"{path}: holds {meta['modules']} / {sorted(meta['optimizers'])}, not "
                         f"{sorted(modules)} / {sorted(optimizers)}; start a new run without --resume")
    for name, module in modules.items():
        prefix = f"model.{name}."
        module.load_state_dict({k[len(prefix):]: v for k, v in tensors.items()
                                if k.startswith(prefix)})
    for name, opt in optimizers.items():
        _restore_optimizer(name, opt, meta["optimizers"][name], tensors)
    torch.set_rng_state(tensors["rng.torch"])
    _restore_rngs(meta["rng"], generators or {})
    extra = {k[len("extra."):]: v for k, v in tensors.items() if k.startswith("extra.")}
    return Restored(meta["progress"], extra)
