"""Train the expression-geometry head (issue 12): a tiny classifier on IOD-normalised
measurements of *detected* 49 landmarks (`models.expression_geometry`), fused late with the
character CNN at inference (`recognition.load_recognizer`).

The landmarks come from a `detect(image) -> (49, 2) | None` callable the caller passes (the
stylized-face detector lives in the applications layer, which training must not import).
The sample is stratified per (source, class): each DiceBear style and icon group is one
source, every procedural character together another (`evaluation.loso` names them the same
way), so a big procedural set does not drown the real-art sources.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepexpr.data.ferg import FergDataset
from deepexpr.errors import InputError, check_settings, setting
from deepexpr.io import read_image
from deepexpr.models.expression_geometry import (
    GeometryClassifierConfig,
    expression_geometry,
    fit_geometry_classifier,
    save_geometry_head,
)
from deepexpr.progress import progress

PROCEDURAL = "procedural"


@dataclass
class GeometryHeadConfig:
    """What the head is trained on. The defaults are the session-10 recipe
    (benchmarks/RESULTS.md "Real art", "Session 10"); `fusion_weight` was chosen on
    leave-one-source-out folds (`benchmarks/realart_geometry_probe.py`)."""

    per_class: int = setting(60, "images per (real-art source, class)", min=1)
    procedural_per_class: int = setting(200, "images per class of all procedural characters together", min=1)
    seed: int = setting(0, "seed of the sample and of the classifier's initialisation")
    fusion_weight: float = setting(0.7, "the geometry's weight in p ~ p_cnn * p_geometry ** weight", min=0.0)
    hidden: int = setting(32, "hidden units of the classifier (0: logistic regression)", min=0)

    def __post_init__(self):
        check_settings(self)


def source_name(character: str, real_sources: frozenset[str]) -> str:
    return character if character in real_sources else PROCEDURAL


def stratified_records(folders, real_sources: frozenset[str], cfg: GeometryHeadConfig) -> list:
    """Up to `cfg.per_class` records per (source, class) of the FERG-layout `folders`
    (`cfg.procedural_per_class` for the procedural source), drawn with `cfg.seed`."""
    records = [r for f in folders for r in FergDataset(f).records]
    rng = np.random.default_rng(cfg.seed)
    by_key: dict = {}
    for r in records:
        by_key.setdefault((source_name(r.character, real_sources), r.label), []).append(r)
    picked = []
    for (src, _), rs in sorted(by_key.items()):
        n = cfg.procedural_per_class if src == PROCEDURAL else cfg.per_class
        picked += [rs[i] for i in sorted(rng.choice(len(rs), min(n, len(rs)), replace=False))]
    return picked


def detect_landmarks(records: list, detect: Callable) -> np.ndarray:
    """(N, 49, 2) float32 landmarks `detect` finds on each record's image (NaN: none, or an
    unreadable image, which is reported in one line and skipped)."""
    out = np.full((len(records), 49, 2), np.nan, np.float32)
    for i, r in enumerate(progress(records, desc="landmarks")):
        try:
            lm = detect(read_image(r.path))
        except InputError as err:
            print(f"skipped: {err}", file=sys.stderr)
            continue
        if lm is not None:
            out[i] = lm
    return out


def train_geometry_head(folders, detect: Callable, out: str | Path, real_sources: frozenset[str],
                        cfg: GeometryHeadConfig | None = None) -> dict:
    """Sample, detect, fit and save the head to `out` (.safetensors + .json).

    Returns:
        the saved JSON config (fusion weight, images per source, faces found).

    Raises:
        InputError: no face found on any sampled image.
    """
    cfg = cfg or GeometryHeadConfig()
    records = stratified_records(folders, real_sources, cfg)
    lms = detect_landmarks(records, detect)
    have = np.isfinite(lms).all((1, 2))
    if not have.any():
        raise InputError(f"{', '.join(map(str, folders))}: the stylized-face detector found no face on "
                         f"{len(records)} sampled images; check the data or the detector")
    labels = np.array([r.label for r in records])
    sources = np.array([source_name(r.character, real_sources) for r in records])
    model = fit_geometry_classifier(expression_geometry(lms[have]), labels[have],
                                    GeometryClassifierConfig(hidden=cfg.hidden, seed=cfg.seed))
    meta = {"data": [str(f) for f in folders], "per_class": cfg.per_class,
            "procedural_per_class": cfg.procedural_per_class, "seed": cfg.seed,
            "images": {s: int((sources == s).sum()) for s in sorted(set(sources.tolist()))},
            "faces_found": {s: int((have & (sources == s)).sum()) for s in sorted(set(sources.tolist()))}}
    save_geometry_head(out, model, cfg.fusion_weight, meta)
    return {"fusion_weight": cfg.fusion_weight, **meta}
