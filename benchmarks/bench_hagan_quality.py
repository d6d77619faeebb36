"""HA-GAN quality on never-seen stand-in people, against the issue's targets.

    python benchmarks/bench_hagan_quality.py [--weights runs/hagan] [--people 12]
        [--character-model PATH] [--history runs/hagan/history.csv] [--heldout-seed 1000]

Draws every held-out stand-in face as every target character of the model and prints:
intended-expression accuracy by the independent character model (target >= 95%),
character-ID accuracy (target >= 98%), D^e accuracy, the L1 to the ideal drawing (the
character rendered with the face's own rig; target <= 0.047), intensity (Pearson r between
the face's AU intensities and the AUs an independent rig judge reads on the drawing;
target >= 0.8), L1 to neutral and the Fréchet distance; with --history, the training time and steps/s of the run that made the model.
All on the drawn human STAND-IN, not on photos.
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile


def main() -> None:
    from deepexpr.evaluation.hagan import HaganEvalConfig, quality

    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default=None, help="generator checkpoint or run directory (default: bundled)")
    ap.add_argument("--people", type=int, default=6, help="never-seen stand-in identities")
    ap.add_argument("--character-model", default=None)
    ap.add_argument("--history", default=None, help="history.csv of the training run")
    ap.add_argument("--heldout-seed", type=int, default=1000,
                    help="stand-in seed of the never-seen people (training draws seed 0)")
    ap.add_argument("--seed", type=int, default=4242, help="evaluation seed (noise, judges)")
    args = ap.parse_args()
    print(f"load average: {os.getloadavg()[0]:.2f} (2 cores)")
    cfg = HaganEvalConfig(folds=0, heldout_identities=args.people, character_model=args.character_model,
                          heldout_seed=args.heldout_seed, seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        q = quality(cfg, __import__("pathlib").Path(tmp), args.weights, quiet=True)
    print(f"human side: {q['human_side']}")
    print(f"model {q['weights']}; judge {q['character_model']}")
    print(f"{q['heldout_people']} people, {q['heldout_faces']} faces, {q['generated_images']} drawings")
    ok = lambda v, t: "PASS" if v >= t else "FAIL"  # noqa: E731
    print(f"intended expression (independent model): {q['intended_expression']:.1%}  target >= 95%: "
          f"{ok(q['intended_expression'], 0.95)}  (same judge on real renders: "
          f"{q['reference']['judge_on_real_renders']:.1%})")
    print(f"character identity: {q['character_id']:.1%}  target >= 98%: {ok(q['character_id'], 0.98)}")
    print(f"L1 to the ideal drawing: {q['l1_to_ideal']:.4f}  target <= 0.047: {ok(-q['l1_to_ideal'], -0.047)}")
    if q.get("intensity"):
        g, i = q["intensity"]["generated"], q["intensity"]["ideal_drawing"]
        print(f"intensity, Pearson r face AU vs the AU read on the drawing (mean over {len(g['per_au'])} AUs): "
              f"{g['mean_r']:.3f}  target >= 0.8: {ok(g['mean_r'], 0.8)}  (ideal drawing: {i['mean_r']:.3f})")
        print(f"  within expression (class means removed): {g['within_mean_r']:.3f} (ideal drawing "
              f"{i['within_mean_r']:.3f}); head yaw {g['pose']['head_yaw']:.3f}, pitch {g['pose']['head_pitch']:.3f}, "
              f"gaze x {g['pose']['gaze_x']:.3f}")
        print("  per AU (drawing / ideal): " + ", ".join(
            f"{k} {v:.2f}/{i['per_au'][k]:.2f}" for k, v in g["per_au"].items()))
    print(f"D^e accuracy on drawings: {q['de_accuracy_generated']:.1%}")
    if q.get("encoder_accuracy") is not None:
        print(f"G's encoder expression head on the held-out faces: {q['encoder_accuracy']:.1%}")
    ab = q.get("decoder_ablation")
    if ab:
        print(f"what the decoder adds: judge {ab['judge_full']:.1%} on G's drawings vs "
              f"{ab['judge_templates_only']:.1%} with the decoder's output zeroed (templates/base only); "
              f"mean |full - templates| {ab['l1_decoder']:.3f}, |seed 0 - seed 1| {ab['l1_noise']:.3f}")
        if ab.get("l1_paired_full") is not None:
            print(f"L1 to the ideal drawing (the character drawn with the face's own rig): G {ab['l1_paired_full']:.3f}, "
                  f"decoder output zeroed {ab['l1_paired_templates']:.3f}")
    print(f"L1 to neutral: {q['l1_to_neutral']:.3f} (real renders {q['reference']['l1_real_to_neutral']:.3f})")
    print(f"Frechet distance: {q['frechet_distance']:.1f} (real vs real {q['reference']['frechet_real_vs_real']:.1f})")
    for name, v in q["per_character"].items():
        print(f"  {name:8s} expression {v['intended_expression']:.1%} identity {v['character_id']:.1%} "
              f"D^e {v['de_accuracy']:.1%}")
    if args.history:
        with open(args.history, newline="") as f:
            rows = list(csv.DictReader(f))
        # "seconds" restarts at 0 in each resumed segment: add up the segments.
        secs, prev = 0.0, 0.0
        for row in rows:
            t = float(row["seconds"])
            if t < prev:
                secs += prev
            prev = t
        secs += prev
        steps = float(rows[-1]["step"])
        print(f"training: {steps:.0f} steps in {secs / 60:.1f} min wall-clock = {steps / secs:.2f} steps/s "
              f"(batch 32, 1 thread, shared machine)")


if __name__ == "__main__":
    main()
