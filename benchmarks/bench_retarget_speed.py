"""Speed of face -> character rig: estimate + draw per frame, and the face pipeline apart.

    python benchmarks/bench_retarget_speed.py [--frames 60] [--size 256] [--character pip]

Estimate = frontalising fit + patch appearance (HOG on the aligned crop, when the map reads
it) + MLP (NumPy) + confidence; draw = `drive` at --size with
supersample 2 (anti-aliased, the default) and 1. The face pipeline (mediapipe face mesh
with irises, `find_rig_faces`) is timed separately on a 640x480 frame. Median ms per frame
over --frames frames, one process; the machine load is printed alongside. With --rounds R
each figure is measured R times, interleaved, and the lowest median is printed too (on a
shared machine the lowest is the one least disturbed by other jobs).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def _median_ms(fn, n: int) -> float:
    times = []
    for k in range(n):
        t = time.perf_counter()
        fn(k)
        times.append(time.perf_counter() - t)
    return 1000.0 * float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--character", default="pip")
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()

    from PIL import Image

    from deepexpr.characters import get_character, render_face, sample_poses, standin_humans
    from deepexpr.faces.rigface import find_rig_faces
    from deepexpr.retarget import drive, estimate_rig, load_default_rigmap

    person = standin_humans(1, seed=900)[0]
    rigs = sample_poses(person, "joy", 8, seed=0) + sample_poses(person, "surprise", 8, seed=0)
    frames = []
    for rig in rigs:
        canvas = Image.new("RGB", (640, 480), (200, 200, 200))
        canvas.paste(Image.fromarray(render_face(person, rig, 300)[0]), (170, 90))
        frames.append(np.asarray(canvas))
    faces = [find_rig_faces(f, 1)[0] for f in frames]
    model, style = load_default_rigmap(), get_character(args.character)
    estimate_rig(faces[0], None, model)  # warm-up
    n = args.frames
    timed = {
        "estimate_rig": lambda k: estimate_rig(faces[k % len(faces)], None, model),
        f"drive {args.size} px supersample 2": lambda k: drive(style, rigs[k % len(rigs)], args.size, 2),
        f"drive {args.size} px supersample 1": lambda k: drive(style, rigs[k % len(rigs)], args.size, 1),
        "estimate + draw (default)": lambda k: drive(style, estimate_rig(faces[k % len(faces)], None, model),
                                                     args.size),
        "face pipeline 640x480": lambda k: find_rig_faces(frames[k % len(frames)], 1),
    }
    runs = {name: [] for name in timed}
    for _ in range(max(1, args.rounds)):
        for name, fn in timed.items():
            runs[name].append(_median_ms(fn, max(10, n // 3) if name.startswith("face") else n))
    notes = {"estimate + draw (default)": "  (face pipeline excluded)",
             "face pipeline 640x480": "  (find_rig_faces, mediapipe mesh + irises)"}
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {args.rounds} round(s)")
    for name, values in runs.items():
        print(f"{name:30s} median {np.median(values):6.2f}  lowest {min(values):6.2f} ms/frame{notes.get(name, '')}")


if __name__ == "__main__":
    main()
