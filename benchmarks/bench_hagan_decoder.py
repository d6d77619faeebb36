"""HA-GAN's decoder alone, driven by true rigs: how legible can it draw? (issue 18, session 6)

    OMP_NUM_THREADS=1 nice -n 15 python benchmarks/bench_hagan_decoder.py --updates 2400 \
        --eval-every 400 [--preset fullres] [--set reader_weight=0.3 --set reader_steps=800] \
        [--g '{"full_res": 16}'] [--people-seed 2000] [--out runs/dec.csv]

The decoder-only protocol of RESULTS.md ("Session 5"), as a script: G's decoder is trained as
a renderer (`deepexpr.train.hagan.render_l1`, the training's own loss and settings) on a
render pool of the bundled targets, and every `--eval-every` updates the independent judge
(`character_cnn`) reads its drawings of never-seen stand-in people's TRUE rigs (no encoder:
the decoder's ceiling). Validation people: seed 2000 by default (the reported evaluation
uses seed 1000: pick recipes here, report there). Prints one line per evaluation (judge
accuracy, L1 to the exact renders of the same rigs, CPU seconds) and writes them as CSV.
Measured on the drawn STAND-IN's rigs, not photos.
"""

from __future__ import annotations

import argparse
import csv
import json
import time

import numpy as np
import torch

CHARACTERS = ("pip", "mika", "bruno", "tabby", "zorp", "moxi")


def _value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="fullres")
    ap.add_argument("--g", default="{}", help="JSON HaganGConfig overrides")
    ap.add_argument("--set", action="append", default=[], help="HaganTrainConfig field=value (repeatable)")
    ap.add_argument("--pool", type=int, default=3000, help="renders per character")
    ap.add_argument("--updates", type=int, default=2400)
    ap.add_argument("--eval-every", type=int, default=400)
    ap.add_argument("--people-seed", type=int, default=2000)
    ap.add_argument("--people", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="CSV of the evaluations")
    ap.add_argument("--save", default=None, help="write the drawings of the last evaluation (npz)")
    return ap.parse_args()


def build_pool(g, cfg, styles):
    """The render pool the decoder trains on, with G's neutral base (and landmarks) set."""
    from deepexpr.train.hagan_data import RenderPool

    pool = RenderPool(styles, cfg.render_pool, g.cfg.image_size, np.random.default_rng(cfg.seed + 17),
                      cfg.render_focus, cfg.render_focus_factor)
    g.set_base(pool.neutral)
    if hasattr(g, "set_landmarks") and getattr(g, "landmark_base", None) is not None:
        g.set_landmarks(torch.from_numpy(pool.neutral_landmarks))
    return pool


def validation_people(args, styles, size: int):
    """Validation people's rigs (N, R), labels (N,), their paired renders and labels per character."""
    from deepexpr.characters import standin_humans
    from deepexpr.data.hagan import rig_targets
    from deepexpr.data.standin import render_humans, render_paired

    people = standin_humans(args.people, seed=args.people_seed)
    _, labels, _, rigs = render_humans(people, 4, 72, 128, seed=args.people_seed, with_rigs=True)
    paired = np.concatenate([render_paired(styles, rigs, np.full(len(rigs), c), size)
                             for c in range(len(styles))])
    return torch.from_numpy(rig_targets(rigs)), labels, paired, np.tile(labels, len(styles))


def evaluation_row(g, judge, styles, target, labels, paired, y, step: int, t0: float) -> tuple[dict, np.ndarray]:
    """The decoder's drawings of the true rigs for every character, judged: (row, drawings)."""
    from deepexpr.data.hagan import to_tensor, to_uint8

    g.eval()
    with torch.inference_mode():
        drawn = np.concatenate([to_uint8(g.draw(target, torch.full((len(target),), c)))
                                for c in range(len(styles))])
    judged = judge.probs(drawn).argmax(1)
    n = len(labels)
    row = {"updates": step, "judge_true_rigs": round(float((judged == y).mean()), 4),
           **{f"judge_{s.name}": round(float((judged[c * n:(c + 1) * n] == labels).mean()), 3)
              for c, s in enumerate(styles)},
           "l1_to_render": round(float(np.abs(to_tensor(drawn) - to_tensor(paired)).mean()), 4),
           "cpu_s": round(time.process_time() - t0, 1)}
    return row, drawn


def main() -> None:
    from deepexpr.data.standin import target_styles
    from deepexpr.evaluation.hagan import CharacterJudge
    from deepexpr.train.hagan import HaganTrainConfig, build_models, render_l1
    from deepexpr.train.hagan_reader import build_rig_reader, fit_rig_reader

    args = parse_args()
    torch.set_num_threads(1)
    fields = dict(kv.split("=", 1) for kv in args.set)
    cfg = HaganTrainConfig(preset=args.preset, render_pool=args.pool, g_overrides=json.loads(args.g),
                           seed=args.seed, **{k: _value(v) for k, v in fields.items()})
    torch.manual_seed(cfg.seed)
    styles = target_styles(CHARACTERS)
    g = build_models(cfg, len(styles))[0]
    t0 = time.process_time()
    pool = build_pool(g, cfg, styles)
    print(f"pool {len(pool.rigs)} renders, {time.process_time() - t0:.0f} CPU-s", flush=True)
    reader = None
    if cfg.reader_weight > 0:
        reader = fit_rig_reader(pool, cfg.reader_steps, cfg.batch_size,
                                reader=build_rig_reader(g.cfg.image_size, g.cfg.rig_dim))
    target, labels, paired, y = validation_people(args, styles, g.cfg.image_size)
    judge = CharacterJudge()
    print(f"judge on the exact renders {float((judge.probs(paired).argmax(1) == y).mean()):.3f}", flush=True)
    dec = [p for n, p in g.named_parameters() if not n.startswith(("encoder.", "expr_head.", "rig_head."))]
    opt = torch.optim.Adam(dec, lr=cfg.lr * cfg.encoder_lr_mult, betas=(cfg.beta1, cfg.beta2))
    rows = []
    for step in range(1, args.updates + 1):
        g.train()
        loss = render_l1(g, pool, cfg.batch_size, cfg, reader)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % args.eval_every and step != args.updates:
            continue
        row, drawn = evaluation_row(g, judge, styles, target, labels, paired, y, step, t0)
        rows.append(row)
        print(row, flush=True)
        if args.save:
            np.savez_compressed(args.save, drawn=drawn, paired=paired, y=y)
    if args.out:
        with open(args.out, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)

if __name__ == "__main__":
    main()
