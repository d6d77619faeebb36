"""User-facing errors: the CLI prints them as one line and exits non-zero.

Also the one way config dataclasses declare and check their settings: `setting(...)` puts
the help text, choices and bounds into the field's metadata (the CLI generates its options
from it, `deepexpr.cli.options`), and `check_settings(self)` in `__post_init__` refuses a
value outside them with an `InputError`.
"""

from __future__ import annotations

import dataclasses
import math


class DeepExprError(Exception):
    """An error the user can fix; the message says which file, what is wrong, what to do."""

    exit_code = 2  # the CLI's exit status for it


class InputError(DeepExprError):
    """Bad argument or input file: a usage error (exit 2)."""

    exit_code = 2


class TooLargeError(InputError):
    """An input over a size limit (the pixels of an image or a frame): a usage error (exit 2);
    the web studio answers it with 413."""


class DataError(DeepExprError):
    """The inputs were well formed but the data cannot give a result (exit 1): e.g. too few
    images for the protocol, every item of a batch unreadable."""

    exit_code = 1


def setting(default=dataclasses.MISSING, help: str = "", *, min=None, max=None, above=None, choices=None,
            flag: str | None = None, cli: bool = True, default_factory=dataclasses.MISSING):
    """A dataclass field with its CLI help, choices and bounds in `metadata`.

    Args:
        default / default_factory: as `dataclasses.field`.
        help: one-line help of the generated CLI option.
        min, max: inclusive bounds (checked by `check_settings`, None: unbounded).
        above: exclusive lower bound (a rate that must be > 0).
        choices: the allowed values.
        flag: the option's name when it is not `--field-name` (e.g. "--no-falloff" for a
            boolean that defaults to True).
        cli: False keeps the field out of the generated CLI.
    """
    meta = {"help": help, "min": min, "max": max, "above": above, "choices": tuple(choices) if choices else None,
            "flag": flag, "cli": cli}
    return dataclasses.field(default=default, default_factory=default_factory, metadata=meta)


def option_name(f: dataclasses.Field) -> str:
    """The CLI spelling of a config field (used in messages so the user knows what to change)."""
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def check_settings(config) -> None:
    """Refuse values outside the bounds and choices declared with `setting` (and NaN).

    Raises:
        InputError: `--batch-size 0: must be >= 1` (one line, names the option).
    """
    for f in dataclasses.fields(config):
        value, meta = getattr(config, f.name), f.metadata
        if value is None or isinstance(value, bool) or not meta:
            continue
        name = option_name(f)
        if meta.get("choices") and value not in meta["choices"]:
            raise InputError(f"{name} {value}: expected one of {', '.join(map(str, meta['choices']))}")
        if not isinstance(value, (int, float)):
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(f"{name} {value}: must be a finite number")
        if meta.get("min") is not None and value < meta["min"]:
            raise InputError(f"{name} {value}: must be >= {meta['min']}")
        if meta.get("above") is not None and value <= meta["above"]:
            raise InputError(f"{name} {value}: must be > {meta['above']}")
        if meta.get("max") is not None and value > meta["max"]:
            raise InputError(f"{name} {value}: must be <= {meta['max']}")
