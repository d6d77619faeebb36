"""The `deepexpr` command line: one sub-command per job.

Each area registers its commands from its own module (`deepexpr.cli.<area>`), so the
parser is assembled here and the heavy imports happen only inside the handlers.
Grouped commands (`train X`, `evaluate X`) share one parent parser.

    deepexpr characters render --out data/chars
    deepexpr train character --data data/chars
    deepexpr retrieve photo.jpg --index chars.idx
"""

from __future__ import annotations

import argparse
import importlib
import sys

from deepexpr.errors import DeepExprError

# Modules that add commands; each defines `register(commands, groups)`.
COMMAND_MODULES = ("characters", "perception", "training", "retrieval", "hagan", "sequences", "demo",
                   "data")
GROUPS = {
    "train": "train a model (human, character, transfer, hagan, sequences)",
    "evaluate": "evaluate models and reproduce the papers' tables",
}


def build_parser() -> argparse.ArgumentParser:
    """The full parser: top-level commands plus the `train` and `evaluate` groups."""
    from deepexpr import __version__

    parser = argparse.ArgumentParser(
        prog="deepexpr",
        description="Facial expressions of people and stylized characters.",
    )
    parser.add_argument("--version", action="version", version=f"deepexpr {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    groups = {}
    for name, help_text in GROUPS.items():
        group = commands.add_parser(name, help=help_text)
        groups[name] = group.add_subparsers(dest=f"{name}_command", metavar="WHAT")
        group.set_defaults(func=_group_usage(group))
    for module in COMMAND_MODULES:
        try:
            mod = importlib.import_module(f"deepexpr.cli.{module}")
        except ModuleNotFoundError as err:  # an area not built yet must not break the rest
            if err.name == f"deepexpr.cli.{module}":
                continue
            raise
        mod.register(commands, groups)
    return parser


def _group_usage(group_parser):
    def show(_args) -> int:
        group_parser.print_help(sys.stderr)
        return 2

    return show


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 1 some items failed, 2 usage/input error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except DeepExprError as err:
        print(f"deepexpr: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("deepexpr: interrupted; finished outputs are kept, partial ones were not written",
              file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
