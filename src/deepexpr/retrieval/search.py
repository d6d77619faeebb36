"""Ranking an index for a query: JS retrieval, then geometric re-ordering (DeepExpr Eq. 3).

The order (our reading of sec. 3.2, "JS distance as a retrieval parameter and then
geometric distance as a sorting parameter ... re-order the retrieved images within the
matched label"):
  1. Every index row gets its JS distance d_JS to the query (sqrt of the divergence, nats).
  2. The *matched label* is the query's perceived expression: argmax of its class
     probabilities (``label_from="query"``), or the label of its JS-nearest row
     (``label_from="nearest"``).
  3. Rows with the matched label that are among the first `depth` rows by d_JS come first,
     ordered by φ = α·d_JS + β·d_geo (Eq. 3; d_geo = L2 distance of the 9 geometric features,
     each divided by its standard deviation over the index so all nine count alike). All
     other rows follow in d_JS order. Without query geometry, φ = d_JS.
Geometry-only and JS-only rankings (Table 1's columns) are `order_by="geometry"` / `"js"`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from deepexpr.errors import InputError, check_settings, setting
from deepexpr.expressions import EXPRESSIONS
from deepexpr.retrieval.distributions import DEFAULT_METHOD, METHODS, to_distribution
from deepexpr.retrieval.embed import Embedding
from deepexpr.retrieval.geometry import geometric_distance
from deepexpr.retrieval.index import RetrievalIndex
from deepexpr.retrieval.js import js_distance_matrix


@dataclass
class SearchConfig:
    """How to rank (defaults = the main job's)."""

    method: str = setting(DEFAULT_METHOD, "distribution compared by JS (evidence = the paper's FC6 reading)",
                          choices=METHODS, flag="--distribution")
    alpha: float = setting(1.0, "Eq. 3 weight of the JS distance (nats^1/2, range 0..0.83)", min=0)
    beta: float = setting(0.05, "Eq. 3 weight of the geometric distance (index-std units, ~0..10)", min=0)
    top: int = setting(5, "matches per character (or overall)", min=1, max=100_000)
    per_character: bool = setting(False, "top matches of every character")
    label_from: str = setting("query", "matched label: the query's own prediction or its JS-nearest row's "
                              "label", choices=("query", "nearest"))
    depth: int | None = setting(None, "re-order only within the first N rows by JS (default: all)", min=1)
    scale_geometry: bool = setting(True, "divide geometric differences by the index's per-feature std",
                                   cli=False)
    order_by: str = setting("combined", "combined (Eq. 3), js (DeepExpr only) or geometry (only)",
                            choices=("combined", "js", "geometry"), cli=False)
    approximate: int = setting(0, "big indexes: exact JS only for C candidates of a Hellinger IVF first "
                               "stage (0: exact)", min=0)

    def __post_init__(self):
        check_settings(self)


@dataclass
class Match:
    """One retrieved index row."""

    rank: int  # 1-based position in the returned order (per character when per_character)
    row: int  # index row
    path: str  # image file
    character: str
    label: str  # the row's expression label
    js: float  # JS distance to the query
    geometry: float | None  # geometric distance (None when either side has no landmarks)
    phi: float  # Eq. 3 value used for the order within the matched label


@dataclass
class QueryResult:
    """A query, its perceived expression and its ranked matches."""

    query: Embedding
    matched_label: str
    matches: list[Match] = field(default_factory=list)
    by_character: dict[str, list[Match]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        q = self.query
        return {
            "query": {**q.to_dict(with_weight=True), "perceived": EXPRESSIONS[int(np.argmax(q.probs))],
                      "probabilities": dict(zip(EXPRESSIONS, map(float, q.probs)))},
            "matched_label": self.matched_label,
            "matches": [asdict(m) for m in self.matches],
            "by_character": {c: [asdict(m) for m in ms] for c, ms in self.by_character.items()},
        }


def query_distribution(query: Embedding, index: RetrievalIndex, method: str) -> np.ndarray:
    """The query's (K,) distribution, built like the index's rows (checks the feature size)."""
    if method != "softmax":
        if query.features is None:
            raise InputError(f"{query.source or 'query'}: no features for the {method!r} distribution; "
                             "use --distribution softmax")
        if query.features.shape[-1] != index.features.shape[1]:
            raise InputError(
                f"{query.source or 'query'}: {query.features.shape[-1]}-d features but the index holds "
                f"{index.features.shape[1]}-d ones (models without a shared feature space); "
                "use --distribution softmax or a transfer-learned model pair")
    try:
        return to_distribution(query.features, query.probs[None], query.classifier_weight, method)[0]
    except ValueError as err:
        raise InputError(f"{query.source or 'query'}: {err}") from err


def distances(query: Embedding, index: RetrievalIndex, cfg: SearchConfig,
              query_dist: np.ndarray | None = None, rows: np.ndarray | None = None,
              need_js: bool = True) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(N,) JS distances and (N,) geometric distances (None when not computed).

    With `rows`, geometric distances are computed for those rows only (NaN elsewhere).
    """
    js = None
    if need_js:
        qd = query_dist if query_dist is not None else query_distribution(query, index, cfg.method)
        js = js_distance_matrix(qd, index.js_terms(cfg.method))
    return js, geometry_distances(query, index, cfg, rows)


def geometry_distances(query: Embedding, index: RetrievalIndex, cfg: SearchConfig,
                       rows: np.ndarray | None = None) -> np.ndarray | None:
    """(N,) geometric distances to the query (NaN outside `rows`); None without query geometry."""
    if query.geometry is None or not np.isfinite(query.geometry).all():
        return None
    if cfg.scale_geometry:
        table, q = index.scaled_geometry(), query.geometry / index.geometry_scale()
    else:
        table, q = index.geometry, query.geometry
    if rows is None:
        return geometric_distance(q, table)
    out = np.full(len(index), np.nan, dtype=np.float32)
    out[rows] = geometric_distance(q, table[rows])
    return out


def rank_keys(query: Embedding, index: RetrievalIndex, cfg: SearchConfig | None = None,
              query_dist: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """One sort key per index row: ascending key = the ranking described in the module doc.

    Returns:
        (key, info): key = (N,) float; info has "js", "geometry", "phi" (N,) arrays (None
        when not computed) and "matched_label" (int).
    """
    cfg = cfg or SearchConfig()
    if cfg.order_by == "geometry":
        geo = geometry_distances(query, index, cfg)
        if geo is None:
            raise InputError(f"{query.source or 'query'}: geometry-only ranking needs landmarks for the query")
        best = int(np.argmin(geo))
        return geo, {"js": None, "geometry": geo, "phi": geo, "matched_label": int(index.labels[best])}
    qd = query_dist if query_dist is not None else query_distribution(query, index, cfg.method)
    js, scored = _js(qd, index, cfg)
    matched = _matched_label(query, index, js, cfg.label_from)
    if cfg.order_by == "js":
        return js, {"js": js, "geometry": None, "phi": js, "matched_label": matched, "scored": scored}
    # geometry only matters inside the matched label: measure it there
    if scored is not None:  # approximate: only the candidates take part
        rows = scored[index.labels[scored] == matched]
        geo = geometry_distances(query, index, cfg, rows=rows)
    elif cfg.depth is None and cfg.scale_geometry:
        rows, table = index.label_rows(matched)  # cached: no gather per query
        geo = None
        if query.geometry is not None and np.isfinite(query.geometry).all():
            geo = np.full(len(index), np.nan, dtype=np.float32)
            geo[rows] = geometric_distance(query.geometry / index.geometry_scale(), table)
    else:
        in_group = index.labels == matched
        if cfg.depth is not None and cfg.depth < len(js):
            cut = np.partition(js, cfg.depth - 1)[cfg.depth - 1]
            in_group &= js <= cut
        rows = np.flatnonzero(in_group)
        geo = geometry_distances(query, index, cfg, rows=rows)
    rows = rows[np.isfinite(js[rows])]  # approximate search: only the candidates take part
    phi = cfg.alpha * js
    if geo is not None:
        phi[rows] += cfg.beta * np.minimum(np.nan_to_num(geo[rows], nan=1e3), 1e3)  # no landmarks: far
    offset = np.float32((phi[rows].max() if len(rows) else 0.0) + 1.0)
    key = offset + js
    key[rows] = phi[rows]
    return key, {"js": js, "geometry": geo, "phi": phi, "matched_label": matched, "scored": scored}


def _js(qd: np.ndarray, index: RetrievalIndex, cfg: SearchConfig) -> tuple[np.ndarray, np.ndarray | None]:
    """(N,) JS distances and the scored rows: all rows exactly, or (approximate > 0) only the
    candidates of an approximate first stage (`ann.HellingerIVF`, built once per index),
    +inf elsewhere."""
    if cfg.approximate <= 0 or cfg.approximate >= len(index):
        return js_distance_matrix(qd, index.js_terms(cfg.method)), None
    from deepexpr.retrieval.ann import ANNConfig, HellingerIVF

    key = ("ann", cfg.method)
    if key not in index._cache:
        nlist = int(max(1, min(4096, np.sqrt(len(index)))))
        config = ANNConfig(nlist=nlist, nprobe=16, candidates=cfg.approximate, train_size=64 * nlist)
        index._cache[key] = HellingerIVF(config).fit(index.distributions(cfg.method))
    rows = index._cache[key]._candidates(np.sqrt(qd.astype(np.float32))[None], cfg.approximate)[0]
    rows = np.sort(rows[rows >= 0])
    js = np.full(len(index), np.inf, dtype=np.float32)
    js[rows] = js_distance_matrix(qd, index.js_terms(cfg.method), rows=rows)
    return js, rows


def rank(query: Embedding, index: RetrievalIndex, cfg: SearchConfig | None = None,
         query_dist: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """Order all index rows for one query: (order (N,) best first, info of `rank_keys`)."""
    key, info = rank_keys(query, index, cfg, query_dist)
    return np.argsort(key, kind="stable"), info


def top_rows(key: np.ndarray, k: int, rows: np.ndarray | None = None) -> np.ndarray:
    """The k rows with the smallest key (ties by row number), without sorting all of them."""
    rows = np.arange(len(key)) if rows is None else rows
    sub = key[rows]
    if len(sub) > k:
        part = np.argpartition(sub, k - 1)[:k]
        rows, sub = rows[part], sub[part]
    keep = np.isfinite(sub)  # rows an approximate first stage did not score are never returned
    rows, sub = rows[keep], sub[keep]
    return rows[np.lexsort((rows, sub))]


def _matched_label(query: Embedding, index: RetrievalIndex, js: np.ndarray, label_from: str) -> int:
    if label_from == "nearest":
        return int(index.labels[int(np.argmin(js))])
    if label_from != "query":
        raise ValueError(f"label_from={label_from!r}: choose 'query' or 'nearest'")
    return int(np.argmax(query.probs))


def search(query: Embedding, index: RetrievalIndex, cfg: SearchConfig | None = None) -> QueryResult:
    """Rank the index for `query` and keep the top matches (overall and per character)."""
    cfg = cfg or SearchConfig()
    key, info = rank_keys(query, index, cfg)
    info = {**info, "query": query, "cfg": cfg}
    result = QueryResult(query, EXPRESSIONS[info["matched_label"]])
    result.matches = [_match(i + 1, row, index, info) for i, row in enumerate(top_rows(key, cfg.top, info.get("scored")))]
    if cfg.per_character:
        groups = index.character_rows()
        scored = info.get("scored")
        if scored is not None:  # approximate: group only the scored candidates
            names, codes = index.character_codes()
            groups = {c: scored[codes[scored] == k] for k, c in enumerate(names)}
        result.by_character = {
            char: [_match(i + 1, row, index, info) for i, row in enumerate(top_rows(key, cfg.top, rows))]
            for char, rows in groups.items()
        }
    return result


def _match(rank_: int, row: int, index: RetrievalIndex, info: dict) -> Match:
    def val(name):
        arr = info.get(name)
        return None if arr is None or not np.isfinite(arr[row]) else float(arr[row])

    geo = val("geometry")
    if geo is None and info.get("query") is not None:  # outside the matched label: measure on demand
        geo = _row_geometry(info["query"], index, info["cfg"], row)

    label = int(index.labels[row])
    return Match(rank_, int(row), index.absolute_path(row), index.characters[row],
                 EXPRESSIONS[label] if 0 <= label < len(EXPRESSIONS) else "unknown",
                 val("js") if info.get("js") is not None else float("nan"), geo,
                 val("phi") if info.get("phi") is not None else float("nan"))


def _row_geometry(query: Embedding, index: RetrievalIndex, cfg: SearchConfig, row: int) -> float | None:
    if query.geometry is None or not np.isfinite(query.geometry).all():
        return None
    scale = index.geometry_scale() if cfg.scale_geometry else None
    d = float(geometric_distance(query.geometry, index.geometry[row:row + 1], scale)[0])
    return d if np.isfinite(d) else None


def index_row_as_query(index: RetrievalIndex, row: int) -> Embedding:
    """An index row as a query (character to character, evaluation)."""
    geo = index.geometry[row]
    return Embedding(index.features[row], index.probs[row], geo if np.isfinite(geo).all() else None,
                     None, None, index.absolute_path(row), 0, None, index.domain, index.classifier_weight)
