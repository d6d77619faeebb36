"""Does HA-GAN's drawing follow the face's intensity and the person? A picture and numbers.

    python benchmarks/bench_hagan_intensity.py [--weights runs/hagan] [--out docs/hagan_intensity.png]
        [--character pip] [--seed 4242]

Never-seen stand-in people (seed 4242 by default; training draws seed 0) make one
expression at four intensities (the AUs of one of their key poses scaled by 0.25, 0.5,
0.75, 1; head frontal). Each row: one person and expression; each group of three columns:
the aligned face, G's drawing of it as the character, and the ideal drawing (the
character rendered with the face's own rig). Prints, per row, the mean L1 between the
drawings of successive intensities (0 = the drawing ignores intensity) and, for the same
expression at full intensity, between the drawings of different people. Also runs the
old templated model if `--compare` names it. All on the drawn STAND-IN, not photos.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

LEVELS = (0.25, 0.5, 0.75, 1.0)
ROWS = (("joy", 0), ("joy", 1), ("surprise", 0), ("surprise", 2), ("sadness", 1), ("anger", 2),
        ("disgust", 0), ("fear", 1))


def faces_at_levels(person, expression: str, load_size: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The person's first key pose of `expression` at each of LEVELS: (aligned faces, raw rigs)."""
    from deepexpr.characters import render_face
    from deepexpr.characters.rig import AUS, key_poses
    from deepexpr.data.standin import rig_vector
    from deepexpr.faces.align import align_face

    pose = rig_vector(key_poses(person, expression)[0])
    pose[len(AUS):] = 0.0  # frontal, looking ahead: only the intensity changes
    faces, rigs = [], []
    for level in LEVELS:
        rig = pose.copy()
        rig[: len(AUS)] *= level
        from deepexpr.data.standin import paired_rig

        img, lms = render_face(person, paired_rig(rig), 128)
        faces.append(align_face(img, lms, load_size, frame="hagan")[0])
        rigs.append(rig)
    return faces, rigs


def main() -> None:
    from deepexpr.characters import standin_humans
    from deepexpr.data.hagan import human_view
    from deepexpr.io import save_image
    from deepexpr.models.hagan_pair import load_hagan
    from deepexpr.train.hagan_export import tile

    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default=None, help="generator checkpoint or run folder (default: bundled)")
    ap.add_argument("--out", default="docs/hagan_intensity.png")
    ap.add_argument("--character", default="pip")
    ap.add_argument("--seed", type=int, default=4242, help="stand-in seed of the never-seen people")
    ap.add_argument("--scale", type=int, default=2, help="enlarge the picture (nearest neighbour)")
    args = ap.parse_args()
    print(f"load average: {os.getloadavg()[0]:.2f} (2 cores); human side: drawn STAND-IN faces")
    model = load_hagan(args.weights)
    c = model.character_index(args.character)
    from deepexpr.data.standin import render_paired, target_styles

    styles = target_styles(model.characters)
    people = standin_humans(3, seed=args.seed)
    rows, full = [], {}
    for expression, who in ROWS:
        faces, rigs = faces_at_levels(people[who], expression, model.load_size)
        ideal = render_paired(styles, np.stack(rigs), np.full(len(rigs), c), model.image_size)
        drawn, probs = model.run(np.stack(faces), [c] * len(faces), seed=0)
        steps = [np.abs(drawn[i + 1].astype(float) - drawn[i]).mean() / 127.5 for i in range(len(LEVELS) - 1)]
        labels = [model.classes[int(p.argmax())] for p in probs]
        print(f"{expression:9s} person {who}: L1 between successive intensities "
              f"{' '.join(f'{s:.3f}' for s in steps)}; D^e reads {', '.join(labels)}")
        full.setdefault(expression, []).append(drawn[-1])
        view = human_view(np.stack(faces), model.image_size)
        rows.append([im for group in zip(view, drawn, ideal) for im in group])
    for expression, drawings in full.items():
        if len(drawings) > 1:
            print(f"{expression:9s} full intensity, person A vs B: L1 "
                  f"{np.abs(drawings[0].astype(float) - drawings[1]).mean() / 127.5:.3f}")
    picture = tile(rows)
    save_image(args.out, picture.repeat(args.scale, axis=0).repeat(args.scale, axis=1))
    print(f"wrote {args.out} ({len(rows)} rows: face, drawing as {args.character}, ideal drawing at intensity "
          f"{', '.join(map(str, LEVELS))})")


if __name__ == "__main__":
    main()
