"""Progress bars that stay quiet when asked (tests, `--quiet`) and in CI logs."""

from __future__ import annotations

import os
import sys


def progress(iterable=None, total=None, desc: str = "", disable: bool | None = None, **kw):
    """A tqdm bar on stderr; disabled when stderr is not a terminal and DEEPEXPR_PROGRESS!=1."""
    from tqdm.auto import tqdm

    if disable is None:
        forced = os.environ.get("DEEPEXPR_PROGRESS")
        disable = (forced == "0") or (forced != "1" and not sys.stderr.isatty())
    return tqdm(iterable, total=total, desc=desc, disable=disable, dynamic_ncols=True, **kw)
