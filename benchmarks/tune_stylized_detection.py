"""Choose the stylized-face detector's score threshold and pyramid policy on VALIDATION scenes.

    python benchmarks/tune_stylized_detection.py [--model stylized_face] [--scenes 100]
        [--min-scales 0,0.5,0.6,0.7,0.8] [--max-entropies 0,5.1,5.0,4.9] [--passes 4]
        [--settle 0.15] [--min-passes 2] [--give-up 0] [--turn-above 0] [--backend auto] [--seed 7001]
        [--glance-below 0] [--glance-turns 1] [--orientation bins] [--box-blend 0]
        [--blend-from 0] [--keep-diffuse 0]

Validation scenes are composed from the random characters of `--seed` (default 7001): never
the trainer's pool (101) nor the held-out test pool of bench_stylized_landmarks.py (9001),
which no setting may be chosen on. For every pyramid policy (`StylizedConfig.min_scale`) the
scenes are read once at a low threshold; a higher threshold keeps exactly the faces scored
at or above it (non-maximum suppression and `stylized.merge_faces` only ever drop a face for
a better-scored one), so every (threshold, max_entropy) is scored from that one pass by
`merge_faces`. Prints precision and recall at IoU 0.5 per (policy, max_entropy, threshold),
CPU ms per scene, landmark crops per scene, and the setting with the largest
min(precision, recall).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

THRESHOLDS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)


class _CountingCrops:
    """A loaded stylized-face model that counts the landmark crops it reads."""

    def __init__(self, model):
        self.model, self.cfg, self.crops = model, model.cfg, 0

    def detect(self, x):
        return self.model.detect(x)

    def landmark_maps(self, x):
        self.crops += len(x)
        return self.model.landmark_maps(x)


def sweep(scenes, cfg, entropies) -> tuple[dict, float]:
    """{(max_entropy, threshold): (precision, recall)} and CPU seconds per scene for one
    `StylizedConfig` (its threshold and max_entropy are swept)."""
    from dataclasses import replace

    from deepexpr.evaluation.stylized_landmarks import detection_counts
    from deepexpr.stylized import candidates, load_stylized_model, merge_faces

    cfg = replace(cfg, threshold=min(THRESHOLDS))
    model = _CountingCrops(load_stylized_model(cfg.model, cfg.backend))
    raw, c0 = [], time.process_time()
    for scene in scenes:
        raw.append(candidates(scene.image, model, cfg))
    cpu = (time.process_time() - c0) / len(scenes)
    sweep.crops = model.crops / len(scenes)
    table = {}
    for max_entropy in entropies:
        for th in THRESHOLDS:
            tp = n_pred = n_gt = 0
            for scene, (scores, points, entropy, frames) in zip(scenes, raw):
                faces = merge_faces(scores, points, entropy, replace(cfg, threshold=th, max_entropy=max_entropy), frames)
                c = detection_counts([f.box for f in faces], [f.score for f in faces], [f.box for f in scene.faces])
                tp, n_pred, n_gt = tp + c[0], n_pred + c[1], n_gt + c[2]
            table[max_entropy, th] = (tp / max(1, n_pred), tp / max(1, n_gt))
    return table, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="stylized_face")
    ap.add_argument("--scenes", type=int, default=100)
    ap.add_argument("--seed", type=int, default=7001, help="validation character pool (not the training pools 101, 103 nor the test pool 9001)")
    ap.add_argument("--min-scales", default="0,0.5,0.6,0.7,0.8")
    ap.add_argument("--max-entropies", default="0,5.1,5.0,4.9")
    ap.add_argument("--passes", type=int, default=4, help="most landmark passes")
    ap.add_argument("--settle", type=float, default=0.15, help="see StylizedConfig.settle")
    ap.add_argument("--turn-above", type=float, default=0.0, help="see StylizedConfig.turn_above")
    ap.add_argument("--min-passes", type=int, default=2, help="see StylizedConfig.min_passes")
    ap.add_argument("--give-up", type=float, default=0.0, help="see StylizedConfig.give_up")
    ap.add_argument("--backend", default="auto", help="see StylizedConfig.backend")
    ap.add_argument("--glance-below", type=float, default=0.0, help="see StylizedConfig.glance_below")
    ap.add_argument("--glance-turns", type=int, default=1, help="see StylizedConfig.glance_turns")
    ap.add_argument("--orientation", default="bins", help="see StylizedConfig.orientation")
    ap.add_argument("--box-blend", type=float, default=0.0, help="see StylizedConfig.box_blend")
    ap.add_argument("--blend-from", type=float, default=0.0, help="see StylizedConfig.blend_from")
    ap.add_argument("--keep-diffuse", type=float, default=0.0, help="see StylizedConfig.keep_diffuse")
    args = ap.parse_args()
    from deepexpr.evaluation.stylized_landmarks import validation_pool_error

    if validation_pool_error(args.seed):
        ap.error(validation_pool_error(args.seed))
    torch.set_num_threads(1)
    from deepexpr.data.scenes import SceneConfig, compose_scene
    from deepexpr.stylized import StylizedConfig

    cfg = SceneConfig(seed=args.seed, characters=60, builtins=False)  # as the test protocol's scenes
    rng = np.random.default_rng(args.seed + 1)
    scenes = [compose_scene(cfg, rng) for _ in range(args.scenes)]
    print(f"{args.scenes} validation scenes (pool {args.seed}), {sum(len(s.faces) for s in scenes)} faces")
    entropies = [float(v) for v in args.max_entropies.split(",")]
    for ms in (float(v) for v in args.min_scales.split(",")):
        cfg = StylizedConfig(model=args.model, min_scale=ms, passes=args.passes, settle=args.settle,
                             turn_above=args.turn_above, min_passes=args.min_passes, give_up=args.give_up,
                             backend=args.backend, threads=0, glance_below=args.glance_below,
                             glance_turns=args.glance_turns, orientation=args.orientation,
                             box_blend=args.box_blend, blend_from=args.blend_from,
                             keep_diffuse=args.keep_diffuse)
        table, cpu = sweep(scenes, cfg, entropies)
        print(f"min_scale {ms:.2f}: {1000 * cpu:.0f} ms CPU a scene (at the lowest threshold), {sweep.crops:.2f} "
              "landmark crops a scene; precision/recall per threshold")
        for e in entropies:
            cells = "  ".join(f"{th:.2f}: {table[e, th][0]:.3f}/{table[e, th][1]:.3f}" for th in THRESHOLDS)
            print(f"  max_entropy {e:.2f}  {cells}")
        best = max(table, key=lambda k: (min(table[k]), k[1], -k[0]))
        print(f"  best min(P, R): max_entropy {best[0]:.2f} threshold {best[1]:.2f} -> P {table[best][0]:.3f} "
              f"R {table[best][1]:.3f}")


if __name__ == "__main__":
    main()
