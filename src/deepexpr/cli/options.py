"""CLI options generated from config dataclasses: the configs are the single source.

Each field of a config becomes `--field-name` with the field's type and default, and the
help text, choices and bounds of its `deepexpr.errors.setting(...)` metadata. The config's
`__post_init__` validates, so a bad value is one line from the same place for the CLI and
the Python API. `--help` shows every default (`HelpFormatter`).

    p = commands.add_parser("x", formatter_class=HelpFormatter)
    add_options(p, SeqTrainConfig, exclude=("length",))
    cfg = config_from_args(SeqTrainConfig, args)
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing

from deepexpr.errors import InputError, option_name

# The shared options: one definition of their spelling and help for every command. A config
# field of this name gets the help when its metadata has none; a command without such a
# field adds the option with `add_shared`.
SHARED_HELP = {
    "out": "output file or folder",
    "seed": "random seed (the same seed gives the same result)",
    "threads": "torch threads (0: torch's default; keep it low on a shared machine)",
    "quiet": "no progress bar or per-epoch lines",
}
PROGRESS_FIELD = "show_progress"  # a config's progress switch is the shared `--quiet`


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows every option's default (unless its help already says it, the option is a
    switch, or it has none) and keeps descriptions/epilogs as written."""

    def _get_help_string(self, action):
        text = action.help or ""
        shown = "(default" in text or action.required or action.default in (None, argparse.SUPPRESS)
        if shown or action.nargs == 0 or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def _base_type(annotation):
    """(type, is_tuple) of a field annotation: int | None -> int, tuple[str, ...] -> str."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return _base_type(args[0]) if len(args) == 1 else (str, False)
    if typing.get_origin(annotation) is tuple:
        return (args[0] if args else str), True
    return annotation, False


def _comma_list(item_type):
    def parse(text: str):
        values = [t.strip() for t in text.split(",") if t.strip()]
        return tuple(item_type(v) for v in values) or None

    parse.__name__ = f"comma-separated {item_type.__name__}"
    return parse


def field_default(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def cli_fields(config_cls, exclude=(), only=None) -> list[dataclasses.Field]:
    """The fields of `config_cls` that become options (plain types, `cli` not turned off)."""
    hints = typing.get_type_hints(config_cls)
    keep = []
    for f in dataclasses.fields(config_cls):
        base, _ = _base_type(hints[f.name])
        if f.name in exclude or (only is not None and f.name not in only):
            continue
        if not f.metadata.get("cli", True) or base not in (int, float, str, bool):
            continue
        keep.append(f)
    return keep


class Parser(argparse.ArgumentParser):
    """An ArgumentParser that adds its config options when first used (parse or help), so
    that building the whole CLI imports no config module (`train hagan`'s imports torch)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)  # every sub-command shows its defaults
        super().__init__(*args, **kwargs)
        self._pending = []

    def defer(self, build) -> None:
        self._pending.append(build)

    def materialize(self) -> None:
        """Run the deferred option builders (also for tests that walk every parser)."""
        while self._pending:
            self._pending.pop(0)()

    def parse_known_args(self, args=None, namespace=None):
        self.materialize()
        return super().parse_known_args(args, namespace)

    def format_help(self):
        self.materialize()
        return super().format_help()

    def format_usage(self):
        self.materialize()
        return super().format_usage()

    def error(self, message):
        """A usage error as one line (not the whole usage block), exit 2."""

        self.exit(2, f"{self.prog}: error: {message}; see `{self.prog} --help`\n")


def _import(path: str):
    import importlib

    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def add_options(parser, config_cls, exclude=(), defaults: dict | None = None, required=(), only=None) -> None:
    """Add one option per CLI field of `config_cls` to `parser`.

    Args:
        config_cls: the dataclass, or "module:Class" to import it only when `parser` is
            used (a `Parser` defers the options until then).
        exclude: field names the command sets itself (or does not offer).
        only: offer just these fields (None: all).
        defaults: command-specific defaults that differ from the config's (e.g. a
            report folder); everything else shows the config's own default.
        required: field names the user must give.
    """
    if isinstance(config_cls, str):
        if isinstance(parser, Parser):
            parser.defer(lambda: add_options(parser, _import(config_cls), exclude, defaults, required, only))
            return
        config_cls = _import(config_cls)
    hints = typing.get_type_hints(config_cls)
    for f in cli_fields(config_cls, exclude, only):
        base, is_tuple = _base_type(hints[f.name])
        default = (defaults or {}).get(f.name, field_default(f))
        help_text = f.metadata.get("help") or SHARED_HELP.get(f.name) or f.name.replace("_", " ")
        kwargs = {"dest": f.name, "help": help_text}
        if f.name == PROGRESS_FIELD:
            action = parser.add_argument("--quiet", dest=f.name, action="store_false", default=default,
                                         help=SHARED_HELP["quiet"])
        elif base is bool:
            flag = option_name(f) if not default or f.metadata.get("flag") else "--no-" + f.name.replace("_", "-")
            action = parser.add_argument(flag, action="store_false" if default else "store_true",
                                         default=default, **kwargs)
        else:
            kwargs["type"] = _comma_list(base) if is_tuple else base
            if f.metadata.get("choices"):
                kwargs["choices"] = f.metadata["choices"]
            if f.name in required:
                kwargs["required"] = True
            else:
                kwargs["default"] = ",".join(map(str, default)) if is_tuple and default else default
            action = parser.add_argument(option_name(f), **kwargs)
        # where the option comes from (tests check that every default is the config's)
        action.config_field = (config_cls, f.name, f.name in (defaults or {}) or f.name in required)


def _docstring_args(doc: str | None) -> dict[str, str]:
    """{name: first sentence} of a Google-style docstring's `Args:` section."""
    found, in_args = {}, False
    for line in (doc or "").splitlines():
        text = line.strip()
        if text.endswith(":") and " " not in text:
            in_args = text == "Args:"
            continue
        name, sep, rest = text.partition(": ")
        if in_args and sep and name.isidentifier():
            found[name] = rest.split(". ")[0].rstrip(".")
    return found


def add_function_options(parser, function, names, helps: dict | None = None, choices: dict | None = None) -> None:
    """Options from a plain function's keyword defaults, for a command without a config
    dataclass: type and default from the signature, help from its docstring's `Args:`
    (or `helps`). `function` may be "module:function" (imported when `parser` is used); a
    `choices` value given as a string names a tuple in the function's module."""
    import inspect

    if isinstance(function, str):
        if isinstance(parser, Parser):
            parser.defer(lambda: add_function_options(parser, _import(function), names, helps, choices))
            return
        function = _import(function)
    params = inspect.signature(function).parameters
    texts = {**_docstring_args(function.__doc__), **(helps or {})}
    for name in names:
        default = params[name].default
        if isinstance(default, bool):
            action = parser.add_argument("--" + name.replace("_", "-"), action="store_true", default=default,
                                         help=texts.get(name, name.replace("_", " ")))
        else:
            action = parser.add_argument("--" + name.replace("_", "-"), type=type(default), default=default,
                                         help=texts.get(name, name.replace("_", " ")),
                                         choices=_choices((choices or {}).get(name), function))
        action.function_param = (function, name)


def _choices(value, function):
    """`value`, or the tuple of that name in `function`'s module when it is a string."""
    import sys

    return getattr(sys.modules[function.__module__], value) if isinstance(value, str) else value


def config_from_args(config_cls, args, **fixed):
    """`config_cls` from the parsed options of its fields, plus `fixed` values.

    An option left at None for a field whose default is not None (a command-specific "ask
    the model" default, e.g. `--size`) gives the config's own default.
    """
    keep_none = {f.name for f in dataclasses.fields(config_cls) if field_default(f) is None}
    names = {f.name for f in dataclasses.fields(config_cls)}
    values = {k: v for k, v in vars(args).items() if k in names and (v is not None or k in keep_none)}
    return config_cls(**{**values, **fixed})


def add_shared(parser, **defaults) -> None:
    """The shared options a command offers without a config field for them.

    `add_shared(p, out="reports/x", seed=0, quiet=False)` adds --out, --seed and --quiet with
    those defaults; `out=None` with `required` semantics is spelled `out=REQUIRED`.
    """
    for name, default in defaults.items():
        if name == "quiet":
            parser.add_argument("--quiet", action="store_true", help=SHARED_HELP["quiet"])
            continue
        kwargs = {"help": SHARED_HELP[name]}
        if default is REQUIRED:
            kwargs["required"] = True
        else:
            kwargs["default"] = default
        parser.add_argument(f"--{name}", type=int if name in ("seed", "threads") else str, **kwargs)


REQUIRED = object()


def check_range(name: str, value, minimum=1, maximum=None) -> None:
    """One-line refusal of a number outside [minimum, maximum] for options without a config field."""
    if value is not None and value < minimum:
        raise InputError(f"{name} {value}: must be >= {minimum}")
    if value is not None and maximum is not None and value > maximum:
        raise InputError(f"{name} {value}: must be <= {maximum}")
