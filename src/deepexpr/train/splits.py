"""Train/validation/test splits: random (stratified), identity-independent k-fold, and
leave-one-group-out (leave-one-character-out).

"Identity" is the character for character data and the subject id for human data sets
that have one; identity-independent splits never put one identity on both sides.
All functions return sorted int64 index arrays and are deterministic given `seed`.
"""

from __future__ import annotations

from collections import Counter

import numpy as np


def stratified_split(labels, fractions: tuple[float, ...], seed: int = 0) -> list[np.ndarray]:
    """Split sample indices per class in the given proportions.

    Args:
        labels: (N,) class per sample.
        fractions: proportions of the parts (normalised to sum 1), e.g. (0.8, 0.1, 0.1).
        seed: shuffling seed.

    Returns:
        One sorted index array per part. Each class is cut by rounding the cumulative
        proportions, so every part gets its share of every class that has enough samples.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    frac = np.asarray(fractions, dtype=np.float64)
    cum = np.cumsum(frac / frac.sum())
    parts: list[list[np.ndarray]] = [[] for _ in frac]
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        cuts = np.round(cum * idx.size).astype(int)
        start = 0
        for p, stop in enumerate(cuts):
            parts[p].append(idx[start:stop])
            start = stop
    return [np.sort(np.concatenate(p)).astype(np.int64) if p else np.zeros(0, np.int64)
            for p in parts]


def has_identities(groups) -> bool:
    """True when every sample has an identity and there are at least two identities."""
    groups = list(groups)
    return all(g is not None for g in groups) and len(set(groups)) >= 2


def group_kfold(groups, k: int = 5, seed: int = 0) -> list[np.ndarray]:
    """Identity-independent k-fold: the test indices of each fold.

    Identities are shuffled, then assigned largest first to the fold with the fewest
    samples so far (folds balanced by image count, each identity in exactly one fold).

    Raises:
        ValueError: fewer identities than folds, or samples without identity.
    """
    groups = list(groups)
    if not has_identities(groups):
        raise ValueError("identity-independent k-fold needs an identity (character or subject) "
                         "for every sample")
    counts = Counter(groups)
    if len(counts) < k:
        raise ValueError(f"{len(counts)} identities cannot make {k} identity-independent folds")
    rng = np.random.default_rng(seed)
    names = sorted(counts)
    names = [names[i] for i in rng.permutation(len(names))]
    names.sort(key=lambda g: -counts[g])  # stable: ties keep the shuffled order
    load = np.zeros(k, dtype=np.int64)
    fold_of: dict = {}
    for g in names:
        f = int(np.argmin(load))
        fold_of[g] = f
        load[f] += counts[g]
    arr = np.array([fold_of[g] for g in groups])
    return [np.flatnonzero(arr == f).astype(np.int64) for f in range(k)]


def stratified_kfold(labels, k: int = 5, seed: int = 0) -> list[np.ndarray]:
    """Sample-level stratified k-fold (for data without identities): test indices per fold."""
    return stratified_split(labels, (1.0,) * k, seed)


def leave_one_group_out(groups, test_groups=None) -> list[tuple[str, np.ndarray]]:
    """(held-out identity, its indices) for each identity in `test_groups` (default: all).

    Identities not in `test_groups` (e.g. random characters) are always trained on.

    Raises:
        ValueError: a requested identity has no samples.
    """
    groups = np.array([str(g) for g in groups], dtype=object)
    names = sorted(set(groups)) if test_groups is None else list(test_groups)
    out = []
    for name in names:
        idx = np.flatnonzero(groups == name).astype(np.int64)
        if idx.size == 0:
            raise ValueError(f"character/subject {name!r} has no images")
        out.append((name, idx))
    return out


def complement(n: int, idx) -> np.ndarray:
    """Indices 0..n-1 not in `idx`."""
    mask = np.ones(n, dtype=bool)
    mask[np.asarray(idx, dtype=np.int64)] = False
    return np.flatnonzero(mask).astype(np.int64)
