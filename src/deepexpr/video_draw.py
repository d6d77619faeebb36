"""Pictures of video analysis: annotated frames and videos, expression timelines.

    >>> from deepexpr.video_draw import annotate_frame, AnnotatedVideoWriter, plot_timeline
    >>> plot_timeline(df, "timeline.png")            # df from deepexpr.video.video_dataframe
    >>> with AnnotatedVideoWriter("out.mp4", fps=25) as out:
    ...     for r in analyze_video("clip.mp4", keep_frames=True):
    ...         out.write(annotate_frame(r.image, r))
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepexpr.expressions import EXPRESSIONS
from deepexpr.io import atomic_path

# one colour per expression (RGB), shared by bars and timeline lines
COLOURS = {"anger": (220, 50, 47), "disgust": (133, 153, 0), "fear": (108, 113, 196),
           "joy": (255, 190, 0), "neutral": (147, 161, 161), "sadness": (38, 139, 210),
           "surprise": (211, 54, 130)}


def _track_colour(track_id: int) -> tuple[int, int, int]:
    palette = [(0, 200, 255), (255, 120, 0), (0, 220, 90), (255, 60, 160), (160, 100, 255), (255, 230, 0)]
    return palette[track_id % len(palette)]


def annotate_frame(image: np.ndarray, result) -> np.ndarray:
    """A copy of a frame with each face's box, track id, label and probability bars.

    Args:
        image: (H, W, 3) uint8 RGB frame.
        result: `deepexpr.video.FrameResult` of that frame.

    Returns:
        (H, W, 3) uint8 RGB annotated frame. A low-confidence face is drawn dashed-grey
        with its label followed by "?".
    """
    import cv2

    out = np.ascontiguousarray(image).copy()
    h, w = out.shape[:2]
    scale = max(0.6, min(1.2, w / 1000))
    for face in result.faces:
        x0, y0, x1, y1 = (int(round(v)) for v in face.box)
        colour = (200, 200, 200) if face.low_confidence else _track_colour(face.track_id)
        cv2.rectangle(out, (x0, y0), (x1, y1), colour, max(1, int(2 * scale)))
        text = f"#{face.track_id} {face.label}{'?' if face.low_confidence else ''}"
        for ink, width in (((0, 0, 0), 4), (colour, 2)):  # dark outline keeps it readable on any background
            cv2.putText(out, text, (x0, max(14, y0 - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.7 * scale, ink,
                        max(1, int(width * scale)), cv2.LINE_AA)
        _bars(out, face.probs, x1 + 4 if x1 + 4 + 90 * scale < w else max(0, x0 - int(94 * scale)), y0, scale)
    return out


def _bars(out: np.ndarray, probs: np.ndarray, x: int, y: int, scale: float) -> None:
    """Seven horizontal probability bars with initials, at (x, y)."""
    import cv2

    bar_h, width = max(6, int(12 * scale)), int(70 * scale)
    for k, (name, p) in enumerate(zip(EXPRESSIONS, probs)):
        top = y + k * (bar_h + 2)
        if top + bar_h >= out.shape[0]:
            break
        cv2.rectangle(out, (x, top), (x + width, top + bar_h), (40, 40, 40), -1)
        cv2.rectangle(out, (x, top), (x + int(width * float(p)), top + bar_h), COLOURS[name], -1)
        cv2.putText(out, name[:3], (x + width + 2, top + bar_h - 1), cv2.FONT_HERSHEY_SIMPLEX,
                    0.35 * scale + 0.05, (255, 255, 255), 1, cv2.LINE_AA)


class AnnotatedVideoWriter:
    """Writes RGB frames to an H.264 mp4 through imageio-ffmpeg, atomically (temp name, then rename).

    Args:
        path: output .mp4 (an existing file is replaced only when writing succeeds).
        fps: frames per second of the output.
    """

    def __init__(self, path: str | Path, fps: float):
        self.path, self.fps = Path(path), float(fps)
        self._ctx = self._writer = self._size = None

    def __enter__(self):
        self._ctx = atomic_path(self.path)
        self._tmp = self._ctx.__enter__()
        return self

    def write(self, frame: np.ndarray) -> None:
        import imageio_ffmpeg

        h, w = frame.shape[:2]
        if self._writer is None:
            self._size = (w - w % 2, h - h % 2)  # yuv420p needs even sides
            self._writer = imageio_ffmpeg.write_frames(str(self._tmp), self._size, fps=self.fps,
                                                       codec="libx264", macro_block_size=1,
                                                       ffmpeg_log_level="error", quality=6)
            self._writer.send(None)
        self._writer.send(np.ascontiguousarray(frame[: self._size[1], : self._size[0]]))

    def __exit__(self, exc_type, exc, tb):
        if self._writer is not None:
            self._writer.close()
        return self._ctx.__exit__(exc_type, exc, tb)


def plot_timeline(df, path: str | Path, title: str = "") -> None:
    """Each track's expression probabilities over time, one panel per track, saved as an image.

    Args:
        df: DataFrame with columns time, track and the seven expressions
            (`deepexpr.video.to_dataframe`).
        path: output image (.png, .pdf, .svg), written atomically.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tracks = sorted(df["track"].unique()) if len(df) else []
    n = max(len(tracks), 1)
    fig, axes = plt.subplots(n, 1, figsize=(8, 1.9 * n + 0.6), sharex=True, squeeze=False)
    for ax, track in zip(axes[:, 0], tracks):
        rows = df[df["track"] == track].sort_values("time")
        times = rows["time"].to_numpy(float)
        step = np.median(np.diff(np.unique(df["time"]))) if df["time"].nunique() > 1 else 1.0
        breaks = np.flatnonzero(np.diff(times) > 1.5 * step) + 1  # the face was not seen: no line across
        for name in EXPRESSIONS:
            values = rows[name].to_numpy(float)
            ax.plot(np.insert(times, breaks, np.nan), np.insert(values, breaks, np.nan),
                    color=np.array(COLOURS[name]) / 255, label=name, lw=1.4)
        low = rows[rows["low_confidence"].astype(bool)]
        if len(low):
            ax.scatter(low["time"], np.full(len(low), 1.03), marker="|", color="grey", s=12)
        ax.set_ylim(0, 1.06)
        ax.set_ylabel(f"track {track}")
    if not tracks:
        axes[0, 0].text(0.5, 0.5, "no face found", ha="center", va="center")
    axes[0, 0].legend(ncol=7, fontsize=7, loc="lower left", bbox_to_anchor=(0, 1.0), frameon=False)
    axes[-1, 0].set_xlabel("time (s)   (grey ticks: low-confidence frames)")
    if title:
        fig.suptitle(title, fontsize=9, y=0.995)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)
