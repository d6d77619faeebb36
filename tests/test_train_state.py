"""The one training state: exact resume of the three trainers, atomic saves, settings checks."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import safetensors.torch
import torch

from deepexpr.data import synthetic_sequences as synth
from deepexpr.data.hagan import HaganData
from deepexpr.errors import InputError
from deepexpr.models import create_model
from deepexpr.models.checkpoint import load_model
from deepexpr.train.hagan import HaganTrainConfig, train_hagan
from deepexpr.train.loop import fit
from deepexpr.train.sequences import SeqTrainConfig, train_sequences
from deepexpr.train.state import load_state, save_state
from rig_fakes import mesh_set
from test_hagan import _images
from test_train import _cfg, _table

CK = {"model": "test_cnn_small", "overrides": {}}
TIMING = ("seconds", "images_per_s")


def _same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def _untimed(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMING} for row in history]


# ---- CNN -------------------------------------------------------------------------------------


def _fit(epochs, out, resume=False, init_seed=0, **kw):
    torch.manual_seed(init_seed)  # a resumed run starts from other weights: the state must win
    model = create_model("test_cnn_small")
    cfg = _cfg(epochs=epochs, **{"max_steps_per_epoch": 2, **kw})
    hist = fit(model, _table(), _table(n=21), cfg, out, CK, resume=resume)
    return model, hist


def test_cnn_resume_equals_an_uninterrupted_run_bit_for_bit(tmp_path):
    # (a cosine schedule spans --epochs: a shorter first run would anneal differently)
    straight, hist_a = _fit(4, tmp_path / "a", optimizer="adam", lr_step=2)
    _fit(2, tmp_path / "b", optimizer="adam", lr_step=2)
    resumed, hist_b = _fit(4, tmp_path / "b", resume=True, init_seed=9, optimizer="adam", lr_step=2)
    _same_weights(straight.state_dict(), resumed.state_dict())
    assert _untimed(hist_a) == _untimed(hist_b)
    _same_weights(straight.state_dict(), load_model(tmp_path / "b" / "last.safetensors")[0].state_dict())


def test_resume_with_other_settings_is_refused_in_one_line(tmp_path):
    _fit(1, tmp_path / "a")
    with pytest.raises(InputError) as err:
        _fit(2, tmp_path / "a", resume=True, lr=0.5, batch_size=8)
    msg = str(err.value)
    assert "\n" not in msg and "lr: 0.05 there, 0.5 now" in msg and "batch_size" in msg
    assert "epochs" not in msg  # more epochs is what resuming is for
    _fit(2, tmp_path / "a", resume=True, threads=2)  # and the thread count may change


def test_a_broken_state_file_is_refused_in_one_line(tmp_path):
    _fit(1, tmp_path / "a")
    state = tmp_path / "a" / "train_state.safetensors"
    state.write_bytes(state.read_bytes()[:100])
    with pytest.raises(InputError, match="not a readable training state") as err:
        _fit(2, tmp_path / "a", resume=True)
    assert "\n" not in str(err.value)


# ---- fault injection: a crash between any two writes of a save ----------------------------


class Crash(RuntimeError):
    pass


def _count_writes(monkeypatch, crash_at: int | None) -> list[int]:
    """Count (and optionally fail at) every file write and rename of a save."""
    calls = [0]

    def wrap(fn):
        def counted(*args, **kwargs):
            calls[0] += 1
            if calls[0] == crash_at:
                raise Crash(f"killed at write {crash_at}")
            return fn(*args, **kwargs)
        return counted

    monkeypatch.setattr(os, "replace", wrap(os.replace))
    monkeypatch.setattr(safetensors.torch, "save_file", wrap(safetensors.torch.save_file))
    return calls


def test_cnn_crash_at_every_write_of_a_save_resumes_exactly(tmp_path, monkeypatch):
    straight, _ = _fit(3, tmp_path / "straight")
    _fit(1, tmp_path / "base")
    with monkeypatch.context() as m:  # how many writes one epoch's save makes
        calls = _count_writes(m, None)
        shutil.copytree(tmp_path / "base", tmp_path / "count")
        _fit(2, tmp_path / "count", resume=True)
    writes = calls[0]
    assert writes >= 7  # state, weights (write + rename each), config, metrics.csv and .json
    for k in range(1, writes + 1):
        run = tmp_path / f"crash_{k}"
        shutil.copytree(tmp_path / "base", run)
        with monkeypatch.context() as m:
            _count_writes(m, k)
            with pytest.raises(Crash):
                _fit(2, run, resume=True)
        resumed, hist = _fit(3, run, resume=True, init_seed=k)
        _same_weights(straight.state_dict(), resumed.state_dict())
        assert [h["epoch"] for h in hist] == [1, 2, 3]
        assert not [p.name for p in run.iterdir() if p.name.startswith(".")]  # no temp files left


# ---- HA-GAN ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gan_data():
    hl = np.repeat(np.arange(7), 3)
    cl = np.tile(np.arange(7), 2)
    return HaganData(_images(len(hl), 18, hl), hl, np.tile(np.arange(3), 7),
                     _images(len(cl), 16, cl, 240), cl, np.repeat(np.arange(2), 7),
                     _images(2, 16, [4, 4], 240), ["a", "b"], "fixture")


def _gan(steps, **kw):
    base = dict(preset="test", steps=steps, batch_size=4, sample_every=0, checkpoint_every=0,
                seed=5, encoder_pretrain=2)
    return HaganTrainConfig(**{**base, **kw})


def _gan_weights(run) -> dict:
    from safetensors.torch import load_file

    return {f"{name}.{k}": v for name in ("hagan_g", "hagan_g_ema", "hagan_d")
            for k, v in load_file(str(run / f"{name}.safetensors")).items()}


def test_hagan_resume_equals_an_uninterrupted_run_bit_for_bit(gan_data, tmp_path):
    a = train_hagan(gan_data, _gan(6), tmp_path / "a", quiet=True, log_every=1)
    train_hagan(gan_data, _gan(3), tmp_path / "b", quiet=True, log_every=1)
    b = train_hagan(gan_data, _gan(6), tmp_path / "b", resume=True, quiet=True, log_every=1)
    _same_weights(_gan_weights(tmp_path / "a"), _gan_weights(tmp_path / "b"))
    assert _untimed(a.history) == _untimed(b.history)  # the running losses continue too
    d, first = gan_data, gan_data.char_ids == 0
    one = HaganData(d.human_images, d.human_labels, d.human_ids, d.char_images[first],
                    d.char_labels[first], d.char_ids[first], d.neutral_images[:1], ["a"], "fixture")
    with pytest.raises(InputError, match=r"characters: \['a', 'b'\] there, \['a'\] now"):
        train_hagan(one, _gan(8), tmp_path / "b", resume=True, quiet=True)


def test_hagan_crash_at_every_write_of_a_checkpoint_resumes_exactly(gan_data, tmp_path, monkeypatch):
    train_hagan(gan_data, _gan(4), tmp_path / "straight", quiet=True)
    train_hagan(gan_data, _gan(2), tmp_path / "base", quiet=True)
    with monkeypatch.context() as m:
        calls = _count_writes(m, None)
        shutil.copytree(tmp_path / "base", tmp_path / "count")
        train_hagan(gan_data, _gan(4, checkpoint_every=3), tmp_path / "count", resume=True, quiet=True)
    per_save = calls[0] // 2  # the checkpoint at step 3 and the final save write the same files
    for k in range(1, per_save + 1):
        run = tmp_path / f"crash_{k}"
        shutil.copytree(tmp_path / "base", run)
        with monkeypatch.context() as m:
            _count_writes(m, k)
            with pytest.raises(Crash):  # killed inside the checkpoint of step 3
                train_hagan(gan_data, _gan(4, checkpoint_every=3), run, resume=True, quiet=True)
        train_hagan(gan_data, _gan(4), run, resume=True, quiet=True)
        _same_weights(_gan_weights(tmp_path / "straight"), _gan_weights(run))


# ---- sequences -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("seq") / "data"
    synth.make_corpus(root, synth.SynthConfig(subjects=5), show_progress=False)
    return root


def _seq(corpus, out, **kw):
    base = dict(data=str(corpus), expression="surprise", out=str(out), model="test_seqlstm",
                batch_size=2, length=24, show_progress=False, neutral_jitter=0.5,
                checkpoint_every=1)
    return SeqTrainConfig(**{**base, **kw})


def test_sequence_resume_equals_an_uninterrupted_run_bit_for_bit(corpus, tmp_path):
    """Was 0.189 away after a kill at 450/700 epochs: the resumed run reseeded its shuffling."""
    (a,) = train_sequences(_seq(corpus, tmp_path / "a", epochs=3, free_run_epochs=2))
    train_sequences(_seq(corpus, tmp_path / "b", epochs=2))  # "killed" inside teacher forcing
    (b,) = train_sequences(_seq(corpus, tmp_path / "b", epochs=3, free_run_epochs=2, resume=True))
    wa = load_model(tmp_path / "a" / "seq_surprise.safetensors")[0].state_dict()
    wb = load_model(tmp_path / "b" / "seq_surprise.safetensors")[0].state_dict()
    _same_weights(wa, wb)
    assert a["final_mse"] == b["final_mse"] and a["done"] == b["done"] == {"teacher": 3, "free": 2}
    with pytest.raises(InputError, match="batch_size: 2 there, 3 now"):
        train_sequences(_seq(corpus, tmp_path / "b", epochs=4, batch_size=3, resume=True))


def test_sequence_resume_keeps_the_early_stopping_plateau(corpus, tmp_path):
    kw = dict(early_stop=True, patience=3, min_improvement=10.0, val_every=2, epochs=5)
    (a,) = train_sequences(_seq(corpus, tmp_path / "a", **kw))
    train_sequences(_seq(corpus, tmp_path / "b", **{**kw, "epochs": 2}))
    (b,) = train_sequences(_seq(corpus, tmp_path / "b", resume=True, **kw))
    assert a["converged"] == b["converged"] == {"teacher": 4}  # counted across the restart
    _same_weights(load_model(tmp_path / "a" / "seq_surprise.safetensors")[0].state_dict(),
                  load_model(tmp_path / "b" / "seq_surprise.safetensors")[0].state_dict())


# ---- the state file itself -------------------------------------------------------------------


def test_state_round_trip_restores_optimizers_and_every_rng(tmp_path):
    import random

    net = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(torch.randn(4, 3)).sum().backward()
    opt.step()
    gen = np.random.default_rng(1)
    save_state(tmp_path / "s.safetensors", {"net": net}, {"sgd": opt}, {"step": 7}, {"lr": 0.1},
               {"g": gen}, {"best": torch.arange(3)})
    expect = (random.random(), np.random.rand(), torch.rand(1), gen.random(), net.weight.clone(),
              opt.state_dict()["state"][0]["momentum_buffer"].clone())
    net2 = torch.nn.Linear(3, 2)
    opt2 = torch.optim.SGD(net2.parameters(), lr=0.1, momentum=0.9)
    gen2 = np.random.default_rng(99)
    restored = load_state(tmp_path / "s.safetensors", {"net": net2}, {"sgd": opt2}, {"lr": 0.1},
                          generators={"g": gen2})
    got = (random.random(), np.random.rand(), torch.rand(1), gen2.random(), net2.weight,
           opt2.state_dict()["state"][0]["momentum_buffer"])
    assert got[:4] == expect[:4] and torch.equal(got[4], expect[4]) and torch.equal(got[5], expect[5])
    assert restored.progress == {"step": 7} and torch.equal(restored.extra["best"], torch.arange(3))


# ---- rig map (face mesh -> character rig) ------------------------------------------------------


def _counted(fn, calls: list[int], crash_at: int | None):
    """`fn` counting its calls in `calls[0]` (shared with `_count_writes`), failing at `crash_at`."""
    def counted(*args, **kwargs):
        calls[0] += 1
        if calls[0] == crash_at:
            raise Crash(f"killed at write {crash_at}")
        return fn(*args, **kwargs)
    return counted


def _rig_cfg(epochs=4, **kw):
    from deepexpr.train.rigmap import RigMapTrainConfig

    return RigMapTrainConfig(**{"hidden": 8, "epochs": epochs, "batch_size": 8, **kw})


def _stop_after(monkeypatch, epochs: int) -> None:
    """Kill the run right after its `epochs`-th training-state save."""
    import deepexpr.train.rigmap as trainer

    saves, real = [0], trainer.save_state

    def save_then_stop(*args, **kwargs):
        real(*args, **kwargs)
        saves[0] += 1
        if saves[0] == epochs:
            raise Crash(f"stopped after epoch {epochs}")
    monkeypatch.setattr(trainer, "save_state", save_then_stop)


def _rig_outputs(run) -> tuple[dict, list]:
    from safetensors.torch import load_file

    from deepexpr.train.rigmap import MODEL_NAME, STATE_NAME
    from deepexpr.train.state import read_state

    return load_file(str(run / MODEL_NAME)), read_state(run / STATE_NAME)[0]["progress"]["history"]


def _same_layers(a, b) -> bool:
    """Two fitted rig maps have bit-identical weights and biases in every layer."""
    return all(np.array_equal(wa, wb) and np.array_equal(ba, bb)
               for (wa, ba), (wb, bb) in zip(a.layers_, b.layers_, strict=True))


def test_rigmap_resume_equals_an_uninterrupted_run_bit_for_bit(tmp_path, monkeypatch):
    from deepexpr.train.rigmap import fit_rigmap

    ms = mesh_set()
    straight = fit_rigmap(ms, _rig_cfg(4), out_dir=tmp_path / "a")
    with monkeypatch.context() as m:
        _stop_after(m, 2)
        with pytest.raises(Crash):
            fit_rigmap(ms, _rig_cfg(4), out_dir=tmp_path / "b")
    assert not (tmp_path / "b" / "rigmap.safetensors").exists()
    torch.manual_seed(9)  # the restored RNG states must win over whatever ran before
    resumed = fit_rigmap(ms, _rig_cfg(4), out_dir=tmp_path / "b", resume=True)
    assert _same_layers(straight, resumed)
    (a, hist_a), (b, hist_b) = _rig_outputs(tmp_path / "a"), _rig_outputs(tmp_path / "b")
    _same_weights(a, b)
    assert hist_a == hist_b and [h["epoch"] for h in hist_b] == [1, 2, 3, 4]
    assert resumed.reliability_ == straight.reliability_
    # without a state file the same call is a plain fit: the state changes nothing
    plain = fit_rigmap(ms, _rig_cfg(4))
    assert _same_layers(straight, plain)


def test_rigmap_resume_refuses_other_settings_or_rows_and_extends_epochs(tmp_path):
    from deepexpr.train.rigmap import fit_rigmap

    ms, run = mesh_set(), tmp_path / "run"
    fit_rigmap(ms, _rig_cfg(2), out_dir=run)
    with pytest.raises(InputError) as err:
        fit_rigmap(ms, _rig_cfg(3, lr=2e-3, hidden=16), out_dir=run, resume=True)
    msg = str(err.value)
    assert "\n" not in msg and "lr: 0.001 there, 0.002 now" in msg and "hidden: 8 there, 16 now" in msg
    assert "epochs" not in msg and "threads" not in msg
    with pytest.raises(InputError, match=r"data: '\w+' there, '\w+' now"):  # other meshes
        fit_rigmap(mesh_set(seed=1), _rig_cfg(2), out_dir=run, resume=True)
    with pytest.raises(InputError, match="already did 2 epochs"):
        fit_rigmap(ms, _rig_cfg(1), out_dir=run, resume=True)
    fit_rigmap(ms, _rig_cfg(4, threads=2), out_dir=run, resume=True)  # a finished run, extended
    _, hist = _rig_outputs(run)
    assert [h["epoch"] for h in hist] == [1, 2, 3, 4]
    assert hist[2]["lr"] == pytest.approx(1e-3 * 0.5 * (1 + np.cos(np.pi * 2 / 4)))  # the 4-epoch cosine


def test_train_rigmap_never_replaces_a_finished_run_without_a_flag(tmp_path, capsys):
    from deepexpr.cli import main

    (tmp_path / "rigmap.safetensors").write_bytes(b"a finished run")
    assert main(["train", "rigmap", "--out", str(tmp_path), "--quiet"]) != 0
    err = capsys.readouterr().err
    assert "holds an earlier run (rigmap.safetensors)" in err and "--resume" in err and "--overwrite" in err
    assert (tmp_path / "rigmap.safetensors").read_bytes() == b"a finished run"


def test_rigmap_crash_at_every_write_of_a_save_resumes_exactly(tmp_path, monkeypatch):
    import safetensors.numpy

    from deepexpr.train.rigmap import fit_rigmap

    ms = mesh_set()
    straight = fit_rigmap(ms, _rig_cfg(3), out_dir=tmp_path / "straight")
    with monkeypatch.context() as m:
        _stop_after(m, 1)
        with pytest.raises(Crash):
            fit_rigmap(ms, _rig_cfg(3), out_dir=tmp_path / "base")

    def count(m, crash_at):
        calls = _count_writes(m, crash_at)  # + the rig map's own (NumPy) safetensors write
        m.setattr(safetensors.numpy, "save_file", _counted(safetensors.numpy.save_file, calls, crash_at))
        return calls

    with monkeypatch.context() as m:
        calls = count(m, None)
        shutil.copytree(tmp_path / "base", tmp_path / "count")
        fit_rigmap(ms, _rig_cfg(3), out_dir=tmp_path / "count", resume=True)
    writes = calls[0]
    assert writes >= 7  # two epoch states (write + rename each), the map (write + rename) + its JSON
    for k in range(1, writes + 1):
        run = tmp_path / f"crash_{k}"
        shutil.copytree(tmp_path / "base", run)
        with monkeypatch.context() as m:
            count(m, k)
            with pytest.raises(Crash):
                fit_rigmap(ms, _rig_cfg(3), out_dir=run, resume=True)
        resumed = fit_rigmap(ms, _rig_cfg(3), out_dir=run, resume=True)
        assert _same_layers(straight, resumed), k
        _same_weights(_rig_outputs(tmp_path / "straight")[0], _rig_outputs(run)[0])
        assert not [p.name for p in run.iterdir() if p.name.startswith(".")]  # no temp files left
