"""Character rendering throughput: images/s of `render_dataset` (PNG files written).

    python benchmarks/bench_characters_render.py --per-expression 40          # 128 + 256 px
    python benchmarks/bench_characters_render.py --per-expression 40 --full   # + the 56k set
    python benchmarks/bench_characters_render.py --per-expression 10 --space wide  # wide space

`--space wide` times 40 characters of the wide style space (`wide:40`: icon, flat, line art,
manga, soft 3D, pixel art, chibi, with decorations, framings and backdrops) instead of the
built-ins, and prints render_face time per art style.

`--full` renders the FERG-scale set for real: 8 characters x 7 expressions x 1,000 =
56,000 PNGs at 128 px (a few minutes), and prints whether it took under 5 minutes.

The machine is shared, so the script also times a fixed reference workload (PIL draw +
PNG encode of one image, single process) before and after, prints the load average
before and after every run, and reports the CPU time per image summed over all
processes (parent + workers, from getrusage). Wall-clock rates fall with other people's
load; CPU ms per image much less (though contention still inflates it somewhat), and
cores / (CPU s per image) is the rate on free cores.
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


def _styles(space: str):
    from deepexpr.characters import get_character, list_characters, random_characters

    if space == "wide":
        return random_characters(40, 0, space="wide")
    return [get_character(c) for c in list_characters()]


def render_only_ms(size: int, n: int = 200, space: str = "classic") -> tuple[float, float]:
    """(wall ms, CPU ms) per render_face call, 1 process."""
    from deepexpr.characters import render_face, sample_poses

    styles = _styles(space)
    jobs = [(s, p) for s in styles for p in sample_poses(s, "surprise", n // len(styles) + 1, 0)][:n]
    t, c = time.perf_counter(), time.process_time()
    for s, p in jobs:
        render_face(s, p, size)
    return ((time.perf_counter() - t) / len(jobs) * 1000, (time.process_time() - c) / len(jobs) * 1000)


def _cpu_seconds() -> float:
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def per_art_ms(size: int, per_art: int = 40) -> dict[str, float]:
    """render_face CPU ms per image for each art style of the wide space (1 process, caches
    warm: each character drawn once before timing)."""
    from deepexpr.characters import render_face, sample_poses

    wide = _styles("wide")
    out = {}
    for art in sorted({s.art_style for s in wide}):
        styles = [s for s in wide if s.art_style == art]
        jobs = [(s, p) for s in styles for p in sample_poses(s, "fear", per_art // len(styles) + 1, 0)][:per_art]
        for s in styles:
            render_face(s, jobs[0][1], size)
        c = time.process_time()
        for s, p in jobs:
            render_face(s, p, size)
        out[art] = (time.process_time() - c) / len(jobs) * 1000
    return out


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
    ap.add_argument("--per-expression", type=int, default=40, help="frames per char x expr")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--space", choices=("classic", "wide"), default="classic",
                    help="classic: the built-ins; wide: wide:40 (the wide style space)")
    ap.add_argument("--full", action="store_true",
                    help="also render the 56k set (8 chars x 7 x 1000 at 128 px) for real")
    args = ap.parse_args()
    from deepexpr.characters.export import RENDERER_VERSION

    print(f"loadavg(1 min) at start: {loadavg()}  cores: {os.cpu_count()}  "
          f"renderer v{RENDERER_VERSION}")
    ref0 = reference_ms()
    print(f"reference job: {ref0:.2f} ms")
    chars = "wide:40" if args.space == "wide" else "all"
    print(f"style space: {args.space} ({chars})")
    for size in (128, 256):
        wall, cpu = render_only_ms(size, space=args.space)
        print(f"render_face only, 1 process, {size} px: {wall:.2f} ms/img wall, {cpu:.2f} ms CPU")
    if args.space == "wide":
        arts = per_art_ms(128)
        print("render_face 128 px per art style (CPU ms/img): "
              + ", ".join(f"{k} {v:.2f}" for k, v in arts.items()))
    cores = min(args.workers, os.cpu_count() or 1)
    for size in (128, 256):
        load0 = loadavg()
        rate, n, dt, cpu_ms = dataset_rate(size, args.per_expression, args.workers, chars)
        cpu_rate = 1000 * cores / cpu_ms
        verdict = ""
        if size == 128:
            verdict = (f"; target >= 300 img/s: wall {'MET' if rate >= 300 else 'not met'}, "
                       f"CPU-derived {'MET' if cpu_rate >= 300 else 'not met'}")
        print(f"render_dataset {size} px, workers={args.workers}: {rate:.0f} img/s wall "
              f"({n} PNGs in {dt:.1f} s); CPU {cpu_ms:.2f} ms/img -> {cpu_rate:.0f} img/s on "
              f"{cores} free cores (load {load0} -> {loadavg()}){verdict}")
    if args.full:
        from deepexpr.characters import list_characters

        chars = ",".join(list_characters()[:8])
        load0 = loadavg()
        rate, n, dt, cpu_ms = dataset_rate(128, 1000, args.workers, chars)
        cpu_min = n * cpu_ms / 1000 / cores / 60
        print(f"FULL 8 chars x 7 expr x 1000 at 128 px, workers={args.workers}: {n} PNGs in "
              f"{dt / 60:.2f} min wall ({rate:.0f} img/s); CPU {cpu_ms:.2f} ms/img -> "
              f"{cpu_min:.2f} min on {cores} free cores (load {load0} -> {loadavg()}); "
              f"target < 5 min: wall {'MET' if dt < 300 else 'not met'}, "
              f"CPU-derived {'MET' if cpu_min < 5 else 'not met'}")
    ref1 = reference_ms()
    print(f"reference job again: {ref1:.2f} ms; loadavg(1 min) at end: {loadavg()}")


if __name__ == "__main__":
    main()
