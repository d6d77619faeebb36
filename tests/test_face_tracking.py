"""Face tracks: ids across a synthetic sequence, through a short gap, and on real frames."""

from __future__ import annotations

import numpy as np
import pytest

from deepexpr.faces.tracking import FaceTracker


def _square(cx, cy, s=60):
    return [cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2]


def test_ids_follow_faces_through_a_gap_and_expire_after_it():
    tr = FaceTracker(max_gap=5)
    seen = []
    for t in range(30):
        boxes = [_square(100 + 4 * t, 100)]           # face A walks right
        if not 10 <= t < 14:                          # face B hidden for 4 frames
            boxes.append(_square(400 - 3 * t, 260))
        seen.append(tr.update(boxes[::-1] if t % 2 else boxes))  # order of faces does not matter
    a_ids = {ids[0] if t % 2 == 0 else ids[-1] for t, ids in enumerate(seen)}
    b_ids = {(ids[1] if t % 2 == 0 else ids[0]) for t, ids in enumerate(seen) if len(ids) == 2}
    assert a_ids == {0} and b_ids == {1}
    for _ in range(7):                                 # B gone longer than max_gap
        tr.update([_square(220, 100)])
    assert tr.update([_square(220, 100), _square(310, 260)]) == [0, 2]


def test_neighbours_crossing_keep_ids_by_landmark_shape():
    rng = np.random.default_rng(0)
    shape_a, shape_b = rng.normal(size=(49, 2)), rng.normal(size=(49, 2))
    tr = FaceTracker(max_gap=3)
    for t in range(20):
        xa, xb = 100 + 10 * t, 290 - 10 * t           # they pass each other around t = 9-10
        boxes = [_square(xa, 100), _square(xb, 104)]
        marks = [shape_a * 10 + [xa, 100], shape_b * 10 + [xb, 104]]
        ids = tr.update(boxes, marks)
        assert ids == [0, 1], t


@pytest.mark.parametrize("backend", ["tflite", "solutions"])
def test_stream_keeps_one_id_for_a_face_that_leaves_briefly(backend):
    from skimage import data

    from deepexpr.faces.pipeline import FacePipeline, PipelineConfig

    face = data.astronaut()[10:290, 95:375]
    small = face[::2, ::2]
    stream = FacePipeline(PipelineConfig(detect_every=4, backend=backend)).stream(max_gap=5)
    ids = []
    for t in range(14):
        frame = np.full((240, 400, 3), 70, np.uint8)
        if not 6 <= t < 9:
            x = 10 + 8 * t
            frame[40:40 + small.shape[0], x:x + small.shape[1]] = small
        faces = stream.process(frame)
        ids.append([f.track_id for f in faces])
    assert all(i == [] for i in ids[6:9])
    assert {tuple(i) for t, i in enumerate(ids) if not 6 <= t < 9} == {(0,)}


def test_solutions_stream_reuses_the_graph_of_an_ended_track(monkeypatch):
    """A face that jumps gets a new track; its video-mode FaceMesh is the ended track's,
    reset, not a new graph (building one costs 50-100 ms of a live frame)."""
    from skimage import data

    import deepexpr.faces.solutions as solutions
    from deepexpr.faces.pipeline import MAX_TRACK_MESHERS, FacePipeline, PipelineConfig

    built = []
    real = solutions.tracking_mesher
    monkeypatch.setattr(solutions, "tracking_mesher", lambda: built.append(1) or real())
    small = data.astronaut()[10:290, 95:375][::2, ::2]
    stream = FacePipeline(PipelineConfig(backend="tflite", mesh_backend="solutions", detect_every=3)).stream(max_gap=1)
    ids = []
    for t in range(12):
        frame = np.full((240, 480, 3), 70, np.uint8)
        x = 10 if t < 6 else 320  # the face jumps across the frame: a new track
        frame[40:40 + small.shape[0], x:x + small.shape[1]] = small
        ids.append([f.track_id for f in stream.process(frame)])
    assert ids[0] == [0] and ids[-1] == [1]
    assert len(built) == 1  # the second track reused the first one's graph
    assert len(stream._meshers) + len(stream._spare) <= MAX_TRACK_MESHERS
    stream.close()


def test_two_tracks_on_one_face_become_one():
    """A lost track's mesh that drifts onto a face already tracked again is dropped (the older
    track is kept), so tracks do not pile up on one face after each jump of the video."""
    from types import SimpleNamespace

    from deepexpr.faces.pipeline import _distinct

    old = SimpleNamespace(box=[100.0, 100.0, 200.0, 200.0], track_id=0)
    same = SimpleNamespace(box=[104.0, 98.0, 203.0, 201.0], track_id=3)
    other = SimpleNamespace(box=[300.0, 100.0, 400.0, 200.0], track_id=1)
    assert [f.track_id for f in _distinct([old, same, other])] == [0, 1]
    assert [f.track_id for f in _distinct([other, old])] == [1, 0]
