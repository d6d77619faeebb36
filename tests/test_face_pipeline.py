"""The face pipeline: pyramid windows, duplicate merging, small faces in composites, quality."""

from __future__ import annotations

import numpy as np
import pytest

from deepexpr.faces.composites import astronaut_sources, make_group_photo, match_faces, paste_face
from deepexpr.faces.pipeline import (
    BOX_PER_IOD,
    LEVEL_SLACK,
    MIN_FACE_FRACTION,
    FacePipeline,
    PipelineConfig,
    nms,
    plan_windows,
)


@pytest.mark.parametrize("shape", [(1080, 1920), (480, 640), (3000, 2000), (200, 300)])
def test_windows_hold_every_face_size(shape):
    h, w = shape
    windows = plan_windows(h, w, min_iod=20)
    assert windows[0] == (0, 0, max(h, w))
    rng = np.random.default_rng(0)
    for _ in range(300):
        side = float(np.exp(rng.uniform(np.log(BOX_PER_IOD * 20), np.log(min(h, w) * 0.6))))
        x, y = rng.uniform(0, w - side), rng.uniform(0, h - side)
        # some window holds the whole face, big enough for the detector, not too big
        ok = [win for win in windows if win[0] <= x and win[1] <= y and x + side <= win[0] + win[2]
              and y + side <= win[1] + win[2] and side / win[2] >= MIN_FACE_FRACTION / LEVEL_SLACK]
        assert ok, (shape, x, y, side)
    assert len(plan_windows(h, w, min_iod=80)) <= len(windows)  # bigger faces only: fewer tiles


def test_nms_merges_duplicates_and_partial_boxes():
    kp = np.zeros((6, 2))
    dets = [(np.array([0, 0, 100, 100.]), 0.8, kp), (np.array([5, 5, 104, 102.]), 0.9, kp),
            (np.array([10, 10, 50, 60.]), 0.95, kp),  # a part of the same face, seen by a finer tile
            (np.array([300, 0, 350, 50.]), 0.7, kp)]
    kept = nms(dets)
    assert [d[1] for d in kept] == [0.95, 0.7]  # best score first, one box per face


BACKENDS = ["tflite", "solutions"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_small_faces_found_in_a_composite(backend):
    rng = np.random.default_rng(5)
    image, truth = make_group_photo(rng, n_faces=9, iod_range=(20, 70), size=(720, 1280), backdrop="coffee")
    assert len(truth) >= 8 and min(t["iod"] for t in truth) < 30
    faces = FacePipeline(PipelineConfig(backend=backend)).detect(image)
    tp, fn, fp = match_faces(truth, [f.box for f in faces])
    assert (fn, fp) == (0, 0), (tp, fn, fp)
    assert [f.box[0] for f in faces] == sorted(f.box[0] for f in faces)  # left to right
    for f, t in zip(faces, truth):
        assert f.mesh478.shape == (478, 3) and f.landmarks49.shape == (49, 2)
        assert abs(f.iod - t["iod"]) / t["iod"] < 0.15
        assert f.score > 0.5 and len(f.detection_box) == 4


@pytest.mark.parametrize("backend", BACKENDS)
def test_quality_flags_tiny_and_profile_faces_and_mirror_flips_pose(backend):
    from skimage import data

    pipeline = FacePipeline(PipelineConfig(backend=backend))
    src = astronaut_sources()[0]
    canvas = np.full((400, 600, 3), 90, np.uint8)
    paste_face(canvas, src, 60, 20, 20)
    paste_face(canvas, src, 19, 450, 200)
    faces = FacePipeline(PipelineConfig(min_iod=16, backend=backend)).detect(canvas)
    assert len(faces) == 2
    big, tiny = faces
    assert not big.low_confidence and big.reason == ""
    assert tiny.low_confidence and "tiny" in tiny.reason
    mirrored = pipeline.detect(np.ascontiguousarray(canvas[:, ::-1]))
    assert np.sign(mirrored[-1].roll) == -np.sign(big.roll) or abs(big.roll) < 1
    # two thirds of a face hidden (a camera held in front): not found, or not a confident answer
    hidden = np.full((400, 600, 3), 90, np.uint8)
    (_, ly), (rx, _) = paste_face(hidden, src, 60, 100, 20)["eyes"]
    hidden[int(ly - 60):int(ly + 120), int(rx + 36 - 0.7 * 132):int(rx + 72)] = (70, 70, 75)
    assert all(f.low_confidence for f in pipeline.detect(hidden))
    # the cameraman looks down at his camera, turned away: a profile, not a confident answer
    cameraman = pipeline.detect(np.dstack([data.camera()] * 3))
    assert all(f.low_confidence for f in cameraman)
    assert any("profile" in f.reason for f in cameraman)
