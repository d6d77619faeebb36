"""Renderer: image format, anti-aliasing, determinism, landmarks inside the face and
moving the way each action unit should."""

import numpy as np
import pytest
from matplotlib.path import Path as PolyPath

from deepexpr.characters import (
    contact_sheet,
    face_landmarks,
    get_character,
    head_outline,
    key_poses,
    list_characters,
    neutral_rig,
    random_characters,
    render_face,
    standin_humans,
)
from deepexpr.landmarks import check_landmarks

SIZE = 128


def lm(style, **controls):
    rig = neutral_rig() | controls
    return face_landmarks(style, rig, SIZE).astype(float)


def eye_opening(p):
    upper = p[[20, 21, 26, 27], 1].mean()
    lower = p[[23, 24, 29, 30], 1].mean()
    return lower - upper


def test_render_shapes_types_and_determinism():
    style = get_character("pip")
    rig = key_poses(style, "joy")[3]
    img, pts = render_face(style, rig, size=96)
    assert img.shape == (96, 96, 3) and img.dtype == np.uint8
    assert pts.shape == (49, 2) and pts.dtype == np.float32
    check_landmarks(pts)
    img2, pts2 = render_face(style, rig, size=96)
    assert np.array_equal(img, img2) and np.array_equal(pts, pts2)
    # landmarks from the geometry alone equal the rendered ones
    assert np.allclose(face_landmarks(style, rig, 96), pts)
    # anti-aliased: edges get intermediate colours that an aliased drawing lacks
    aliased, _ = render_face(style, rig, size=96, supersample=1)
    colours = lambda im: len(np.unique(im.reshape(-1, 3), axis=0))  # noqa: E731
    assert colours(img) > 3 * colours(aliased)


@pytest.mark.parametrize("name", list_characters())
def test_landmarks_inside_the_face_for_every_builtin(name):
    style = get_character(name)
    for expr in ("surprise", "joy", "anger"):
        for rig in key_poses(style, expr)[:4]:
            pts = face_landmarks(style, rig, SIZE)
            head = PolyPath(head_outline(style, rig, SIZE))
            assert head.contains_points(pts).all(), (name, expr)
            assert (pts > 0).all() and (pts < SIZE).all()


def test_landmarks_inside_for_random_and_standin_styles():
    for style in random_characters(6, seed=0) + standin_humans(3, seed=0):
        for expr in ("fear", "disgust"):
            rig = key_poses(style, expr)[2]
            head = PolyPath(head_outline(style, rig, SIZE))
            assert head.contains_points(face_landmarks(style, rig, SIZE)).all(), style.name


@pytest.mark.parametrize("name", ["pip", "bruno", "tabby"])
def test_each_action_unit_moves_the_right_landmarks(name):
    s = get_character(name)
    n = lm(s)
    up = -1  # y grows downwards: "up" is negative
    # AU1 inner brow raise: inner brow ends rise more than outer ends
    a = lm(s, AU1=1)
    inner = (a[[4, 5], 1] - n[[4, 5], 1]).mean()
    outer = (a[[0, 9], 1] - n[[0, 9], 1]).mean()
    assert inner * up > 0.02 * SIZE and inner < outer
    # AU2 outer brow raise: outer ends rise more than inner ends
    a = lm(s, AU2=1)
    assert (a[[0, 9], 1] - n[[0, 9], 1]).mean() * up > 0.02 * SIZE
    assert (a[[0, 9], 1] - n[[0, 9], 1]).mean() < (a[[4, 5], 1] - n[[4, 5], 1]).mean()
    # AU4 brow lowerer: brows go down and the inner ends get closer
    a = lm(s, AU4=1)
    assert (a[:10, 1] - n[:10, 1]).mean() > 0.01 * SIZE
    assert (a[5, 0] - a[4, 0]) < (n[5, 0] - n[4, 0]) - 1
    # AU5 opens the eyes, AU7 and AU6 narrow them
    assert eye_opening(lm(s, AU5=1)) > eye_opening(n) + 0.5
    assert eye_opening(lm(s, AU7=1)) < eye_opening(n) - 0.5
    assert lm(s, AU6=1)[[23, 24, 29, 30], 1].mean() < n[[23, 24, 29, 30], 1].mean()
    # AU9 nose wrinkle raises the nose base; AU10 raises the upper lip
    assert lm(s, AU9=1)[14:19, 1].mean() < n[14:19, 1].mean() - 0.5
    assert lm(s, AU10=1)[34, 1] < n[34, 1] - 0.5
    # AU12 widens the mouth and raises its corners; AU15 lowers them
    a = lm(s, AU12=1)
    assert a[37, 0] - a[31, 0] > (n[37, 0] - n[31, 0]) * 1.15
    assert a[[31, 37], 1].mean() < n[[31, 37], 1].mean() - 1
    assert lm(s, AU15=1)[[31, 37], 1].mean() > n[[31, 37], 1].mean() + 1
    # AU20 stretches the lips sideways; AU23/AU24 narrow and thin them
    assert np.ptp(lm(s, AU20=1)[[31, 37], 0]) > np.ptp(n[[31, 37], 0]) + 1
    for au in ("AU23", "AU24"):
        a = lm(s, **{au: 1})
        assert np.ptp(a[[31, 37], 0]) < np.ptp(n[[31, 37], 0])
        assert a[40, 1] - a[34, 1] < n[40, 1] - n[34, 1]
    # AU16 lowers and AU17 raises the lower lip
    assert lm(s, AU16=1)[40, 1] > n[40, 1] + 0.3
    assert lm(s, AU17=1)[40, 1] < n[40, 1]
    # AU25 parts the lips a little, AU26 opens the jaw, AU27 more
    gap = lambda p: p[47, 1] - p[44, 1]  # noqa: E731
    assert 0.3 < gap(lm(s, AU25=1)) - gap(n) < 0.04 * SIZE
    assert gap(lm(s, AU25=1, AU26=1)) > gap(n) + 0.06 * SIZE
    assert gap(lm(s, AU25=1, AU27=1)) > gap(lm(s, AU25=1, AU26=1))


def test_head_pose_moves_the_face():
    s = get_character("mika")
    n = lm(s)
    assert lm(s, head_yaw=20)[13, 0] > n[13, 0] + 3  # nose tip to the image right
    assert lm(s, head_yaw=-20)[13, 0] < n[13, 0] - 3
    assert lm(s, head_pitch=12)[13, 1] > n[13, 1] + 2  # looking down
    a = lm(s, head_roll=10)  # clockwise tilt: the image-right eye goes down
    assert a[28, 1] - a[19, 1] > n[28, 1] - n[19, 1] + 3
    # gaze moves the irises (pixels), not the eye landmarks
    img_l, p_l = render_face(s, neutral_rig() | {"gaze_x": -1}, SIZE)
    img_r, p_r = render_face(s, neutral_rig() | {"gaze_x": 1}, SIZE)
    assert np.allclose(p_l, p_r) and not np.array_equal(img_l, img_r)


def test_any_size_and_contact_sheet():
    s = get_character("zorp")
    for size in (32, 200, 256):
        img, pts = render_face(s, key_poses(s, "fear")[0], size)
        assert img.shape == (size, size, 3)
        assert np.allclose(pts / size, face_landmarks(s, key_poses(s, "fear")[0], 128) / 128, atol=0.01)
    sheet = contact_sheet([get_character("pip"), get_character("barney")], size=48)
    assert sheet.size[1] >= 2 * 48 and sheet.size[0] >= 7 * 48
