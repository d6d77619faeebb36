"""Video through the face pipeline and the human CNN: frames/s end to end, and memory on a long video.

    python benchmarks/bench_faces_video.py                    # 640x480, one face, 300 frames
    python benchmarks/bench_faces_video.py --long --every 3   # + a 10-minute 720p video, RSS over time

Videos are synthesised here with ffmpeg (imageio-ffmpeg's binary): the astronaut's head and
shoulders (skimage, public domain) moving over a grey background. End to end = ffmpeg decode
+ detector (every `detect_every` frames) + mesh per face + 49-point alignment + CNN (the
default human model, `deepexpr setup`) + the table row, as `deepexpr recognize clip.mp4` runs.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import tempfile
import time

import numpy as np


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def make_long_video(path: str, width: int, height: int, seconds: float, fps: int = 30, iod: float = 80) -> None:
    """A long mp4: a 20 s clip encoded once, then repeated by ffmpeg without re-encoding."""
    import imageio_ffmpeg

    clip = path + ".clip.mp4"
    make_video(clip, width, height, 20, fps, iod)
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-stream_loop",
                    str(int(np.ceil(seconds / 20)) - 1), "-i", clip, "-c", "copy", path], check=True)
    os.unlink(clip)


def make_video(path: str, width: int, height: int, seconds: float, fps: int = 30, iod: float = 60) -> None:
    """An mp4 of the astronaut's face moving on grey (ffmpeg overlay, no Python per frame)."""
    import imageio_ffmpeg
    from PIL import Image

    from deepexpr.faces.composites import astronaut_sources

    src = astronaut_sources()[0]
    s = iod / src.iod
    face = Image.fromarray(src.image).resize((round(src.image.shape[1] * s), round(src.image.shape[0] * s)))
    png = path + ".face.png"
    face.save(png)
    fw, fh = face.size
    move = (f"overlay=x='{(width - fw) / 2:.0f}+{(width - fw) / 3:.0f}*sin(t/2)':"
            f"y='{(height - fh) / 2:.0f}+{(height - fh) / 4:.0f}*cos(t/3)':shortest=1")
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error",
           "-f", "lavfi", "-i", f"color=c=gray:s={width}x{height}:r={fps}:d={seconds}",
           "-loop", "1", "-i", png, "-filter_complex", f"[0][1]{move}",
           "-c:v", "libx264", "-preset", "ultrafast", "-crf", "28", "-pix_fmt", "yuv420p", path]
    subprocess.run(cmd, check=True)
    os.unlink(png)


def run(path: str, every: int, report_every: int = 0) -> tuple[int, int, float, list]:
    """(frames analysed, face rows, seconds, [(frame, rss MB)]) for one video."""
    from deepexpr.recognition import load_recognizer
    from deepexpr.video import VideoConfig, analyze_video

    rec = load_recognizer("human")
    rec.probs([np.zeros((64, 64, 3), np.uint8)])  # warm the model
    n = rows = 0
    trace = [(0, _rss_mb())]
    t0, c0 = time.perf_counter(), time.process_time()
    for r in analyze_video(path, VideoConfig(every=every), rec, progress=False):
        n += 1
        rows += len(r.faces)
        if report_every and n % report_every == 0:
            trace.append((r.frame, _rss_mb()))
    run.cpu = time.process_time() - c0  # this process's CPU time (all its threads; ffmpeg's decode not included)
    return n, rows, time.perf_counter() - t0, trace


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--long", action="store_true", help="also a 10-minute 1280x720 video (memory)")
    ap.add_argument("--every", type=int, default=1, help="frame stride for the long video")
    args = ap.parse_args()
    print(f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {os.getloadavg()}, "
          f"{os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        short = os.path.join(tmp, "short.mp4")
        make_video(short, 640, 480, args.frames / 30, iod=60)
        run(short, 1)  # warm-up pass: graphs, model, ffmpeg
        n, rows, dt, _ = run(short, 1)
        print(f"640x480, one face, {n} frames: {n / dt:.1f} frames/s end to end ({dt / n * 1e3:.1f} ms/frame wall), "
              f"{rows} face rows; CPU {run.cpu / n * 1e3:.1f} ms/frame (= {n / run.cpu:.0f} frames/s per busy core)")
        if args.long:
            long_path = os.path.join(tmp, "long.mp4")
            t0 = time.perf_counter()
            make_long_video(long_path, 1280, 720, 600, iod=80)
            print(f"10-minute 1280x720 30 fps video made in {time.perf_counter() - t0:.0f} s "
                  f"({os.path.getsize(long_path) / 1e6:.0f} MB)")
            n, rows, dt, trace = run(long_path, args.every, report_every=500)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"  every {args.every}: {n} frames analysed in {dt:.0f} s ({n / dt:.1f} frames/s), {rows} rows, "
                  f"CPU {run.cpu / n * 1e3:.1f} ms/frame")
            print(f"  RSS MB at frames {', '.join(f'{f}: {m:.0f}' for f, m in trace)}")
            print(f"  peak RSS {peak:.0f} MB (whole process, incl. the short run)")


if __name__ == "__main__":
    main()
