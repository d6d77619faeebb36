"""The one similarity / Procrustes fit (`deepexpr.landmarks.fit_similarity`)."""

import numpy as np
import pytest

from deepexpr.landmarks import fit_similarity


def _rotation(rng, dim):
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    return q * np.sign(np.linalg.det(q))  # proper: det +1


def test_recovers_a_known_2d_similarity():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(20, 2))
    ang, s, t = 0.3, 1.7, np.array([4.0, -2.0])
    rot = s * np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    np.testing.assert_allclose(fit_similarity(src, src @ rot.T + t), np.c_[rot, t], atol=1e-9)


def test_rigid_3d_fit_without_scale_and_batched():
    rng = np.random.default_rng(2)
    rest = rng.normal(size=(12, 3))
    rots = [_rotation(rng, 3) for _ in range(4)]
    shifts = rng.normal(size=(4, 3))
    moved = np.stack([2.0 * rest @ r.T + t for r, t in zip(rots, shifts)])  # scaled by 2
    m_all = fit_similarity(rest, moved, scale=False)
    assert m_all.shape == (4, 3, 4)
    for k in range(4):
        m = fit_similarity(rest, moved[k], scale=False)
        np.testing.assert_allclose(m_all[k], m, atol=1e-12)
        np.testing.assert_allclose(m[:, :3], rots[k], atol=1e-9)  # the rotation, scale ignored
        np.testing.assert_allclose(fit_similarity(rest, moved[k])[:, :3], 2.0 * rots[k], atol=1e-9)


def test_a_mirror_image_gives_a_rotation_not_a_reflection():
    rng = np.random.default_rng(3)
    src = rng.normal(size=(10, 2))
    m = fit_similarity(src, src * [-1.0, 1.0])
    assert np.linalg.det(m[:, :2]) > 0


def test_least_squares_residual_is_minimal():
    """Nudging the fitted transform (rotation, scale, shift) never lowers the squared error."""
    rng = np.random.default_rng(4)
    src = rng.normal(size=(15, 2))
    dst = src @ np.array([[0.9, -0.4], [0.4, 0.9]]).T + 1.0 + 0.1 * rng.normal(size=(15, 2))
    m = fit_similarity(src, dst)

    def err(a, b, tx, ty):
        return (((src @ np.array([[a, -b], [b, a]]).T + [tx, ty]) - dst) ** 2).sum()

    best = err(m[0, 0], m[1, 0], m[0, 2], m[1, 2])
    for d in np.eye(4) * 1e-4:
        assert err(m[0, 0] + d[0], m[1, 0] + d[1], m[0, 2] + d[2], m[1, 2] + d[3]) >= best
        assert err(m[0, 0] - d[0], m[1, 0] - d[1], m[0, 2] - d[2], m[1, 2] - d[3]) >= best


def test_degenerate_points_raise():
    with pytest.raises(ValueError, match="degenerate"):
        fit_similarity(np.ones((5, 2)), np.zeros((5, 2)))
