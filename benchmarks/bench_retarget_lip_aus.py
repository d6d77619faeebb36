"""Why the lip AUs miss (issue 17): is the label visible in the features, or does the map confuse pairs?

On held-out stand-ins (cached meshes and patches of `deepexpr evaluate retarget`'s set,
population neutral), for each lip AU:

* the rig map's r and MAE (the bundled map, or `--weights`);
* visibility: the best single distance of `models.rigmap.MEASURES` (|r| with the label) and
  ridge regressions fitted on the training stand-ins (seed 100) and scored (r) on the held-out
  ones from: the 46 distances, the 1404 mesh coordinates + distances, the patches alone,
  everything. A ridge r well above the map's: the map under-uses the features; all low: the
  label is hardly in the features (the drawing or the mesh's precision is the limit);
* confusion per pair: over rows where A is on (>= 0.5) and B off (0), the map's mean B
  (and the other way round); a high mean = B read where only A was drawn.

    python benchmarks/bench_retarget_lip_aus.py [--weights runs/rigmap] [--train-identities 60]
"""

from __future__ import annotations

import argparse

import numpy as np

from deepexpr.characters.rig import RIG_CONTROLS
from deepexpr.data.rig_truth import TruthConfig, collect_meshes, with_appearance
from deepexpr.io import cache_dir
from deepexpr.models.resolve import weights_file
from deepexpr.models.rigmap import MEASURES, appearance_delta, geometry, load_rigmap, mlp_input
from deepexpr.retarget.estimate import estimate_rig, load_default_rigmap

LIP_AUS = ("AU16", "AU17", "AU23", "AU24", "AU25", "AU26", "AU27")
PAIRS = (("AU16", "AU25"), ("AU17", "AU24"), ("AU23", "AU24"), ("AU25", "AU26"), ("AU26", "AU27"),
         ("AU17", "AU16"), ("AU15", "AU17"), ("AU12", "AU25"))


def feature_blocks(ms, model) -> dict[str, np.ndarray]:
    """Per non-calibration row: {"geometry" (N, 46), "mesh" (N, 1404 + 46), "patches" (N, 1152)}."""
    rows = [i for i in range(len(ms.meshes)) if not ms.calibration[i]]
    ref_geo = geometry(model.reference_)
    geo, mesh, app = [], [], []
    for i in rows:
        feats = model.features(ms.meshes[i])
        geo.append(geometry(feats.frontal) - ref_geo)
        mesh.append(mlp_input(feats, model.reference_, None, True)[:1404])
        app.append(appearance_delta(ms.appearance[i], None, model.appearance_mean_))
    geo, mesh, app = np.asarray(geo), np.asarray(mesh), np.asarray(app)
    return {"rows": np.array(rows), "geometry": geo, "mesh": np.c_[mesh, geo], "patches": app,
            "all": np.c_[mesh, geo, app]}


def ridge_r(x_train, y_train, x_test, y_test, alpha: float = 10.0) -> np.ndarray:
    """Held-out Pearson r per column of a standardised ridge regression (dual form)."""
    mu, sd = x_train.mean(0), x_train.std(0) + 1e-6
    a, b = (x_train - mu) / sd, (x_test - mu) / sd
    ym = y_train.mean(0)
    dual = np.linalg.solve(a @ a.T + alpha * a.shape[1] / 100 * np.eye(len(a)), y_train - ym)
    pred = b @ (a.T @ dual) + ym
    return np.array([np.corrcoef(pred[:, k], y_test[:, k])[0, 1] for k in range(y_test.shape[1])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", default=None, help="rig map (default: the bundled one)")
    parser.add_argument("--train-identities", type=int, default=60)
    args = parser.parse_args()
    path = weights_file(args.weights, run_file="rigmap.safetensors", option="--weights")
    model = load_rigmap(path) if path else load_default_rigmap()
    store = cache_dir() / "retarget"
    sets = {}
    for name, cfg in (("train", TruthConfig(identities=args.train_identities, per_identity=40, seed=100)),
                      ("test", TruthConfig(identities=20, per_identity=30, seed=200))):
        ms = with_appearance(collect_meshes(cfg, cache_dir=store, quiet=True), cfg, store, quiet=True)
        sets[name] = (ms, feature_blocks(ms, model))
    ms, test = sets["test"]
    col = [RIG_CONTROLS.index(a) for a in LIP_AUS]
    y_test, y_train = ms.rigs[test["rows"]][:, col], sets["train"][0].rigs[sets["train"][1]["rows"]][:, col]
    full = np.array([[estimate_rig(ms.meshes[i], None, model, ms.appearance[i]).values[c] for c in RIG_CONTROLS]
                     for i in test["rows"]])
    pred = full[:, col]
    ridge = {k: ridge_r(sets["train"][1][k], y_train, test[k], y_test) for k in ("geometry", "mesh", "patches", "all")}
    print(f"held-out stand-ins: {len(y_test)} rows; ridge trained on {len(y_train)} rows (seed 100)")
    print("| AU | map r | map MAE | best distance (r) | ridge: distances | mesh + distances | patches | all |")
    print("|---|---|---|---|---|---|---|---|")
    for k, a in enumerate(LIP_AUS):
        rs = [np.corrcoef(test["geometry"][:, j], y_test[:, k])[0, 1] for j in range(len(MEASURES))]
        j = int(np.nanargmax(np.abs(rs)))
        kind, p, q = MEASURES[j]
        r_map = np.corrcoef(pred[:, k], y_test[:, k])[0, 1]
        print(f"| {a} | {r_map:.2f} | {np.abs(pred[:, k] - y_test[:, k]).mean():.3f} | {kind} {p}-{q} ({rs[j]:+.2f}) | "
              + " | ".join(f"{ridge[b][k]:.2f}" for b in ("geometry", "mesh", "patches", "all")) + " |")
    print_confusions(ms.rigs[test["rows"]], full)


def print_confusions(true: np.ndarray, pred: np.ndarray) -> None:
    """Mean predicted A and B where A is on and B off, for each pair (both directions);
    `true`, `pred`: (N, 23) rigs in `RIG_CONTROLS` order."""
    print("\n| A on (>= 0.5), B off | rows | map's mean A | map's mean B | B on, A off: rows | mean B | mean A |")
    print("|---|---|---|---|---|---|---|")
    for a, b in PAIRS:
        cells = []
        for x, y in ((a, b), (b, a)):
            ix, iy = RIG_CONTROLS.index(x), RIG_CONTROLS.index(y)
            sel = (true[:, ix] >= 0.5) & (true[:, iy] == 0)
            mx, my = (pred[sel, ix].mean(), pred[sel, iy].mean()) if sel.any() else (np.nan, np.nan)
            cells.append(f"{int(sel.sum())} | {mx:.2f} | {my:.2f}")
        print(f"| {a} on, {b} off | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
