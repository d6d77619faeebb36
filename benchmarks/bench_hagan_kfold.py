"""HA-GAN's identity-independent k-fold, chosen folds only (so a long k-fold can be run in parts).

    OMP_NUM_THREADS=1 nice -n 15 python benchmarks/bench_hagan_kfold.py --run-folds 5,6,7,8,9 \
        --out reports/kfold_s9 [--folds 10 --characters pip --preset default --decoder-pretrain 600 \
        --render-pool 500 --encoder-pretrain 1500 --fold-steps 300]

The defaults are session 8's reduced protocol (`deepexpr evaluate hagan --kfold-only --folds 10
--characters pip --preset default --decoder-pretrain 600 --render-pool 500 --encoder-pretrain
1500 --fold-steps 300`, which ran folds 0-4): each fold is `deepexpr.evaluation.hagan.run_fold`
with the same settings and seeds, so folds run here combine with that run's. Writes
OUT/kfold.csv (one row a fold, appended as each finishes) and prints mean +- sd of the folds
it ran. On the drawn STAND-IN only.
"""
import argparse
import csv
from pathlib import Path

import numpy as np

from deepexpr.evaluation.hagan import HaganEvalConfig, run_fold


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run-folds", required=True, help="comma-separated fold indices, e.g. 5,6,7,8,9")
    ap.add_argument("--out", required=True)
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--characters", default="pip")
    ap.add_argument("--preset", default="default")
    ap.add_argument("--decoder-pretrain", type=int, default=600)
    ap.add_argument("--render-pool", type=int, default=500)
    ap.add_argument("--encoder-pretrain", type=int, default=1500)
    ap.add_argument("--fold-steps", type=int, default=300)
    args = ap.parse_args()
    chars = tuple(args.characters.split(","))
    cfg = HaganEvalConfig(folds=args.folds, characters=chars, preset=args.preset,
                          decoder_pretrain=args.decoder_pretrain, render_pool=args.render_pool,
                          encoder_pretrain=args.encoder_pretrain, fold_steps=args.fold_steps)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for f in (int(x) for x in args.run_folds.split(",")):
        rows.append(run_fold(cfg, chars, f, out))
        with open(out / "kfold.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        r = rows[-1]
        print(f"fold {f}: hagan {r['hagan_acc']:.3f} encoder {r['encoder_acc']:.3f} cnn {r['cnn_acc']:.3f} "
              f"({r['seconds']:.0f} s)", flush=True)
    for key in ("hagan_acc", "encoder_acc", "cnn_acc"):
        v = np.array([r[key] for r in rows])
        print(f"{key}: {100 * v.mean():.1f} +- {100 * v.std(ddof=1) if len(v) > 1 else 0:.1f}")


if __name__ == "__main__":
    main()
