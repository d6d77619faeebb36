"""Sequence LSTM: shapes, one training step, generation, training + resume."""

import numpy as np
import torch

from deepexpr.animation import synth
from deepexpr.models import create_model
from deepexpr.models.checkpoint import load_model
from deepexpr.train.sequences import SeqTrainConfig, split_subjects, train_sequences


def test_shapes_and_one_step():
    torch.manual_seed(0)
    net = create_model("test_seqlstm")
    x = torch.randn(5, 30, 249)
    neutral = torch.randn(5, 83, 3) * 30
    net.set_normalisation(x, neutral)
    y = net(x, neutral)
    assert y.shape == (5, 30, 249)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    target = torch.zeros_like(x)
    target[:, :-1] = x[:, 1:]
    losses = []
    for _ in range(3):
        loss = torch.nn.functional.mse_loss(net(x, neutral), target / net.disp_scale)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0]
    block = net.generate(neutral[:2], steps=20)
    assert block.shape == (2, 20, 249) and not block[:, 0].any()


def test_paper_variant_size():
    net = create_model("seqlstm")
    assert net.lstm.num_layers == 3 and net.lstm.hidden_size == 128


def test_train_and_resume(tmp_path):
    synth.make_corpus(tmp_path / "data", synth.SynthConfig(subjects=5), show_progress=False)
    cfg = SeqTrainConfig(data=str(tmp_path / "data"), expression="surprise",
                         out=str(tmp_path / "run"), model="test_seqlstm", epochs=2,
                         batch_size=5, length=40, show_progress=False)
    (r,) = train_sequences(cfg)
    assert r["epochs"] == 2 and r["train_sequences"] == 4
    model, config = load_model(tmp_path / "run" / "seq_surprise.safetensors")
    assert config["held_out_subjects"] == ["SYN005"] and config["data"]["synthetic"] is True
    cfg.epochs, cfg.resume = 3, True
    (r,) = train_sequences(cfg)
    assert r["epochs"] == 3
    _, config = load_model(tmp_path / "run" / "seq_surprise.safetensors")
    assert config["epochs"] == 3


def test_split_subjects():
    train, held = split_subjects([f"S{i}" for i in range(10)], 5)
    assert held == ["S4", "S9"] and len(train) == 8
    assert np.intersect1d(train, held).size == 0


def test_generate_equals_stepping_forward():
    torch.manual_seed(1)
    net = create_model("test_seqlstm")
    neutral = torch.randn(2, 83, 3) * 30
    net.set_normalisation(torch.randn(3, 10, 249), neutral)
    with torch.no_grad():
        x, rows, state = torch.zeros(2, 1, 249), [], None
        rows.append(x)
        offset = torch.zeros(2, 249)
        for _ in range(9):
            y, state = net(x, neutral, state, return_state=True, offset0=offset)
            offset = offset + x[:, 0]
            x = y * net.disp_scale
            rows.append(x)
    torch.testing.assert_close(net.generate(neutral, steps=10), torch.cat(rows, 1),
                               atol=1e-5, rtol=1e-4)
