"""`deepexpr index build|info`, `deepexpr retrieve`, `deepexpr evaluate retrieval|ranking`."""

from __future__ import annotations

import sys

from deepexpr.cli.options import add_function_options, add_options, check_range, config_from_args
from deepexpr.cli.outputs import declare_outputs
from deepexpr.cli.perception import recognizer_model

SEARCH_CONFIG = "deepexpr.retrieval.search:SearchConfig"

RETRIEVE_EXAMPLES = """examples:
  deepexpr index build --data data/chars --out chars.idx.safetensors
  deepexpr retrieve photo.jpg --index chars.idx.safetensors --per-character --top 3 --sheet out.png
  deepexpr retrieve char.png --index humans.idx.safetensors --query-domain character
"""


def register(commands, groups) -> None:
    _register_index(commands)
    r = commands.add_parser("retrieve", help="character expressions that read like a face",
                            epilog=RETRIEVE_EXAMPLES)
    r.add_argument("paths", nargs="+", metavar="PATH", help="photo(s), character image(s) or embeddings (.npz/.json)")
    r.add_argument("--index", default=None, help="index file from `deepexpr index build` (default: the "
                   "cached default character index of `deepexpr demo`, built on first use)")
    add_search_args(r)
    r.add_argument("--format", choices=("table", "json"), default="table", help="what to print")
    r.add_argument("--json", dest="json_out", default=None, help="also write the JSON result to this file")
    r.add_argument("--sheet", default=None, help="contact sheet to write (.png or .html)")
    _query_model(r, "human")
    r.add_argument("--index-model", default=None,
                   help="model the index was built with (checked against the index)")
    declare_outputs(r, json_out="file", sheet="file")
    r.set_defaults(func=cmd_retrieve)
    _register_evaluate(groups["evaluate"])


def _register_index(commands) -> None:
    index = commands.add_parser("index", help="build or inspect a retrieval index")
    isub = index.add_subparsers(dest="index_command", metavar="WHAT")
    index.set_defaults(func=lambda _a: (index.print_help(sys.stderr), 2)[1])
    b = isub.add_parser("build", help="embed a labelled image folder into an index file")
    b.add_argument("--data", required=True, help="image folder (FERG-DB layout or <class>/ folders)")
    b.add_argument("--out", required=True, help="index file to write (.safetensors)")
    b.add_argument("--model", default=None, help=MODEL_HELP)
    b.add_argument("--domain", choices=("character", "human"), default="character",
                   help="character: whole images, character model; human: largest face, human model")
    add_function_options(b, "deepexpr.retrieval.index:build_index", ("batch_size",))
    b.add_argument("--rebuild", action="store_true", help="ignore an existing --out (default: incremental)")
    declare_outputs(b, overwrite=True, out="file")
    b.set_defaults(func=cmd_index_build)
    i = isub.add_parser("info", help="print what an index holds and how it was built")
    i.add_argument("index")
    i.set_defaults(func=cmd_index_info)


def _register_evaluate(evaluate) -> None:
    e = evaluate.add_parser("retrieval", help="Table 1: Eq. 6 retrieval score per expression")
    e.add_argument("--index", required=True, help="labelled index to search")
    e.add_argument("--queries", required=True, help="labelled query set: an index file or an image folder")
    _query_model(e, "character")
    e.add_argument("--methods", default="evidence,softmax,relu",
                   help="distribution choices to compare (comma-separated)")
    e.add_argument("--exclude-same-character", action="store_true",
                   help="leave the query's own character out of the index (held-out characters)")
    add_options(e, SEARCH_CONFIG, only=("alpha", "beta"))
    e.add_argument("--max-queries", type=int, default=None, help="evaluate a class-balanced subset")
    e.add_argument("--out", default="out/eval_retrieval", help="folder for the CSV and the plot")
    declare_outputs(e, out="folder")
    e.set_defaults(func=cmd_evaluate_retrieval)

    k = evaluate.add_parser("ranking", help="Spearman/Kendall agreement with reference rankings")
    k.add_argument("--rankings", required=True,
                   help="CSV rows: query,ranker,candidate_1,...,candidate_n (best first)")
    k.add_argument("--system", default="deepexpr", help="the ranker name of the system's rows")
    k.add_argument("--out", default=None, help="write per-query results to this CSV")
    k.add_argument("--index", default=None,
                   help="rank each query's candidates with DeepExpr in this index (queries = image paths)")
    _query_model(k, "human")
    add_search_args(k)
    declare_outputs(k, out="file")
    k.set_defaults(func=cmd_evaluate_ranking)


MODEL_HELP = "a model name, checkpoint or run folder (default: the domain's)"


def _query_model(p, domain: str) -> None:
    p.add_argument("--query-domain", choices=("human", "character"), default=domain,
                   help="which model embeds the query images")
    p.add_argument("--model", default=None, help="query model: " + MODEL_HELP)


def add_search_args(p) -> None:
    add_options(p, SEARCH_CONFIG)


# ----------------------------------------------------------------------------- index

def cmd_index_build(args) -> int:

    from deepexpr.retrieval.embed import load_recognizer_for
    from deepexpr.retrieval.index import build_index, save_index

    check_range("--batch-size", args.batch_size)
    recognizer = load_recognizer_for(args.domain, recognizer_model(args.model))
    previous = existing_index(args.out, args.data, args.domain, args.overwrite)
    if args.rebuild:
        previous = None
    index, report = build_index(args.data, recognizer, domain=args.domain, previous=previous,
                                batch_size=args.batch_size)
    save_index(index, args.out)
    for path, reason in report.failed:
        print(f"deepexpr: skipped {path}: {reason}", file=sys.stderr)
    rate = report.embedded / report.seconds if report.seconds > 0 else float("nan")
    print(f"{args.out}: {len(index)} images ({report.embedded} embedded at {rate:.0f} img/s, "
          f"{report.reused} reused, {report.removed} dropped, {len(report.failed)} skipped); "
          f"model {index.model.get('name')} sha256 {index.model.get('sha256', '')[:12]}")
    from collections import Counter

    from deepexpr.retrieval.index import geometry_sources

    sources = Counter(geometry_sources(index))
    print("geometry: " + ", ".join(f"{sources[k]} {k}" for k in ("rig", "detected", "none") if sources[k]))
    return 1 if report.failed else 0


def existing_index(out, data, domain: str, overwrite: bool):
    """The index already at `out` to update incrementally (None: none, or --overwrite).

    Raises:
        InputError: `out` is not a readable index, or one of other data or another domain,
            and --overwrite was not given (a file is never replaced by accident).
    """
    from pathlib import Path

    from deepexpr.errors import InputError
    from deepexpr.retrieval.index import load_index

    if not Path(out).exists() or overwrite:
        return None
    try:
        index = load_index(out)
    except InputError as err:
        raise InputError(f"--out {out}: exists and is not a usable index ({err}); pass --overwrite to replace "
                         "it or choose another --out") from err
    root = str(Path(data).resolve())
    if index.domain != domain or index.data.get("root") not in (None, root):
        raise InputError(f"--out {out}: an index of {index.data.get('root')} ({index.domain}), not of {root} "
                         f"({domain}); pass --overwrite to replace it or choose another --out")
    return index


def cmd_index_info(args) -> int:
    import collections
    import json

    from deepexpr.expressions import EXPRESSIONS
    from deepexpr.retrieval.index import load_index

    index = load_index(args.index)
    labels = collections.Counter(EXPRESSIONS[i] if i >= 0 else "unknown" for i in index.labels)
    info = {"images": len(index), "domain": index.domain, "model": index.model, "data": index.data,
            "feature_dim": int(index.features.shape[1]), "characters": sorted(set(index.characters)),
            "labels": dict(labels), "with_landmarks": int(sum(map(bool, (index.geometry == index.geometry).all(1))))}
    print(json.dumps(info, indent=2))
    return 0


# ----------------------------------------------------------------------------- retrieve

def search_config(args):
    from deepexpr.retrieval.search import SearchConfig

    return config_from_args(SearchConfig, args)


def cmd_retrieve(args) -> int:
    import json
    from pathlib import Path

    from deepexpr.errors import InputError
    from deepexpr.io import write_json
    from deepexpr.retrieval.embed import EMBEDDING_SUFFIXES
    from deepexpr.retrieval.search import search

    cfg = search_config(args)
    index, args.index = _index_for(args)
    retriever = QueryEmbedder(index, args.query_domain, recognizer_model(args.model),
                              recognizer_model(args.index_model, "--index-model"), args.index)
    if not all(Path(p).suffix.lower() in EMBEDDING_SUFFIXES for p in args.paths):
        from deepexpr.retrieval.index import model_identity
        from deepexpr.retrieval.index_schema import check_feature_space

        check_feature_space(index.model, model_identity(retriever.recognizer, args.query_domain),
                            cfg.method, args.index)
    results, failed = [], []
    for path in args.paths:
        try:
            results += [search(q, index, cfg) for q in retriever.embed(path)]
        except InputError as err:
            failed.append((path, str(err)))
            print(f"deepexpr: error: {err}", file=sys.stderr)
    if not results:
        return 2
    payload = {"index": args.index, "settings": vars(cfg), "queries": [r.to_dict() for r in results],
               "failed": [{"path": p, "error": e} for p, e in failed]}
    if args.json_out:
        write_json(args.json_out, payload)
    if args.sheet:
        from deepexpr.retrieval.sheet import write_sheet

        write_sheet(results, args.sheet, top=args.top)
    if args.format == "json":
        print(json.dumps(payload, indent=2, default=_json_default))
    else:
        print(format_table(results))
    return 1 if failed else 0


def _index_for(args):
    """(index, its path): `--index`, or the cached default character index `demo` uses
    (rendered and embedded with the bundled character model on first use)."""
    from deepexpr.retrieval.index import load_index

    if args.index:
        return load_index(args.index), args.index
    from deepexpr.retrieval.default_index import default_index
    from deepexpr.retrieval.embed import load_recognizer_for

    index, path = default_index(load_recognizer_for("character"))
    print(f"deepexpr: using the default character index {path} (pass --index to choose one)", file=sys.stderr)
    return index, str(path)


def _json_default(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


class QueryEmbedder:
    """Embeds query files for one index, loading (and checking) models once."""

    def __init__(self, index, domain: str, model: str | None, index_model: str | None, index_path: str):
        self.index, self.domain, self.model_arg = index, domain, model
        self.index_model, self.index_path = index_model, index_path
        self._recognizer = None

    @property
    def recognizer(self):
        if self._recognizer is None:
            from deepexpr.retrieval.embed import load_recognizer_for
            from deepexpr.retrieval.index import check_model, model_identity

            self._recognizer = load_recognizer_for(self.domain, self.model_arg)
            if self.domain == self.index.domain:
                check_model(self.index, model_identity(self._recognizer, self.domain), self.index_path)
            else:
                self._check_index_model()
        return self._recognizer

    def _check_index_model(self) -> None:
        """The index's own-domain model must be the one it was built with (shared feature space)."""
        from deepexpr.errors import InputError
        from deepexpr.retrieval.embed import load_recognizer_for
        from deepexpr.retrieval.index import check_model, model_identity

        try:
            other = load_recognizer_for(self.index.domain, self.index_model)
        except InputError as err:
            if self.index_model:
                raise
            print(f"deepexpr: note: cannot check which {self.index.domain} model built the index ({err})",
                  file=sys.stderr)
            return
        check_model(self.index, model_identity(other, self.index.domain), self.index_path)

    def embed(self, path: str) -> list:
        from pathlib import Path

        from deepexpr.retrieval.embed import (
            EMBEDDING_SUFFIXES,
            embed_character_image,
            embed_human_photo,
            find_character_landmarks,
            load_embedding,
        )

        if Path(path).suffix.lower() in EMBEDDING_SUFFIXES:
            return [load_embedding(path)]
        if self.domain == "human":
            return embed_human_photo(path, self.recognizer)
        return [embed_character_image(path, self.recognizer, landmarks=find_character_landmarks(path))]


def format_table(results) -> str:
    """Plain-text table of the matches of every query."""
    lines = []
    for r in results:
        q = r.query
        probs = " ".join(f"{n[:3]} {p:.2f}" for n, p in zip(_names(), q.probs))
        unsure = f"?  (low confidence: {q.quality['reason']})" if q.low_confidence else ""
        lines.append(f"{q.source or 'query'} face {q.face + 1}: matched label {r.matched_label}{unsure}  [{probs}]")
        groups = r.by_character or {"(all)": r.matches}
        lines.append(f"  {'character':<12} {'rank':>4}  {'label':<9} {'js':>6} {'geo':>6}  path")
        for char, matches in groups.items():
            for m in matches:
                geo = "-" if m.geometry is None else f"{m.geometry:.2f}"
                lines.append(f"  {char or '-':<12} {m.rank:>4}  {m.label:<9} {m.js:6.3f} {geo:>6}  {m.path}")
    return "\n".join(lines)


def _names():
    from deepexpr.expressions import EXPRESSIONS

    return EXPRESSIONS


# ----------------------------------------------------------------------------- evaluation

def cmd_evaluate_retrieval(args) -> int:
    from pathlib import Path

    from deepexpr.retrieval.evaluate import evaluate_retrieval, write_report
    from deepexpr.retrieval.index import load_index

    check_range("--max-queries", args.max_queries)
    cfg = search_config(args)
    index = load_index(args.index)
    if str(args.queries).endswith(".safetensors") or Path(args.queries).is_file():
        queries = load_index(args.queries)
    else:
        from deepexpr.retrieval.embed import load_recognizer_for
        from deepexpr.retrieval.index import build_index

        queries, report = build_index(args.queries, load_recognizer_for(args.query_domain,
                                                                        recognizer_model(args.model)),
                                      domain=args.query_domain)
        for path, reason in report.failed:
            print(f"deepexpr: skipped {path}: {reason}", file=sys.stderr)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    table = evaluate_retrieval(queries, index, methods=methods, exclude_same_character=args.exclude_same_character,
                               alpha=cfg.alpha, beta=cfg.beta, max_queries=args.max_queries)
    markdown = write_report(table, args.out)
    print(markdown)
    print(f"\nwrote {Path(args.out) / 'retrieval_scores.csv'} and {Path(args.out) / 'retrieval_scores.png'}")
    return 0


def cmd_evaluate_ranking(args) -> int:
    from deepexpr.retrieval.evaluate import evaluate_rankings, read_rankings

    rankings = read_rankings(args.rankings)
    if args.index:
        from pathlib import Path

        from deepexpr.retrieval.evaluate import add_system_rankings
        from deepexpr.retrieval.index import load_index

        index = load_index(args.index)
        embedder = QueryEmbedder(index, args.query_domain, recognizer_model(args.model), None, args.index)
        n = add_system_rankings(rankings, index, embedder.embed, search_config(args), args.system,
                                base=Path(args.rankings).parent)
        print(f"ranked the candidates of {n} queries with {args.system} ({args.index})", file=sys.stderr)
    summary, rows = evaluate_rankings(rankings, system=args.system)
    if args.out:
        import csv

        from deepexpr.io import atomic_path

        with atomic_path(args.out) as tmp, open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["query", "reference", "spearman", "kendall", "same_best"])
            w.writerows(rows)
    print(summary)
    return 0
