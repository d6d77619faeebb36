"""`deepexpr demo [PHOTO...] --out DIR`: the README's main job, end to end.

1. Load the default models (the human one prepared by `deepexpr setup`; without it the
   demo says to run it: only `setup` touches the network).
2. Build — or reuse from the cache — the default character index
   (`deepexpr.retrieval.default_index`: the built-in characters rendered by the project's
   renderer, embedded with the default character model, cached and keyed by the render
   settings and the character model's weights hash; the studio uses the same file).
3. Write a real photo, `skimage.data.astronaut()`, to DIR/astronaut.png.
4. For it and every photo given: every face -> perceived expression -> per-character top
   matches; writes DIR/<stem>_retrieval.json and DIR/<stem>_retrieval.png.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from deepexpr.cli.options import add_options, add_shared, config_from_args
from deepexpr.cli.outputs import declare_outputs
from deepexpr.errors import check_settings, setting


@dataclass
class DemoConfig:
    """Settings of the main job."""

    characters: str = setting("all", "characters of the default index (all: the built-ins)")
    per_expression: int = setting(40, "rendered frames per character and expression", min=1, max=10_000)
    size: int = setting(128, "rendered character image size", min=32, max=1024)
    seed: int = setting(0, "frame sampling seed")
    workers: int = setting(2, "render worker processes", min=1, max=64)
    top: int = setting(3, "matches per character", min=1, max=1000)
    rebuild: bool = setting(False, "rebuild the cached default index")
    character_model: str | None = setting(None, "character model: a bundled name, checkpoint or run folder "
                                          "(default: bundled)")

    def __post_init__(self):
        check_settings(self)


def register(commands, groups) -> None:
    p = commands.add_parser("demo", help="the main job: retrieve character expressions for photos")
    p.add_argument("photos", nargs="*", metavar="PHOTO", help="extra photos (the astronaut is always done)")
    add_shared(p, out="out")
    add_options(p, DemoConfig)
    declare_outputs(p, out="folder")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    from deepexpr.cli.perception import recognizer_model

    cfg = config_from_args(DemoConfig, args, character_model=recognizer_model(args.character_model,
                                                                              "--character-model"))
    return run_demo(args.photos, args.out, cfg)


def ensure_models(character_model: str | None = None):
    """(human recognizer, character recognizer). Only `deepexpr setup` touches the network:
    a missing or damaged human model is an error that says to run it."""
    from deepexpr.retrieval.embed import load_recognizer_for

    return load_recognizer_for("human"), load_recognizer_for("character", character_model)


def write_astronaut(out: Path) -> Path:
    """skimage's astronaut photo (a real, smiling face) as out/astronaut.png."""
    from skimage import data

    from deepexpr.io import save_image

    path = out / "astronaut.png"
    save_image(path, data.astronaut())
    return path


def retrieve_photo(photo: Path, human, index, cfg: DemoConfig, out: Path) -> dict:
    """Retrieve for every face of one photo; write <stem>_retrieval.json/.png; return timings."""
    import time

    from deepexpr.io import write_json
    from deepexpr.retrieval.embed import embed_human_photo
    from deepexpr.retrieval.search import SearchConfig, search
    from deepexpr.retrieval.sheet import write_sheet

    t0 = time.perf_counter()
    queries = embed_human_photo(photo, human)
    search_cfg = SearchConfig(top=cfg.top, per_character=True)
    results = [search(q, index, search_cfg) for q in queries]
    t1 = time.perf_counter()
    stem = out / f"{photo.stem}_retrieval"
    write_json(stem.with_suffix(".json"), {"photo": str(photo), "settings": vars(search_cfg),
                                           "index": index.data, "model": index.model,
                                           "queries": [r.to_dict() for r in results]})
    write_sheet(results, stem.with_suffix(".png"), top=cfg.top)
    for r in results:
        best = ", ".join(f"{c}: {ms[0].label}" for c, ms in list(r.by_character.items())[:4])
        print(f"{photo.name} face {r.query.face + 1}: perceived {r.matched_label}; best matches {best} ...")
    print(f"wrote {stem}.png and {stem}.json ({len(results)} face(s), {1000 * (t1 - t0):.0f} ms photo->matches)")
    return {"faces": len(results), "ms": 1000 * (t1 - t0)}


def run_demo(photos: list, out: str | Path, cfg: DemoConfig | None = None) -> int:
    """The main job; returns the exit code (1 when some photos failed)."""
    from deepexpr.errors import InputError

    cfg = cfg or DemoConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    human, character = ensure_models(cfg.character_model)
    from deepexpr.retrieval.default_index import default_index

    index, path = default_index(character, cfg.characters, cfg.per_expression, cfg.size, cfg.seed,
                                cfg.workers, cfg.rebuild)
    print(f"default character index: {path} ({len(index)} images, {len(set(index.characters))} characters)")
    failed = 0
    for photo in [write_astronaut(out), *map(Path, photos)]:
        try:
            retrieve_photo(photo, human, index, cfg, out)
        except InputError as err:
            print(f"deepexpr: error: {err}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0
