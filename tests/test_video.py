"""Video and stream analysis through the API and `deepexpr recognize clip.mp4`, and bad video inputs."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import torch

from deepexpr.cli import main
from deepexpr.expressions import EXPRESSIONS


def _write_video(path, frames, fps=10):
    import imageio_ffmpeg

    h, w = frames[0].shape[:2]
    writer = imageio_ffmpeg.write_frames(str(path), (w, h), fps=fps, macro_block_size=1, quality=8,
                                         ffmpeg_log_level="error")
    writer.send(None)
    for f in frames:
        writer.send(np.ascontiguousarray(f))
    writer.close()


def _face_frames(n=8, gap=()):
    from skimage import data

    face = data.astronaut()[10:290, 95:375][::2, ::2]
    frames = []
    for t in range(n):
        frame = np.full((240, 320, 3), 60, np.uint8)
        if t not in gap:
            x = 10 + 6 * t
            frame[50:50 + face.shape[0], x:x + face.shape[1]] = face
        frames.append(frame)
    return frames


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    import imageio_ffmpeg

    from deepexpr.models import create_model
    from deepexpr.models.checkpoint import save_model

    d = tmp_path_factory.mktemp("video")
    _write_video(d / "face.mp4", _face_frames(8, gap=(4,)))
    _write_video(d / "wall.mp4", [np.full((64, 64, 3), v, np.uint8) for v in range(0, 80, 10)])
    data = (d / "face.mp4").read_bytes()
    (d / "truncated.mp4").write_bytes(data[: len(data) // 2])
    (d / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    ff = imageio_ffmpeg.get_ffmpeg_exe()
    subprocess.run([ff, "-y", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=0.3",
                    str(d / "audio.m4a")], check=True)
    subprocess.run([ff, "-y", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=black:s=64x48:d=1",
                    "-frames:v", "0", str(d / "zero.mp4")], check=True)
    (d / "no_images").mkdir()
    torch.manual_seed(0)
    net = create_model("test_minixception", in_channels=3)
    save_model(d / "tiny.safetensors", net, {
        "model": "test_minixception", "overrides": {"in_channels": 3}, "classes": list(EXPRESSIONS),
        "preprocess": {"size": 32, "grayscale": False, "mean": [0.5] * 3, "std": [0.5] * 3}, "domain": "human"})
    return d


def test_recognize_video_rows_table_plot_and_annotation(media, tmp_path, capsys):
    import imageio_ffmpeg
    import pandas as pd

    args = ["recognize", str(media / "face.mp4"), "--model", str(media / "tiny.safetensors"), "--every", "1",
            "--smooth", "0.5", "--csv", str(tmp_path / "t.csv"), "--json", str(tmp_path / "t.json"),
            "--plot", str(tmp_path / "timeline.png"), "--annotate", str(tmp_path / "out.mp4"), "--format", "csv"]
    assert main(args) == 0
    df = pd.read_csv(tmp_path / "t.csv")
    assert list(df["frame"]) == [0, 1, 2, 3, 5, 6, 7]          # frame 4 has no face
    assert set(df["track"]) == {0}                             # the face keeps its id across the gap
    np.testing.assert_allclose(df[list(EXPRESSIONS)].sum(1), 1, atol=1e-4)
    assert (df["x0"].diff().dropna() > 0).all()                # it moves right
    assert df["time"].iloc[1] == pytest.approx(0.1)
    assert len(pd.read_json(tmp_path / "t.json")) == 7
    assert (tmp_path / "timeline.png").stat().st_size > 1000
    reader = imageio_ffmpeg.read_frames(str(tmp_path / "out.mp4"))
    meta = next(reader)
    assert tuple(meta["size"]) == (320, 240) and sum(1 for _ in reader) == 8
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("source,frame,time,track") and len(out.splitlines()) == 8


def test_every_and_generator_and_stream_api(media):
    from deepexpr.recognition import load_recognizer
    from deepexpr.video import VideoConfig, analyze_video, process_stream, to_dataframe

    rec = load_recognizer("human", str(media / "tiny.safetensors"))
    results = list(analyze_video(media / "face.mp4", VideoConfig(every=3), rec))
    assert [r.frame for r in results] == [0, 3, 6]
    frames = iter(_face_frames(5))                             # any iterator of RGB frames
    stream = list(process_stream(frames, rec, VideoConfig(), fps=5.0))
    assert [r.time for r in stream] == [0.0, 0.2, 0.4, 0.6, 0.8]
    df = to_dataframe(stream)
    assert set(df["track"]) == {0} and len(df) == 5 and set(df["label"]) <= set(EXPRESSIONS)


def test_bad_video_inputs_are_one_line_each_and_the_good_one_is_kept(media, capsys):
    bad = ["truncated.mp4", "corrupt.mp4", "audio.m4a", "zero.mp4"]
    args = ["recognize", str(media / "face.mp4"), *[str(media / b) for b in bad], str(media / "no_images"),
            str(media / "*.nothing"), "--model", str(media / "tiny.safetensors"), "--format", "csv"]
    assert main(args) == 1
    out, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if ln.startswith("deepexpr: error:")]
    assert len(lines) == 6 and "Traceback" not in err
    for name, what in zip(bad, ("truncated or corrupt", "corrupt", "audio only", "no video stream")):
        assert any(name in ln and what in ln for ln in lines), (name, lines)
    assert any("folder has no images" in ln for ln in lines) and any("matches no" in ln for ln in lines)
    assert sum(1 for ln in out.splitlines() if "face.mp4" in ln) == 7


def test_absurd_frame_size_and_video_without_faces(media, capsys):
    model = ["--model", str(media / "tiny.safetensors")]
    assert main(["recognize", str(media / "face.mp4"), "--max-pixels", "5000", *model]) == 1
    assert "pixel limit" in capsys.readouterr().err
    assert main(["recognize", str(media / "wall.mp4"), *model, "--format", "csv"]) == 0
    out, err = capsys.readouterr()
    assert "warning" in err and "no face found" in err and len(out.splitlines()) == 1   # header only
    from deepexpr.recognition import load_recognizer
    from deepexpr.video import video_dataframe

    with pytest.warns(UserWarning, match="no face"):
        assert video_dataframe(media / "wall.mp4", recognizer=load_recognizer("human", str(media / "tiny.safetensors"))).empty


def test_missing_camera_is_one_line(media, capsys):
    assert main(["recognize", "--camera", "57", "--model", str(media / "tiny.safetensors")]) == 1
    out, err = capsys.readouterr()
    assert err.strip().splitlines() == ["deepexpr: error: camera 57: cannot be opened (no camera, or in use); "
                                        "pass another --camera index"] and out == ""
    assert main(["recognize"]) == 2 and "no input" in capsys.readouterr().err
