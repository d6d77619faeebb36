"""HA-GAN: the independent judge's accuracy per intended expression, and what it reads instead.

    OMP_NUM_THREADS=1 python benchmarks/bench_hagan_per_expression.py [runs/hagan | hagan_g.safetensors] \
        [--people-seed 1000] [--people 6] [--out reports/per_expression.json]

Never-seen stand-in people (seed 1000 = the `deepexpr evaluate hagan --folds 0
--heldout-identities 6 --seed 4242` people, the reported ones; seed 2000 = validation people
to pick recipes on): 6 x 4 frames x 7 expressions, drawn as every target character, judged
by `character_cnn`, for G's drawings, for G's decoder driven by the faces' true rigs, and for
the ideal drawings (the character rendered with the face's own rig: what the judge reads on
a perfect G). Prints per expression the accuracy and the judge's counts over the 7 classes
(EXPRESSIONS order). On the drawn STAND-IN, not photos.
"""
import argparse
import json

import numpy as np
import torch

from deepexpr.characters import standin_humans
from deepexpr.data.standin import render_humans, render_paired, target_styles
from deepexpr.evaluation.hagan import CharacterJudge
from deepexpr.evaluation.hagan_intensity import draw_true_rigs
from deepexpr.models.hagan_pair import load_hagan


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("weights", nargs="?", default=None, help="generator checkpoint or run folder (default: bundled)")
    ap.add_argument("--people-seed", type=int, default=1000)
    ap.add_argument("--people", type=int, default=6, help="never-seen people (session 10 picks on 12)")
    ap.add_argument("--no-mirror", action="store_true", help="G reads the rig on the face alone (session 9's "
                    "inference; default: averaged with the mirror image, HaganModel.mirror_rig)")
    ap.add_argument("--out", default=None, help="write the figures as JSON")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = load_hagan(args.weights)
    model.mirror_rig = not args.no_mirror
    styles = target_styles(model.characters)
    people = standin_humans(args.people, seed=args.people_seed)
    faces, labels, _, rigs = render_humans(people, 4, model.load_size, 128, seed=args.people_seed, with_rigs=True)
    n = len(styles)
    drawn = np.concatenate([model.run(faces, [c] * len(faces), seed=0)[0] for c in range(n)])
    true = draw_true_rigs(model.generator, rigs, n)
    ideal = np.concatenate([render_paired(styles, rigs, np.full(len(rigs), c), model.image_size) for c in range(n)])
    y = np.tile(labels, n)
    judge = CharacterJudge()
    classes = model.classes
    result = {"weights": str(model.path), "people_seed": args.people_seed, "people": args.people,
              "mirror_rig": model.mirror_rig}
    for name, imgs in (("G", drawn), ("decoder(true rig)", true), ("ideal drawing", ideal)):
        p = judge.probs(imgs).argmax(1)
        print(name, f"all {np.mean(p == y):.3f}")
        result[name] = {"all": round(float(np.mean(p == y)), 4)}
        for e in range(7):
            m = y == e
            conf = np.bincount(p[m], minlength=7)
            result[name][classes[e]] = round(float(np.mean(p[m] == e)), 4)
            print(f"  {e} {classes[e]}: {np.mean(p[m] == e):.3f}  read as {conf.tolist()}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
