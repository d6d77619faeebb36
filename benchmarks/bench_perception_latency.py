"""Recognition speed.

1. One 640x480 photo with one face (skimage's astronaut, scaled to 480 px high and padded to
   640 wide), warm: face mesh + 49 points, registration and crop, human CNN (fer port), as
   `deepexpr recognize` runs them. Target: under 30 ms end to end.
2. Character batch throughput: the bundled character model on 128x128 drawn characters
   (preprocess + forward, batches of 256, all threads). Target: at least 500 images/s.

    python benchmarks/bench_perception_latency.py [--repeats 50] [--images 2048] [--passes 5] [--character-model character_cnn]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def photo_640x480() -> np.ndarray:
    import cv2
    from skimage import data

    face = cv2.resize(data.astronaut(), (480, 480), interpolation=cv2.INTER_AREA)
    return cv2.copyMakeBorder(face, 0, 0, 80, 80, cv2.BORDER_REFLECT)


def character_images(n: int) -> list[np.ndarray]:
    from PIL import Image

    from deepexpr.characters import render_dataset

    with tempfile.TemporaryDirectory() as tmp:
        render_dataset(tmp, "all", per_expression=2, size=128, seed=0, show_progress=False)
        files = sorted(Path(tmp).rglob("*.png"))
        imgs = [np.asarray(Image.open(f).convert("RGB")) for f in files]
    return [imgs[i % len(imgs)] for i in range(n)]


def ms(t: list[float]) -> str:
    a = np.asarray(t) * 1000
    return f"median {np.median(a):6.2f} ms  p90 {np.percentile(a, 90):6.2f} ms"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--images", type=int, default=2048)
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--character-model", default=None, help="name or checkpoint (default: the bundled default)")
    args = ap.parse_args()

    import torch

    from deepexpr.faces.align import align_face
    from deepexpr.faces.detect import MESH_TO_49, detect_faces, mesh_points
    from deepexpr.recognition import load_recognizer

    photo = photo_640x480()
    human = load_recognizer("human")
    for _ in range(5):  # warm: graph, caches, allocator
        human.probs([detect_faces(photo)[0].aligned])
    t_mesh, t_align, t_cnn, t_all = [], [], [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        mesh = mesh_points(photo)[0]
        t1 = time.perf_counter()
        crop, _, _ = align_face(photo, mesh[list(MESH_TO_49), :2], 256)
        t2 = time.perf_counter()
        probs = human.probs([crop])
        t3 = time.perf_counter()
        t_mesh.append(t1 - t0)
        t_align.append(t2 - t1)
        t_cnn.append(t3 - t2)
        t0 = time.perf_counter()
        faces = detect_faces(photo)
        human.probs([f.aligned for f in faces])
        t_all.append(time.perf_counter() - t0)
    label = human.classes[int(probs[0].argmax())]
    print(f"photo 640x480, 1 face ({label}), {args.repeats} warm runs, torch threads {torch.get_num_threads()}")
    print(f"  face mesh + 49 points  {ms(t_mesh)}")
    print(f"  registration + crop    {ms(t_align)}")
    print(f"  human CNN (fer port)   {ms(t_cnn)}")
    print(f"  end to end (detect_faces + probs)  {ms(t_all)}   target < 30 ms")

    char = load_recognizer("character", args.character_model)
    imgs = character_images(args.images)
    char.probs(imgs[:256])  # warm
    rates = []
    for _ in range(args.passes):  # several passes: the shared CPU makes one pass noisy
        t0 = time.perf_counter()
        char.probs(imgs)
        rates.append(len(imgs) / (time.perf_counter() - t0))
    print(f"character model {char.name} ({char.config['model']}, {char.config['preprocess']['size']} px): "
          f"{len(imgs)} images of 128x128 per pass, {args.passes} passes: median {np.median(rates):.0f} "
          f"images/s (min {min(rates):.0f}, max {max(rates):.0f})   target >= 500")

if __name__ == "__main__":
    main()
