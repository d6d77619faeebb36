"""The README's video figures: a demo clip of real faces -> timeline plot and an annotated frame.

    python scripts/make_video_demo.py [--out docs] [--keep-video DIR]

The clip (854x480, 15 fps, 8 s) is composed here from real photographs that ship in
scikit-image (public domain): the astronaut drifts and tilts; her mirror image leaves the
frame at 3 s and is back at 3.8 s (its track id is kept); the cameraman (a profile, small)
is low-confidence; from 6 s a grey "camera" covers half of the astronaut's face. Then
`deepexpr recognize clip.mp4 --smooth 0.5 --plot ... --annotate ...` runs as a user would,
and one annotated frame is saved. Outputs: OUT/video_timeline.png, OUT/video_annotated.png.
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np

FPS, SECONDS, SIZE = 15, 8.0, (480, 854)


def demo_frames() -> list[np.ndarray]:
    import cv2
    from skimage import data

    from deepexpr.faces.composites import astronaut_sources, background, paste_face

    astro, mirror = astronaut_sources()
    camera = np.dstack([data.camera()] * 3)[40:300, 120:380]
    bg = background("coffee", *SIZE)
    bg = cv2.addWeighted(bg, 0.5, np.full_like(bg, 90), 0.5, 0)
    frames = []
    for k in range(int(FPS * SECONDS)):
        t = k / FPS
        frame = bg.copy()
        frame[200:460, 580:840] = camera
        a = paste_face(frame, astro, 52, int(20 + 12 * t), 60, roll=8 * np.sin(t * 1.3))
        if not 3.0 <= t < 3.8:
            paste_face(frame, mirror, 30, int(390 + 10 * np.sin(t)), 10)
        if t >= 6.0:  # a camera held in front of half her face
            ex, ey = a["eyes"][1]
            frame[int(ey - 40):int(ey + 70), int(ex - 25):int(ex + 60)] = (70, 70, 75)
        frames.append(frame)
    return frames


def main() -> None:
    import imageio_ffmpeg

    from deepexpr.cli import main as cli
    from deepexpr.io import save_image

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs")
    ap.add_argument("--keep-video", metavar="DIR", help="also keep the clip and the annotated video here")
    args = ap.parse_args()
    tmp = args.keep_video or tempfile.mkdtemp()
    os.makedirs(tmp, exist_ok=True)
    clip, annotated = os.path.join(tmp, "demo_clip.mp4"), os.path.join(tmp, "demo_annotated.mp4")
    frames = demo_frames()
    writer = imageio_ffmpeg.write_frames(clip, (SIZE[1], SIZE[0]), fps=FPS, macro_block_size=1,
                                         quality=8, ffmpeg_log_level="error")
    writer.send(None)
    for f in frames:
        writer.send(np.ascontiguousarray(f))
    writer.close()
    code = cli(["recognize", clip, "--smooth", "0.5", "--plot", os.path.join(args.out, "video_timeline.png"),
                "--annotate", annotated, "--csv", os.path.join(tmp, "demo.csv"), "--format", "csv"])
    reader = imageio_ffmpeg.read_frames(annotated)
    meta = next(reader)
    w, h = meta["size"]
    for i, buf in enumerate(reader):
        if i == int(7.5 * FPS):  # the covered face and the profile, both low-confidence
            from PIL import Image

            still = Image.fromarray(np.frombuffer(buf, np.uint8).reshape(h, w, 3))
            save_image(os.path.join(args.out, "video_annotated.png"), still.quantize(200))  # small PNG
    reader.close()
    print(f"exit {code}; wrote {args.out}/video_timeline.png and {args.out}/video_annotated.png (clip in {tmp})")


if __name__ == "__main__":
    main()
