"""RBF warp: exact at landmarks, equal to scipy, linear motions exact, bad input."""

import numpy as np
import pytest
from scipy.interpolate import RBFInterpolator

from deepexpr.animation.rbf import RBFWarp, rbf_warp
from deepexpr.errors import InputError


@pytest.fixture
def scene():
    rng = np.random.default_rng(0)
    rest = rng.normal(size=(30, 3)) * 20
    verts = rng.normal(size=(500, 3)) * 25
    moved = rest + rng.normal(size=rest.shape) * 2
    return verts, rest, moved


def test_exact_at_landmarks(scene):
    _, rest, moved = scene
    out = rbf_warp(rest, rest, moved)
    np.testing.assert_allclose(out, moved, atol=1e-7)


def test_equals_scipy(scene):
    verts, rest, moved = scene
    sigma = 9.0
    ours = rbf_warp(verts, rest, moved, sigma=sigma)
    ref = RBFInterpolator(rest, moved - rest, kernel="gaussian",
                          epsilon=1.0 / (sigma * np.sqrt(2)), degree=1)(verts)
    np.testing.assert_allclose(ours, verts + ref, atol=1e-6)


@pytest.mark.parametrize("falloff", [False, True])
def test_rigid_motion_exact(scene, falloff):
    verts, rest, _ = scene
    a = np.radians(10)
    r = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    t = np.array([3.0, -2.0, 1.0])
    out = RBFWarp(falloff=falloff, dtype="float64").fit(verts, rest).warp(rest @ r.T + t)
    np.testing.assert_allclose(out, verts @ r.T + t, atol=1e-6)


def test_affine_motion_exact(scene):
    verts, rest, _ = scene
    a = np.array([[1.1, 0.2, 0.0], [0.0, 0.9, 0.1], [0.05, 0.0, 1.2]])
    out = rbf_warp(verts, rest, rest @ a.T + 1.5)
    np.testing.assert_allclose(out, verts @ a.T + 1.5, atol=1e-6)


def test_factorised_equals_resolve(scene):
    verts, rest, moved = scene
    w = RBFWarp(sigma=7.0).fit(verts, rest)  # float32 evaluation matrix (the default)
    seq = w.warp_sequence(np.stack([moved, rest]))
    np.testing.assert_allclose(seq[0], rbf_warp(verts, rest, moved, sigma=7.0), atol=1e-4)
    np.testing.assert_allclose(seq[1], verts, atol=1e-9)


def test_falloff_limits_far_motion(scene):
    verts, rest, _ = scene
    moved = rest.copy()
    moved[:, 1] -= np.clip(-rest[:, 1], 0, None) * 0.3  # lower half stretches down
    far = np.array([[0.0, 400.0, 0.0]])
    plain = rbf_warp(far, rest, moved) - far
    faded = RBFWarp(falloff=True).fit(far, rest).warp(moved) - far
    assert np.abs(faded).max() < np.abs(plain).max()


def test_bad_input(scene):
    verts, rest, moved = scene
    w = RBFWarp().fit(verts, rest)
    with pytest.raises(InputError, match="same landmarks"):
        w.warp(moved[:-1])
    bad = moved.copy()
    bad[3, 1] = np.nan
    with pytest.raises(InputError, match="NaN"):
        w.warp(bad)
    with pytest.raises(InputError, match="N, 3"):
        RBFWarp().fit(verts[:, :2], rest)
    with pytest.raises(InputError, match="singular|coincide"):
        RBFWarp().fit(verts, np.zeros((6, 3)))


@pytest.mark.parametrize("falloff", [False, True])
def test_batched_sequence_equals_per_frame(scene, falloff):
    verts, rest, moved = scene
    rng = np.random.default_rng(1)
    frames = rest[None] + rng.normal(size=(21, *rest.shape)) * 2  # 21: chunks of 16 + 5
    w = RBFWarp(falloff=falloff, rigid_landmarks=(0, 3, 5, 7, 9), dtype="float64").fit(verts, rest)
    batched = w.warp_sequence(frames)
    assert batched.shape == (21, len(verts), 3)
    for t in (0, 15, 16, 20):
        np.testing.assert_allclose(batched[t], w.warp(frames[t]), atol=1e-9)
    with pytest.raises(InputError, match="frame 3"):
        bad = frames.copy()
        bad[3, 0, 0] = np.inf
        w.warp_sequence(bad)
