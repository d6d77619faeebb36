"""What keeps the studio's frames cheap, and that it changes no answer: the JPEG fast path
of the image reader gives PIL's pixels, the live stream's background detector joins its
faces a frame later without losing a track, and the live session reuses a face's
expression between model runs and says how old it is."""

from __future__ import annotations

import io
from concurrent.futures import Future
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from deepexpr.expressions import EXPRESSIONS


def _jpeg(image: np.ndarray, **options) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", **options)
    return buf.getvalue()


@pytest.mark.parametrize("options", [{}, {"quality": 95, "subsampling": 0}, {"quality": 60, "progressive": True}])
def test_jpeg_fast_path_gives_the_pil_pixels(astronaut, options, monkeypatch):
    import deepexpr.io as dio

    data = _jpeg(np.ascontiguousarray(astronaut[:300, :400]), **options)
    expected = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    monkeypatch.setattr(dio, "_decode_image", lambda *_a, **_k: pytest.fail("a plain JPEG took the PIL path"))
    got = dio.read_image_bytes(data, "frame", 10**7, formats=["JPEG"])
    assert got.shape == (300, 400, 3) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, expected)
    grey = _jpeg(np.ascontiguousarray(astronaut[:64, :80, 1]))
    np.testing.assert_array_equal(dio.read_image_bytes(grey), np.asarray(Image.open(io.BytesIO(grey)).convert("RGB")))


def test_jpeg_fast_path_leaves_rotated_truncated_and_huge_frames_to_the_reader(astronaut):
    from deepexpr.errors import InputError, TooLargeError
    from deepexpr.io import read_image_bytes

    image = Image.fromarray(np.ascontiguousarray(astronaut[:100, :160]))
    exif = image.getexif()
    exif[0x0112] = 6  # rotated 90 degrees: the reader turns it upright
    buf = io.BytesIO()
    image.save(buf, "JPEG", exif=exif.tobytes())
    assert read_image_bytes(buf.getvalue()).shape == (160, 100, 3)
    data = _jpeg(np.ascontiguousarray(astronaut[:100, :160]))
    with pytest.raises(InputError, match="frame: not a readable image"):
        read_image_bytes(data[: len(data) // 2], "frame")
    with pytest.raises(TooLargeError):
        read_image_bytes(data, "frame", max_pixels=100 * 160 - 1)


class HeldExecutor:
    """An executor whose jobs run only when the test says so (in the test's thread)."""

    def __init__(self):
        self.jobs: list[tuple[Future, object, tuple]] = []

    def submit(self, fn, *args):
        future = Future()
        self.jobs.append((future, fn, args))
        return future

    def run_all(self):
        for future, fn, args in self.jobs:
            future.set_result(fn(*args))
        self.jobs.clear()


def _two_face_frames(astronaut, count: int, second_from: int) -> list[np.ndarray]:
    """A face that drifts right from frame 0, a second one from frame `second_from` on."""
    small = astronaut[10:290, 95:375][::2, ::2]
    frames = []
    for t in range(count):
        frame = np.full((240, 480, 3), 70, np.uint8)
        frame[40:180, 10 + 2 * t:150 + 2 * t] = small
        if t >= second_from:
            frame[60:200, 320:460] = small
        frames.append(frame)
    return frames


def test_background_detection_joins_new_faces_a_frame_later_and_keeps_tracks(astronaut, monkeypatch):
    import deepexpr.faces.pipeline as pipeline

    calls = []
    real = pipeline.detect_boxes
    monkeypatch.setattr(pipeline, "detect_boxes", lambda frame, cfg: calls.append(1) or real(frame, cfg))
    frames = _two_face_frames(astronaut, 7, second_from=2)
    cfg = pipeline.PipelineConfig(detect_every=3, threads=1, min_iod=30)
    inline = pipeline.FacePipeline(cfg).stream()
    assert [len(inline.process(f)) for f in frames[:4]] == [1, 1, 1, 2]  # the detector frame finds it at once

    held = HeldExecutor()
    stream = pipeline.FacePipeline(cfg).stream(background=held)
    calls.clear()
    seen = [stream.process(frames[t]) for t in range(5)]
    assert len(calls) == 1  # frame 0 (nothing tracked yet): at once; frame 3's runs in the background
    assert [len(s) for s in seen] == [1, 1, 1, 1, 1] and len(held.jobs) == 1
    assert {f.track_id for s in seen for f in s} == {0}
    (_future, _fn, (detected_frame, _cfg)), = held.jobs
    assert detected_frame is frames[3]  # the detector sees the frame it was due on
    held.run_all()
    joined = stream.process(frames[5])
    assert [f.track_id for f in joined] == [0, 1]  # the second face joins; the first keeps its id
    first = joined[0]
    box = next(b for b, _s, _k in real(frames[3], cfg) if b[0] < 240)
    assert first.detection_box == pytest.approx(list(box))  # its detector data: frame 3's detection
    assert [f.track_id for f in stream.process(frames[6])] == [0, 1]
    stream.close()


def test_a_stream_without_a_tracked_face_detects_at_once_even_with_a_background(astronaut):
    import deepexpr.faces.pipeline as pipeline

    held = HeldExecutor()
    stream = pipeline.FacePipeline(pipeline.PipelineConfig(threads=1, min_iod=30)).stream(background=held)
    blank = np.full((240, 480, 3), 70, np.uint8)
    assert stream.process(blank) == []
    assert len(stream.process(_two_face_frames(astronaut, 1, 0)[0])) == 2 and held.jobs == []
    stream.close()


def _stub_engine(every: int):
    """A studio engine whose expression model is a stub counting the faces it saw."""
    from deepexpr.studio.engine import Engine, EngineConfig, FaceResult

    engine = Engine(EngineConfig(live_expression_every=every))
    engine.human = SimpleNamespace()
    runs = []

    def results(faces):
        runs.append(len(faces))
        probs = np.eye(len(EXPRESSIONS), dtype=np.float32)[(len(runs) - 1) % len(EXPRESSIONS)]
        return [FaceResult([0, 0, 1, 1], probs, f.quality(), None, f) for f in faces]

    engine.results = results
    return engine, runs


def test_live_session_reuses_the_expression_between_runs_and_flags_its_age():
    from studio_helpers import webcam_frames

    frames = webcam_frames(6)
    engine, runs = _stub_engine(every=2)
    session = engine.live_session()
    try:
        answers = [session.frame(f, "pip", 48)[0] for f in frames]
    finally:
        session.close()
    assert [len(a) for a in answers] == [1] * 6
    assert [a[0].probs_age for a in answers] == [0, 1, 0, 1, 0, 1]
    assert [r for r in runs if r] == [1, 1, 1]  # the model ran on frames 0, 2 and 4 only
    for fresh, reused in zip(answers[::2], answers[1::2]):
        np.testing.assert_array_equal(reused[0].probs, fresh[0].probs)  # the answer kept ...
        assert reused[0].box != fresh[0].box or reused[0].face is not fresh[0].face  # ... on the new frame's face
    assert set(session.stages) == {"faces", "expression", "rig", "draw"}

    engine, runs = _stub_engine(every=1)
    session = engine.live_session()
    try:
        ages = [session.frame(f, "pip", 48)[0][0].probs_age for f in frames[:3]]
    finally:
        session.close()
    assert ages == [0, 0, 0] and [r for r in runs if r] == [1, 1, 1]


def test_live_session_runs_the_model_at_once_on_a_new_face(astronaut):
    engine, runs = _stub_engine(every=5)
    frames = _two_face_frames(astronaut, 12, second_from=8)  # the detector's next frame: 10
    session = engine.live_session()
    try:
        answers = [session.frame(f, "pip", 48)[0] for f in frames]
    finally:
        session.close()
    assert [[r.probs_age for r in a] for a in answers] == [[0], [1], [2], [3], [4], [0], [1], [2], [3], [4],
                                                           [0, 0], [1, 1]]
    assert [r for r in runs if r] == [1, 1, 2]


def test_background_expression_never_holds_a_frame_and_its_answer_joins_later():
    from deepexpr.studio.engine import LiveSession
    from studio_helpers import webcam_frames

    frames = webcam_frames(7)
    engine, runs = _stub_engine(every=2)
    held = HeldExecutor()
    session = LiveSession(engine, expression_background=held)
    try:
        first = [session.frame(f, "pip", 48)[0] for f in frames[:4]]
        assert runs == [1] and len(held.jobs) == 1  # a new face at once; frame 2's run waits on the executor
        (_future, _fn, (due_faces,)), = held.jobs
        assert [f is first[2][0].face for f in due_faces] == [True]  # the faces of the frame it was due on
        assert [a[0].probs_age for a in first] == [0, 1, 2, 3]  # no frame waited: the old answer grows older
        assert all((a[0].probs == first[0][0].probs).all() for a in first)
        held.run_all()
        joined = session.frame(frames[4], "pip", 48)[0][0]
        assert joined.probs_age == 2 and not (joined.probs == first[0][0].probs).all()  # frame 2's answer
        assert len(held.jobs) == 1  # and the next run is due (2 frames old) and queued
    finally:
        session.close()
    assert held.jobs[0][0].cancelled()  # closing the stream drops a run nobody will read


def test_a_tracked_face_makes_its_aligned_crop_on_first_read_and_the_same_one(astronaut):
    import deepexpr.faces.pipeline as pipeline

    frames = _two_face_frames(astronaut, 2, second_from=99)
    cfg = pipeline.PipelineConfig(threads=1, min_iod=30)
    stream = pipeline.FacePipeline(cfg).stream()
    assert stream.process(frames[0])[0]._align_from is None  # a detected face: aligned at once
    (tracked,) = stream.process(frames[1])
    assert tracked._align_from is not None  # a tracked one: not yet (made when first read)
    eager = pipeline.face_from_mesh(frames[1], tracked.mesh468, cfg)
    np.testing.assert_array_equal(tracked.aligned, eager.aligned)
    assert tracked._align_from is None  # made once; the frame is let go
    np.testing.assert_array_equal(tracked.aligned_landmarks, eager.aligned_landmarks)
    np.testing.assert_array_equal(tracked.affine, eager.affine)
    stream.close()
    every = pipeline.FacePipeline(pipeline.PipelineConfig(threads=1, min_iod=30, detect_every=1)).stream()
    every.process(frames[0])
    (checked,) = every.process(frames[1])  # tracked, and the detector's quality check ran on it
    assert checked._align_from is not None and checked.detection_box != tracked.detection_box
    every.close()


def test_two_threads_reading_a_tracked_faces_crop_both_get_it(astronaut, monkeypatch):
    """The rig's patches (frame thread) and the expression worker read the same lazy crop at
    once: the second reader waits for the first one's crop instead of reading None."""
    import threading
    import time

    import deepexpr.faces.align as align
    import deepexpr.faces.pipeline as pipeline

    frames = _two_face_frames(astronaut, 2, second_from=99)
    stream = pipeline.FacePipeline(pipeline.PipelineConfig(threads=1, min_iod=30)).stream()
    stream.process(frames[0])
    (tracked,) = stream.process(frames[1])
    stream.close()
    real = align.align_face

    def slow(*args, **kwargs):
        time.sleep(0.2)  # the first reader is still aligning when the second one reads
        return real(*args, **kwargs)

    monkeypatch.setattr(align, "align_face", slow)
    got = [None, None]

    def read(i):
        got[i] = tracked.aligned

    threads = [threading.Thread(target=read, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join()
    assert got[0] is not None and got[1] is got[0]


def test_a_client_gone_while_its_puppet_is_sent_ends_the_socket_quietly(caplog):
    """A send that fails because the client left is a disconnect, not a failed frame: no
    traceback in the log, no error reply attempted on the closed socket."""
    import asyncio

    from fastapi import WebSocketDisconnect

    from deepexpr.studio import live
    from deepexpr.studio.server import StudioConfig

    sent = []

    class GoneSocket:
        async def receive(self):
            return {"type": "websocket.receive", "bytes": b"frame"}

        async def send_bytes(self, data):
            raise WebSocketDisconnect(1006)  # what starlette raises when the peer's socket is gone

        async def send_text(self, text):
            sent.append(text)

    class Pool:
        async def run(self, fn, *args):
            return {"type": "frame", "faces": []}, b"puppet-jpeg"

    session = SimpleNamespace(engine=None)
    with pytest.raises(WebSocketDisconnect):
        asyncio.run(live._serve(GoneSocket(), session, StudioConfig(), Pool(), "pip", binary_puppet=True))
    assert sent == [] and "live frame failed" not in caplog.text


def test_onnx_runtime_gives_the_torch_answers_and_a_net_that_fails_to_export_stays_on_torch(tmp_path, make_checkpoint,
                                                                                            monkeypatch):
    from deepexpr import recognition
    from deepexpr.models import onnx_runtime

    path = make_checkpoint(tmp_path / "tiny.safetensors", size=48, grayscale=True, domain="human")
    rng = np.random.default_rng(0)
    faces = [rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(3)]
    feats, probs = recognition.from_checkpoint(path).features_and_probs(faces)
    rec = recognition.from_checkpoint(path).use_onnx()
    assert rec.runtime == "onnx"
    for batch in (faces, faces[:1]):  # the batch axis is free
        got_feats, got_probs = rec.features_and_probs(batch)
        np.testing.assert_allclose(got_probs, probs[: len(batch)], atol=1e-5)
        np.testing.assert_allclose(got_feats, feats[: len(batch)], atol=1e-4)
    assert isinstance(next(iter(rec._onnx.values())), onnx_runtime.OnnxForward)

    def broken(*_a, **_k):
        raise ValueError("ONNX export differs from torch by 3")

    monkeypatch.setattr(onnx_runtime, "OnnxForward", broken)
    fallback = recognition.from_checkpoint(path).use_onnx()
    np.testing.assert_allclose(fallback.features_and_probs(faces)[1], probs, atol=1e-6)
    assert list(fallback._onnx.values()) == [None]  # tried once, then torch


def test_detector_downscale_matches_an_area_resize(astronaut):
    import cv2

    from deepexpr.faces.tflite import _shrink

    image = cv2.resize(astronaut, (640, 480), interpolation=cv2.INTER_AREA)
    for f in (0.3, 0.5, 0.7, 1.0):
        small, fx, fy = _shrink(image, f)
        want = (max(1, round(640 * min(f, 1))), max(1, round(480 * min(f, 1))))
        assert small.shape[1::-1] == want and (fx, fy) == (want[0] / 640, want[1] / 480)
        reference = cv2.resize(image, want, interpolation=cv2.INTER_AREA)
        assert np.abs(small.astype(int) - reference).mean() < 3  # the same picture, no aliasing


def test_background_work_never_holds_a_frame_and_runs_at_a_lower_priority():
    """A live stream's background runs (detector, expression model) go to the pool's own
    background thread: with two of them stuck, two frames still get both workers at once;
    that thread is niced (Linux) and the workers are not."""
    import asyncio
    import os
    import sys
    import threading

    from deepexpr.studio.server import WorkPool

    pool = WorkPool(workers=2, max_queue=8, background_nice=7)
    release = threading.Event()
    try:
        stuck = [pool.submit(release.wait, 30) for _ in range(2)]
        both = threading.Barrier(2)

        def frame():  # each frame waits until the other one runs too: two workers are free
            both.wait(timeout=10)
            return threading.get_native_id()

        async def two_frames():
            return await asyncio.gather(pool.run(frame), pool.run(frame))

        ids = asyncio.run(two_frames())
        assert len(set(ids)) == 2 and not any(f.done() for f in stuck)
        release.set()
        assert all(f.result(timeout=10) for f in stuck)
        if sys.platform.startswith("linux"):
            def nice():
                return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

            worker = asyncio.run(pool.run(nice))
            assert pool.submit(nice).result(timeout=10) == min(19, worker + 7)
    finally:
        release.set()
        pool.shutdown()


@pytest.mark.parametrize("shape", [(256, 256), (37, 91)])
@pytest.mark.parametrize("quality", [60, 85])
def test_puppet_jpeg_is_the_bytes_pil_writes(astronaut, shape, quality):
    """The live puppet's JPEG (OpenCV's encoder) is byte for byte what PIL writes."""
    from deepexpr.studio.uploads import encode_image

    image = np.ascontiguousarray(astronaut[100:100 + shape[0], 150:150 + shape[1]])
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality)
    assert encode_image(image, "JPEG", quality) == buf.getvalue()
    grey = np.ascontiguousarray(image[..., 0])  # not RGB: PIL's path
    assert Image.open(io.BytesIO(encode_image(grey, "JPEG", quality))).size == (shape[1], shape[0])


def test_mesh_landmarks_read_from_bytes_equal_the_attribute_reads(astronaut):
    """The face mesh's landmarks read from the serialised list are the protobuf's own values;
    a list of another layout (visibility set) takes the attribute path and gives them too."""
    from mediapipe.framework.formats import landmark_pb2

    from deepexpr.faces.solutions import landmark_array, tracking_mesher

    mesher = tracking_mesher()
    try:
        found = mesher.process(np.ascontiguousarray(astronaut[0:300, 100:400])).multi_face_landmarks[0]
    finally:
        mesher.close()
    expected = np.array([[p.x, p.y, p.z] for p in found.landmark], np.float32)
    assert expected.shape == (478, 3)
    np.testing.assert_array_equal(landmark_array(found), expected)
    other = landmark_pb2.NormalizedLandmarkList()
    other.CopyFrom(found)
    other.landmark[3].visibility = 0.5
    other.landmark[5].z = 0.0
    expected[5, 2] = 0.0
    np.testing.assert_array_equal(landmark_array(other), expected)


def test_live_answer_says_how_long_the_frame_waited_for_a_worker():
    """queue_ms: from the socket having the frame to a worker starting it (0 when not given)."""
    import time

    from deepexpr.studio.live import live_frame
    from deepexpr.studio.server import StudioConfig

    class NoFaces:
        stages: dict = {}

        def frame(self, rgb, character, size, region=None):
            return [], None

    raw = b"DXRF" + b"RGBA" + (4).to_bytes(2, "little") + (2).to_bytes(2, "little") + bytes(4 * 2 * 4)
    message, puppet = live_frame(NoFaces(), raw, "pip", StudioConfig(), True, time.perf_counter() - 0.05)
    assert message["queue_ms"] >= 50 and message["faces"] == [] and puppet is None
    assert live_frame(NoFaces(), raw, "pip", StudioConfig())[0]["queue_ms"] == 0.0


def test_after_answer_holds_background_work_until_released():
    """Work submitted while a frame runs reaches the executor only on release(); its future
    gets the result or the error; a future cancelled while held never runs."""
    from concurrent.futures import ThreadPoolExecutor

    from deepexpr.studio.live import AfterAnswer

    ran = []
    with ThreadPoolExecutor(1) as executor:
        held = AfterAnswer(executor)
        ok = held.submit(lambda x: ran.append(x) or x * 2, 21)
        bad = held.submit(lambda: 1 / 0)
        dropped = held.submit(ran.append, "dropped")
        assert dropped.cancel()
        assert ran == [] and not ok.done()
        assert held.release() == 2
        assert ok.result(timeout=10) == 42
        with pytest.raises(ZeroDivisionError):
            bad.result(timeout=10)
        assert held.release() == 0
    assert ran == [21]


def test_live_socket_starts_a_frames_background_work_after_its_answer():
    """The socket sends a frame's answer first, then hands that frame's background work
    (detector, expression model) to the pool."""
    import asyncio

    from fastapi import WebSocketDisconnect

    from deepexpr.studio import live
    from deepexpr.studio.server import StudioConfig

    events = []
    frames = [b"frame-1", b"frame-2"]

    class Socket:
        async def receive(self):
            if not frames:
                return {"type": "websocket.disconnect", "code": 1000}
            return {"type": "websocket.receive", "bytes": frames.pop(0)}

        async def send_bytes(self, data):
            events.append("puppet")

        async def send_text(self, text):
            events.append("answer")

    class Executor:
        def submit(self, fn, *args):
            events.append("background")
            future = Future()
            future.set_result(fn(*args))
            return future

    held = live.AfterAnswer(Executor())

    class Pool:
        async def run(self, fn, *args):  # the frame: it starts its background work as it runs
            held.submit(lambda: None)
            events.append("frame")
            return {"type": "frame", "faces": []}, b"puppet-jpeg"

    with pytest.raises(WebSocketDisconnect):
        asyncio.run(live._serve(Socket(), SimpleNamespace(engine=None), StudioConfig(), Pool(), "pip",
                                binary_puppet=True, held=held))
    assert events == ["frame", "puppet", "answer", "background"] * 2
