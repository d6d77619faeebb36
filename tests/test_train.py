import json

import numpy as np
import pytest
import torch
from PIL import Image

from deepexpr.cli import main
from deepexpr.errors import InputError
from deepexpr.expressions import EXPRESSIONS
from deepexpr.models import create_model
from deepexpr.train.augment import augment_batch, to_input
from deepexpr.train.config import TrainConfig
from deepexpr.train.loop import fit
from deepexpr.train.schedule import cosine_lr, schedule_lr, step_lr
from deepexpr.train.splits import group_kfold, leave_one_group_out, stratified_split
from deepexpr.train.table import table_from_arrays
from deepexpr.train.transfer import layer_blocks, setup_transfer


def _pattern(label, rng, size=32):
    img = rng.integers(0, 80, (size, size, 3)).astype(np.uint8)
    band = size // 7
    img[label * band:(label + 1) * band] = 230
    return img


def _table(n=70, size=32, groups=5):
    rng = np.random.default_rng(0)
    labels = np.arange(n) % 7
    imgs = np.stack([_pattern(int(lab), rng, size) for lab in labels])
    return table_from_arrays(imgs, labels, [f"c{i % groups}" for i in range(n)])


def _cfg(**kw):
    base = dict(model="test_cnn_small", size=32, epochs=2, batch_size=16, lr=0.05, lr_step=1,
                val_fraction=0.0, threads=1)
    base.update(kw)
    return TrainConfig(**base)


def test_splits_identity_independent_and_stratified():
    groups = [f"g{i % 7}" for i in range(100)]
    folds = group_kfold(groups, 5, seed=3)
    assert sorted(np.concatenate(folds).tolist()) == list(range(100))
    owners = [{groups[i] for i in f} for f in folds]
    for a in range(5):
        for b in range(a + 1, 5):
            assert not owners[a] & owners[b]
    with pytest.raises(ValueError, match="identities"):
        group_kfold(groups[:10], 20)
    labels = np.repeat(np.arange(7), 10)
    tr, va, te = stratified_split(labels, (0.8, 0.1, 0.1), seed=0)
    assert len(tr) == 56 and np.bincount(labels[te], minlength=7).tolist() == [1] * 7
    lo = dict(leave_one_group_out(groups, ["g1"]))
    assert all(groups[i] == "g1" for i in lo["g1"])


def test_step_schedule():
    assert step_lr(0.01, 9) == 0.01 and np.isclose(step_lr(0.01, 10), 0.001)
    assert np.isclose(step_lr(0.01, 25), 1e-4)


def test_cosine_schedule_anneals_per_step_to_zero():
    assert cosine_lr(0.01, 0, 10) == 0.01 and np.isclose(cosine_lr(0.01, 5, 10), 0.005)
    assert np.isclose(cosine_lr(0.01, 10, 10), 0.0)
    assert schedule_lr(_cfg(lr=0.01, lr_step=1), 1.5) == pytest.approx(0.001)  # step: whole epochs
    cfg = _cfg(lr=0.01, schedule="cosine", epochs=4)
    assert schedule_lr(cfg, 1.5) == pytest.approx(cosine_lr(0.01, 1.5, 4))
    hist = fit(create_model("test_cnn_small"), _table(), None, cfg)
    assert [h["lr"] for h in hist] == pytest.approx([cosine_lr(0.01, e, 4) for e in range(4)])
    from deepexpr.errors import InputError

    with pytest.raises(InputError, match="schedule"):  # the config refuses it before any training
        schedule_lr(_cfg(schedule="linear"), 0)


def test_mild_augment_without_warp_or_colour_is_identity_or_mirror():
    from deepexpr.train.augment import mild

    x = torch.randint(0, 255, (16, 3, 24, 24), dtype=torch.uint8)
    y = mild(x, torch.Generator().manual_seed(0), colour=0.0, p_warp=0.0)
    same = [torch.allclose(a, b.float(), atol=1e-3) or torch.allclose(a, b.float().flip(-1), atol=1e-3)
            for a, b in zip(y, x)]
    assert all(same)
    z = mild(x, torch.Generator().manual_seed(0))  # warped and jittered: changed, in range
    assert not torch.allclose(z, x.float()) and float(z.min()) >= 0 and float(z.max()) <= 255


@pytest.mark.parametrize("mode", ["fivecrop", "random", "mild", "flip", "none"])
def test_augment_keeps_shape(mode):
    x = torch.randint(0, 255, (4, 3, 32, 32), dtype=torch.uint8)
    y = augment_batch(x, mode, torch.Generator().manual_seed(0))
    assert y.shape == (4, 3, 32, 32) and y.dtype == torch.float32
    assert 0 <= float(y.min()) and float(y.max()) <= 255


def test_to_input_matches_prepare_batch():
    from deepexpr.models.preprocess import prepare_batch

    imgs = np.random.default_rng(0).integers(0, 255, (2, 16, 16, 3)).astype(np.uint8)
    pre = {"size": 16, "grayscale": True, "mean": [0.5], "std": [0.25]}
    x = to_input(torch.from_numpy(imgs).permute(0, 3, 1, 2), pre)
    assert torch.allclose(x, prepare_batch(list(imgs), pre), atol=1e-5)


def test_one_step_changes_weights():
    model = create_model("test_cnn_small")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    hist = fit(model, _table(), None, _cfg(epochs=1, max_steps_per_epoch=1))
    assert hist[0]["images"] == 16
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert "classifier.weight" in changed and "features.0.weight" in changed


def test_resume_after_interrupt_gives_same_state(tmp_path):
    table, ck = _table(), {"model": "test_cnn_small", "overrides": {}}
    torch.manual_seed(0)
    straight = create_model("test_cnn_small")
    fit(straight, table, table, _cfg(epochs=3), tmp_path / "a", ck)
    torch.manual_seed(0)
    part = create_model("test_cnn_small")
    fit(part, table, table, _cfg(epochs=1), tmp_path / "b", ck)  # "interrupted" after epoch 1
    torch.manual_seed(123)
    resumed = create_model("test_cnn_small")  # a fresh process: different initial weights
    hist = fit(resumed, table, table, _cfg(epochs=3), tmp_path / "b", ck, resume=True)
    assert [h["epoch"] for h in hist] == [1, 2, 3]
    for (k, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), k
    rows = (tmp_path / "b" / "metrics.csv").read_text().splitlines()
    assert len(rows) == 4 and rows[0].startswith("epoch,lr,train_loss")


def test_transfer_freezes_earlier_layers():
    model = create_model("test_cnn_small")
    first = model.features[0].weight.clone()
    head_before = model.classifier.weight.clone()
    groups, frozen = setup_transfer(model, unfreeze=1, head_lr_mult=10)
    assert not torch.equal(head_before, model.classifier.weight)  # new FC7_character
    assert {g["name"]: g["lr_mult"] for g in groups} == {"head": 10, "body": 1.0}
    blocks = layer_blocks(model)
    assert blocks[-1][0] is model.fc[1]  # FC6 is the layer just before the head
    fit(model, _table(), None, _cfg(epochs=1), param_groups=groups, frozen=frozen)
    assert torch.equal(first, model.features[0].weight)
    assert not model.features[0].weight.requires_grad


def _write_class_folders(root, per_class=6, size=32):
    rng = np.random.default_rng(1)
    for label, name in enumerate(["angry", "disgust", "fear", "happy", "neutral", "sad",
                                  "surprise"]):
        for i in range(per_class):
            d = root / name
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(_pattern(label, rng, size)).save(d / f"s{i % 3}_{name}_{i}.png")


def test_each_optimizer_has_its_own_default_rate():
    assert TrainConfig().lr == 0.01 and TrainConfig(optimizer="adam").lr == 1e-3
    assert TrainConfig(optimizer="adam", lr=0.05).lr == 0.05  # a given rate always wins
    with pytest.raises(InputError):
        TrainConfig(lr=-1.0)


def test_cli_train_human_then_evaluate(tmp_path, capsys, monkeypatch, private_cache):
    data = tmp_path / "faces"
    _write_class_folders(data)
    out = tmp_path / "run"
    code = main(["train", "human", "--data", str(data), "--out", str(out), "--model",
                 "test_cnn_small", "--size", "32", "--epochs", "2", "--batch-size", "8",
                 "--subject-pattern", "prefix", "--protocol", "kfold", "--folds", "3",
                 "--quiet", "--threads", "1"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["identity_independent"] and len(summary["folds"]) == 3
    assert (out / "confusion.png").is_file() and (out / "fold_1" / "metrics.csv").is_file()
    cfg = json.loads((out / "fold_1" / "model.json").read_text())
    assert cfg["preprocess"] == {"size": 32, "grayscale": True, "mean": [0.5], "std": [0.5]}
    assert cfg["classes"] == list(EXPRESSIONS) and cfg["training"]["momentum"] == 0.9
    assert cfg["training"]["lr"] == 0.01  # no --lr: SGD's own default (the paper's)
    ev = tmp_path / "ev"
    code = main(["evaluate", "recognition", "--model", str(out / "fold_1" / "model.safetensors"),
                 "--data", str(data), "--out", str(ev)])
    assert code == 0
    assert "accuracy" in capsys.readouterr().out
    assert json.loads((ev / "metrics.json").read_text())["n"] == 42
    assert (ev / "confusion.png").is_file() and (ev / "predictions.csv").is_file()


def test_cli_bad_inputs(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["train", "human", "--data", str(tmp_path / "empty"), "--out",
                 str(tmp_path / "o")]) == 2
    assert "no images" in capsys.readouterr().err
    assert main(["train", "human", "--data", str(tmp_path / "nope.csv"), "--out",
                 str(tmp_path / "o")]) == 2
    assert main(["evaluate", "recognition", "--model", str(tmp_path / "m.safetensors"),
                 "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert main(["train", "transfer", "--data", str(tmp_path / "empty"), "--from",
                 str(tmp_path / "missing.safetensors"), "--out", str(tmp_path / "o")]) == 2


@pytest.fixture(scope="module")
def char_data(tmp_path_factory):
    from deepexpr.characters.export import render_dataset

    root = tmp_path_factory.mktemp("chars")
    render_dataset(root / "ds", characters="pip,mika,rand_3_0", per_expression=2, size=32,
                   show_progress=False)
    return root / "ds"


def test_cli_character_loco_and_transfer(char_data, tmp_path, monkeypatch, capsys, private_cache):
    out = tmp_path / "loco"
    code = main(["train", "character", "--data", str(char_data), "--out", str(out), "--model",
                 "test_cnn_small", "--size", "32", "--epochs", "1", "--batch-size", "8",
                 "--protocol", "loco", "--augment", "fivecrop", "--balance", "sampler",
                 "--quiet", "--threads", "1"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [f["fold"] for f in summary["folds"]] == ["loco_mika", "loco_pip"]  # rand_* stays in
    assert set(summary["pooled"]["per_class_accuracy"]) == set(EXPRESSIONS)
    source = out / "loco_pip" / "model.safetensors"
    out2 = tmp_path / "transfer"
    code = main(["train", "transfer", "--data", str(char_data), "--from", str(source), "--out",
                 str(out2), "--epochs", "1", "--batch-size", "8", "--unfreeze", "0", "--quiet",
                 "--threads", "1"])
    assert code == 0
    cfg = json.loads((out2 / "model.json").read_text())
    assert cfg["transfer_from"]["path"] == str(source) and cfg["training"]["lr"] == 0.001
    assert cfg["preprocess"]["size"] == 32 and cfg["domain"] == "character"
    assert "protocol random" in capsys.readouterr().out


def test_cli_transfer_from_minixception_keep_head(char_data, tmp_path, monkeypatch, private_cache):
    from deepexpr.models.checkpoint import save_model

    src = tmp_path / "human.safetensors"
    torch.manual_seed(0)
    net = create_model("test_minixception")
    pre = {"size": 32, "grayscale": True, "mean": [0.5], "std": [0.5]}
    save_model(src, net, {"model": "test_minixception", "overrides": {}, "preprocess": pre})
    head = net.classifier.weight.detach().clone()
    out = tmp_path / "t"
    assert main(["train", "transfer", "--data", str(char_data), "--from", str(src), "--out",
                 str(out), "--epochs", "1", "--batch-size", "8", "--unfreeze", "-1",
                 "--keep-head", "--head-lr-mult", "0", "--quiet", "--threads", "1"]) == 0
    cfg = json.loads((out / "model.json").read_text())
    assert cfg["preprocess"] == pre and cfg["training"]["channels_last"] is False
    from deepexpr.models.checkpoint import load_model

    tuned, _ = load_model(out / "model.safetensors")
    assert torch.equal(tuned.classifier.weight, head)  # kept, and its rate was 0


@pytest.mark.parametrize("name,size,chans", [("test_cnn_small", 32, 3), ("test_minixception", 32, 1)])
def test_stages_compose_to_forward(name, size, chans):
    from deepexpr.train.cached import run_stages

    kw = {"in_channels": 1} if "xception" in name else {}
    net = create_model(name, **kw).eval()
    x = torch.randn(3, chans, size, size)
    assert torch.allclose(run_stages(net, x), net(x), atol=1e-6)
    h = run_stages(net, x, 0, 2)
    assert torch.allclose(run_stages(net, h, 2), net(x), atol=1e-6)


def _grey_cfg(**kw):
    base = dict(size=32, grayscale=True, mean=[0.5], std=[0.5], channels_last=False, lr=0.01,
                optimizer="adam", augment="none", epochs=2)
    return _cfg(**{**base, **kw})


def _minixception_transfer(unfreeze, cache):
    from deepexpr.train.cached import frozen_prefix

    torch.manual_seed(0)
    net = create_model("test_minixception")
    groups, frozen = setup_transfer(net, unfreeze=unfreeze, head_lr_mult=10)
    k = frozen_prefix(net)
    hist = fit(net, _table(), _table(14), _grey_cfg(cache_features=cache), param_groups=groups,
               frozen=frozen)
    return net, k, hist


def test_cached_frozen_layers_train_like_running_through_them():
    ran, k, hist_ran = _minixception_transfer(0, cache=False)
    cached, k2, hist_cached = _minixception_transfer(0, cache=True)
    assert k == k2 == 3  # stem + both residual modules frozen: only the head learns
    assert torch.allclose(ran.classifier.weight, cached.classifier.weight, atol=1e-3)
    assert hist_cached[-1]["val_acc"] == pytest.approx(hist_ran[-1]["val_acc"], abs=0.08)
    for (name, a), b in zip(ran.state_dict().items(), cached.state_dict().values()):
        if not name.startswith("classifier"):
            assert torch.equal(a, b), name  # frozen weights and BN statistics untouched


def test_cache_stops_at_the_first_trainable_stage():
    net, k, _ = _minixception_transfer(1, cache=True)  # last separable conv of module 2 learns
    assert k == 2
    first = create_model("test_minixception")
    setup_transfer(first, unfreeze=-1)
    from deepexpr.train.cached import frozen_prefix

    assert frozen_prefix(first) == 0


def test_cached_transfer_resumes_to_the_same_weights(tmp_path):
    def run(epochs, out, resume=False):
        torch.manual_seed(0)
        net = create_model("test_minixception")
        groups, frozen = setup_transfer(net, unfreeze=0)
        ck = {"model": "test_minixception", "overrides": {}}
        fit(net, _table(), None, _grey_cfg(epochs=epochs, augment="random", feature_views=3),
            out, ck, groups, frozen, resume=resume)
        return net

    straight = run(3, tmp_path / "a")
    run(1, tmp_path / "b")  # "interrupted" after epoch 1
    resumed = run(3, tmp_path / "b", resume=True)
    assert torch.allclose(straight.classifier.weight, resumed.classifier.weight, atol=1e-6)
