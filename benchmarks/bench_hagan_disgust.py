"""HA-GAN: where the independent judge reads disgust, and what G's encoder reads on disgust
and anger faces (issue 18, session 10).

    OMP_NUM_THREADS=1 nice -n 15 python benchmarks/bench_hagan_disgust.py [WEIGHTS] \
        [--people 12 --people-seed 2000] [--sheet reports/disgust_map.png] [--out reports/disgust.json]

Never-seen stand-in people (seed 2000 = validation people; 1000 = the reported ones), 4
frames x 7 expressions each, drawn as every target character three ways: the ideal drawing
(the character rendered with the face's own rig), G's decoder driven by the TRUE rig, and G.

1. Occlusion: on every disgust drawing, a 12 px grey square slid with stride 4; the map is
   the mean drop of the judge's disgust probability where the square sits (what the judge
   reads disgust from). The sheet shows, per source, the mean disgust drawing of character
   0 and the map over all characters; the JSON has the share of the map's mass inside the
   nose/upper-lip band (rows 0.45-0.75 of the drawing, middle half of the columns).
2. The encoder: mean and Pearson r of G's rig estimate against the truth for AU4 (brow
   lowerer: anger), AU9 (nose wrinkler) and AU10 (upper-lip raiser) on anger and on disgust
   faces, and the encoder head's disgust/anger confusion. Stand-in only.
"""
import argparse
import json

import numpy as np
import torch

from deepexpr.characters import standin_humans
from deepexpr.characters.rig import RIG_CONTROLS
from deepexpr.data.hagan import rig_targets
from deepexpr.data.standin import render_humans, render_paired, target_styles
from deepexpr.evaluation.hagan import CharacterJudge
from deepexpr.evaluation.hagan_intensity import draw_true_rigs
from deepexpr.io import save_image
from deepexpr.models.hagan_pair import load_hagan

PATCH, STRIDE = 12, 4


def occlusion_map(judge: CharacterJudge, images: np.ndarray, cls: int) -> np.ndarray:
    """(N, S, S, 3) uint8 -> (S, S) mean drop of the judge's class-`cls` probability when a
    PATCH x PATCH grey square covers each pixel (averaged over the squares covering it)."""
    size = images.shape[1]
    base = judge.probs(images)[:, cls]
    drop, count = np.zeros((size, size)), np.zeros((size, size))
    for y in range(0, size - PATCH + 1, STRIDE):
        for x in range(0, size - PATCH + 1, STRIDE):
            covered = images.copy()
            covered[:, y:y + PATCH, x:x + PATCH] = 128
            drop[y:y + PATCH, x:x + PATCH] += float(np.mean(base - judge.probs(covered)[:, cls]))
            count[y:y + PATCH, x:x + PATCH] += 1
    return drop / np.maximum(count, 1)


def band_share(heat: np.ndarray) -> float:
    """Share of the positive map inside the nose/upper-lip band."""
    s = heat.shape[0]
    pos = np.clip(heat, 0, None)
    band = pos[int(0.45 * s):int(0.75 * s), s // 4:3 * s // 4].sum()
    return float(band / max(pos.sum(), 1e-9))


def heat_image(heat: np.ndarray) -> np.ndarray:
    """(S, S) -> (S, S, 3) uint8: red = the judge loses disgust there, scaled to the max."""
    v = np.clip(heat / max(float(heat.max()), 1e-9), 0, 1)
    return (np.stack([v, 0.2 * v, 0.2 * v], -1) * 255).astype(np.uint8)


def encoder_table(model, faces: np.ndarray, labels: np.ndarray, rigs: np.ndarray) -> dict:
    pred, truth = model.rig(faces), rig_targets(rigs)
    cls = model.classes
    out = {}
    for name in ("anger", "disgust"):
        m = labels == cls.index(name)
        for au in ("AU4", "AU9", "AU10"):
            k = RIG_CONTROLS.index(au)
            out[f"{name}_{au}"] = {"true": round(float(truth[m, k].mean()), 3),
                                   "read": round(float(pred[m, k].mean()), 3),
                                   "r": round(float(np.corrcoef(truth[m, k], pred[m, k])[0, 1]), 3)}
    from deepexpr.data.hagan import human_view, to_tensor

    with torch.inference_mode():
        g = model.generator
        head = g.expression(g.encode(to_tensor(human_view(faces, model.image_size)))).argmax(1).numpy()
    dis, ang = cls.index("disgust"), cls.index("anger")
    out["head_disgust_as_anger"] = int(np.sum((labels == dis) & (head == ang)))
    out["head_anger_as_disgust"] = int(np.sum((labels == ang) & (head == dis)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("weights", nargs="?", default=None)
    ap.add_argument("--people", type=int, default=12)
    ap.add_argument("--people-seed", type=int, default=2000)
    ap.add_argument("--sheet", default=None, help="write the mean drawings and maps as a PNG")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = load_hagan(args.weights)
    styles = target_styles(model.characters)
    people = standin_humans(args.people, seed=args.people_seed)
    faces, labels, _, rigs = render_humans(people, 4, model.load_size, 128, seed=args.people_seed, with_rigs=True)
    n, dis = len(styles), model.classes.index("disgust")
    sel = labels == dis
    sources = {
        "ideal": np.concatenate([render_paired(styles, rigs[sel], np.full(sel.sum(), c), model.image_size)
                                 for c in range(n)]),
        "true_rig": draw_true_rigs(model.generator, rigs[sel], n),
        "G": np.concatenate([model.run(faces[sel], [c] * int(sel.sum()), seed=0)[0] for c in range(n)]),
    }
    judge = CharacterJudge()
    result = {"weights": str(model.path), "people": args.people, "people_seed": args.people_seed}
    tiles = []
    for name, imgs in sources.items():
        heat = occlusion_map(judge, imgs, dis)
        p = judge.probs(imgs)
        result[name] = {"disgust_read": round(float(np.mean(p.argmax(1) == dis)), 4),
                        "mean_p_disgust": round(float(p[:, dis].mean()), 4),
                        "band_share": round(band_share(heat), 3), "max_drop": round(float(heat.max()), 4)}
        print(name, result[name], flush=True)
        tiles += [imgs[: int(sel.sum())].mean(0).astype(np.uint8), heat_image(heat)]
    result["encoder"] = encoder_table(model, faces, labels, rigs)
    print(json.dumps(result["encoder"]))
    if args.sheet:
        big = [np.kron(t, np.ones((4, 4, 1), np.uint8)) for t in tiles]
        save_image(args.sheet, np.concatenate(big, 1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
