"""Sequence LSTM: shapes, one training step, generation, training + resume."""

import numpy as np
import torch

from deepexpr.data import synthetic_sequences as synth
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
    torch.testing.assert_close(net.free_run(neutral, steps=10).detach(), torch.cat(rows, 1),
                               atol=1e-5, rtol=1e-4)


def test_free_run_loss_trains_the_generated_sequence():
    from deepexpr.train.sequences import free_run_loss

    torch.manual_seed(2)
    net = create_model("test_seqlstm")
    neutral = torch.randn(3, 83, 3) * 30
    blocks = torch.zeros(3, 12, 249)
    blocks[:, 3:6] = 0.5 + 0.1 * torch.randn(3, 3, 249)  # each coordinate moves ~1.5 mm, holds
    net.set_normalisation(blocks, neutral)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    before = float(free_run_loss(net, blocks, neutral).detach())
    start = float(net.generate(neutral, steps=12).sum(1).mean())
    for _ in range(30):
        loss = free_run_loss(net, blocks, neutral)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(free_run_loss(net, blocks, neutral).detach()) < 0.5 * before
    end = float(net.generate(neutral, steps=12).sum(1).mean())  # final offset, real: 1.5 mm
    assert abs(end - 1.5) < 0.5 * abs(start - 1.5)


def test_two_phase_training_early_stop_and_resume(tmp_path):
    synth.make_corpus(tmp_path / "data", synth.SynthConfig(subjects=10), show_progress=False)
    cfg = SeqTrainConfig(data=str(tmp_path / "data"), expression="joy", out=str(tmp_path / "run"),
                         model="test_seqlstm", epochs=2, free_run_epochs=3, batch_size=5,
                         length=30, early_stop=True, patience=1, min_improvement=10.0,
                         val_every=4, show_progress=False)
    (r,) = train_sequences(cfg)
    # min_improvement 10 (1000%) can never be met: each phase stops after `patience` epochs
    assert r["converged"] == {"teacher": 2, "free": 4} and r["done"] == {"teacher": 2, "free": 2}
    assert r["train_sequences"] == 6 and r["val_sequences"] == 2  # 2 held out, 2 validate
    assert r["cpu_seconds"] > 0
    _, config = load_model(tmp_path / "run" / "seq_joy.safetensors")
    assert config["validation_subjects"] == ["SYN004", "SYN009"]
    assert not set(config["validation_subjects"]) & set(config["held_out_subjects"])
    cfg.free_run_epochs, cfg.resume = 5, True
    (r,) = train_sequences(cfg)  # converged phases stay finished
    assert r["epochs"] == 4


def test_resume_adds_free_running_after_teacher_forcing(tmp_path):
    synth.make_corpus(tmp_path / "data", synth.SynthConfig(subjects=5), show_progress=False)
    cfg = SeqTrainConfig(data=str(tmp_path / "data"), expression="fear", out=str(tmp_path / "run"),
                         model="test_seqlstm", epochs=1, length=30, show_progress=False)
    (r,) = train_sequences(cfg)
    assert r["done"] == {"teacher": 1, "free": 0}
    cfg.free_run_epochs, cfg.resume = 2, True
    (r,) = train_sequences(cfg)
    assert r["done"] == {"teacher": 1, "free": 2} and r["epochs"] == 3 and r["phase"] == "free"


def test_free_run_gradients_equal_autograd_through_forward():
    """free_run batches the weight gradients (_StepLinear); they must equal plain autograd
    through `forward` stepped with its outputs fed back."""
    torch.manual_seed(0)
    net = create_model("test_seqlstm", hidden=16, layers=3)
    neutral = torch.randn(3, 83, 3) * 30
    net.set_normalisation(torch.randn(3, 20, 249) * 0.3, neutral)
    target = torch.randn(3, 12, 249)

    def stepped():
        x, rows, state, offset = torch.zeros(3, 1, 249), [torch.zeros(3, 1, 249)], None, 0
        for _ in range(11):
            y, state = net(x, neutral, state, return_state=True,
                           offset0=offset if torch.is_tensor(offset) else None)
            offset = offset + x[:, 0]
            x = y * net.disp_scale
            rows.append(x)
        return torch.cat(rows, 1)

    grads = []
    for run in (stepped, lambda: net.free_run(neutral, 12)):
        net.zero_grad()
        ((run() - target) ** 2).sum().backward()
        grads.append([p.grad.clone() for p in net.parameters()])
    for ref, ours in zip(*grads):
        torch.testing.assert_close(ours, ref, atol=1e-5 * float(ref.abs().max()) + 1e-8, rtol=1e-4)
