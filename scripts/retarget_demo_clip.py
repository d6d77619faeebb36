"""Make the README's retarget clip: a rendered 3D face (SYNTHETIC, `animation.render_truth`)
acting neutral -> surprise -> sadness -> joy with head motion, its neutral frame for
calibration, then `deepexpr retarget --side-by-side` on it.

    python scripts/retarget_demo_clip.py --out out/retarget_clip [--character pip]

Writes OUT/face.mp4, OUT/neutral.png, OUT/driven.mp4, OUT/driven.gif (small) and OUT/rig.csv.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="out/retarget_clip")
    ap.add_argument("--character", default="pip")
    ap.add_argument("--frames", type=int, default=48)
    args = ap.parse_args()

    from PIL import Image

    from deepexpr.animation.preview import write_video
    from deepexpr.animation.render_truth import _base, _look, deform, render
    from deepexpr.cli import main as cli
    from deepexpr.data.synthetic_sequences import make_subject
    from deepexpr.landmarks83 import MEDIAPIPE_INDICES

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    _, _, verts, _ = _base()
    subject, look = make_subject(rng, verts[MEDIAPIPE_INDICES]), _look(rng)
    look["bg"] = np.array([150.0, 160.0, 170.0])
    keys = [{}, {"AU1": 1.0, "AU2": 1.0, "AU5": 0.8, "AU26": 0.9},
            {"AU1": 1.0, "AU4": 0.7, "AU15": 1.0, "AU17": 0.5}, {"AU6": 1.0, "AU12": 1.0, "AU25": 0.6}, {}]
    frames = []
    for k in range(args.frames):
        u = k / (args.frames - 1) * (len(keys) - 1)
        i, t = min(int(u), len(keys) - 2), u - min(int(u), len(keys) - 2)
        s = t * t * (3 - 2 * t)
        aus = {a: (1 - s) * keys[i].get(a, 0.0) + s * keys[i + 1].get(a, 0.0) for a in set(keys[i]) | set(keys[i + 1])}
        head = (12 * np.sin(k / 7.0), 5 * np.sin(k / 11.0), 4 * np.sin(k / 9.0))
        frames.append(render(deform(aus, subject), head, 256, look))
    Image.fromarray(render(deform({}, subject), (0, 0, 0), 256, look)).save(out / "neutral.png")
    write_video(frames, out / "face.mp4", fps=12)
    cli(["retarget", str(out / "face.mp4"), "--character", args.character, "--side-by-side",
         "--calibrate", str(out / "neutral.png"), "--out", str(out / "driven.mp4"),
         "--rig-csv", str(out / "rig.csv"), "--overwrite"])
    import imageio.v2 as imageio

    driven = [np.asarray(Image.fromarray(f).resize((256, 128))) for f in imageio.mimread(out / "driven.mp4")]
    write_video(driven[::2], out / "driven.gif", fps=6)


if __name__ == "__main__":
    main()
