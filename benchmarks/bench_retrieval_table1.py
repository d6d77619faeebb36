"""The paper's Table 1 on project data: Eq. 6 per expression, geometry vs DeepExpr vs combined.

Index: the built-in characters (the demo's default index). Queries: characters held out of
the index — by default random characters (`--characters random:4 --seed 11`) that neither
the index nor the character model has seen, rendered into the cache; with `--loco`, each
built-in character queried against the index of the other eight.

    python benchmarks/bench_retrieval_table1.py [--loco] [--methods evidence,weighted,softmax,relu]
"""

from __future__ import annotations

import argparse
import os

from deepexpr.cli import main as cli


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--loco", action="store_true", help="leave-one-character-out within the built-ins")
    ap.add_argument("--methods", default="evidence,weighted,softmax,relu")
    ap.add_argument("--out", default="out/bench_table1")
    ap.add_argument("--max-queries", type=int, default=None)
    ap.add_argument("--model", default=None, help="character model checkpoint (default: the bundled one)")
    args = ap.parse_args()

    from deepexpr.io import cache_dir
    from deepexpr.retrieval.default_index import default_index
    from deepexpr.retrieval.embed import load_recognizer_for
    from deepexpr.retrieval.evaluate import evaluate_retrieval, write_report
    from deepexpr.retrieval.index import build_index

    print(f"load average: {os.getloadavg()[0]:.2f} (2 cores shared)")
    character = load_recognizer_for("character", args.model)
    print(f"character model: {getattr(character, 'path', '') or getattr(character, 'name', '')}")
    index, path = default_index(character)
    if args.loco:
        queries, setting = index, "each built-in character vs the other 8 (--exclude-same-character)"
    else:
        from deepexpr.characters.export import RENDERER_VERSION

        data = cache_dir() / "data" / f"heldout-random4-s11-20x128-r{RENDERER_VERSION}"
        if not (data / "manifest.json").is_file():
            cli(["characters", "render", "--out", str(data), "--characters", "random:4", "--seed", "11",
                 "--per-expression", "20", "--size", "128"])
        queries, _ = build_index(data, character, show_progress=False)
        setting = "4 random unseen characters (seed 11) vs the 9 built-ins"
    methods = args.methods.split(",")
    table = evaluate_retrieval(queries, index, methods=methods, exclude_same_character=args.loco,
                               max_queries=args.max_queries)
    import numpy as np

    acc = float(np.mean(queries.probs.argmax(1) == queries.labels))
    print(f"setting: {setting}; {table['queries']} queries (model accuracy on them {acc:.1%}), "
          f"index {len(index)} rows ({path.name})")
    print(write_report(table, args.out))


if __name__ == "__main__":
    main()
