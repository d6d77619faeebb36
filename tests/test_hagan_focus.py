"""HA-GAN session 8 (issue 18): the render pool's expression focus and the landmark blob maps
precomputed per pool image (the landmark-weighted L1 without its per-batch cost)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepexpr.characters.rig import AUS
from deepexpr.cli import main
from deepexpr.data.hagan import to_tensor
from deepexpr.data.standin import target_styles
from deepexpr.train.hagan import HaganTrainConfig, build_models, render_l1
from deepexpr.train.hagan_data import RenderPool, random_rigs
from deepexpr.train.hagan_losses import landmark_weights, weighted_l1


def _posed_share(raw: np.ndarray, au: str) -> float:
    """Share of the unscaled pose rows (every third row from 1) with `au` on."""
    return float((raw[1::3, AUS.index(au)] > 0.05).mean())


def test_focus_draws_more_of_that_expressions_poses_and_nothing_changes_without_it():
    styles = target_styles(["pip", "mika"])
    plain, chars = random_rigs(styles, 84, np.random.default_rng(0))
    again, _ = random_rigs(styles, 84, np.random.default_rng(0), focus="", focus_factor=3.0)
    assert np.array_equal(plain, again)  # no focus: the rigs of before the option existed
    focused, focused_chars = random_rigs(styles, 84, np.random.default_rng(0), focus="disgust", focus_factor=3.0)
    assert focused.shape == plain.shape and np.array_equal(chars, focused_chars)
    # AU9 (nose wrinkle) is disgust's: three times the poses give clearly more rows with it
    assert _posed_share(focused, "AU9") > _posed_share(plain, "AU9") + 0.1
    # joy's AU12 gets rarer in exchange
    assert _posed_share(focused, "AU12") < _posed_share(plain, "AU12")


def test_focus_must_name_an_expression():
    with pytest.raises(Exception, match="render-focus"):
        HaganTrainConfig(render_focus="disgusted")
    with pytest.raises(Exception, match="focus"):
        RenderPool(target_styles(["pip"]), 3, 16, np.random.default_rng(0), focus="yuck")


def test_cli_rejects_an_unknown_focus_in_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:  # argparse's choices: exit code 2
        main(["train", "hagan", "--render-focus", "yuck", "--out", "unused"])
    assert exit_info.value.code != 0
    err = capsys.readouterr().err
    assert "render-focus" in err and "Traceback" not in err


def test_landmark_weights_equal_the_max_over_landmark_blobs():
    pts = torch.rand(3, 7, 2) * 16
    axis = torch.arange(16, dtype=torch.float32) + 0.5
    d2 = (axis.view(1, 1, 1, 16) - pts[..., 0, None, None]) ** 2 + (axis.view(1, 1, 16, 1) - pts[..., 1, None, None]) ** 2
    brute = 1.0 + 4.0 * torch.exp(-d2 / (2 * 1.5**2)).amax(1, keepdim=True)
    assert torch.allclose(landmark_weights(pts, 16, 4.0, 1.5), brute, atol=1e-6)


@pytest.fixture(scope="module")
def pool():
    return RenderPool(target_styles(["pip", "mika"]), 12, 16, np.random.default_rng(0))


def test_precomputed_blobs_are_the_batch_landmark_weights(pool):
    pool.batch(6)
    blobs = pool.landmark_blobs()
    assert blobs.shape == (6, 1, 16, 16) and blobs.dtype == torch.float32
    direct = landmark_weights(pool.feature_points(), 16, 1.0) - 1.0
    assert torch.allclose(blobs, direct, atol=2e-3)  # stored as float16
    pool.batch(6)  # another batch: the maps follow the rows
    assert torch.allclose(pool.landmark_blobs(), landmark_weights(pool.feature_points(), 16, 1.0) - 1.0, atol=2e-3)


def test_render_l1_with_landmark_gain_weighs_by_the_blobs(pool):
    cfg = HaganTrainConfig(preset="test", landmark_gain=6.0, g_overrides={"full_res": 4})
    g, *_ = build_models(cfg, 2)
    g.eval()
    pool.rng = np.random.default_rng(9)
    with torch.no_grad():
        loss = float(render_l1(g, pool, 5, cfg))
        rigs, chars = torch.from_numpy(pool.rigs[pool.last]), torch.from_numpy(pool.chars[pool.last])
        drawn = g.draw(rigs, chars)
        target = to_tensor(pool.images[pool.last])
        expected = float(weighted_l1(drawn, target, landmark_weights(pool.feature_points(), 16, 6.0)))
    assert loss == pytest.approx(expected, rel=1e-3)
