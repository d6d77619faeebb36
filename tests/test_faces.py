"""Face pipeline: image reading, registration, detection on synthetic and real photos."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from deepexpr import landmarks as L
from deepexpr.errors import InputError
from deepexpr.faces import (
    TEMPLATE49,
    align_face,
    detect_faces,
    fit_affine,
)
from deepexpr.faces.align import HAGAN_ANCHORS, MIRROR49, anchor_points
from deepexpr.io import read_image


def test_affine_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(20, 2))
    aff = np.array([[1.2, 0.3, 1.0], [-0.2, 0.8, 2.0]])
    np.testing.assert_allclose(fit_affine(src, src @ aff[:, :2].T + aff[:, 2]), aff, atol=1e-9)


def test_template_is_symmetric_and_align_any_size():
    mirrored = TEMPLATE49[MIRROR49] * [-1, 1] + [1, 0]
    np.testing.assert_allclose(mirrored, TEMPLATE49, atol=2e-3)
    # a face drawn at the template, rotated and shrunk, aligns back onto the template
    photo = np.zeros((300, 400, 3), np.uint8)
    ang = np.radians(20)
    rot = 0.5 * np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    pts = (TEMPLATE49 * 256) @ rot.T + [150, 60]
    for size in (256, 97):
        crop, crop_pts, m = align_face(photo, pts, size)
        assert crop.shape == (size, size, 3) and m.shape == (2, 3)
        np.testing.assert_allclose(crop_pts, TEMPLATE49 * size, atol=1e-3)
    with pytest.raises(ValueError):
        align_face(photo, pts[:10], 64)


def test_hagan_frame_puts_eyes_and_nose_at_the_anchors():
    photo = np.zeros((300, 400, 3), np.uint8)
    ang = np.radians(-15)
    rot = 0.8 * np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    pts = (TEMPLATE49 * 256) @ rot.T + [120, 40]
    crop, crop_pts, m = align_face(photo, pts, 72, frame="hagan")
    assert crop.shape == (72, 72, 3)
    anchors = anchor_points(crop_pts)
    np.testing.assert_allclose(anchors, HAGAN_ANCHORS * 72, atol=1.0)  # 3-point least squares
    assert abs(anchors[0, 1] - anchors[1, 1]) < 1e-3  # the roll is gone: eyes level
    with pytest.raises(InputError, match="degenerate"):
        align_face(photo, np.zeros((49, 2)), 72, frame="hagan")
    with pytest.raises(ValueError, match="frame"):
        align_face(photo, pts, 72, frame="nope")


def test_no_face_gives_empty_list():
    rng = np.random.default_rng(1)
    assert detect_faces(np.full((120, 160, 3), 127, np.uint8)) == []
    assert detect_faces(rng.integers(0, 255, (64, 64), dtype=np.uint8)) == []  # grey noise


def test_astronaut_one_face_with_landmarks(astronaut):
    faces = detect_faces(astronaut)
    assert len(faces) == 1
    f = faces[0]
    x0, y0, x1, y1 = f.box
    assert 150 < x0 < x1 < 300 and 50 < y0 < y1 < 200  # her face, not the flag or the suit
    assert f.mesh468.shape == (468, 3) and f.landmarks49.shape == (49, 2)
    assert f.aligned.shape == (256, 256, 3) and f.aligned.dtype == np.uint8
    # IntraFace order: subject's right eye on the image left, brows above eyes above mouth
    lm = f.landmarks49
    assert lm[L.RIGHT_EYE, 0].mean() < lm[L.LEFT_EYE, 0].mean()
    assert lm[L.RIGHT_BROW, 1].mean() < lm[L.RIGHT_EYE, 1].mean() < lm[L.OUTER_LIP, 1].mean()
    # the aligned points sit near the template, and the affine maps photo -> crop points
    assert np.abs(f.aligned_landmarks[L.RIGHT_EYE + L.LEFT_EYE] / 256 - TEMPLATE49[L.RIGHT_EYE + L.LEFT_EYE]).max() < 0.03
    np.testing.assert_allclose(lm @ f.affine[:, :2].T + f.affine[:, 2], f.aligned_landmarks, atol=1e-3)


def test_astronaut_rgba_16bit_rotated_and_two_faces(astronaut, tmp_path):
    big = np.asarray(Image.fromarray(astronaut).resize((1024, 1024)))
    deep = (big.astype(np.uint16) * 257)
    assert len(detect_faces(deep)) == 1
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    assert len(detect_faces(rgba, size=64)[0].aligned) == 64
    im = Image.fromarray(np.rot90(astronaut))  # stored rotated, EXIF says how to turn it upright
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(tmp_path / "rot.jpg", exif=exif, quality=95)
    assert len(detect_faces(read_image(tmp_path / "rot.jpg"))) == 1
    pair = np.concatenate([astronaut[:300, 100:400], astronaut[:300, 100:400]], axis=1)
    faces = detect_faces(pair)
    assert len(faces) == 2 and faces[0].box[0] < faces[1].box[0]
