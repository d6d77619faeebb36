"""The paper's retrieval evaluation (sec. 5.2): Table 1 and rank agreement with people.

`evaluate_retrieval` scores a labelled query set against a labelled index with Eq. 6 for
geometry only, DeepExpr features only (one column per distribution choice) and the combined
ranking (JS retrieval + geometric re-ordering within the matched label). Per expression the
score is the mean over the queries of that expression.

Note on "combined": its re-ordering happens inside one label, which Eq. 6 cannot see, so
its score differs from DeepExpr-only only through the matched-label grouping (it is 0 for
every query whose perceived label is right).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from deepexpr.errors import InputError
from deepexpr.evaluation.retrieval_metrics import (
    best_rank_agreement,
    order_agreement,
    retrieval_scores,
)
from deepexpr.expressions import EXPRESSIONS
from deepexpr.retrieval.distributions import to_distribution
from deepexpr.retrieval.geometry import geometric_distance
from deepexpr.retrieval.index import RetrievalIndex
from deepexpr.retrieval.js import js_distance_matrix


def balanced_subset(labels: np.ndarray, max_queries: int | None, seed: int = 0) -> np.ndarray:
    """Row indices: at most max_queries/7 per label (all rows when max_queries is None)."""
    rows = np.arange(len(labels))
    if max_queries is None or max_queries >= len(labels):
        return rows
    rng = np.random.default_rng(seed)
    per = max(1, max_queries // len(EXPRESSIONS))
    keep = [rng.permutation(rows[labels == c])[:per] for c in range(len(EXPRESSIONS))]
    return np.sort(np.concatenate(keep))


def evaluate_retrieval(queries: RetrievalIndex, index: RetrievalIndex, methods=("evidence", "softmax"),
                       exclude_same_character: bool = False, alpha: float = 1.0, beta: float = 0.05,
                       max_queries: int | None = None) -> dict:
    """Eq. 6 scores per query for each ranking; returns a table dict.

    Returns:
        {"columns": [...], "labels": (Q,) query labels, "scores": {column: (Q,) scores},
         "per_expression": {column: {expression: mean score}}, "queries": Q, "index": N}
    """
    rows = balanced_subset(queries.labels, max_queries)
    rows = rows[queries.labels[rows] >= 0]
    if len(rows) == 0:
        raise InputError("query set has no labelled images; label them by folder (FERG-DB or <class>/ layout)")
    ql, il = queries.labels[rows], index.labels
    valid = None
    if exclude_same_character:
        qc = np.array([queries.characters[i] for i in rows])
        valid = qc[:, None] != np.array(index.characters)[None, :]
    scores: dict[str, np.ndarray] = {}
    geo = _geometry_matrix(queries, index, rows)
    if geo is not None:
        scores["geometry"] = retrieval_scores(geo, ql, il, valid)
    matched = queries.probs[rows].argmax(1)
    for method in methods:
        js = _js_matrix(queries, index, rows, method)
        scores[f"deepexpr[{method}]"] = retrieval_scores(js, ql, il, valid)
        in_group = il[None, :] == matched[:, None]
        phi = alpha * js + (beta * np.where(np.isfinite(geo), geo, 1e3) if geo is not None else 0.0)
        combined = np.where(in_group, phi, 1e6 + js)
        scores[f"combined[{method}]"] = retrieval_scores(combined, ql, il, valid)
    per_expr = {col: {e: float(np.nanmean(s[ql == c])) if (ql == c).any() else float("nan")
                      for c, e in enumerate(EXPRESSIONS)} for col, s in scores.items()}
    for col in per_expr:
        per_expr[col]["average"] = float(np.nanmean([per_expr[col][e] for e in EXPRESSIONS]))
    return {"columns": list(scores), "labels": ql, "scores": scores, "per_expression": per_expr,
            "queries": len(rows), "index": len(index), "exclude_same_character": exclude_same_character}


def _js_matrix(queries, index, rows, method) -> np.ndarray:
    if method != "softmax" and queries.features.shape[1] != index.features.shape[1]:
        raise InputError(f"distribution {method!r}: query features are {queries.features.shape[1]}-d, "
                         f"index features {index.features.shape[1]}-d; use --methods softmax")
    qd = to_distribution(queries.features[rows], queries.probs[rows], queries.classifier_weight, method)
    return js_distance_matrix(qd, index.js_terms(method))


def _geometry_matrix(queries, index, rows) -> np.ndarray | None:
    if not np.isfinite(index.geometry).all(1).any():
        return None
    scale = index.geometry_scale()
    out = np.full((len(rows), len(index)), np.inf, dtype=np.float32)
    for k, i in enumerate(rows):
        g = queries.geometry[i]
        if np.isfinite(g).all():
            out[k] = geometric_distance(g, index.geometry, scale)
    return out


def markdown_table(table: dict) -> str:
    """Table 1 as Markdown: one row per expression (+ average), one column per ranking."""
    cols = table["columns"]
    lines = ["| expression | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for e in (*EXPRESSIONS, "average"):
        vals = [table["per_expression"][c][e] for c in cols]
        lines.append(f"| {e} | " + " | ".join(f"{v:.3f}" for v in vals) + " |")
    return "\n".join(lines)


def write_report(table: dict, out_dir: str | Path) -> str:
    """Write retrieval_scores.csv and retrieval_scores.png under out_dir; return the Markdown."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from deepexpr.io import atomic_path

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cols = table["columns"]
    with atomic_path(out_dir / "retrieval_scores.csv") as tmp, open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["expression", *cols])
        for e in (*EXPRESSIONS, "average"):
            w.writerow([e, *(f"{table['per_expression'][c][e]:.4f}" for c in cols)])
    fig, ax = plt.subplots(figsize=(9, 3.6))
    width = 0.8 / len(cols)
    x = np.arange(len(EXPRESSIONS))
    for k, c in enumerate(cols):
        ax.bar(x + k * width, [table["per_expression"][c][e] for e in EXPRESSIONS], width, label=c)
    ax.set_xticks(x + 0.4 - width / 2, EXPRESSIONS)
    ax.set_ylabel("retrieval score (Eq. 6, lower is better)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    with atomic_path(out_dir / "retrieval_scores.png") as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return markdown_table(table)


# ----------------------------------------------------------------------------- rankings

def read_rankings(path: str | Path) -> dict:
    """CSV rows `query,ranker,candidate_1,...` -> {query: {ranker: [candidates best first]}}.

    A header row whose first cell is "query" is skipped; empty trailing cells are ignored.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: rankings file not found; write rows query,ranker,candidate_1,...")
    out: dict[str, dict[str, list[str]]] = {}
    with open(path, newline="") as f:
        for n, row in enumerate(csv.reader(f), start=1):
            row = [c.strip() for c in row]
            if not row or not any(row) or (n == 1 and row[0].lower() == "query"):
                continue
            if len(row) < 4:
                raise InputError(f"{path}: line {n} has {len(row)} cells; need query,ranker and ≥2 candidates")
            out.setdefault(row[0], {})[row[1]] = [c for c in row[2:] if c]
    if not out:
        raise InputError(f"{path}: no rankings found")
    return out


def evaluate_rankings(rankings: dict, system: str = "deepexpr") -> tuple[str, list]:
    """Spearman ρ / Kendall τ of the system's order against every other ranker, per query.

    Returns:
        (summary text with mean ± std and best-rank agreement per reference ranker,
         rows [query, reference, rho, tau, same_best])
    """
    rows, per_ref = [], {}
    for query, by_ranker in rankings.items():
        if system not in by_ranker:
            raise InputError(f"query {query!r}: no ranking by {system!r} (rankers: {', '.join(by_ranker)})")
        sys_order = by_ranker[system]
        for ref, order in by_ranker.items():
            if ref == system:
                continue
            try:
                rho, tau = order_agreement(order, sys_order)
            except ValueError as err:
                raise InputError(f"query {query!r}: {ref} and {system} rank different candidates") from err
            rows.append([query, ref, rho, tau, order[0] == sys_order[0]])
            per_ref.setdefault(ref, {"rho": [], "tau": [], "ref": [], "sys": []})
            for key, value in (("rho", rho), ("tau", tau), ("ref", order), ("sys", sys_order)):
                per_ref[ref][key].append(value)
    lines = ["| reference | queries | Spearman ρ (mean ± std) | Kendall τ (mean ± std) | same best | best-rank score |",
             "|---|---|---|---|---|---|"]
    for ref, d in per_ref.items():
        best = best_rank_agreement(d["ref"], d["sys"])
        lines.append(f"| {ref} | {len(d['rho'])} | {np.nanmean(d['rho']):.3f} ± {np.nanstd(d['rho']):.3f} | "
                     f"{np.nanmean(d['tau']):.3f} ± {np.nanstd(d['tau']):.3f} | {best['top1']:.3f} | "
                     f"{best['best_rank_score']:.3f} |")
    return "\n".join(lines), rows


def add_system_rankings(rankings: dict, index: RetrievalIndex, embed, cfg, system: str = "deepexpr",
                        base: Path | None = None) -> int:
    """Fill in the system's order of each query's candidates by ranking them in `index`.

    Args:
        rankings: from `read_rankings`; queries already ranked by `system` are kept.
        index: an index holding the candidates (matched by path, path relative to the
            index's data root, or file name).
        embed: callable path -> list of query `Embedding`s (the first face is used).
        cfg: the `SearchConfig` of the ranking.
        base: folder that relative query paths are relative to (the CSV's folder).

    Returns:
        How many queries were ranked.
    """
    from deepexpr.retrieval.search import rank

    lookup: dict[str, int] = {}
    for row, rel in enumerate(index.paths):
        for key in (index.absolute_path(row), rel, Path(rel).name):
            lookup.setdefault(str(key), row)
    done = 0
    for query, by_ranker in rankings.items():
        if system in by_ranker:
            continue
        candidates = next(iter(by_ranker.values()))
        missing = [c for c in candidates if c not in lookup]
        if missing:
            raise InputError(f"query {query!r}: candidates not in the index: {', '.join(missing[:3])}")
        qpath = Path(query) if Path(query).is_absolute() or base is None else base / query
        order, _ = rank(embed(str(qpath))[0], index, cfg)
        position = np.empty(len(order), dtype=np.int64)
        position[order] = np.arange(len(order))
        by_ranker[system] = sorted(candidates, key=lambda c: position[lookup[c]])
        done += 1
    return done
