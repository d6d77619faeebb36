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
import os
import sys
import traceback
from pathlib import Path

from deepexpr.cli.options import Parser
from deepexpr.errors import DeepExprError

# Modules that add commands; each defines `register(commands, groups)`.
COMMAND_MODULES = ("characters", "perception", "training", "retrieval", "hagan", "sequences", "demo",
                   "stylized", "retarget", "serve", "data", "geometry_head")
GROUPS = {
    "train": "train a model (human, character, transfer, hagan, sequences)",
    "evaluate": "evaluate models and reproduce the papers' tables",
}


def build_parser() -> argparse.ArgumentParser:
    """The full parser: top-level commands plus the `train` and `evaluate` groups."""
    from deepexpr.version import __version__

    parser = Parser(
        prog="deepexpr",
        description="Facial expressions of people and stylized characters.",
    )
    parser.add_argument("--version", action="version", version=f"deepexpr {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of an unexpected error")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    groups = {}
    for name, help_text in GROUPS.items():
        group = commands.add_parser(name, help=help_text)
        groups[name] = group.add_subparsers(dest=f"{name}_command", metavar="WHAT")
        group.set_defaults(func=_group_usage(group))
    for module in COMMAND_MODULES:  # a broken module fails loudly here, never drops a command
        importlib.import_module(f"deepexpr.cli.{module}").register(commands, groups)
    return parser


def _group_usage(group_parser):
    def show(_args) -> int:
        group_parser.print_help(sys.stderr)
        return 2

    return show


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code.

    0 ok; 1 a data error or some items of a batch failed; 2 a usage error (bad option or
    input file); 130 interrupted. Expected failures (`DeepExprError`, OS errors) print one
    line; anything else prints one line and the hint to rerun with `--debug`.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        from deepexpr.cli.outputs import check_outputs

        check_outputs(args)  # wrong kind of --out, an earlier run: refused before any work
        return int(args.func(args) or 0)
    except DeepExprError as err:
        if args.debug:
            traceback.print_exc()
        print(f"deepexpr: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("deepexpr: interrupted; finished outputs are kept, partial ones were not written",
              file=sys.stderr)
        return 130
    except BrokenPipeError:  # `deepexpr ... | head`: the reader left, nothing to report
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - Python flushes stdout at exit
        return 1
    except UnicodeDecodeError as err:  # a binary file where text was expected (a reader missed it)
        if args.debug:
            traceback.print_exc()
        print(f"deepexpr: error: an input file is not UTF-8 text ({err}); check the files you passed",
              file=sys.stderr)
        return 2
    except OSError as err:  # read-only, disk full, a path under a file: name the path
        if args.debug:
            traceback.print_exc()
        print(f"deepexpr: error: {_os_error_line(err)}", file=sys.stderr)
        return 1
    except Exception as err:  # noqa: BLE001 - the one place that turns a bug into one line
        if args.debug:
            traceback.print_exc()
            return 1
        where = traceback.extract_tb(err.__traceback__)[-1]
        print(f"deepexpr: unexpected error: {type(err).__name__}: {err} "
              f"(at {Path(where.filename).name}:{where.lineno}); rerun with --debug for the traceback",
              file=sys.stderr)
        return 1


def _os_error_line(err: OSError) -> str:
    """`PATH: reason` of an OS error (the reason without errno noise)."""
    reason = err.strerror or str(err)
    path = err.filename if err.filename is not None else ""
    if err.filename2 is not None:
        path = f"{path} -> {err.filename2}"
    return f"{path}: {reason}" if path else reason


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
