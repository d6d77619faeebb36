"""The live page sends only the region of a frame the server reads (`deepexpr.studio.liveregion`):
a region frame decodes to the frame's own pixels there, the server asks for the whole frame
when it needs it, and the faces, the expression model's input and the rig are the same as
from the whole frames."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from deepexpr.expressions import EXPRESSIONS
from deepexpr.studio.liveregion import RegionPlanner, aligned_read_box, contains, face_region
from deepexpr.studio.uploads import StudioError, decode_live_frame


def _i420(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The Y, U, V planes the camera would give for an RGB frame."""
    import cv2

    h, w = rgb.shape[:2]
    flat = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420).ravel()
    return (flat[:h * w].reshape(h, w), flat[h * w:h * w * 5 // 4].reshape(h // 2, w // 2),
            flat[h * w * 5 // 4:].reshape(h // 2, w // 2))


def message(rgb: np.ndarray, region: list[int] | None = None, overview: bool = False) -> bytes:
    """What the page's worker sends: the whole I420 frame ("DXRF"), or only `region` ("DXRC",
    the bytes `VideoFrame.copyTo(buffer, {rect})` writes: the Y, U and V planes of the
    rectangle), with `overview` followed by the frame at half size ("DXRO": each plane's 2x2
    blocks averaged, as live-worker.js's halveI420)."""
    h, w = rgb.shape[:2]
    y, u, v = _i420(rgb)
    if region is None:
        return b"DXRFI420" + w.to_bytes(2, "little") + h.to_bytes(2, "little") + y.tobytes() + u.tobytes() + v.tobytes()
    x0, y0, rw, rh = region
    planes = [y[y0:y0 + rh, x0:x0 + rw], u[y0 // 2:(y0 + rh) // 2, x0 // 2:(x0 + rw) // 2],
              v[y0 // 2:(y0 + rh) // 2, x0 // 2:(x0 + rw) // 2]]
    if overview:
        planes += [(p[0::2, 0::2].astype(np.int32) + p[1::2, 0::2] + p[0::2, 1::2] + p[1::2, 1::2] + 2) >> 2
                   for p in (y, u, v)]
    head = b"".join(int(n).to_bytes(2, "little") for n in (w, h, x0, y0, rw, rh))
    return (b"DXRO" if overview else b"DXRC") + b"I420" + head + b"".join(
        np.ascontiguousarray(p, np.uint8).tobytes() for p in planes)


def test_a_region_frame_holds_the_whole_frames_pixels_in_its_region_and_black_elsewhere(astronaut):
    frame = np.ascontiguousarray(astronaut[:480, :512])
    whole, got = decode_live_frame(message(frame), 10**7)
    assert got is None and whole.shape == (480, 512, 3)
    part, got = decode_live_frame(message(frame, [100, 36, 210, 180]), 10**7)
    assert got == [100, 36, 210, 180] and part.shape == whole.shape
    np.testing.assert_array_equal(part[36:216, 100:310], whole[36:216, 100:310])  # 4:2:0 cut on even pixels: exact
    outside = np.ones(part.shape[:2], bool)
    outside[36:216, 100:310] = False
    assert part[outside].max() == 0
    seen, got = decode_live_frame(message(frame, [100, 36, 210, 180], overview=True), 10**7)
    assert got == [100, 36, 210, 180]
    np.testing.assert_array_equal(seen[36:216, 100:310], whole[36:216, 100:310])
    difference = np.abs(seen[outside].astype(int) - whole[outside])  # elsewhere: the half-size overview, scaled up
    assert difference.mean() < 6 and np.median(difference) <= 4


@pytest.mark.parametrize("region, why", [([400, 36, 210, 180], "not inside"), ([101, 36, 210, 180], "even corners"),
                                         ([100, 36, 211, 180], "bytes do not make")])
def test_a_malformed_region_frame_is_a_422(astronaut, region, why):
    frame = np.ascontiguousarray(astronaut[:480, :512])
    data = message(frame, [100, 36, 210, 180])
    data = data[:12] + b"".join(int(n).to_bytes(2, "little") for n in region) + data[20:]
    with pytest.raises(StudioError, match=why) as err:
        decode_live_frame(data, 10**7)
    assert err.value.status == 422
    with pytest.raises(StudioError, match="header cut short"):
        decode_live_frame(data[:16], 10**7)
    with pytest.raises(StudioError, match="bytes do not make") as err:  # an overview cut short
        decode_live_frame(message(frame, [100, 36, 210, 180], overview=True)[:-100], 10**7)
    assert err.value.status == 422


def _face(mesh_box, aligned_box):
    """A stand-in tracked face: a mesh spanning `mesh_box`, an aligned crop (64 px) reading `aligned_box`."""
    (x0, y0, x1, y1), (a0, b0, a1, b1) = mesh_box, aligned_box
    mesh = np.array([[x0, y0, 0], [x1, y1, 0]] * 234, np.float32)
    scale = 64 / (a1 - a0)
    affine = np.array([[scale, 0, -scale * a0], [0, 64 / (b1 - b0), -64 / (b1 - b0) * b0]])
    return SimpleNamespace(mesh468=mesh, affine=affine, aligned=np.zeros((64, 64, 3), np.uint8))


def test_planner_asks_for_a_region_around_the_faces_and_the_whole_frame_when_it_must():
    shape = (480, 640, 3)
    face = _face((200, 100, 300, 220), (215, 120, 285, 200))
    planner = RegionPlanner()
    region = planner.plan([face], shape, None, whole_next=False)
    assert region == face_region(face.mesh468, shape) and all(v % 2 == 0 for v in region)
    assert region == [126, 36, 248, 248]  # 2x the extent (120) around (250, 160), 3 px more, on even pixels
    assert contains(region, aligned_read_box(face, shape)) and not planner.short
    assert planner.plan([face], shape, region, whole_next=True) is None  # a new face waits for a whole frame
    assert planner.plan([face], shape, None, False, detection_next=True) == region and planner.overview
    assert planner.plan([face], shape, region, False) == region and not planner.overview
    assert RegionPlanner(use_overview=False).plan([face], shape, None, False, detection_next=True) is None
    assert planner.plan([face], shape, None, whole_next=False) == region
    assert planner.plan([], shape, region, whole_next=False) is None and not planner.short  # no face
    planner.plan([face, _face((400, 100, 500, 220), (415, 120, 485, 200))], shape, None, False)
    assert planner.plan([face], shape, None, whole_next=False) is None  # a face lost: detect on a whole frame
    asked = planner.plan([face], shape, None, whole_next=False)
    moved = _face((200, 100, 300, 220), (215, 120, 285, 400))  # its crop reads below the region
    assert planner.plan([moved], shape, asked, whole_next=False) is None and planner.short
    assert planner.plan([face], shape, [0, 0, 100, 100], whole_next=False) is None and planner.short  # not asked
    big = _face((60, 20, 560, 470), (100, 60, 500, 430))
    assert planner.plan([big], shape, None, whole_next=False) is None  # the region would be most of the frame


def test_region_frames_give_the_whole_frames_faces_expression_input_and_rig(monkeypatch):
    """Two live sessions on the same webcam frames, one sent whole, one as the regions the
    server asks for: the same meshes, aligned crops (the expression model's input), rigs and
    puppets, bit for bit (the pipeline reads only pixels inside the region, which are the
    frame's own; the tolerances only absorb float rounding). Both sessions see the frames at
    the same times (the rig smoothing depends on the time between frames)."""
    import time

    from deepexpr.studio import engine as engine_module
    from deepexpr.studio.engine import Engine, FaceResult
    from studio_helpers import webcam_frames

    clock = [0.0]
    monkeypatch.setattr(engine_module, "time", SimpleNamespace(monotonic=lambda: clock[0], perf_counter=time.perf_counter,
                                                              thread_time=time.thread_time))

    engine = Engine()
    engine.human = SimpleNamespace()  # the model's stand-in reads the aligned crop, compared below
    engine.results = lambda faces: [FaceResult([0, 0, 1, 1], np.full(len(EXPRESSIONS), 1 / 7, np.float32),
                                               f.quality(), None, f) for f in faces if f.aligned is not None]
    frames = webcam_frames(24)
    whole, part, planner = engine.live_session(), engine.live_session(), RegionPlanner()
    asked, sent_regions, sizes = None, 0, []
    try:
        for k, rgb in enumerate(frames):
            clock[0] = k / 30
            data = message(rgb, asked, planner.overview)
            sizes.append((len(data), asked is not None and planner.overview))
            sent_regions += asked is not None
            a_img, _ = decode_live_frame(message(rgb), 10**7)
            b_img, got = decode_live_frame(data, 10**7)
            a_faces, a_puppet = whole.frame(a_img, "pip", 64)
            b_faces, b_puppet = part.frame(b_img, "pip", 64, got)
            asked = planner.plan(b_faces, b_img.shape, got, part.faces.whole_next, part.faces.detection_next)
            assert not planner.short and asked is not None
            assert planner.overview == (k % 10 == 9)  # frames 10, 20 run the detector: the overview too
            assert len(a_faces) == len(b_faces) == 1
            np.testing.assert_allclose(b_faces[0].face.mesh478, a_faces[0].face.mesh478, atol=1e-4)
            np.testing.assert_array_equal(b_faces[0].face.aligned, a_faces[0].face.aligned)
            assert b_puppet.rig == pytest.approx(a_puppet.rig, abs=1e-6)
            np.testing.assert_array_equal(b_puppet.image, a_puppet.image)
    finally:
        whole.close()
        part.close()
    assert sent_regions == 23  # all but the first frame
    whole_bytes = sizes[0][0]
    assert max(n for n, overview in sizes[1:] if not overview) < whole_bytes / 4  # a region: under a quarter
    assert max(n for n, overview in sizes[1:] if overview) < whole_bytes * 0.4  # + the overview: under 40%


class _AtOnce:
    """An executor that runs a job when it is submitted (the background detector, done at once)."""

    def submit(self, fn, *args):
        from concurrent.futures import Future

        future = Future()
        future.set_result(fn(*args))
        return future


def test_a_face_entering_beside_a_tracked_one_joins_on_a_whole_frame(astronaut):
    """The background detector's new face is meshed on a whole frame (the next one), never on
    a region frame's blank pixels; whole frames pick it up on the frame after the detection."""
    from deepexpr.faces import FacePipeline
    from deepexpr.faces.rigface import RigFaceStream, rig_config

    small = astronaut[10:290, 95:375][::2, ::2]
    frames = []
    for t in range(14):
        frame = np.full((240, 480, 3), 70, np.uint8)
        frame[40:180, 10 + 2 * t:150 + 2 * t] = small
        if t >= 8:  # a second face comes in at frame 8; the detector's next run: frame 10
            frame[60:200, 320:460] = small
        frames.append(frame)
    counts = {}
    for path in ("whole", "region"):
        stream = RigFaceStream(FacePipeline(rig_config(threads=1, min_iod=20)), background=_AtOnce())
        planner, asked, counts[path] = RegionPlanner(), None, []
        try:
            for frame in frames:
                data = message(frame, asked, planner.overview) if path == "region" else message(frame)
                image, got = decode_live_frame(data, 10**7)
                faces = stream.process(image, got)
                counts[path].append(len(faces))
                asked = planner.plan([f.face for f in faces], image.shape, got, stream.whole_next, stream.detection_next)
        finally:
            stream.close()
    assert counts["whole"] == [1] * 11 + [2] * 3  # merged on frame 11
    assert counts["region"] == [1] * 12 + [2] * 2  # frame 10: region + overview, the detector's; 11 a region:
    # the new face waits; 12 whole: merged


def jumping_face_frames(astronaut, n):
    """`n` 480x240 frames of a small face drifting right, jumping far right on frame 4."""
    small = astronaut[10:290, 95:375][::2, ::2]
    frames = []
    for t in range(n):
        frame = np.full((240, 480, 3), 70, np.uint8)
        x = 10 + 2 * t if t < 4 else 320
        frame[40:180, x:x + 140] = small
        frames.append(frame)
    return frames


def test_a_face_lost_on_a_region_frame_is_searched_for_on_the_next_whole_frame(astronaut, monkeypatch):
    """A jump out of the region loses the face: the region frame does not run the detector
    (it would see only the region), the next frame comes whole and finds the face again."""
    from deepexpr.faces import FacePipeline, pipeline
    from deepexpr.faces.rigface import RigFaceStream, rig_config

    frames = jumping_face_frames(astronaut, 8)
    detector_runs = []
    real = pipeline.detect_boxes
    monkeypatch.setattr(pipeline, "detect_boxes", lambda *a, **k: detector_runs.append(len(counts)) or real(*a, **k))
    stream = RigFaceStream(FacePipeline(rig_config(threads=1, min_iod=20)))
    planner, asked, counts, sent = RegionPlanner(), None, [], []
    try:
        for frame in frames:
            sent.append("region" if asked else "whole")
            image, got = decode_live_frame(message(frame, asked, planner.overview), 10**7)
            faces = stream.process(image, got)
            counts.append(len(faces))
            asked = planner.plan([f.face for f in faces], image.shape, got, stream.whole_next, stream.detection_next)
    finally:
        stream.close()
    assert sent == ["whole", "region", "region", "region", "region", "whole", "region", "region"]
    assert counts == [1, 1, 1, 1, 0, 1, 1, 1]
    assert detector_runs == [0, 5]  # the first frame, then the whole frame after the loss


def test_a_lost_tracks_graph_forgets_its_face_on_the_lost_frame_not_on_the_refind(astronaut, monkeypatch):
    """The frame that finds a lost face again (a whole frame, the live loop's slowest) only
    detects and meshes: the ended track's mediapipe graph was made to forget its face on the
    cheap region frame that lost it. The face found again is meshed as a brand-new stream
    meshes it (the reused graph starts afresh)."""
    from deepexpr.faces import FacePipeline, solutions
    from deepexpr.faces.rigface import RigFaceStream, rig_config

    frames = jumping_face_frames(astronaut, 7)
    forgets = []
    real = solutions.forget_face
    monkeypatch.setattr(solutions, "forget_face", lambda *a, **k: forgets.append(len(counts)) or real(*a, **k))
    stream = RigFaceStream(FacePipeline(rig_config(threads=1, min_iod=20)))
    planner, asked, counts, meshes = RegionPlanner(), None, [], []
    try:
        for frame in frames:
            image, got = decode_live_frame(message(frame, asked, planner.overview), 10**7)
            faces = stream.process(image, got)
            counts.append(len(faces))
            meshes.append([f.mesh for f in faces])
            asked = planner.plan([f.face for f in faces], image.shape, got, stream.whole_next, stream.detection_next)
    finally:
        stream.close()
    assert counts == [1, 1, 1, 1, 0, 1, 1]
    assert forgets == [4]  # on the frame that lost the face; frame 5 (whole) reuses the graph as it is
    fresh = RigFaceStream(FacePipeline(rig_config(threads=1, min_iod=20)))
    try:
        again = fresh.process(decode_live_frame(message(frames[5]), 10**7)[0])
    finally:
        fresh.close()
    assert len(again) == 1
    np.testing.assert_allclose(meshes[5][0], again[0].mesh, atol=1e-3)
