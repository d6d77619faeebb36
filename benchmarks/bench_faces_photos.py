"""Face pipeline on photos: recall/precision on group photos with known faces, and speed.

    python benchmarks/bench_faces_photos.py [--photos 30] [--runs 7] [--save-examples DIR]
        [--backend tflite|solutions] [--threads 1 2]

Test set (made here, nothing downloaded, nothing committed):
* Composites (`deepexpr.faces.composites`): real faces pasted without overlap onto real
  photographs (scikit-image data), 3-10 faces per photo, inter-ocular distance 20-200 px
  (log-uniform), in-plane roll +-20 deg, brightness x0.6-1.3, photo sizes 1920x1080,
  1280x960 and 3000x2000. Faces: the astronaut (skimage, NASA, public domain) and her
  mirror image; when Debian's `opencv-doc` is installed (`apt-get install opencv-doc`,
  OpenCV sample data, BSD licence) also two low-resolution real faces from its sample
  photos (messi5.jpg, basketball1.png; pasted at 20-30 px between the eyes, i.e. at most
  2.5x their own size).
* Real photos with known face counts: skimage astronaut (1) and camera (1, a profile);
  opencv-doc messi5.jpg (1), basketball1.png and basketball2.png (1 visible face each; the
  second player shows the back of his head).

Matching (`match_faces`): a detection counts when the face's eye midpoint is inside its box
and its width is 1.2-6 eye distances; one detection per face.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from deepexpr.faces.composites import FaceSource, astronaut_sources, make_group_photo, match_faces
from deepexpr.faces.pipeline import FacePipeline, PipelineConfig

OPENCV_DATA = "/usr/share/doc/opencv-doc/examples/data"
# (file, crop x0, y0, x1, y1, eye centres in the crop) measured once on a 4x upscale
OPENCV_FACES = [("messi5.jpg", (200, 75, 280, 154), [[40.1, 33.7], [51.2, 32.3]]),
                ("basketball1.png", (43, 71, 131, 158), [[42.9, 37.0], [56.6, 36.0]])]
REAL_PHOTOS = [("skimage:astronaut", 1), ("skimage:camera", 1), ("messi5.jpg", 1),
               ("basketball1.png", 1), ("basketball2.png", 1)]
SIZES = [(1080, 1920), (960, 1280), (2000, 3000)]


def _read(path: str) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"))


def face_sources() -> list[FaceSource]:
    sources = astronaut_sources()
    for name, (x0, y0, x1, y1), eyes in OPENCV_FACES:
        path = os.path.join(OPENCV_DATA, name)
        if os.path.exists(path):
            crop = np.ascontiguousarray(_read(path)[y0:y1, x0:x1])
            sources.append(FaceSource(crop, np.array(eyes), name, max_iod=2.5 * np.linalg.norm(np.subtract(*eyes))))
    return sources


def real_photo(name: str):
    if name.startswith("skimage:"):
        from skimage import data

        img = getattr(data, name.split(":")[1])()
        return np.dstack([img] * 3) if img.ndim == 2 else img
    path = os.path.join(OPENCV_DATA, name)
    return _read(path) if os.path.exists(path) else None


def accuracy(n_photos: int, save: str | None, config: PipelineConfig | None = None) -> None:
    sources = face_sources()
    pipeline = FacePipeline(config)
    rng = np.random.default_rng(2026)
    totals, by_size, faces_n, sizes_seen = np.zeros(3, int), {}, 0, []
    bins = [(20, 30), (30, 60), (60, 201)]
    for i in range(n_photos):
        h, w = SIZES[i % len(SIZES)]
        img, truth = make_group_photo(rng, int(rng.integers(3, 11)), (20, 200), (h, w), sources,
                                      max_roll=20, gain_range=(0.6, 1.3))
        found = pipeline.detect(img)
        tp, fn, fp = match_faces(truth, [f.box for f in found])
        totals += (tp, fn, fp)
        faces_n += len(truth)
        sizes_seen += [t["iod"] for t in truth]
        for lo, hi in bins:
            sub = [t for t in truth if lo <= t["iod"] < hi]
            t2, f2, _ = match_faces(sub, [f.box for f in found])
            acc = by_size.setdefault((lo, hi), [0, 0])
            acc[0] += t2
            acc[1] += len(sub)
        if fn or fp:
            print(f"  photo {i} ({w}x{h}): {len(truth)} faces, missed {fn}, false {fp}; "
                  f"iods {[round(t['iod']) for t in truth]}")
        if save and i < 3:
            from deepexpr.io import save_image

            save_image(os.path.join(save, f"group_{i}.jpg"), img)
    tp, fn, fp = totals
    print(f"composites: {n_photos} photos, {faces_n} faces (iod {min(sizes_seen):.0f}-{max(sizes_seen):.0f} px, "
          f"sources {', '.join(s.name for s in sources)})")
    print(f"  recall {tp / (tp + fn):.1%} ({tp}/{tp + fn})  precision {tp / max(tp + fp, 1):.1%} ({tp}/{tp + fp})")
    for (lo, hi), (t, n) in by_size.items():
        print(f"  recall at iod {lo}-{hi - 1} px: {t}/{n}")
    low = 0
    for name, expected in REAL_PHOTOS:
        img = real_photo(name)
        if img is None:
            print(f"  real {name}: not installed (apt-get install opencv-doc)")
            continue
        found = pipeline.detect(img)
        low += sum(f.low_confidence for f in found)
        print(f"  real {name} {img.shape[1]}x{img.shape[0]}: expected {expected}, found {len(found)} "
              f"{[(round(f.iod), f.reason or 'ok') for f in found]}")


def timing(runs: int, backend: str, threads: int) -> None:
    rng = np.random.default_rng(7)
    img5, truth = make_group_photo(rng, 5, (40, 150), (1080, 1920), backdrop="coffee")
    assert len(truth) == 5
    from skimage import data

    single = data.astronaut()
    cases = [("1920x1080, 5 faces, min_iod 20 (default) [target <= 150 ms, 5 faces]", img5, {}),
             ("1920x1080, 5 faces, min_iod 40", img5, {"min_iod": 40}),
             ("1920x1080, 5 faces, min_iod 60", img5, {"min_iod": 60}),
             ("512x512 astronaut, 1 face (default) [target <= 10 ms]", single, {}),
             ("512x512 astronaut, 1 face, min_iod 60", single, {"min_iod": 60})]
    print(f"backend {backend}, threads {threads}")
    for label, image, overrides in cases:
        cfg = PipelineConfig(backend=backend, threads=threads, **overrides)
        p = FacePipeline(cfg)
        n = len(p.detect(image))  # warm-up
        times, cpu = [], []
        for _ in range(runs):
            t0, c0 = time.perf_counter(), time.process_time()
            p.detect(image)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        from deepexpr.faces.pipeline import plan_windows

        windows = len(plan_windows(*image.shape[:2], cfg.min_iod, cfg.level_ratio))
        print(f"  {label}: {n} faces, {windows} detector windows, median {statistics.median(times) * 1e3:.1f} ms, "
              f"min {min(times) * 1e3:.1f} ms; CPU median {statistics.median(cpu) * 1e3:.1f} ms ({runs} warm runs)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=30)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--save-examples", metavar="DIR")
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--min-score", type=float, default=PipelineConfig.min_score, help="detector threshold")
    ap.add_argument("--backend", default=PipelineConfig.backend, choices=["tflite", "solutions"])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                    help="PipelineConfig.threads values to time (detector windows and faces in parallel)")
    args = ap.parse_args()
    print(f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {os.getloadavg()}, "
          f"{os.cpu_count()} CPUs")
    if not args.skip_accuracy:
        print(f"backend {args.backend}")
        accuracy(args.photos, args.save_examples, PipelineConfig(min_score=args.min_score, backend=args.backend))
    print("speed (warm, one process; wall and CPU time of this process, all threads):")
    for threads in args.threads:
        timing(args.runs, args.backend, threads)
    print(f"load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
