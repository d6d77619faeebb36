"""Expression geometry (IOD-normalised brow / eye / mouth measurements) and its classifier."""

import numpy as np
import pytest

from deepexpr.characters import face_landmarks, get_character, key_poses
from deepexpr.expressions import EXPRESSIONS
from deepexpr.models.expression_geometry import (
    FEATURE_NAMES,
    NUM_FEATURES,
    expression_geometry,
    fit_geometry_classifier,
    fuse_probs,
)

F = {n: i for i, n in enumerate(FEATURE_NAMES)}


@pytest.fixture(scope="module")
def pip_features():
    style = get_character("pip")
    return {e: expression_geometry(face_landmarks(style, key_poses(style, e)[0], size=128)) for e in EXPRESSIONS}


def test_features_read_the_expression_of_rig_landmarks(pip_features):
    f = pip_features
    assert f["joy"][F["corner_lift"]] > f["neutral"][F["corner_lift"]] > f["sadness"][F["corner_lift"]]
    assert f["surprise"][F["mouth_opening"]] > f["neutral"][F["mouth_opening"]]
    assert f["surprise"][F["brow_inner_height"]] > f["neutral"][F["brow_inner_height"]]
    assert f["anger"][F["brow_inner_height"]] < f["neutral"][F["brow_inner_height"]]


def test_features_ignore_scale_rotation_and_position(pip_features):
    style = get_character("pip")
    lm = face_landmarks(style, key_poses(style, "fear")[0], size=128).astype(np.float64)
    a = np.deg2rad(25)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    moved = 3.1 * lm @ rot.T + np.array([40.0, -7.0])
    np.testing.assert_allclose(expression_geometry(moved), pip_features["fear"], atol=1e-4)
    batch = expression_geometry(np.stack([lm, moved]))
    assert batch.shape == (2, NUM_FEATURES)


def test_bad_landmarks_raise():
    with pytest.raises(ValueError):
        expression_geometry(np.zeros((49, 2)))
    with pytest.raises(ValueError):
        expression_geometry(np.zeros((48, 2)))


def test_classifier_learns_separable_classes():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 3, (7, NUM_FEATURES))
    y = np.repeat(np.arange(7), 30)
    x = (centres[y] + rng.normal(0, 0.3, (len(y), NUM_FEATURES))).astype(np.float32)
    model = fit_geometry_classifier(x, y)
    p = model.probs(x)
    assert p.shape == (len(y), 7)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)
    assert (p.argmax(1) == y).mean() > 0.95


def test_fusion_weights_and_missing_geometry():
    cnn = np.array([[0.6, 0.4, 0, 0, 0, 0, 0], [0.6, 0.4, 0, 0, 0, 0, 0]], np.float32) + 1e-3
    cnn /= cnn.sum(1, keepdims=True)
    geo = np.full((2, 7), 0.01, np.float32)
    geo[:, 1] = 0.94
    geo[1] = np.nan  # no face found: the CNN's answer stands
    np.testing.assert_allclose(fuse_probs(cnn, geo, 0.0), cnn)
    fused = fuse_probs(cnn, geo, 1.0)
    assert fused[0].argmax() == 1 and cnn[0].argmax() == 0
    np.testing.assert_allclose(fused[1], cnn[1], atol=1e-6)
    np.testing.assert_allclose(fused.sum(1), 1.0, atol=1e-5)
