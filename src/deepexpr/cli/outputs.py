"""Checks of a command's outputs before it starts: nothing of the user's is lost or mixed.

A command declares what its output options name with `declare_outputs(parser, out="folder",
json_out="file", run_files=(...))`; `check_outputs(args)` (called by `deepexpr.cli.main`
before the handler) then refuses, with one line and before any work:

- an output folder that exists as a file, an output file that exists as a folder, or a path
  under an existing file;
- a run folder that already holds a run (`run_files` globs, e.g. `summary.json`) when neither
  `--resume` nor `--overwrite` is given: a finished run is never replaced by accident.
"""

from __future__ import annotations

from pathlib import Path

from deepexpr.errors import InputError

OVERWRITE_HELP = "replace what an earlier run left in --out (default: refuse; --resume continues it)"


def declare_outputs(parser, run_files=(), overwrite: bool = False, **kinds: str) -> None:
    """Record which options name outputs (`dest="folder"|"file"`) and, for a trainer, the files
    that mark a run in its --out (globs, or a function of the parsed args giving them);
    `overwrite=True` also adds the `--overwrite` switch."""
    parser.set_defaults(output_kinds=kinds, run_files=run_files if callable(run_files) else tuple(run_files))
    if overwrite:
        parser.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)


def _option(dest: str) -> str:
    return "--json" if dest == "json_out" else "--" + dest.replace("_", "-")


def check_path_kind(path: str | Path, kind: str, option: str = "--out") -> None:
    """Refuse `path` when it exists as the other kind or lies under an existing file."""
    path = Path(path)
    if kind == "folder" and path.exists() and not path.is_dir():
        raise InputError(f"{option} {path}: exists and is a file, not a folder; choose another {option}")
    if kind == "file" and path.is_dir():
        raise InputError(f"{option} {path}: is a folder; pass a file name (e.g. {path / 'out'}{path.suffix or ''})")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"{option} {path}: {parent} is a file, so nothing can be written under it; "
                                 f"choose another {option}")
            break


def check_outputs(args) -> None:
    """Run the declared checks on parsed `args` (no-op for commands that declared nothing)."""
    for dest, kind in (getattr(args, "output_kinds", None) or {}).items():
        value = getattr(args, dest, None)
        if value:
            check_path_kind(value, kind, _option(dest))
    run_files = getattr(args, "run_files", ())
    run_files = run_files(args) if callable(run_files) else run_files
    out = getattr(args, "out", None)
    if not run_files or not out or getattr(args, "resume", False) or getattr(args, "overwrite", False):
        return
    found = [p for pattern in run_files for p in sorted(Path(out).glob(pattern))]
    if found:
        raise InputError(f"--out {out}: holds an earlier run ({found[0].name}); pass --resume to continue it, "
                         "--overwrite to replace it, or another --out")
