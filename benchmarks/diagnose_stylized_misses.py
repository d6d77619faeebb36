"""Where the stylized-face detector's misses come from, on VALIDATION scenes.

    python benchmarks/diagnose_stylized_misses.py [--model stylized_face] [--scenes 300]
        [--seed 7001] [--config '{"box_blend": 0.3}'] [--floor 0.02] [--list 0]

Every face of the validation scenes (character pool `--seed`, never the trainer's 101 nor
the test pool 9001) that the final detections miss at IoU 0.5 is traced back through the
pipeline and given the first stage that lost it:

- a "never proposed": no peak of the detector's heatmap (at any level, score >= `--floor`)
  near the face (centre within half the face's side, side within 0.5-2 x);
- b "below threshold": proposed, but every nearby peak scores under the threshold;
- d1 "detector NMS": a nearby peak above the threshold, suppressed by another square;
- e "entropy": candidates near it, all dropped for diffuse landmark heatmaps (`max_entropy`,
  `keep_diffuse`);
- c "loose box": a candidate near it and kept, but its final box has IoU < 0.5
  (c-turned: the detector's angle > 45 degrees off; c-det-ok: the detector's own square had
  IoU >= 0.5; c-other);
- d2 "merged": a candidate with a good final box, merged away by a better-scored face.

Prints counts by cause, face size and rotation, the false positives by kind, and with
`--list N` the first N misses one by one.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import replace

import numpy as np
import torch

SIZES = ((0, 32), (32, 48), (48, 96), (96, 192), (192, 10_000))
TURNS = ((0, 45), (45, 90), (90, 135), (135, 181))
CAUSES = ("a never proposed", "b below threshold", "d1 detector NMS", "e entropy", "c-turned", "c-det-ok",
          "c-other", "d2 merged")


def raw_peaks(image: np.ndarray, model, cfg, floor: float) -> list[tuple[float, np.ndarray]]:
    """Every heatmap peak of every pyramid level scored >= `floor`: [(score, frame (2, 3))]."""
    from deepexpr.data.face_frame import frame_from_params
    from deepexpr.stylized import detector_peaks

    return [(score, frame_from_params(centre, side, angle))
            for score, centre, side, angle, *_ in detector_peaks(image, model, cfg, floor)]


def _near(m: np.ndarray, face) -> bool:
    from deepexpr.data.face_frame import frame_params

    centre, side, _ = frame_params(m)
    return bool(np.hypot(*(centre - face.centre)) < 0.5 * face.side and 0.5 < side / face.side < 2.0)


def _turn_error(m: np.ndarray, face) -> float:
    from deepexpr.data.face_frame import frame_params

    d = frame_params(m)[2] - face.angle
    return float(np.degrees(abs((d + np.pi) % (2 * np.pi) - np.pi)))


def final_box(score: float, points: np.ndarray, entropy: float, frame: np.ndarray, cfg) -> np.ndarray | None:
    """The box `merge_faces` reports for a candidate; None when it drops it."""
    from deepexpr.data.face_frame import frame_box
    from deepexpr.stylized import face_square

    found = face_square(score, points, entropy, frame, cfg)
    return None if found is None else frame_box(found[0])


def trace_scene(scene, model, cfg, floor: float) -> tuple[list[dict], int, int]:
    """Per missed face a record {cause, side, turn, ...}; and the scene's TP and FP counts."""
    from deepexpr.data.face_frame import frame_box
    from deepexpr.evaluation.stylized_landmarks import box_iou, match_detections
    from deepexpr.stylized import candidates, merge_faces

    peaks = raw_peaks(scene.image, model, cfg, floor)
    scores, points, entropy, frames = candidates(scene.image, model, cfg)
    faces = merge_faces(scores, points, entropy, cfg, frames)
    gt = [f.box for f in scene.faces]
    matched = match_detections([f.box for f in faces], [f.score for f in faces], gt)
    hit = set(matched[matched >= 0].tolist())
    fps = [f for f, j in zip(faces, matched) if j < 0]
    records = []
    for j, face in enumerate(scene.faces):
        if j in hit:
            continue
        rec = {"side": face.side, "turn": abs(float(np.degrees((face.angle + np.pi) % (2 * np.pi) - np.pi))),
               "character": face.character}
        near_peaks = [s for s, m in peaks if _near(m, face)]
        near = [i for i, m in enumerate(frames) if _near(m, face)]
        rec["best_peak"] = max(near_peaks, default=0.0)
        if not near_peaks:
            rec["cause"] = "a never proposed"
        elif max(near_peaks) < cfg.threshold:
            rec["cause"] = "b below threshold"
        elif not near:
            rec["cause"] = "d1 detector NMS"
        else:
            boxes = {i: final_box(scores[i], points[i], entropy[i], frames[i], cfg) for i in near}
            kept = [i for i in near if boxes[i] is not None]
            ious = {i: float(box_iou(boxes[i], face.box)[0, 0]) for i in kept}
            good = [i for i in kept if ious[i] >= 0.5]
            best = max(near, key=lambda i: scores[i])
            rec |= {"final_iou": max(ious.values(), default=0.0), "entropy": entropy[best], "score": scores[best],
                    "det_iou": float(box_iou(frame_box(frames[best]), face.box)[0, 0]),
                    "turn_error": _turn_error(frames[best], face)}
            if not kept:
                rec["cause"] = "e entropy"
            elif good:
                rec["cause"] = "d2 merged"
            elif rec["turn_error"] > 45:
                rec["cause"] = "c-turned"
            elif rec["det_iou"] >= 0.5:
                rec["cause"] = "c-det-ok"
            else:
                rec["cause"] = "c-other"
        records.append(rec)
    n_fp_dup = sum(1 for f in fps if len(gt) and box_iou(f.box, np.array(gt)).max() > 0.1)
    return records, len(hit), (len(fps), n_fp_dup)


def _bin(value: float, bins) -> str:
    for lo, hi in bins:
        if lo <= value < hi:
            return f"{lo}-{hi}" if hi < 10_000 else f">={lo}"
    return "?"


def report(records: list[dict], faces_by_size: Counter, faces_by_turn: Counter) -> None:
    print(f"\n{'cause':20s} {'n':>4s} | " + " ".join(f"{_bin(lo, SIZES):>8s}" for lo, _ in SIZES)
          + " | " + " ".join(f"{_bin(lo, TURNS):>7s}" for lo, _ in TURNS))
    for cause in CAUSES:
        rs = [r for r in records if r["cause"] == cause]
        by_size = Counter(_bin(r["side"], SIZES) for r in rs)
        by_turn = Counter(_bin(r["turn"], TURNS) for r in rs)
        print(f"{cause:20s} {len(rs):4d} | " + " ".join(f"{by_size[_bin(lo, SIZES)]:8d}" for lo, _ in SIZES)
              + " | " + " ".join(f"{by_turn[_bin(lo, TURNS)]:7d}" for lo, _ in TURNS))
    print(f"{'faces':20s} {sum(faces_by_size.values()):4d} | "
          + " ".join(f"{faces_by_size[_bin(lo, SIZES)]:8d}" for lo, _ in SIZES)
          + " | " + " ".join(f"{faces_by_turn[_bin(lo, TURNS)]:7d}" for lo, _ in TURNS))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="stylized_face")
    ap.add_argument("--scenes", type=int, default=300)
    ap.add_argument("--seed", type=int, default=7001, help="validation character pool (not the training pools 101, 103 nor the test pool 9001)")
    ap.add_argument("--config", default="{}", help="StylizedConfig overrides as JSON")
    ap.add_argument("--floor", type=float, default=0.02, help="lowest heatmap peak counted as a proposal")
    ap.add_argument("--list", type=int, default=0, help="print this many misses one by one")
    args = ap.parse_args()
    from deepexpr.evaluation.stylized_landmarks import validation_pool_error

    if validation_pool_error(args.seed):
        ap.error(validation_pool_error(args.seed))
    torch.set_num_threads(1)
    from deepexpr.data.scenes import SceneConfig, compose_scene
    from deepexpr.stylized import StylizedConfig, load_stylized_model

    cfg = replace(StylizedConfig(model=args.model, threads=0), **json.loads(args.config))
    model = load_stylized_model(cfg.model, cfg.backend)
    sc = SceneConfig(seed=args.seed, characters=60, builtins=False)  # as tune_stylized_detection.py
    rng = np.random.default_rng(args.seed + 1)
    records, tp, fp, fp_dup = [], 0, 0, 0
    by_size, by_turn = Counter(), Counter()
    for _ in range(args.scenes):
        scene = compose_scene(sc, rng)
        for f in scene.faces:
            by_size[_bin(f.side, SIZES)] += 1
            by_turn[_bin(abs(float(np.degrees((f.angle + np.pi) % (2 * np.pi) - np.pi))), TURNS)] += 1
        recs, hits, (n_fp, n_dup) = trace_scene(scene, model, cfg, args.floor)
        records += recs
        tp, fp, fp_dup = tp + hits, fp + n_fp, fp_dup + n_dup
    n = sum(by_size.values())
    print(f"{args.scenes} validation scenes (pool {args.seed}), {n} faces; config {args.config}")
    print(f"precision {tp / max(1, tp + fp):.4f} recall {tp / max(1, n):.4f} ({tp} TP, {fp} FP of which {fp_dup} "
          f"overlap a true face, {len(records)} missed)")
    report(records, by_size, by_turn)
    for r in records[:args.list]:
        print({k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()})


if __name__ == "__main__":
    main()
