"""The face frame and the scene composer: boxes and landmarks follow every transform exactly."""

from __future__ import annotations

import numpy as np
import pytest

from deepexpr.data.face_frame import (
    TEMPLATE,
    aligned_crop,
    apply,
    box_corners,
    face_frame,
    frame_box,
    frame_from_params,
    frame_params,
    warp,
)
from deepexpr.data.scenes import (
    SceneConfig,
    add_character,
    character_pool,
    compose_scene,
    make_face,
)


def _similarity(scale, angle, shift):
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    return np.array([[c, -s, shift[0]], [s, c, shift[1]]])


@pytest.fixture(scope="module")
def render():
    from deepexpr.characters import get_character, key_poses, render_face

    style = get_character("pip")
    image, lm = render_face(style, key_poses(style, "joy")[0], size=96)
    return image, lm


def test_frame_of_template_is_the_unit_render():
    m = face_frame(TEMPLATE * 200 + 10)
    assert np.allclose(m, [[200, 0, 10], [0, 200, 10]], atol=1e-4)  # float32 landmarks
    centre, side, angle = frame_params(m)
    assert np.allclose(centre, [0.5 * 200 + 10, 0.58 * 200 + 10]) and np.isclose(side, 0.66 * 200)
    assert abs(angle) < 1e-6


@pytest.mark.parametrize("scale,deg,shift", [(1.0, 0, (0, 0)), (2.5, 30, (40, -7)), (0.4, -170, (300, 90)),
                                             (1.3, 90, (-5, 12))])
def test_frame_follows_similarity_exactly(render, scale, deg, shift):
    _, lm = render
    a = _similarity(scale, np.deg2rad(deg), shift)
    c0, s0, a0 = frame_params(face_frame(lm))
    c1, s1, a1 = frame_params(face_frame(apply(a, lm)))
    assert np.allclose(c1, apply(a, c0), atol=1e-4)
    assert np.isclose(s1, s0 * scale, rtol=1e-6)
    assert np.isclose(np.angle(np.exp(1j * (a1 - a0 - np.deg2rad(deg)))), 0, atol=1e-6)


def test_params_round_trip_and_box():
    m = frame_from_params((50.0, 60.0), 40.0, np.deg2rad(45))
    centre, side, angle = frame_params(m)
    assert np.allclose(centre, (50, 60)) and np.isclose(side, 40) and np.isclose(angle, np.pi / 4)
    half = 20 * np.sqrt(2)  # the turned square's corners reach its half-diagonal
    assert np.allclose(frame_box(m), [50 - half, 60 - half, 50 + half, 60 + half])
    assert np.allclose(box_corners((0, 0), 2, 0), [[-1, -1], [1, -1], [1, 1], [-1, 1]])


def test_invert_undoes_an_affine():
    from deepexpr.data.face_frame import invert

    for a in (_similarity(1.7, 0.6, (13, -4)), np.array([[2.0, 0.5, 3.0], [-1.0, 0.25, -7.0]])):
        pts = np.array([[0.0, 0.0], [10.0, -3.0], [-2.5, 8.0]])
        assert np.allclose(apply(invert(a), apply(a, pts)), pts)
        assert np.allclose(invert(invert(a)), a)


def test_warp_moves_a_dot_where_the_affine_says():
    image = np.zeros((60, 80, 3), np.uint8)
    image[20:23, 30:33] = 255  # a dot centred on pixel (31, 21)
    for a in (_similarity(1.7, 0.6, (13, -4)), _similarity(0.9, -2.0, (70, 90))):
        out = warp(image, a, 160, 160, border=(0, 0, 0)).astype(float)[..., 0]
        ys, xs = np.mgrid[: out.shape[0], : out.shape[1]]
        centroid = np.array([(out * xs).sum(), (out * ys).sum()]) / out.sum()
        assert np.allclose(centroid, apply(a, [31, 21]), atol=0.15)


def test_aligned_crop_maps_landmarks_into_crop(render):
    image, lm = render
    m = face_frame(lm)
    crop, to_crop = aligned_crop(image, m, 64, region="render")
    assert crop.shape == (64, 64, 3)
    inside = apply(to_crop, lm)
    # the render crop of a render is (nearly) the render again, scaled to 64 px
    assert np.abs(inside - (lm + 0.5) * 64 / 96 + 0.5).max() < 0.12 * 64
    face_crop, to_face = aligned_crop(image, m, 64, region="face")
    pts = apply(to_face, lm)
    assert (pts > 0).all() and (pts < 64).all()


def test_pasted_character_landmarks_follow_the_pixels():
    """A character pasted by `add_character`: its landmarks are its render landmarks moved
    by the very affine that moved its pixels, and its box is their face frame."""
    from deepexpr.characters import render_face
    from deepexpr.data import scenes

    cfg = SceneConfig(seed=3, characters=4, occluded=0.0)
    classic, _ = character_pool(cfg.seed, cfg.characters, False)
    rng = np.random.default_rng(5)
    canvas = np.zeros((300, 300, 3), np.uint8)
    face = add_character(canvas, classic[0], rng, 90.0, np.deg2rad(33), (150, 140), cfg, cutout=False)
    centre, side, angle = frame_params(face_frame(face.landmarks))
    assert np.allclose(centre, (150, 140), atol=1e-3) and np.isclose(side, 90, rtol=1e-5)
    assert np.isclose(angle, np.deg2rad(33), atol=1e-5)
    # the same pose rendered again (same rng stream) and moved by the face's transform
    rng = np.random.default_rng(5)
    rig, _ = scenes.random_pose(classic[0], rng, cfg.head_pose)
    size = int(np.clip(90 / 0.66 * rng.uniform(0.9, 1.3), 48, cfg.max_render))
    image, lm = render_face(classic[0], rig, size)
    assert np.allclose(apply(face.transform, lm), face.landmarks, atol=1e-3)
    moved = warp(image, face.transform, 300, 300, border=(0, 0, 0)).astype(int)
    inside = warp(np.full_like(image, 255), face.transform, 300, 300, border=(0, 0, 0))[..., 0] == 255
    assert inside.sum() > 1000
    assert np.abs(moved - canvas)[inside].max() <= 1  # the pixels moved the same way
    assert np.allclose(make_face(lm, face.transform, "x", "joy").box, face.box, atol=1e-3)


def test_scene_faces_are_exact_and_separate():
    cfg = SceneConfig(seed=2, characters=6, min_side=200, max_side=260, max_render=96)
    rng = np.random.default_rng(0)
    for _ in range(3):
        scene = compose_scene(cfg, rng, faces=3)
        assert scene.image.dtype == np.uint8 and scene.image.ndim == 3
        assert 1 <= len(scene.faces) <= 3
        for f in scene.faces:
            assert np.allclose(frame_box(face_frame(f.landmarks)), f.box, atol=1e-3)
            assert cfg.min_face * 0.999 <= f.side <= cfg.max_face
    a = compose_scene(cfg, np.random.default_rng(7))
    b = compose_scene(cfg, np.random.default_rng(7))
    assert np.array_equal(a.image, b.image)  # deterministic for the rng state
