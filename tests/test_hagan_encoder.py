"""HA-GAN's encoder stage (issue 18, session 9): per-control rig weights and the fine-tuning
through the frozen decoder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepexpr.characters.rig import RIG_CONTROLS
from deepexpr.data.hagan import rig_targets
from deepexpr.errors import InputError
from deepexpr.train.hagan import HaganTrainConfig, build_models, train_hagan
from deepexpr.train.hagan_encoder import ENCODER_PARTS, finetune_encoder, rig_control_weights
from deepexpr.train.hagan_losses import rig_loss
from hagan_fakes import rig_faces


@pytest.fixture
def rig_data():
    """Tiny faces whose bar row encodes the label and whose rig's AU9 is label / 6."""
    return rig_faces("AU9")


def _cfg(**kw):
    base = dict(preset="test", steps=1, batch_size=6, sample_every=0, checkpoint_every=0, seed=3,
                encoder_pretrain=0, decoder_pretrain=0)
    return HaganTrainConfig(**{**base, **kw})


def test_rig_control_weights_parse_and_weigh_the_named_controls():
    w = rig_control_weights("AU9=4, AU10=2.5")
    assert w[RIG_CONTROLS.index("AU9")] == 4 and w[RIG_CONTROLS.index("AU10")] == 2.5
    assert w.sum() == pytest.approx(len(RIG_CONTROLS) - 2 + 6.5)
    assert rig_control_weights("") is None
    for bad, match in (("AU99=4", "unknown control"), ("AU9=x", "weight >= 0"), ("AU9=-1", "weight >= 0")):
        with pytest.raises(InputError, match=match):
            rig_control_weights(bad)
    with pytest.raises(InputError, match="unknown control"):
        HaganTrainConfig(rig_au_weights="AU99=1")  # refused before any training
    pred, true = torch.zeros(2, 23), torch.zeros(2, 23)
    pred[:, RIG_CONTROLS.index("AU9")] = 1.0
    assert float(rig_loss(pred, true, w)) == pytest.approx(4 * float(rig_loss(pred, true)))
    pred[:, RIG_CONTROLS.index("AU9")] = 0.0
    pred[:, 0] = 1.0  # AU1: weight 1, the same loss as unweighted
    assert float(rig_loss(pred, true, w)) == pytest.approx(float(rig_loss(pred, true)))
    with pytest.raises(ValueError, match="rig weights"):
        rig_loss(pred, true, torch.ones(5))


def test_finetune_moves_only_the_encoder_and_lowers_the_drawing_error(rig_data):
    cfg = _cfg(encoder_finetune=60, finetune_draw_weight=10.0, rig_weight=0.0)  # the drawing loss alone
    torch.manual_seed(0)  # the init (other tests move the global generator)
    g, *_ = build_models(cfg, 2)
    before = {k: v.clone() for k, v in g.state_dict().items()}
    x = torch.from_numpy(rig_data.human_images[:, 1:17, 1:17]).permute(0, 3, 1, 2).float() / 127.5 - 1
    rigs = torch.from_numpy(rig_targets(rig_data.human_rigs))
    chars = torch.zeros(len(x), dtype=torch.long)

    def drawing_error():
        g.eval()
        with torch.no_grad():
            return float((g.draw(g.rig(g.encode(x)), chars) - g.draw(rigs, chars)).abs().mean())

    err0 = drawing_error()
    losses = finetune_encoder(g, rig_data, cfg, 16, np.random.default_rng(0))
    assert len(losses) == 60
    after = g.state_dict()
    for k, v in before.items():
        if k.startswith(ENCODER_PARTS):
            continue
        assert torch.equal(v, after[k]), f"{k} changed: the decoder must stay frozen"
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("rig_head."))
    assert all(p.requires_grad for p in g.parameters())  # unfrozen again for the GAN
    assert drawing_error() < 0.75 * err0  # 0.32-0.66 over six init seeds, 0.44 with this one


def test_finetune_needs_rigs_and_runs_inside_training(rig_data, tmp_path):
    no_rigs = rig_data.subset_humans(np.ones(len(rig_data.human_images), bool))
    no_rigs.human_rigs = None
    g, *_ = build_models(_cfg(), 2)
    with pytest.raises(InputError, match="needs a rig-code G"):
        finetune_encoder(g, no_rigs, _cfg(encoder_finetune=2), 16, np.random.default_rng(0))
    cfg = _cfg(encoder_finetune=3, rig_au_weights="AU9=4")
    result = train_hagan(rig_data, cfg, tmp_path / "run", quiet=True)
    assert result.steps == 1 and result.generator.is_file()
    import json

    saved = json.loads(result.generator.with_suffix(".json").read_text())["train"]
    assert saved["encoder_finetune"] == 3 and saved["rig_au_weights"] == "AU9=4"


def test_finetune_is_refused_up_front_without_rigs(rig_data, tmp_path):
    no_rigs = rig_data.subset_humans(np.ones(len(rig_data.human_images), bool))
    no_rigs.human_rigs = None
    with pytest.raises(InputError, match="--encoder-finetune and --post-finetune need"):
        train_hagan(no_rigs, _cfg(encoder_finetune=2, pairing="expression"), tmp_path / "run", quiet=True)
    assert not (tmp_path / "run" / "state.safetensors").exists()
