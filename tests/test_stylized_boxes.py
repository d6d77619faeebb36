"""Which box a stylized-face candidate reports (`stylized.face_square`, session 9): unsure
landmark fits move toward the detector's square, diffuse faces scored high keep it; and the
trainer's small-face scenes."""

from __future__ import annotations

import numpy as np

from deepexpr.data.face_frame import (
    TEMPLATE,
    apply,
    face_frame,
    frame_box,
    frame_from_params,
    frame_params,
)


def _face_and_detector():
    lm = (TEMPLATE * 60 + [20, 20]).astype(np.float32)
    own = face_frame(lm)
    centre, side, angle = frame_params(own)
    return lm, own, frame_from_params(centre + [12.0, -4.0], side * 1.5, angle + 0.2)


def test_diffuse_landmarks_move_the_box_toward_the_detector_square():
    """Up to `blend_from` the box is `box_blend` of the way to the detector's square; from
    there it moves further with the heatmaps' entropy, all the way at `max_entropy`."""
    from deepexpr.stylized import StylizedConfig, blend_frames, merge_faces

    lm, own, detector = _face_and_detector()
    cfg = StylizedConfig(threshold=0.1, box_blend=0.3, blend_from=4.5, max_entropy=4.8, keep_diffuse=0.0)

    def box(entropy, config=cfg):
        return merge_faces([0.9], [lm], [entropy], config, [detector])[0].box

    assert np.allclose(box(4.0), frame_box(blend_frames(own, detector, 0.3)))
    assert np.allclose(box(4.5), box(4.0))
    assert np.allclose(box(4.65), frame_box(blend_frames(own, detector, 0.3 + 0.7 * 0.5)), atol=1e-4)
    assert np.allclose(box(4.8), frame_box(detector), atol=1e-4)
    plain = StylizedConfig(threshold=0.1, box_blend=0.3, blend_from=0.0, max_entropy=4.8)
    assert np.allclose(box(4.7, plain), box(4.0))  # blend_from 0: box_blend alone
    faces = merge_faces([0.9], [lm], [4.7], cfg, [detector])
    assert np.array_equal(faces[0].landmarks, lm) and faces[0].landmarks_from == "regressor"


def test_diffuse_faces_scored_high_keep_the_detector_square():
    """A face more diffuse than `max_entropy` is kept when its score reaches `keep_diffuse`:
    the detector's square, the mean face placed in it, flagged; otherwise dropped."""
    from deepexpr.stylized import StylizedConfig, merge_faces

    lm, _, detector = _face_and_detector()
    cfg = StylizedConfig(threshold=0.3, max_entropy=4.8, keep_diffuse=0.5)
    (face,) = merge_faces([0.6], [lm], [5.5], cfg, [detector])
    assert face.landmarks_from == "detector" and face.to_dict()["landmarks_from"] == "detector"
    assert np.allclose(face.box, frame_box(detector))
    assert np.allclose(face.landmarks, apply(detector, TEMPLATE), atol=1e-3)
    assert np.allclose(face_frame(face.landmarks), detector, atol=1e-3)
    assert np.isclose(face.angle, np.degrees(frame_params(detector)[2]))
    assert merge_faces([0.45], [lm], [5.5], cfg, [detector]) == []  # scored under keep_diffuse
    assert merge_faces([0.6], [lm], [5.5], StylizedConfig(threshold=0.3, max_entropy=4.8, keep_diffuse=0.0),
                       [detector]) == []
    assert merge_faces([0.6], [lm], [5.5], cfg) == []  # no detector square to keep
    # the faces at a higher threshold are still those of a lower one scored at or above it
    scores, points, entropy = [0.9, 0.6, 0.4], [lm, lm + [200, 0], lm + [400, 0]], [5.5, 4.0, 5.5]
    frames = [detector, face_frame(points[1]), face_frame(points[2])]
    low = merge_faces(scores, points, entropy, StylizedConfig(threshold=0.3, keep_diffuse=0.5), frames)
    high = merge_faces(scores, points, entropy, StylizedConfig(threshold=0.7, keep_diffuse=0.5), frames)
    assert [f.score for f in low] == [0.9, 0.6] and [f.score for f in high] == [0.9]


def test_geometry_comes_only_from_faces_the_regressor_read(monkeypatch):
    from deepexpr import stylized

    lm, _, detector = _face_and_detector()
    big = stylized.StylizedFace(np.array([0, 0, 300, 300], np.float32), 0.9, 0.0, apply(detector, TEMPLATE),
                                5.5, "detector")
    small = stylized.StylizedFace(np.array([0, 0, 50, 50], np.float32), 0.5, 0.0, lm, 4.0)
    monkeypatch.setattr(stylized, "stylized_available", lambda ref=None: True)
    monkeypatch.setattr(stylized, "detect_stylized_faces", lambda image: [big, small])
    assert np.array_equal(stylized.detected_landmarks(np.zeros((8, 8, 3), np.uint8)), lm)
    monkeypatch.setattr(stylized, "detect_stylized_faces", lambda image: [big])
    assert stylized.detected_landmarks(np.zeros((8, 8, 3), np.uint8)) is None


def test_small_face_scenes_hold_only_small_faces():
    """`small_faces` 1: every training scene's faces are at most `SMALL_FACE` pixels (before
    letterboxing to the detector input); 0 draws the usual sizes."""
    from deepexpr.models.stylized_face import SIDE_UNIT
    from deepexpr.train.stylized_face import SMALL_FACE, StylizedTrainConfig, make_detector_data

    def sides(small):
        cfg = StylizedTrainConfig(scenes=6, characters=4, small_faces=small, show_progress=False, max_render=64)
        _, targets = make_detector_data(cfg, np.random.default_rng(3), 64)
        centres = targets[:, 6] > 0
        return np.exp(targets[:, 1][centres]) * SIDE_UNIT  # face sides in input pixels

    small, usual = sides(1.0), sides(0.0)
    largest = SMALL_FACE * 64 / 192  # scenes are >= 192 px, letterboxed to 64
    assert len(small) and small.max() <= largest + 1e-3
    assert usual.max() > largest


def test_nme_protocol_counts_detector_only_faces_apart():
    """A face found without a landmark reading is not found for the NME; the report counts it
    and gives the NME with its landmarks included."""
    from types import SimpleNamespace

    from deepexpr.evaluation.stylized_landmarks import landmark_protocol

    def detector(source):  # the mean face where every 64 px render has its face
        lm = (TEMPLATE * 64).astype(np.float32)
        return lambda image: [SimpleNamespace(box=frame_box(face_frame(lm)), score=0.9, landmarks=lm,
                                              landmarks_from=source)]

    read = landmark_protocol(detector("regressor"), sizes=(64,), per_size=3, seed=5, characters=2)
    kept = landmark_protocol(detector("detector"), sizes=(64,), per_size=3, seed=5, characters=2)
    assert read["sizes"][64]["found"] == 1.0 and read["sizes"][64]["detector_only"] == 0
    assert kept["sizes"][64]["found"] == 0.0 and kept["sizes"][64]["detector_only"] == 3
    assert np.isnan(kept["overall"]["nme"]["mean"])
    assert 0 < read["overall"]["nme"]["mean"] == kept["overall_with_detector_only"]["nme"]["mean"]


def test_landmarks_cli_flags_faces_kept_without_a_landmark_reading(tiny_checkpoint, character_png, capsys):
    import csv
    import io

    from deepexpr.cli import main

    base = ["landmarks", str(character_png), "--model", str(tiny_checkpoint), "--threshold", "0", "--max-faces", "2",
            "--max-entropy", "0.01", "--format", "csv"]  # every reading counts as diffuse
    assert main(base + ["--keep-diffuse", "0.0001"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows and all(r["landmarks_from"] == "detector" for r in rows)
    assert main(base + ["--keep-diffuse", "0"]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 1 and "no stylized face found" in err


def test_validation_pools_refuse_the_training_and_test_pools():
    from deepexpr.evaluation.stylized_landmarks import (
        TEST_POOL,
        TRAINING_POOLS,
        validation_pool_error,
    )

    for seed in (*TRAINING_POOLS, TEST_POOL):
        assert str(seed) in validation_pool_error(seed)
    assert validation_pool_error(7001) is None and validation_pool_error(7003) is None
