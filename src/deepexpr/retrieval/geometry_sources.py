"""Retrieval (Eq. 6) with detected landmarks against the same with rig landmarks.

The same labelled images are indexed twice with the same recognizer: once with the data
set's rig landmarks, once with every image's landmarks found by the stylized-face detector
(`deepexpr.stylized`). Both are scored with `evaluate_retrieval`, queries against the other
characters (held-out characters). The "geometry" column is the one landmarks change (the
JS columns do not use them; "combined" re-orders within the matched label, which Eq. 6
cannot see).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepexpr.retrieval.evaluate import evaluate_retrieval
from deepexpr.retrieval.index import ImageRecord, build_index, geometry_sources, scan_images


def compare_geometry_sources(root: str | Path, recognizer, max_queries: int | None = None) -> dict:
    """Eq. 6 averages of a rig-landmark index and a detected-landmark index of `root`.

    Returns:
        {"rig": {column: average}, "detected": {column: average}, "images": N,
         "detected_rows": rows whose geometry was detected, "relative_change": {column: x}}
        (relative change of the average score, detected vs rig).
    """
    records = scan_images(root)
    rig, _ = build_index(root, recognizer, records=records, show_progress=False)
    found = [ImageRecord(r.path, r.label, r.character, None) for r in records]
    detected, _ = build_index(root, recognizer, records=found, show_progress=False)
    out = {"images": len(records),
           "detected_rows": int(sum(s == "detected" for s in geometry_sources(detected)))}
    for name, index in (("rig", rig), ("detected", detected)):
        table = evaluate_retrieval(index, index, methods=("softmax",), exclude_same_character=True,
                                   max_queries=max_queries)
        out[name] = {col: table["per_expression"][col]["average"] for col in table["columns"]}
    out["relative_change"] = {col: float((out["detected"][col] - out["rig"][col]) / max(1e-9, out["rig"][col]))
                              for col in out["rig"] if col in out["detected"]}
    out["geometry_nan_rows"] = int((~np.isfinite(detected.geometry).all(1)).sum())
    return out
