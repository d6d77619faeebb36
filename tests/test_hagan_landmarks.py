"""HA-GAN's landmark stage (issue 18, session 6): rig -> landmarks -> flow + maps for the
decoder's full-size head, the landmark loss, training and resuming with it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import assert_hagan_resumes_exactly
from deepexpr.models import create_model
from deepexpr.models.hagan_landmarks import NUM_MAPS, landmark_flow, landmark_maps, pixels_to_grid
from deepexpr.train.hagan import HaganTrainConfig, build_models, pretrain_decoder, render_l1


def _face(size: int = 32) -> torch.Tensor:
    """(1, 49, 2) a plausible face's landmarks in pixels (every group somewhere of its own)."""
    from deepexpr.characters import render_face
    from deepexpr.characters.rig import neutral_rig
    from deepexpr.data.standin import target_styles

    return torch.from_numpy(render_face(target_styles(["pip"])[0], neutral_rig(), size)[1]).float()[None]


def test_landmark_maps_draw_the_lines_and_fill_eyes_and_mouth_opening():
    from deepexpr.landmarks import INNER_LIP, LEFT_BROW, RIGHT_EYE

    px = _face()
    maps = landmark_maps(pixels_to_grid(px, 32), 32)
    assert maps.shape == (1, NUM_MAPS, 32, 32) and maps.min() >= 0 and maps.max() <= 1
    x, y = px[0, LEFT_BROW[2]].long()  # on the left brow's line; nothing of it far away
    assert maps[0, 1, y - 1:y + 2, x - 1:x + 2].max() > 0.5 and maps[0, 1, :, :4].max() == 0
    eye = px[0, RIGHT_EYE].mean(0).long()
    assert maps[0, 8, eye[1], eye[0]] > 0.9 and maps[0, 8, 0, 0] == 0  # the filled right eye
    closed = landmark_maps(pixels_to_grid(px, 32), 32)[0, 10].sum()
    opened = px.clone()
    opened[0, INNER_LIP[3:], 1] += 4.0  # drop the inner lower lip: the mouth opens
    assert landmark_maps(pixels_to_grid(opened, 32), 32)[0, 10].sum() > closed + 10
    with pytest.raises(ValueError, match="N, K, 2"):
        landmark_maps(torch.zeros(49, 2), 32)


def test_landmark_flow_moves_features_to_the_landmarks_and_fades_away():
    neutral = pixels_to_grid(torch.tensor([[[16.0, 16.0]]]), 32)
    target = pixels_to_grid(torch.tensor([[[16.0, 12.0]]]), 32)  # the landmark rose 4 px
    assert torch.equal(landmark_flow(neutral, neutral, 32), torch.zeros(1, 32, 32, 2))
    flow = landmark_flow(target, neutral, 32)
    assert flow.shape == (1, 32, 32, 2)
    # at the raised point, the flow looks down towards where the feature was (+y), not sideways
    assert float(flow[0, 12, 16, 1]) > 0.5 * float((neutral - target)[0, 0, 1])
    assert abs(float(flow[0, 12, 16, 0])) < 1e-3
    assert float(flow[0, 0, 0].abs().max()) < 1e-4 < float(flow[0, 12, 16].abs().max())
    with pytest.raises(ValueError, match="both be"):
        landmark_flow(target, neutral[0], 32)


def test_generator_landmark_stage_places_landmarks_and_feeds_the_head():
    g = create_model("test_hagan_rig_g", full_res=4, landmark_maps=8)
    assert g.to_image[0].in_channels == g.cfg.dec_channels[-1] + 3 + NUM_MAPS
    px = torch.cat([_face(16), _face(16) + 1.0])
    g.set_landmarks(px)
    rig = torch.zeros(2, g.cfg.rig_dim)
    placed = g.landmarks(rig, torch.tensor([0, 1]))
    assert placed.shape == (2, 49, 2)
    assert (placed - px).abs().max() < 1.0  # an untrained head: about the neutral landmarks
    out = g.draw(rig, torch.tensor([0, 1]))
    assert out.shape == (2, 3, 16, 16) and out.abs().max() <= 1
    with pytest.raises(ValueError, match="landmark_maps needs full_res"):
        create_model("test_hagan_rig_g", landmark_maps=8)
    with pytest.raises(ValueError, match="no landmark stage"):
        create_model("test_hagan_rig_g", full_res=4).landmarks(rig, torch.tensor([0, 1]))


@pytest.fixture(scope="module")
def pool():
    from deepexpr.data.standin import target_styles
    from deepexpr.train.hagan_data import RenderPool

    return RenderPool(target_styles(["pip", "mika"]), 12, 16, np.random.default_rng(0))


def test_landmark_loss_trains_the_landmark_head_towards_the_renders(pool):
    cfg = HaganTrainConfig(preset="test_landmarks", batch_size=8, seed=3, decoder_pretrain=60, lr=1e-3,
                           landmark_weight=1.0)
    g, *_ = build_models(cfg, 2)
    g.set_base(pool.neutral)
    g.set_landmarks(torch.from_numpy(pool.neutral_landmarks))
    rigs, chars = torch.from_numpy(pool.rigs), torch.from_numpy(pool.chars)
    truth = torch.from_numpy(pool.landmarks)

    def error():
        with torch.no_grad():
            return float((g.landmarks(rigs, chars) - truth).norm(dim=-1).mean())

    before = error()
    pretrain_decoder(g, pool, cfg)
    assert error() < 0.7 * before
    pool.rng = np.random.default_rng(5)
    with torch.no_grad():
        with_landmarks = float(render_l1(g, pool, 8, cfg))
    pool.rng = np.random.default_rng(5)
    with torch.no_grad():
        without = float(render_l1(g, pool, 8, HaganTrainConfig(preset="test_landmarks", landmark_weight=0.0)))
    assert with_landmarks > without


def test_training_with_the_landmark_stage_sets_landmarks_and_resumes_exactly(standin_tiny, tmp_path):
    from deepexpr.models.hagan_pair import load_hagan

    cfg = dict(preset="test_landmarks", batch_size=4, sample_every=0, checkpoint_every=0, seed=1,
               encoder_pretrain=2, decoder_pretrain=3, render_pool=4)
    run = assert_hagan_resumes_exactly(standin_tiny, cfg, tmp_path)
    model = load_hagan(run)
    assert model.generator.cfg.landmark_maps == 8
    assert model.generator.landmark_base.abs().sum() > 0  # the neutral landmarks were set and saved
    drawn, _ = model.run(standin_tiny.human_images[:2], [0, 1], seed=0)
    assert drawn.shape == (2, 16, 16, 3)


def test_landmark_flow_carries_a_feature_of_the_picture_to_its_new_place():
    from deepexpr.models.hagan import _sample

    picture = -torch.ones(1, 1, 32, 32)
    picture[0, 0, 15:18, 14:19] = 1.0  # a bright feature around the neutral landmark (16, 16)
    neutral = pixels_to_grid(torch.tensor([[[16.5, 16.5]]]), 32)

    def row_centre(image: torch.Tensor) -> float:
        column = (image[0, 0, :, 16] + 1).clamp(min=0)
        return float((column * torch.arange(32.0)).sum() / column.sum())

    for rise in (3.0, 5.0):  # the landmark rises `rise` px: the feature follows, the farther the more
        target = pixels_to_grid(torch.tensor([[[16.5, 16.5 - rise]]]), 32)
        moved = _sample(picture, landmark_flow(target, neutral, 32))
        assert row_centre(picture) - row_centre(moved) > 0.5 * rise
        assert float(moved[0, 0, :, :6].max()) == -1.0  # far to the side nothing moves in


@pytest.fixture(scope="module")
def landmark_run(standin_tiny, tmp_path_factory):
    from deepexpr.train.hagan import train_hagan

    out = tmp_path_factory.mktemp("landmark_run")
    train_hagan(standin_tiny, HaganTrainConfig(preset="test_landmarks", batch_size=4, sample_every=0,
                                               checkpoint_every=0, seed=2, encoder_pretrain=2,
                                               decoder_pretrain=6, render_pool=4, steps=2), out, quiet=True)
    return out


@pytest.mark.parametrize("half", [False, True])
def test_exported_landmark_bundle_keeps_the_stage_and_draws_as_the_run(landmark_run, standin_tiny, tmp_path, half):
    from deepexpr.models.hagan_pair import load_hagan
    from deepexpr.train.hagan_export import export_bundle

    export_bundle(landmark_run, tmp_path, half=half)
    run, bundle = load_hagan(landmark_run / "hagan_g_ema.safetensors"), load_hagan(tmp_path / "hagan_g.safetensors")
    assert bundle.generator.cfg.landmark_maps == run.generator.cfg.landmark_maps == 8
    assert torch.allclose(bundle.generator.landmark_base, run.generator.landmark_base, atol=1e-3)
    assert run.generator.landmark_base.abs().sum() > 0
    faces = standin_tiny.human_images[:3]
    a = run.run(faces, [0, 1, 0], seed=0)[0].astype(int)
    b = bundle.run(faces, [0, 1, 0], seed=0)[0].astype(int)
    assert np.abs(a - b).max() <= (3 if half else 0)
    rig = torch.zeros(2, run.generator.cfg.rig_dim)
    assert torch.allclose(bundle.generator.landmarks(rig, torch.tensor([0, 1])),
                          run.generator.landmarks(rig, torch.tensor([0, 1])), atol=0.05)
