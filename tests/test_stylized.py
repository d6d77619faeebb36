"""Stylized-face model shapes (tiny variant), the landmark metrics against hand computations,
the detection pipeline's contract and `deepexpr landmarks` on tiny fixtures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepexpr.data.face_frame import TEMPLATE, face_frame, frame_box, frame_params
from deepexpr.evaluation.stylized_landmarks import (
    box_iou,
    detection_counts,
    match_detections,
    nme,
    region_nme,
)
from deepexpr.models import create_model
from deepexpr.models.stylized_face import letterbox, soft_argmax


def test_tiny_model_shapes(tiny_net):
    assert tiny_net.detect(torch.zeros(2, 3, 64, 96)).shape == (2, 6, 16, 24)
    assert tiny_net.landmarks(torch.zeros(3, 3, 32, 32)).shape == (3, 49, 2)
    with pytest.raises(ValueError, match="multiples of 16"):
        tiny_net.detect(torch.zeros(1, 3, 50, 64))
    with pytest.raises(ValueError, match="landmark input"):
        tiny_net.landmarks(torch.zeros(1, 1, 32, 32))
    assert sum(p.numel() for p in tiny_net.parameters()) < 10_000


def test_fused_inference_copy_computes_the_same_maps(tiny_net):
    from deepexpr.models.stylized_face import fuse_for_inference

    net = create_model("test_stylized_face")
    torch.manual_seed(1)
    with torch.no_grad():  # batch norms with non-trivial statistics and affines
        for bn in (m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)):
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
    net.eval()
    fused = fuse_for_inference(net)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())  # the original is kept
    image, crops = torch.randn(2, 3, 64, 80), torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(net.detect(image), fused.detect(image), atol=1e-4)
        assert torch.allclose(net.landmarks(crops), fused.landmarks(crops), atol=1e-3)
        nhwc = image.contiguous(memory_format=torch.channels_last)
        assert torch.allclose(net.detect(image), fused.detect(nhwc), atol=1e-4)


@pytest.mark.parametrize("shape", [(64, 64), (200, 150), (480, 640), (640, 640), (1080, 1920), (5000, 300)])
@pytest.mark.parametrize("min_scale", [0.0, 0.6, 0.7])
def test_pyramid_levels_cover_every_face_size(shape, min_scale):
    """Every face side from 24 px to the shorter image side is kept by some level at a
    size the detector was trained on (>= 12 px at its input); levels are multiples of 16;
    with `min_scale` the finest level scales the image by at least that (up to 4 x base)."""
    from deepexpr.stylized import _levels

    h, w = shape
    base = 256
    levels = _levels(h, w, base, min_scale)
    assert all(side % 16 == 0 and side <= 4 * base for side, _, _ in levels)
    for face in np.geomspace(24, min(h, w), 40):
        kept = [side for side, lo, hi in levels if lo <= face * side / max(h, w) <= hi]
        assert kept, f"a {face:.0f} px face of a {w}x{h} image is kept by no level {levels}"
        assert max(kept) * face / max(h, w) >= min(12.0, face * 4 * base / max(h, w))
    if min_scale:
        finest = max(side for side, _, _ in levels)
        assert finest >= min(4 * base, min_scale * max(h, w))
        assert len(levels) <= 2 or max(h, w) * min_scale > 2 * base  # one level for mid-sized images


def test_soft_argmax_of_a_peak_is_its_cell_centre():
    maps = torch.full((1, 2, 8, 8), -50.0)
    maps[0, 0, 2, 5] = 50.0
    maps[0, 1, 7, 0] = 50.0
    xy = soft_argmax(maps)[0]
    assert torch.allclose(xy, torch.tensor([[5 * 4 + 1.5, 2 * 4 + 1.5], [1.5, 7 * 4 + 1.5]]))


def test_letterbox_pads_to_multiples_and_maps_pixels():
    image = np.zeros((100, 300, 3), np.uint8)
    canvas, a = letterbox(image, 64)
    assert canvas.shape[1] == 64 and canvas.shape[0] % 16 == 0
    assert np.allclose(a @ [299.5, 99.5, 1], [63.5, 99.5 * 64 / 300 + 0.5 * 64 / 300 - 0.5])


def test_nme_against_hand_computation():
    gt = TEMPLATE * 100
    iod = np.hypot(*(gt[19] - gt[28]))  # outer eye corners
    pred = gt + [3.0, 4.0]  # every point 5 px off
    assert np.isclose(nme(pred, gt), 5.0 / iod)
    pred = gt.copy()
    pred[31:49] += [0.0, 6.0]  # only the mouth moves, 6 px
    regions = region_nme(pred, gt)
    assert np.isclose(regions["mouth"], 6.0 / iod)
    assert regions["brows"] == regions["eyes"] == regions["nose"] == 0
    assert np.isclose(nme(pred, gt), 18 * 6.0 / 49 / iod)
    batch = nme(np.stack([gt, gt + [0, 1]]), np.stack([gt, gt]))
    assert np.allclose(batch, [0, 1 / iod])


def test_detection_matching_against_brute_force():
    gt = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float)
    pred = np.array([[1, 1, 11, 11], [0, 0, 10, 10], [20, 20, 29, 31], [50, 50, 60, 60]], float)
    scores = [0.5, 0.9, 0.8, 0.7]
    m = match_detections(pred, scores, gt)
    assert list(m) == [-1, 0, 1, -1]  # the better-scored duplicate takes the face
    assert detection_counts(pred, scores, gt) == (2, 4, 2)
    assert np.isclose(box_iou([0, 0, 10, 10], [5, 0, 15, 10])[0, 0], 50 / 150)


def test_pipeline_contract(tiny_net, character_png):
    from deepexpr.stylized import StylizedConfig, detect_stylized_faces, render_crop

    faces = detect_stylized_faces(str(character_png), StylizedConfig(threshold=0.0, max_faces=3, box_blend=0.0),
                                  model=tiny_net)
    assert 1 <= len(faces) <= 3
    assert [f.score for f in faces] == sorted((f.score for f in faces), reverse=True)
    for f in faces:
        assert f.landmarks.shape == (49, 2) and np.isfinite(f.landmarks).all()
        assert np.allclose(f.box, frame_box(face_frame(f.landmarks)), atol=1e-3)  # (box_blend 0)
    blended = detect_stylized_faces(str(character_png), StylizedConfig(threshold=0.0, max_faces=3), model=tiny_net)
    assert [f.score for f in blended] == [f.score for f in faces]  # the box moves, nothing else
    assert all(np.array_equal(a.landmarks, b.landmarks) for a, b in zip(blended, faces))
    assert render_crop(np.zeros((96, 96, 3), np.uint8), faces[0], 64).shape == (64, 64, 3)
    assert detect_stylized_faces(np.zeros((8, 8, 3), np.uint8), model=tiny_net) == []  # too small


class _FixedRegressor:
    """A landmark 'model' whose heatmaps always peak at `target` (49, 2) crop pixels."""

    def __init__(self, target, size=32):
        from types import SimpleNamespace

        self.cfg = SimpleNamespace(landmark_input=size)
        self.target = torch.as_tensor(target, dtype=torch.float32)
        self.batches = []

    def landmark_maps(self, x):
        self.batches.append(len(x))
        cells = torch.arange(self.cfg.landmark_input // 4) * 4 + 1.5
        gx = -((cells[None] - self.target[:, :1]) ** 2) / 8  # (49, w): a Gaussian of 2 px
        gy = -((cells[None] - self.target[:, 1:]) ** 2) / 8
        return (gy[:, :, None] + gx[:, None, :]).expand(len(x), -1, -1, -1)


def test_landmark_passes_stop_once_the_square_settles(character_png):
    """Landmarks where the crop's own square puts them settle after two passes; landmarks
    off by 3 px move the square every pass, so every pass re-reads that face; a huge
    `settle` always stops after two."""
    from deepexpr import stylized
    from deepexpr.data.face_frame import aligned_crop, apply
    from deepexpr.io import read_image

    image = read_image(character_png)
    lm = TEMPLATE * 60 + [18, 20]
    frame = face_frame(lm)
    at_home = apply(aligned_crop(image, frame, 32)[1], lm)  # the square's landmarks in its crop
    still = _FixedRegressor(at_home)
    points, entropy = stylized.fit_landmarks(image, [frame, frame], still, passes=4, settle=0.02)
    assert still.batches == [2, 2] and np.abs(points[0] - lm).max() < 1.0
    assert all(0 <= e <= np.log(8 * 8) + 1e-5 for e in entropy)  # 32 px crops: 8 x 8 cells
    moving = _FixedRegressor(at_home + [3.0, 0.0])
    stylized.fit_landmarks(image, [frame], moving, passes=4, settle=0.02)
    assert moving.batches == [1, 1, 1, 1]
    lazy = _FixedRegressor(at_home + [3.0, 0.0])
    stylized.fit_landmarks(image, [frame], lazy, passes=4, settle=1e9)
    assert lazy.batches == [1, 1]
    centre = at_home.mean(0)
    shrinking = _FixedRegressor(centre + (at_home - centre) * 0.3)  # runs away onto one point
    points, _ = stylized.fit_landmarks(image, [frame], shrinking, passes=4, settle=0.0)
    assert shrinking.batches == [1]  # the implausible re-fit is not read again
    assert frame_params(face_frame(points[0]))[1] > 0.2 * frame_params(frame)[1]
    assert stylized.fit_landmarks(image, [], still, passes=3) == ([], [])
    a = face_frame(TEMPLATE * 50)
    assert stylized._frame_change(a, a) == 0
    side = frame_params(a)[1]
    assert np.isclose(stylized._frame_change(a, face_frame(TEMPLATE * 50 + [5, 0])), 5 / side, atol=1e-6)


def test_min_passes_and_give_up_bound_the_passes(character_png):
    """`min_passes` 1: a face whose first re-fit barely moves is read once; a moving one goes
    on. `give_up`: a candidate whose first reading is more diffuse is not read again."""
    from deepexpr import stylized
    from deepexpr.data.face_frame import aligned_crop, apply
    from deepexpr.io import read_image

    image = read_image(character_png)
    lm = TEMPLATE * 60 + [18, 20]
    frame = face_frame(lm)
    at_home = apply(aligned_crop(image, frame, 32)[1], lm)
    once = _FixedRegressor(at_home)
    stylized.fit_landmarks(image, [frame], once, passes=4, settle=0.02, min_passes=1)
    assert once.batches == [1]
    moving = _FixedRegressor(at_home + [3.0, 0.0])
    stylized.fit_landmarks(image, [frame], moving, passes=4, settle=0.02, min_passes=1)
    assert moving.batches == [1, 1, 1, 1]
    _, entropy = stylized.fit_landmarks(image, [frame], _FixedRegressor(at_home + [3.0, 0.0]), passes=1)
    quitting = _FixedRegressor(at_home + [3.0, 0.0])
    _, kept = stylized.fit_landmarks(image, [frame], quitting, passes=4, settle=0.02, give_up=entropy[0] - 0.01)
    assert quitting.batches == [1] and np.isclose(kept[0], entropy[0])
    staying = _FixedRegressor(at_home + [3.0, 0.0])
    stylized.fit_landmarks(image, [frame], staying, passes=4, settle=0.02, give_up=entropy[0] + 0.01)
    assert staying.batches == [1, 1, 1, 1]


@pytest.mark.parametrize("side", [30, 400])
def test_face_crop_matches_the_whole_image_crop(side):
    """The crop that shrinks only the face's part of the image gives the pixels and the
    affine of the crop that shrinks the whole image (up to the area filter's rounding)."""
    from deepexpr.data.face_frame import aligned_crop, frame_from_params
    from deepexpr.stylized import face_crop

    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (12, 18, 3)).astype(np.uint8)
    import cv2

    image = cv2.resize(small, (900, 600), interpolation=cv2.INTER_CUBIC)  # smooth, so rounding barely shows
    frame = frame_from_params([500.0, 280.0], side, 0.4)
    crop, to_crop = face_crop(image, frame, 32)
    ref, ref_to_crop = aligned_crop(image, frame, 32)
    assert np.allclose(to_crop, ref_to_crop, atol=1e-9)
    assert np.abs(crop.astype(int) - ref.astype(int)).mean() < 3.0
    edge = frame_from_params([10.0, 590.0], 300, 0.0)  # half outside: grey where the image ends
    crop, _ = face_crop(image, edge, 32)
    ref, _ = aligned_crop(image, edge, 32)
    assert np.abs(crop.astype(int) - ref.astype(int)).mean() < 3.0 and (crop[-1, -1] == 127).all()


def test_onnx_backend_computes_the_torch_maps(tiny_net):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from deepexpr.models.stylized_face import fuse_for_inference, onnx_for_inference

    fused = fuse_for_inference(tiny_net)
    runner = onnx_for_inference(fused)
    image, crops = torch.randn(1, 3, 64, 96), torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(runner.detect(image), fused.detect(image), atol=1e-4)
        assert runner.detect(torch.randn(2, 3, 48, 32)).shape == (2, 6, 12, 8)  # any size, any batch
        assert torch.allclose(runner.landmarks(crops), fused.landmarks(crops), atol=1e-3)
    with pytest.raises(ValueError, match="landmark input"):
        runner.landmark_maps(torch.zeros(1, 3, 48, 48))


def test_backend_choice_and_fallback(tiny_checkpoint, monkeypatch):
    """auto: ONNX Runtime when installed, else torch; onnx without it: one-line InputError."""
    from deepexpr import stylized
    from deepexpr.errors import InputError
    from deepexpr.models import onnx_runtime, stylized_face

    monkeypatch.setattr(onnx_runtime, "onnx_available", lambda: False)
    stylized.load_stylized_model.cache_clear()
    try:
        assert isinstance(stylized.load_stylized_model(str(tiny_checkpoint), "auto"), stylized_face.StylizedFaceNet)
        with pytest.raises(InputError, match="--backend onnx"):
            stylized.load_stylized_model(str(tiny_checkpoint), "onnx")
    finally:
        stylized.load_stylized_model.cache_clear()
    monkeypatch.undo()
    if onnx_runtime.onnx_available():
        model = stylized.load_stylized_model(str(tiny_checkpoint), "auto")
        assert isinstance(model, stylized_face.OnnxStylizedFace)
        image = np.full((64, 64, 3), 200, np.uint8)
        cfg = stylized.StylizedConfig(model=str(tiny_checkpoint), threshold=0.0, max_entropy=0.0)
        torch_faces = stylized.detect_stylized_faces(image, stylized.StylizedConfig(**{**cfg.__dict__, "backend": "torch"}))
        onnx_faces = stylized.detect_stylized_faces(image, cfg)
        assert len(onnx_faces) == len(torch_faces)
        for a, b in zip(onnx_faces, torch_faces):
            assert np.allclose(a.landmarks, b.landmarks, atol=0.05) and np.isclose(a.score, b.score, atol=1e-4)


class _UprightRegressor(_FixedRegressor):
    """Sharp heatmaps only on crops whose top half is brighter than their bottom half."""

    def landmark_maps(self, x):
        maps = super().landmark_maps(x)
        half = x.shape[-2] // 2
        upright = (x[:, :, :half].mean((1, 2, 3)) > x[:, :, half:].mean((1, 2, 3))).float()
        return maps * (0.02 + 0.98 * upright)[:, None, None, None]


def _bright_top_face():
    """An image bright above and dark below ("upright" is its own orientation, as
    `_UprightRegressor` reads it), a face frame on it, and that frame's landmarks in its
    32 px crop."""
    from deepexpr.data.face_frame import aligned_crop, apply

    image = np.zeros((128, 128, 3), np.uint8)
    image[:64] = 255
    lm = TEMPLATE * 60 + [34, 34]
    upright = face_frame(lm)
    return image, upright, apply(aligned_crop(image, upright, 32)[1], lm)


def test_a_diffuse_first_reading_is_also_read_turned():
    """A face square turned upside down reads diffuse; with `turn_above` its 180-degree turn
    (sharp) replaces it; without, it stays diffuse."""
    from deepexpr import stylized
    from deepexpr.data.face_frame import frame_from_params

    image, upright, at_home = _bright_top_face()
    centre, side, angle = frame_params(upright)
    upside_down = frame_from_params(centre, side, angle + np.pi)
    plain = _UprightRegressor(at_home)
    _, diffuse = stylized.fit_landmarks(image, [upside_down], plain, passes=1)
    turning = _UprightRegressor(at_home)
    points, sharp = stylized.fit_landmarks(image, [upside_down], turning, passes=1, turn_above=diffuse[0] - 0.1)
    assert turning.batches == [1, 3] and sharp[0] < diffuse[0] - 0.5
    assert abs(frame_params(face_frame(points[0]))[2] - angle) < 0.05  # upright again
    calm = _UprightRegressor(at_home)
    stylized.fit_landmarks(image, [upright], calm, passes=1, turn_above=diffuse[0] - 0.1)
    assert calm.batches == [1]  # a sharp first reading is not turned


def test_turned_squares_are_glanced_at_once_and_only_a_sharper_turn_is_fitted():
    """The three turned squares are read once together; only a turn sharper than the face's
    own first reading goes on through the passes (its glance is its first pass); a face
    whose turns are no sharper costs just the glance."""
    from deepexpr import stylized
    from deepexpr.data.face_frame import frame_from_params

    image, upright, at_home = _bright_top_face()
    centre, side, angle = frame_params(upright)
    upside_down = frame_from_params(centre, side, angle + np.pi)
    model = _UprightRegressor(at_home)
    points, _ = stylized.fit_landmarks(image, [upside_down], model, passes=2, settle=1e9, turn=[True])
    # its diffuse reading collapses (not read again), the glance, the winner's second pass
    assert model.batches == [1, 3, 1]
    assert abs(frame_params(face_frame(points[0]))[2] - angle) < 0.05
    model = _FixedRegressor(at_home)  # every square reads as sharp: no turn is sharper
    stylized.fit_landmarks(image, [upright], model, passes=2, settle=1e9, turn=[True])
    assert model.batches == [1, 1, 3]


def test_a_face_whose_angle_the_detector_doubts_is_fitted_turned():
    """`turn` (the detector's angle sureness under `turn_below`) fits the turned squares
    whatever the first reading's entropy; the sharpest fit wins."""
    from deepexpr import stylized
    from deepexpr.data.face_frame import frame_from_params

    image, upright, at_home = _bright_top_face()
    centre, side, angle = frame_params(upright)
    sideways = frame_from_params(centre, side, angle + np.pi / 2)
    doubting = _UprightRegressor(at_home)
    points, _ = stylized.fit_landmarks(image, [sideways, upright], doubting, passes=1, turn=[True, False])
    assert doubting.batches == [2, 3]  # both read once, then the doubted one at 3 more angles
    assert abs(frame_params(face_frame(points[0]))[2] - angle) < 0.05
    trusting = _UprightRegressor(at_home)
    stylized.fit_landmarks(image, [sideways], trusting, passes=1, turn=[False])
    assert trusting.batches == [1]


def test_detector_reports_how_sure_it_is_of_each_angle():
    from deepexpr.stylized import _decode

    maps = np.full((6, 8, 8), -9.0, np.float32)
    maps[:, 2, 3] = [3.0, np.log(10), 0.3, 0.4, 0.0, 0.0]  # a peak; (sin, cos) of length 0.5
    maps[:, 6, 6] = [3.0, np.log(10), 0.0, -1.0, 0.0, 0.0]  # upside down, sure
    a = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    found = sorted(_decode(maps, a, 0.5, 0, 1e9), key=lambda f: f[1][1])
    assert [round(f[4], 3) for f in found] == [0.5, 1.0]
    assert np.isclose(found[0][3], np.arctan2(0.3, 0.4)) and np.isclose(abs(found[1][3]), np.pi)


def test_batched_face_frame_is_each_faces_own_fit():
    """The passes fit all faces of a pass at once: (N, 49, 2) -> (N, 2, 3), each the frame
    its own landmarks give (turned, scaled and moved by any similarity)."""
    rng = np.random.default_rng(3)
    faces = []
    for angle, scale, shift in ((0.0, 40, (10, 20)), (2.5, 90, (300, -40)), (-1.9, 12, (5, 400))):
        c, s = np.cos(angle) * scale, np.sin(angle) * scale
        faces.append(TEMPLATE @ np.array([[c, s], [-s, c]]) + shift + rng.normal(0, 0.3, (49, 2)))
    batched = face_frame(np.stack(faces))
    assert batched.shape == (3, 2, 3)
    for frame, lm in zip(batched, faces):
        assert np.allclose(frame, face_frame(lm), atol=1e-9)
    assert np.isclose(frame_params(batched[1])[2], 2.5, atol=0.02)


def test_one_runaway_fit_does_not_stop_the_other_faces_of_its_pass(character_png):
    """Faces are read together each pass; a face whose re-fit collapses keeps its last
    pass and leaves the batch, the others go on being read."""
    from deepexpr import stylized
    from deepexpr.data.face_frame import aligned_crop, apply
    from deepexpr.io import read_image

    image = read_image(character_png)
    lm = TEMPLATE * 60 + [18, 20]
    frame = face_frame(lm)
    at_home = apply(aligned_crop(image, frame, 32)[1], lm)

    class _PerFace(_FixedRegressor):  # face 0's second reading collapses onto one point
        def landmark_maps(self, x):
            maps = super().landmark_maps(x).clone()
            if len(self.batches) == 2:
                centre = self.target.mean(0)
                maps[0] = _FixedRegressor(centre + (self.target - centre) * 0.3).landmark_maps(x[:1])[0]
            return maps

    model = _PerFace(at_home + [3.0, 0.0])  # off by 3 crop pixels: both squares move every pass
    first, _ = stylized.fit_landmarks(image, [frame], _FixedRegressor(at_home + [3.0, 0.0]), passes=1)
    points, _ = stylized.fit_landmarks(image, [frame, frame], model, passes=4, settle=0.02)
    assert model.batches == [2, 2, 1, 1]
    assert np.allclose(points[0], first[0], atol=1e-4)  # the pass before the collapse
    moved = frame_params(face_frame(points[1]))[0] - frame_params(frame)[0]
    assert moved[0] > 2 * (frame_params(face_frame(first[0]))[0] - frame_params(frame)[0])[0] > 0


def test_collapsing_landmark_fits_stay_finite(tiny_net, character_png):
    from deepexpr import stylized
    from deepexpr.io import read_image

    frames = [face_frame(TEMPLATE * 60 + [18, 20]), face_frame(TEMPLATE * 40 + [5, 5])]
    points, _ = stylized.fit_landmarks(read_image(character_png), frames, tiny_net, passes=4, settle=0.0)
    assert all(p.shape == (49, 2) and np.isfinite(p).all() for p in points)


def test_merge_faces_filters_then_merges_duplicates():
    from deepexpr.stylized import StylizedConfig, merge_faces

    a = (TEMPLATE * 60).astype(np.float32)
    b = a + 2  # the same face, found twice
    c = a + [100, 0]
    scores, points, entropy = [0.9, 0.6, 0.4], [a, b, c], [5.5, 4.0, 4.5]
    def keep(threshold, max_entropy=0.0):
        cfg = StylizedConfig(threshold=threshold, max_entropy=max_entropy)
        return [(f.score, f.landmark_entropy) for f in merge_faces(scores, points, entropy, cfg)]

    assert keep(0.3) == [(0.9, 5.5), (0.4, 4.5)]  # the duplicate merged into the better one
    assert keep(0.3, max_entropy=5.0) == [(0.6, 4.0), (0.4, 4.5)]  # the diffuse one dropped first
    assert keep(0.5) == [f for f in keep(0.3) if f[0] >= 0.5]


def test_orientation_targets_share_weight_between_the_nearest_bins():
    from deepexpr.models.stylized_face import orientation_targets

    deg = torch.tensor([0.0, 90.0, 180.0, -180.0, -90.0, 45.0, 30.0])
    t = orientation_targets(torch.deg2rad(deg), 4)
    assert t.shape == (7, 4) and torch.allclose(t.sum(-1), torch.ones(7))
    assert t[:5].argmax(-1).tolist() == [0, 1, 2, 2, 3] and torch.allclose(t[:5].max(-1).values, torch.ones(5))
    assert torch.allclose(t[5], torch.tensor([0.5, 0.5, 0.0, 0.0]), atol=1e-6)  # half-way: both neighbours
    assert t[6, 0] > t[6, 1] > 0 and t[6, 2] == t[6, 3] == 0  # nearer bin 0, never the far side
    assert orientation_targets(torch.deg2rad(torch.tensor([22.5])), 8)[0].argmax() in (0, 1)


def test_detector_with_orientation_bins_and_its_loss():
    """`angle_bins` adds B logits to the detector's maps; its loss adds the bins' cross-entropy
    at centre cells: lower when the logits point at the face's quarter."""
    from deepexpr.train.stylized_face import detector_loss

    net = create_model("test_stylized_face", angle_bins=4)
    assert net.detect(torch.zeros(1, 3, 64, 64)).shape == (1, 10, 16, 16)
    with pytest.raises(ValueError, match="angle_bins"):
        create_model("test_stylized_face", angle_bins=-1)
    t = torch.zeros(1, 7, 4, 4)
    t[0, :, 1, 2] = torch.tensor([1.0, 1.0, 0.0, -1.0, 0.2, 0.3, 1.0])  # one face, upside down
    out = torch.zeros(1, 10, 4, 4)
    out[0, :6, 1, 2] = t[0, :6, 1, 2]  # every regression right
    plain = detector_loss(out[:, :6], t)
    right, wrong = out.clone(), out.clone()
    right[0, 6 + 2, 1, 2], wrong[0, 6 + 0, 1, 2] = 5.0, 5.0
    assert detector_loss(right, t) < detector_loss(out, t) < detector_loss(wrong, t)
    assert torch.isclose(detector_loss(out, t) - plain, torch.log(torch.tensor(4.0)), atol=1e-5)  # uniform bins
    out[0, 6:, 0, 0] = torch.tensor([9.0, -9.0, -9.0, -9.0])  # no face there: its bins do not count
    assert torch.isclose(detector_loss(out, t) - plain, torch.log(torch.tensor(4.0)), atol=1e-5)


def test_decode_turns_the_regressed_angle_into_the_likeliest_bin():
    """With orientation bins the regressed angle keeps its residual but moves to the
    likeliest bin's quarter; sureness is that bin's probability; turns list the other bins
    likeliest first. `bins=False` (orientation "regression") keeps the regressed angle."""
    from deepexpr.stylized import _decode

    maps = np.full((10, 8, 8), -9.0, np.float32)
    regressed = np.deg2rad(10.0)
    maps[:6, 2, 3] = [3.0, np.log(10), np.sin(regressed), np.cos(regressed), 0.0, 0.0]
    maps[6:, 2, 3] = np.log([0.1, 0.2, 0.6, 0.1])  # upside down, most likely
    a = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    (found,) = _decode(maps, a, 0.5, 0, 1e9)
    assert np.isclose(np.cos(found[3] - np.deg2rad(190.0)), 1.0) and np.isclose(found[4], 0.6)
    turns = found[5]
    assert [round(p, 3) for _, p in turns][0] == 0.2 and len(turns) == 3
    assert np.isclose(np.cos(found[3] + turns[0][0] - np.deg2rad(100.0)), 1.0)  # bin 1's quarter
    (plain,) = _decode(maps, a, 0.5, 0, 1e9, bins=False)
    assert np.isclose(plain[3], regressed) and np.isclose(plain[4], 1.0)
    assert [round(t, 4) for t, _ in plain[5]] == [round(np.pi, 4), round(np.pi / 2, 4), round(-np.pi / 2, 4)]
    maps[6:, 2, 3] = np.log([0.7, 0.1, 0.1, 0.1])  # the bins agree with the regression: unchanged
    assert np.isclose(_decode(maps, a, 0.5, 0, 1e9)[0][3], regressed)


def test_glance_reads_the_turned_squares_in_the_first_pass():
    """`glance`: a face's square and its turned squares are read in one first pass; the
    sharpest goes on through the passes; faces without turns cost nothing more."""
    from deepexpr import stylized
    from deepexpr.data.face_frame import frame_from_params

    image, upright, at_home = _bright_top_face()
    centre, side, angle = frame_params(upright)
    upside_down = frame_from_params(centre, side, angle + np.pi)
    model = _UprightRegressor(at_home)
    points, _ = stylized.fit_landmarks(image, [upside_down, upright], model, passes=2, settle=1e9,
                                       glance=[[np.pi / 2, np.pi], []])
    assert model.batches == [4, 2]  # 1 + 2 turns + the other face, then one pass each
    assert abs(frame_params(face_frame(points[0]))[2] - angle) < 0.05  # read upright
    model = _UprightRegressor(at_home)
    stylized.fit_landmarks(image, [upside_down], model, passes=2, settle=1e9, glance=[[]])
    assert model.batches[0] == 1


def test_a_detector_init_gives_its_outputs_to_a_model_with_orientation_bins(tmp_path):
    """`--init` from a detector without bins copies its six output rows and leaves the new
    bins' rows; the export records the bins so the model loads and runs."""
    from deepexpr.models.checkpoint import load_model, save_model
    from deepexpr.train.stylized_face import init_stage

    torch.manual_seed(2)
    source = create_model("test_stylized_face")
    save_model(tmp_path / "src.safetensors", source, {"model": "test_stylized_face", "overrides": {}})
    net = create_model("test_stylized_face", angle_bins=4)
    new_rows = net.det_head.weight[6:].detach().clone()
    init_stage(net, str(tmp_path / "src.safetensors"), "detector")
    assert torch.equal(net.det_head.weight[:6], source.det_head.weight)
    assert torch.equal(net.det_head.bias[:6], source.det_head.bias)
    assert torch.equal(net.det_head.weight[6:], new_rows)
    assert torch.equal(net.det_body.smooth[0].weight, source.det_body.smooth[0].weight)
    save_model(tmp_path / "bins.safetensors", net, {"model": "test_stylized_face", "overrides": {"angle_bins": 4}})
    loaded, _ = load_model(tmp_path / "bins.safetensors")
    assert loaded.detect(torch.zeros(1, 3, 32, 32)).shape == (1, 10, 8, 8)


def test_box_blend_moves_the_box_toward_the_detector_square():
    """`box_blend`: the reported box lies between the landmarks' square and the detector's
    (landmarks untouched); 0 keeps the landmarks' box; angles far apart keep the landmarks'."""
    from deepexpr.data.face_frame import frame_from_params
    from deepexpr.stylized import StylizedConfig, blend_frames, merge_faces

    lm = (TEMPLATE * 60 + [20, 20]).astype(np.float32)
    own = face_frame(lm)
    centre, side, angle = frame_params(own)
    detector = frame_from_params(centre + [10.0, 0.0], side * 2, angle + 0.2)
    half = blend_frames(own, detector, 0.5)
    c, s, a = frame_params(half)
    assert np.allclose(c, centre + [5.0, 0.0]) and np.isclose(s, side * np.sqrt(2)) and np.isclose(a, angle + 0.1)
    assert np.isclose(frame_params(blend_frames(own, frame_from_params(centre, side, angle + 2.0), 0.5))[2], angle)
    faces = merge_faces([0.9], [lm], [4.0], StylizedConfig(threshold=0.1, box_blend=0.5), [detector])
    assert np.allclose(faces[0].box, frame_box(half)) and np.array_equal(faces[0].landmarks, lm)
    plain = merge_faces([0.9], [lm], [4.0], StylizedConfig(threshold=0.1, box_blend=0.0), [detector])
    assert np.allclose(plain[0].box, frame_box(own))
