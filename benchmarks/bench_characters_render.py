"""Character rendering throughput: images/s of `render_dataset` (PNG files written).

    python benchmarks/bench_characters_render.py            # 128 and 256 px, 2 workers
    python benchmarks/bench_characters_render.py --full     # + 8 chars x 7 expr x 1000 at 128 px

The machine is shared, so the script also times a fixed reference workload (PIL draw +
PNG encode of one image, single process) before and after, prints /proc/loadavg, and
reports the CPU time per image summed over all processes (parent + workers, from
getrusage): wall-clock rates fall with other people's load, CPU ms per image much less,
and cores / (CPU s per image) is the rate on free cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

import numpy as np
from PIL import Image, ImageDraw


def loadavg() -> str:
    try:
        return open("/proc/loadavg").read().split(" ")[0]
    except OSError:
        return "n/a"


def reference_ms(reps: int = 300) -> float:
    """A fixed single-core job: draw 20 polygons at 256 px, reduce to 128, PNG-encode."""
    import io

    rng = np.random.default_rng(0)
    polys = [rng.uniform(0, 256, (12, 2)).ravel().tolist() for _ in range(20)]
    t = time.perf_counter()
    for _ in range(reps):
        img = Image.new("RGB", (256, 256), "white")
        d = ImageDraw.Draw(img)
        for k, p in enumerate(polys):
            d.polygon(p, fill=(k * 12, 90, 200 - k * 8))
        img.reduce(2).save(io.BytesIO(), format="PNG", compress_level=1)
    return (time.perf_counter() - t) / reps * 1000


def render_only_ms(size: int, n: int = 200) -> float:
    from deepexpr.characters import get_character, list_characters, render_face, sample_poses

    styles = [get_character(c) for c in list_characters()]
    jobs = [(s, p) for s in styles for p in sample_poses(s, "surprise", n // len(styles) + 1, 0)][:n]
    t = time.perf_counter()
    for s, p in jobs:
        render_face(s, p, size)
    return (time.perf_counter() - t) / len(jobs) * 1000


def _cpu_seconds() -> float:
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def dataset_rate(size: int, per_expression: int, workers: int, characters="all"):
    """(wall img/s, images, wall s, CPU ms per image summed over all processes)."""
    from deepexpr.characters import render_dataset

    out = tempfile.mkdtemp(prefix="bench_chars_")
    try:
        c0, t = _cpu_seconds(), time.perf_counter()
        m = render_dataset(os.path.join(out, "ds"), characters, per_expression, size, seed=0,
                           workers=workers, show_progress=False)
        dt, cpu = time.perf_counter() - t, _cpu_seconds() - c0
    finally:
        shutil.rmtree(out, ignore_errors=True)
    n = m["counts"]["total"]
    return n / dt, n, dt, cpu / n * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-expression", type=int, default=60, help="frames per char x expr")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--full", action="store_true", help="also 8 chars x 7 x 1000 at 128 px")
    args = ap.parse_args()
    print(f"loadavg(1 min) at start: {loadavg()}  cores: {os.cpu_count()}")
    ref0 = reference_ms()
    print(f"reference job: {ref0:.2f} ms")
    for size in (128, 256):
        print(f"render_face only, 1 process, {size} px: {render_only_ms(size):.2f} ms/img")
    cores = min(args.workers, os.cpu_count() or 1)
    for size in (128, 256):
        rate, n, dt, cpu_ms = dataset_rate(size, args.per_expression, args.workers)
        print(f"render_dataset {size} px, workers={args.workers}: {rate:.0f} img/s wall "
              f"({n} PNGs in {dt:.1f} s); CPU {cpu_ms:.2f} ms/img -> "
              f"{1000 * cores / cpu_ms:.0f} img/s on {cores} free cores")
    if args.full:
        from deepexpr.characters import list_characters

        chars = ",".join(list_characters()[:8])
        rate, n, dt, cpu_ms = dataset_rate(128, 1000, args.workers, chars)
        print(f"FULL 8 chars x 7 expr x 1000 at 128 px, workers={args.workers}: {n} PNGs in "
              f"{dt / 60:.2f} min wall ({rate:.0f} img/s); CPU {cpu_ms:.2f} ms/img -> "
              f"{n * cpu_ms / 1000 / cores / 60:.2f} min on {cores} free cores")
    ref1 = reference_ms()
    print(f"reference job again: {ref1:.2f} ms; loadavg(1 min) at end: {loadavg()}")


if __name__ == "__main__":
    main()
