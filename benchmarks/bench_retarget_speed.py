"""Speed of face -> character rig: estimate + draw per frame, and the face pipeline apart.

    python benchmarks/bench_retarget_speed.py [--frames 60] [--size 256] [--character pip]

Estimate = frontalising fit + MLP (NumPy) + confidence; draw = `drive` at --size with
supersample 2 (anti-aliased, the default) and 1. The face pipeline (mediapipe face mesh
with irises, `find_rig_faces`) is timed separately on a 640x480 frame. Median ms per frame
over --frames frames, one process; the machine load is printed alongside.
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
    est = _median_ms(lambda k: estimate_rig(faces[k % len(faces)], None, model), n)
    draw2 = _median_ms(lambda k: drive(style, rigs[k % len(rigs)], args.size, 2), n)
    draw1 = _median_ms(lambda k: drive(style, rigs[k % len(rigs)], args.size, 1), n)
    both = _median_ms(lambda k: drive(style, estimate_rig(faces[k % len(faces)], None, model), args.size), n)
    pipe = _median_ms(lambda k: find_rig_faces(frames[k % len(frames)], 1), max(10, n // 3))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"estimate_rig                 {est:6.2f} ms/frame")
    print(f"drive {args.size} px supersample 2   {draw2:6.2f} ms/frame")
    print(f"drive {args.size} px supersample 1   {draw1:6.2f} ms/frame")
    print(f"estimate + draw (default)     {both:6.2f} ms/frame  (face pipeline excluded)")
    print(f"face pipeline 640x480         {pipe:6.2f} ms/frame  (find_rig_faces, mediapipe mesh + irises)")


if __name__ == "__main__":
    main()
