"""Does landmark geometry carry expression across drawing styles? (issue 12, session 10)

On a stratified sample of the TRAINING sources (procedural characters, DiceBear avatar
styles, icon groups; never the real-art validation set), the bundled stylized-face
detector finds 49 landmarks; `models.expression_geometry` turns them into IOD-normalised
measurements, and a tiny classifier is trained
  * on procedural characters only (detected, not rig, landmarks) -> tested on every source;
  * leave one source out: on all other sources -> tested on the held-out one;
and compared with the CNN of the same fold (`--loso-runs`: the run folder of
`train transfer --protocol loso`, one `loso_<source>/model.safetensors` per fold, each
never trained on its source). Late fusion p_cnn * p_geo ** w is then scored per fold;
w is chosen on the folds (leave-one-fold-out choice reported too).

    python benchmarks/realart_geometry_probe.py --data ~/.cache/deepexpr/bundled_data \
        --loso-runs runs/loso12 --per-class 60 --procedural-per-class 200 --cache runs/geo_probe.npz --json runs/geo_probe.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
from pathlib import Path

import numpy as np

FOLDERS = ("real/builtin64", "real/random64", "wide128v7", "emoji128", "avatars128", "icons128")
WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5)


def sample_records(root: Path, per_class: int, procedural_per_class: int, seed: int) -> list:
    """Up to `per_class` records per (source, class), `procedural_per_class` for procedural
    (the sample `deepexpr train geometry-head` trains on, with the same settings)."""
    from deepexpr.data.avatar_labels import STYLES
    from deepexpr.data.icons import GROUPS
    from deepexpr.train.geometry_head import GeometryHeadConfig, stratified_records

    cfg = GeometryHeadConfig(per_class=per_class, procedural_per_class=procedural_per_class, seed=seed)
    return stratified_records([root / f for f in FOLDERS], frozenset(STYLES) | frozenset(GROUPS), cfg)


def detect_all(records: list) -> np.ndarray:
    """(N, 49, 2) detected landmarks (NaN where no face's landmarks were read)."""
    from deepexpr.stylized import detected_landmarks
    from deepexpr.train.geometry_head import detect_landmarks

    return detect_landmarks(records, detected_landmarks)


def cnn_probs(records: list, sources: np.ndarray, loso_runs: Path | None) -> dict:
    """{"bundled": (N, 7), "loso": (N, 7) of the fold model that never saw the row's source}."""
    from deepexpr.io import read_image
    from deepexpr.recognition import load_recognizer

    images = [read_image(r.path) for r in records]
    out = {"bundled": load_recognizer("character", None).probs(images)}
    if loso_runs is not None:
        loso = np.full((len(records), 7), np.nan, np.float32)
        for src in sorted(set(sources.tolist())):
            idx = np.flatnonzero(sources == src)
            rec = load_recognizer("character", str(loso_runs / f"loso_{src}" / "model.safetensors"))
            loso[idx] = rec.probs([images[i] for i in idx])
        out["loso"] = loso
    return out


def per_class(pred: np.ndarray, labels: np.ndarray) -> list[float]:
    return [round(100 * float((pred[labels == c] == c).mean()), 1) if (labels == c).any() else float("nan")
            for c in range(7)]


def geometry_probs(feats, labels, sources, have, train_mask_of) -> np.ndarray:
    """(N, 7) geometry probabilities, each source's rows from a classifier trained on
    `train_mask_of(source)` (rows without landmarks: NaN)."""
    from deepexpr.models.expression_geometry import fit_geometry_classifier

    out = np.full((len(labels), 7), np.nan, np.float32)
    for src in sorted(set(sources.tolist())):
        test = (sources == src) & have
        train = train_mask_of(src) & have
        model = fit_geometry_classifier(feats[train], labels[train])
        out[test] = model.probs(feats[test])
    return out


def score(probs: np.ndarray, labels: np.ndarray, sources: np.ndarray, rows: np.ndarray) -> dict:
    """Per-source accuracy on `rows`, their unweighted mean, per-class accuracy."""
    pred = probs.argmax(1)
    srcs = sorted(set(sources[rows].tolist()))
    per_src = {s: round(100 * float((pred[rows & (sources == s)] == labels[rows & (sources == s)]).mean()), 1)
               for s in srcs}
    return {"mean_source": round(float(np.mean(list(per_src.values()))), 1), "per_source": per_src,
            "per_class": per_class(pred[rows], labels[rows]),
            "accuracy": round(100 * float((pred[rows] == labels[rows]).mean()), 1)}


def analyse(data: dict) -> dict:
    """Geometry alone (procedural-trained, LOSO-trained) vs the LOSO CNN vs fusions."""
    from deepexpr.models.expression_geometry import expression_geometry, fuse_probs

    labels, sources, lms = data["labels"], data["sources"], data["landmarks"]
    have = np.isfinite(lms).all((1, 2))
    feats = np.zeros((len(labels), 13), np.float32)
    feats[have] = expression_geometry(lms[have])
    everything = np.ones(len(labels), bool)
    real = sources != "procedural"
    res = {"n": int(len(labels)), "found": {s: round(100 * float(have[sources == s].mean()), 1)
                                             for s in sorted(set(sources.tolist()))}}
    geo_proc = geometry_probs(feats, labels, sources, have, lambda s: sources == "procedural")
    geo_loso = geometry_probs(feats, labels, sources, have, lambda s: sources != s)
    with_face = have & real
    res["geometry_procedural_trained"] = score(np.nan_to_num(geo_proc), labels, sources, with_face)
    res["geometry_loso"] = score(np.nan_to_num(geo_loso), labels, sources, have)
    res["cnn_loso_rows_with_face"] = score(data["loso"], labels, sources, have)
    res["cnn_loso"] = score(data["loso"], labels, sources, everything)
    res["cnn_bundled_in_domain"] = score(data["bundled"], labels, sources, everything)
    for name, geo in (("geo_loso", geo_loso), ("geo_proc", geo_proc)):
        res[f"fusion_{name}"] = {str(w): score(fuse_probs(data["loso"], geo, w), labels, sources, everything)
                                 for w in WEIGHTS}
    res["fusion_weight_chosen_without_the_fold"] = choose_without_fold(data["loso"], geo_loso, labels, sources)
    return res


def choose_without_fold(cnn, geo, labels, sources) -> dict:
    """Per held-out source: the weight best on the mean of the OTHER sources, and the
    fused accuracy it gives on this one (an honest figure for choosing w on the folds)."""
    from deepexpr.models.expression_geometry import fuse_probs

    srcs = sorted(set(sources.tolist()))
    acc = {w: {s: float((fuse_probs(cnn, geo, w).argmax(1) == labels)[sources == s].mean()) for s in srcs}
           for w in WEIGHTS}
    out = {}
    for s in srcs:
        w = max(WEIGHTS, key=lambda w: np.mean([acc[w][o] for o in srcs if o != s]))
        out[s] = {"weight": w, "accuracy": round(100 * acc[w][s], 1)}
    out["mean"] = round(float(np.mean([v["accuracy"] for v in out.values()])), 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="bundled_data folder (scripts/train_bundled_models.sh)")
    ap.add_argument("--loso-runs", required=True, help="run folder of `train transfer --protocol loso`")
    ap.add_argument("--per-class", type=int, default=40)
    ap.add_argument("--procedural-per-class", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", required=True, help="npz of landmarks and CNN probabilities (reused)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    print(f"realart_geometry_probe {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
          f"load {os.getloadavg()[0]:.1f}")
    cache = Path(args.cache)
    if cache.exists():
        data = dict(np.load(cache, allow_pickle=False))
    else:
        from deepexpr.evaluation.loso import source_of

        records = sample_records(Path(args.data).expanduser(), args.per_class, args.procedural_per_class, args.seed)
        sources = np.array([source_of(r.character) for r in records])
        data = {"paths": np.array([r.path for r in records]), "labels": np.array([r.label for r in records]),
                "sources": sources, "landmarks": detect_all(records)}
        data.update(cnn_probs(records, sources, Path(args.loso_runs)))
        np.savez(cache, **data)
    res = analyse(data)
    print(json.dumps(res, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
