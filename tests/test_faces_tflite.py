"""The face pipeline's TFLite backend: anchors, box decoding and weighted NMS against hand
computations, and equivalence with the mediapipe `solutions` backend on real faces."""

from __future__ import annotations

import numpy as np
import pytest

from deepexpr.faces.anchors import (
    FULL_RANGE,
    SHORT_RANGE,
    DetectorSpec,
    decode_detections,
    iou_matrix,
    ssd_anchors,
    weighted_nms,
)


def test_full_range_anchors_are_a_48_grid_of_cell_centres():
    a = ssd_anchors(FULL_RANGE)
    assert a.shape == (2304, 2)
    np.testing.assert_allclose(a[0], [0.5 / 48, 0.5 / 48])
    np.testing.assert_allclose(a[1], [1.5 / 48, 0.5 / 48])  # x runs first (row-major cells)
    np.testing.assert_allclose(a[48], [0.5 / 48, 1.5 / 48])
    np.testing.assert_allclose(a[-1], [47.5 / 48, 47.5 / 48])


def test_short_range_anchors_share_the_stride_16_map():
    a = ssd_anchors(SHORT_RANGE)
    # stride 8: 16x16 cells x 2 anchors; the three stride-16 layers: 8x8 cells x 6 anchors
    assert a.shape == (16 * 16 * 2 + 8 * 8 * 6, 2) == (896, 2)
    np.testing.assert_allclose(a[0], a[1])  # two anchors per cell, same centre
    np.testing.assert_allclose(a[512:518], np.tile([[0.5 / 8, 0.5 / 8]], (6, 1)))
    np.testing.assert_allclose(a[518], [1.5 / 8, 0.5 / 8])


def test_decoding_by_hand():
    spec = DetectorSpec(input_size=100, strides=(50,), interpolated_scale_aspect_ratio=0.0, num_keypoints=1)
    anchors = ssd_anchors(spec)  # 2x2 cells: centres 0.25 / 0.75
    raw = np.zeros((4, 6), np.float32)
    raw[3] = [10, -5, 20, 40, 2, 3]  # anchor (0.75, 0.75): centre +0.1, -0.05; size 0.2 x 0.4
    logits = np.array([-3.0, 0.0, 500.0, 2.0])  # 500 is clipped to 100: still probability 1
    boxes, scores, kps = decode_detections(raw, logits, anchors, spec, min_score=0.6)
    assert len(boxes) == 2  # sigmoid(0) = 0.5 and sigmoid(-3) fall below 0.6
    np.testing.assert_allclose(scores, [1.0, 1 / (1 + np.exp(-2.0))])
    np.testing.assert_allclose(boxes[1], [0.85 - 0.1, 0.70 - 0.2, 0.85 + 0.1, 0.70 + 0.2])
    np.testing.assert_allclose(kps[1, 0], [0.77, 0.78])
    np.testing.assert_allclose(boxes[0], [0.25, 0.75, 0.25, 0.75])  # zero offsets: the anchor centre


def test_weighted_nms_averages_overlapping_boxes_by_score():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 10.5]], float)
    scores = np.array([0.9, 0.6, 0.8, 0.3])
    kps = boxes[:, None, :2].copy()
    out_b, out_s, out_k = weighted_nms(boxes, scores, kps, iou=0.3)
    assert list(out_s) == [0.9, 0.8]  # best first; the group keeps its best score
    w = np.array([0.9, 0.6, 0.3]) / 1.8
    np.testing.assert_allclose(out_b[0], w @ boxes[[0, 1, 3]])
    np.testing.assert_allclose(out_k[0, 0], w @ kps[[0, 1, 3], 0])
    np.testing.assert_allclose(out_b[1], boxes[2])
    assert iou_matrix(boxes[:1], boxes[2:3])[0, 0] == 0.0
    empty = weighted_nms(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 1, 2)))
    assert [len(x) for x in empty] == [0, 0, 0]


@pytest.fixture(scope="module")
def both():
    from skimage import data

    from deepexpr.faces.pipeline import FacePipeline, PipelineConfig

    image = data.astronaut()
    return image, {b: FacePipeline(PipelineConfig(backend=b)).detect(image) for b in ("tflite", "solutions")}


def test_backends_agree_on_the_astronaut(both):
    _, faces = both
    (t,), (s,) = faces["tflite"], faces["solutions"]
    err = np.linalg.norm(t.mesh468[:, :2] - s.mesh468[:, :2], axis=1) / s.iod
    assert err.mean() < 0.04 and err.max() < 0.1, (err.mean(), err.max())
    assert abs(t.iod - s.iod) / s.iod < 0.05
    assert abs(t.yaw - s.yaw) < 5 and abs(t.roll - s.roll) < 3 and abs(t.pitch - s.pitch) < 6
    iris = np.linalg.norm(t.mesh478[468:, :2] - s.mesh478[468:, :2], axis=1) / s.iod
    assert iris.max() < 0.06, iris  # same order: image-left iris first, centre first
    assert t.low_confidence == s.low_confidence


def test_irises_run_on_first_use_only(both):
    from deepexpr.faces.pipeline import FacePipeline

    image, _ = both
    face = FacePipeline().detect(image)[0]
    assert face._mesh478 is None and face._iris_image is not None  # recognition never pays for them
    mesh = face.mesh478
    assert mesh.shape == (478, 3) and face._iris_image is None
    assert face.mesh478 is mesh
    centre_l, centre_r = mesh[468, :2], mesh[473, :2]  # each iris centre lies between its eye's corners
    assert mesh[33, 0] < centre_l[0] < mesh[133, 0] and mesh[362, 0] < centre_r[0] < mesh[263, 0]


def test_backends_find_the_same_faces_in_a_composite():
    from deepexpr.faces.composites import make_group_photo, match_faces
    from deepexpr.faces.pipeline import FacePipeline, PipelineConfig

    image, truth = make_group_photo(np.random.default_rng(11), n_faces=6, iod_range=(24, 90), size=(600, 900),
                                    backdrop="brick", max_roll=15)
    found = {}
    for backend in ("tflite", "solutions"):
        faces = FacePipeline(PipelineConfig(backend=backend)).detect(image)
        assert match_faces(truth, [f.box for f in faces])[1:] == (0, 0), backend  # no miss, no false face
        found[backend] = faces
    for t, s in zip(found["tflite"], found["solutions"]):
        assert np.linalg.norm(t.landmarks49 - s.landmarks49, axis=1).mean() / s.iod < 0.08


def test_parallel_threads_give_the_same_faces():
    from deepexpr.faces.composites import make_group_photo
    from deepexpr.faces.pipeline import FacePipeline, PipelineConfig

    image, _ = make_group_photo(np.random.default_rng(3), n_faces=4, iod_range=(24, 60), size=(720, 1280))
    one = FacePipeline(PipelineConfig(threads=1)).detect(image)
    two = FacePipeline(PipelineConfig(threads=2)).detect(image)
    assert len(one) == len(two) >= 3
    for a, b in zip(one, two):
        np.testing.assert_allclose(a.mesh468, b.mesh468, atol=1e-3)


def test_unknown_backend_is_one_line():
    from deepexpr.errors import InputError
    from deepexpr.faces.pipeline import FacePipeline, PipelineConfig

    with pytest.raises(InputError, match="backend"):
        FacePipeline(PipelineConfig(backend="onnx")).detect(np.zeros((64, 64, 3), np.uint8))


def test_rig_path_detects_with_tflite_and_meshes_with_solutions(both):
    from deepexpr.faces.pipeline import FacePipeline
    from deepexpr.faces.rigface import RIG_MESH_BACKEND, find_rig_faces, rig_config

    image, faces = both
    cfg = rig_config(min_iod=30)
    assert (cfg.backend, cfg.mesh_backend, cfg.min_iod) == ("tflite", RIG_MESH_BACKEND, 30)
    (hybrid,) = FacePipeline(cfg).detect(image)
    (ref,) = faces[RIG_MESH_BACKEND]  # the same detections (the same model), so the same crop
    np.testing.assert_allclose(hybrid.mesh478, ref.mesh478, atol=0.5)
    np.testing.assert_allclose(find_rig_faces(image)[0].mesh, ref.mesh478, atol=0.5)
