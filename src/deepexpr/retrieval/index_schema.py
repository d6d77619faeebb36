"""The schema an index file is checked against when it is read: never trusted.

An index (`retrieval.index.save_index`) is one safetensors file: N rows of tensors plus a
JSON header. `check_index_file` refuses, with one line naming the file and what to do, a
header that is not an object or lacks its lists, a missing or extra tensor, a tensor of the
wrong rank, width, dtype or row count, non-finite features/probabilities, probabilities that
are not distributions, and labels outside the seven classes.
"""

from __future__ import annotations

import numpy as np

from deepexpr.errors import InputError

# name -> (dtype kind, fixed width or None for "any >= 1", required). Rows are N for all.
TENSORS = {
    "features": ("f", None, True),  # (N, D) penultimate features
    "probs": ("f", 7, True),  # (N, 7) class probabilities
    "labels": ("i", 0, True),  # (N,) expression index, -1 unknown
    "geometry": ("f", 9, True),  # (N, 9) geometric features, NaN rows when no landmarks
    "classifier_weight": ("f", None, False),  # (7, D) final linear layer (not per row)
    "file_stats": ("i", 2, False),  # (N, 2) size and mtime_ns
}
HEADER_LISTS = ("paths", "characters")


def _bad(path, what: str) -> InputError:
    return InputError(f"{path}: damaged index ({what}); rebuild it with `deepexpr index build --rebuild`")


def check_index_file(path, header, tensors: dict[str, np.ndarray]) -> None:
    """Raise InputError unless `header` and `tensors` have the shape `save_index` writes."""
    if not isinstance(header, dict):
        raise _bad(path, f"header is a JSON {type(header).__name__}, not an object")
    for key in HEADER_LISTS:
        if not isinstance(header.get(key), list) or not all(isinstance(v, str) for v in header[key]):
            raise _bad(path, f"header has no list of strings {key!r}")
    if not isinstance(header.get("model", {}), dict):
        raise _bad(path, "header 'model' is not an object")
    extra = sorted(set(tensors) - set(TENSORS))
    if extra:
        raise _bad(path, f"unexpected tensor {extra[0]!r}")
    n = len(header["paths"])
    if len(header["characters"]) != n:
        raise _bad(path, f"{len(header['characters'])} characters for {n} paths")
    for name, (kind, width, required) in TENSORS.items():
        if name not in tensors:
            if required:
                raise _bad(path, f"tensor {name!r} is missing")
            continue
        _check_tensor(path, name, tensors[name], kind, width, n)
    _check_values(path, tensors)


def _check_tensor(path, name: str, t: np.ndarray, kind: str, width, n: int) -> None:
    ndim = 1 if width == 0 else 2
    if t.dtype.kind != kind and not (kind == "i" and t.dtype.kind == "u"):
        raise _bad(path, f"tensor {name!r} has dtype {t.dtype}, expected {'float' if kind == 'f' else 'integer'}")
    if t.ndim != ndim or (width not in (None, 0) and t.shape[1] != width) or (ndim == 2 and t.shape[1] < 1):
        raise _bad(path, f"tensor {name!r} has shape {t.shape}")
    rows = 7 if name == "classifier_weight" else n
    if t.shape[0] != rows:
        raise _bad(path, f"tensor {name!r} has {t.shape[0]} rows, expected {rows}")


def _check_values(path, tensors: dict[str, np.ndarray]) -> None:
    features, probs, labels = tensors["features"], tensors["probs"], tensors["labels"]
    if not np.isfinite(features).all() or not np.isfinite(probs).all():
        raise _bad(path, "NaN or infinite features or probabilities")
    if len(probs) and (probs.min() < -1e-6 or np.abs(probs.sum(axis=1) - 1.0).max() > 1e-3):
        raise _bad(path, "probabilities that do not sum to 1")
    if len(labels) and (labels.min() < -1 or labels.max() > 6):
        raise _bad(path, f"labels outside -1..6 ({int(labels.min())}..{int(labels.max())})")
    weight = tensors.get("classifier_weight")
    if weight is not None and (weight.shape[1] != features.shape[1] or not np.isfinite(weight).all()):
        raise _bad(path, f"classifier_weight {weight.shape} does not fit {features.shape[1]}-d features")
    if np.isinf(tensors["geometry"]).any():
        raise _bad(path, "infinite geometric features")


FEATURE_METHODS = ("evidence", "weighted", "relu")  # distributions built from the features


def check_feature_space(index_model: dict, query_model: dict, method: str, path) -> None:
    """Refuse a feature-built distribution between models whose features are unrelated.

    Args:
        index_model: the index's recorded model identity (`RetrievalIndex.model`).
        query_model: the query model's identity (`retrieval.index.model_identity`).
        method: the distribution; "softmax" compares class probabilities and always works.

    Raises:
        InputError: the two models do not share a feature space (neither was fine-tuned from
            the other's source), or the index does not record it.
    """
    if method not in FEATURE_METHODS:
        return
    built = index_model.get("feature_space") or index_model.get("sha256")
    given = query_model.get("feature_space") or query_model.get("sha256")
    if built and given and built == given:
        return
    raise InputError(
        f"{path}: the {method!r} distribution compares features, but the index's model "
        f"{index_model.get('name')!r} (feature space {str(built)[:16] or 'not recorded'}) and the query model "
        f"{query_model.get('name')!r} (feature space {str(given)[:16]}) are unrelated; use --distribution "
        "softmax, or a character model fine-tuned from the query model (`deepexpr train transfer`)")
