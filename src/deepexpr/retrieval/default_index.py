"""The default character index: the built-in characters rendered by the project's renderer
(FERG-DB layout, rig landmarks) and embedded with a character model, cached under
`deepexpr.io.cache_dir()` and keyed by the render settings, the renderer version and the
character model's weights hash. `deepexpr demo`, `retrieve` without `--index` and the web
studio share it (one file per settings and model).

    >>> index, path = default_index(load_recognizer_for("character"))
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _say(line: str) -> None:
    print(f"deepexpr: {line}", file=sys.stderr, flush=True)


def default_index(character_model, characters: str = "all", per_expression: int = 40, size: int = 128,
                  seed: int = 0, workers: int = 1, rebuild: bool = False, say=_say):
    """The cached default character index (rendered and embedded when missing or stale).

    Args:
        character_model: the character recognizer that embeds the images.
        characters: characters to render ("all": the built-ins; see `render_dataset`).
        per_expression: rendered frames per character and expression.
        size: rendered image side in pixels.
        seed: frame sampling seed.
        workers: render processes.
        rebuild: embed again even when a cached index exists.
        say: where progress lines go (one string per call).

    Returns:
        (RetrievalIndex, path of the index file).
    """
    from deepexpr.characters.export import RENDERER_VERSION, render_dataset
    from deepexpr.errors import InputError
    from deepexpr.io import cache_dir
    from deepexpr.retrieval.index import build_index, load_index, model_identity, save_index

    ident = model_identity(character_model, "character")
    tag = f"{characters.replace(':', '').replace(',', '-')}-{per_expression}x{size}-s{seed}-r{RENDERER_VERSION}"
    data = cache_dir() / "data" / f"characters-{tag}"
    path = cache_dir() / "indexes" / f"characters-{tag}-{ident['sha256'][:12] or 'nohash'}.safetensors"
    previous = None
    if path.is_file() and not rebuild:
        try:
            index = load_index(path, expect_model=ident)
            if (data / "manifest.json").is_file():
                return index, path
            previous = index
        except InputError as err:
            say(f"rebuilding the default index ({err})")
    if not _complete(data):
        say(f"rendering the default characters into {data}")
        render_dataset(data, characters, per_expression, size, seed, workers)
    say(f"embedding the default characters into {path}")
    index, _report = build_index(data, character_model, domain="character", previous=previous)
    save_index(index, path)
    return index, path


def _complete(data: Path) -> bool:
    """A rendered data set whose manifest says it finished."""
    try:
        return bool(json.loads((data / "manifest.json").read_text()).get("complete", True))
    except (OSError, ValueError):
        return False
