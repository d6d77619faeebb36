"""Are the rendered expressions readable? Train on some characters, test on unseen ones.

    python benchmarks/bench_characters_readability.py [--per-expression 50] [--size 64]

A person checked the contact sheet by eye; this script adds a number: a small CNN trained
from scratch on random characters (`random_characters`, 60 styles) and tested on the
built-in characters, whose styles it never saw. Labels a network can read on unseen art
styles are carried by the expression, not by a character's look. A landmark-only linear
classifier (98 normalised coordinates) shows how far the rig geometry alone separates the
classes. Chance is 1/7 = 14%.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

from deepexpr.characters import (
    get_character,
    list_characters,
    random_characters,
    render_face,
    sample_poses,
)
from deepexpr.expressions import EXPRESSIONS


def render_set(styles, per_expression: int, size: int, seed: int):
    xs, ys, lms, chars = [], [], [], []
    for s in styles:
        for label, expr in enumerate(EXPRESSIONS):
            for rig in sample_poses(s, expr, per_expression, seed):
                img, lm = render_face(s, rig, size)
                xs.append(img)
                ys.append(label)
                lms.append(lm)
                chars.append(s.name)
    x = torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).float().div(255)
    return x, torch.tensor(ys), np.stack(lms), np.array(chars)


def small_cnn() -> nn.Module:
    def block(i, o):
        return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2))

    return nn.Sequential(block(3, 16), block(16, 32), block(32, 64), block(64, 96),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(96, 7))


def train_eval(model, xtr, ytr, xte, yte, epochs: int, seed: int = 0) -> float:
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), 2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 4e-3, total_steps=epochs * ((len(xtr) + 63) // 64))
    lossf = nn.CrossEntropyLoss()
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(xtr))
        for i in range(0, len(xtr), 64):
            idx = perm[i:i + 64]
            xb = xtr[idx]
            if torch.rand(1).item() < 0.5:
                xb = xb.flip(3)  # mirror: expressions are symmetric here
            loss = lossf(model(xb), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(xte[i:i + 256]).argmax(1) for i in range(0, len(xte), 256)])
    return (pred == yte).float().mean().item()


def landmark_features(lm: np.ndarray) -> torch.Tensor:
    """Landmarks centred on the eyes' midpoint and scaled by the inter-ocular distance."""
    eyes_r, eyes_l = lm[:, 19:25].mean(1), lm[:, 25:31].mean(1)
    centre = (eyes_r + eyes_l) / 2
    scale = np.linalg.norm(eyes_l - eyes_r, axis=1)[:, None, None]
    f = (lm - centre[:, None]) / scale
    return torch.from_numpy(f.reshape(len(f), -1)).float()


def linear_eval(ftr, ytr, fte, yte, steps: int = 600) -> float:
    mu, sd = ftr.mean(0), ftr.std(0) + 1e-6
    ftr, fte = (ftr - mu) / sd, (fte - mu) / sd
    lin = nn.Linear(ftr.shape[1], 7)
    opt = torch.optim.LBFGS(lin.parameters(), max_iter=steps)

    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(lin(ftr), ytr) + 1e-3 * lin.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return (lin(fte).argmax(1) == yte).float().mean().item()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train-characters", type=int, default=60, help="random training styles")
    ap.add_argument("--per-expression", type=int, default=20, help="frames per style and expression")
    ap.add_argument("--test-per-expression", type=int, default=30)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    train_styles = random_characters(args.train_characters, seed=1000)
    x, y, lm, _ = render_set(train_styles, args.per_expression, args.size, seed=1)
    builtins = [get_character(n) for n in list_characters()]
    xt, yt, lmt, chars = render_set(builtins, args.test_per_expression, args.size, seed=2)
    print(f"train: {len(x)} images of {len(train_styles)} random styles; test: {len(xt)} images of "
          f"the {len(builtins)} built-ins (styles never seen in training); {args.size} px; "
          f"rendered in {time.time() - t0:.0f} s")
    model = small_cnn()
    acc = train_eval(model, x, y, xt, yt, args.epochs)
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(xt[i:i + 256]).argmax(1) for i in range(0, len(xt), 256)])
    lacc = linear_eval(landmark_features(lm), y, landmark_features(lmt), yt)
    print(f"all built-ins: CNN {acc:.1%}   landmarks-only linear {lacc:.1%}   (chance 14.3%)")
    for name in list_characters():
        m = torch.from_numpy(chars == name)
        print(f"  {name:7s} CNN {(pred[m] == yt[m]).float().mean().item():.1%}")
    per_class = [(pred[yt == k] == k).float().mean().item() for k in range(7)]
    print("  per expression: " + ", ".join(f"{e} {a:.0%}" for e, a in zip(EXPRESSIONS, per_class)))
    print(f"total {time.time() - t0:.0f} s (load {open('/proc/loadavg').read().split()[0]})")


if __name__ == "__main__":
    main()
