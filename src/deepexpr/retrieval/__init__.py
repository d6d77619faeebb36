"""DeepExpr retrieval: from a face to the character expressions that read the same.

    from deepexpr.retrieval import load_index, embed_human_photo, load_recognizer_for, search, SearchConfig
    index = load_index("chars.idx.safetensors")
    for query in embed_human_photo("photo.jpg", load_recognizer_for("human")):
        result = search(query, index, SearchConfig(top=3, per_character=True))

Modules: distributions (features -> distributions), js (Jensen–Shannon), geometry (9
landmark measurements), index (the index file), embed (images -> queries), search
(ranking, Eq. 3), ann (approximate first stage), sheet (contact sheets), evaluate (Table 1,
rank agreement), default_index (`default_index()`: the cached index of the built-in characters).
"""

from deepexpr.retrieval.embed import (
    Embedding,
    embed_character_image,
    embed_human_photo,
    load_embedding,
    load_recognizer_for,
)
from deepexpr.retrieval.index import RetrievalIndex, build_index, load_index, save_index
from deepexpr.retrieval.search import Match, QueryResult, SearchConfig, rank, search

__all__ = ["Embedding", "Match", "QueryResult", "RetrievalIndex", "SearchConfig", "build_index",
           "embed_character_image", "embed_human_photo", "load_embedding", "load_index",
           "load_recognizer_for", "rank", "save_index", "search"]
