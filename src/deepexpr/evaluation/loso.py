"""Leave-one-source-out folds: how well a model reads an art style it never saw.

A *source* is one DiceBear avatar style (its images carry the style name as their
character, see `deepexpr.data.avatars`), one group of icon sets (`icons-a`, `icons-b`,
`icons-c`, see `deepexpr.data.icons`), or "procedural" for every character the project
draws itself (built-in and random ones). Each source is held out in turn: the
fold trains on all other sources and tests on the held-out one.
"""

from __future__ import annotations

import numpy as np

from deepexpr.data.avatar_labels import STYLES
from deepexpr.data.icons import GROUPS as ICON_GROUPS
from deepexpr.errors import InputError

PROCEDURAL = "procedural"


def source_of(group) -> str:
    """The source of an image's character name: its avatar style or icon group, else
    "procedural"."""
    name = str(group)
    return name if name in STYLES or name in ICON_GROUPS else PROCEDURAL


def loso_folds(groups, test_sources=None) -> list[tuple[str, np.ndarray]]:
    """(fold name "loso_<source>", test indices) per held-out source.

    Args:
        groups: (N,) character names of the images.
        test_sources: sources to hold out (default: every source present).

    Raises:
        InputError: fewer than two sources, or an unknown test source.
    """
    sources = np.array([source_of(g) for g in groups])
    present = sorted(set(sources.tolist()))
    if len(present) < 2:
        raise InputError(f"leave-one-source-out needs at least two sources; the data has "
                         f"{', '.join(present) or 'none'} (add avatar styles: `deepexpr data avatars`)")
    wanted = present if not test_sources else list(test_sources)
    unknown = [s for s in wanted if s not in present]
    if unknown:
        raise InputError(f"sources {', '.join(unknown)} not in the data; present: {', '.join(present)}")
    return [(f"loso_{s}", np.flatnonzero(sources == s)) for s in wanted]
