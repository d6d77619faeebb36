"""HA-GAN: the independent judge's accuracy per intended expression, and what it reads instead.

    OMP_NUM_THREADS=1 python benchmarks/bench_hagan_per_expression.py [runs/hagan | hagan_g.safetensors]

Never-seen stand-in people of seed 1000 (the `deepexpr evaluate hagan --folds 0
--heldout-identities 6 --seed 4242` people: 6 x 4 frames x 7 expressions, drawn as every
target character), judged by `character_cnn`, for G's drawings and for G's decoder driven
by the faces' true rigs. Prints per expression the accuracy and the judge's counts over the
7 classes (EXPRESSIONS order). On the drawn STAND-IN, not photos.
"""
import sys

import numpy as np
import torch

from deepexpr.characters import standin_humans
from deepexpr.data.standin import render_humans, target_styles
from deepexpr.evaluation.hagan import CharacterJudge
from deepexpr.evaluation.hagan_intensity import draw_true_rigs
from deepexpr.models.hagan_pair import load_hagan


def main() -> None:
    torch.set_num_threads(1)
    model = load_hagan(sys.argv[1] if len(sys.argv) > 1 else None)
    styles = target_styles(model.characters)
    people = standin_humans(6, seed=1000)
    faces, labels, _, rigs = render_humans(people, 4, model.load_size, 128, seed=1000, with_rigs=True)
    n = len(styles)
    drawn = np.concatenate([model.run(faces, [c] * len(faces), seed=0)[0] for c in range(n)])
    true = draw_true_rigs(model.generator, rigs, n)
    y = np.tile(labels, n)
    judge = CharacterJudge()
    classes = model.classes
    for name, imgs in (("G", drawn), ("decoder(true rig)", true)):
        p = judge.probs(imgs).argmax(1)
        print(name, f"all {np.mean(p == y):.3f}")
        for e in range(7):
            m = y == e
            conf = np.bincount(p[m], minlength=7)
            print(f"  {e} {classes[e]}: {np.mean(p[m] == e):.3f}  read as {conf.tolist()}")


if __name__ == "__main__":
    main()
