"""Real-art data: the avatar label map, the SVG-to-PNG path, leave-one-source-out, ECE.

No network: Node/npm are never called here (DiceBear rendering needs them).
"""

import itertools
import json

import numpy as np
import pytest
from PIL import Image

from deepexpr.cli import main
from deepexpr.data import avatars
from deepexpr.data.avatar_labels import (
    EXCLUDED,
    STYLES,
    combinations,
    expressions_of,
    label_of,
    label_table,
)
from deepexpr.errors import InputError
from deepexpr.evaluation.calibration import expected_calibration_error
from deepexpr.evaluation.loso import PROCEDURAL, loso_folds, source_of
from deepexpr.expressions import EXPRESSIONS
from deepexpr.train.calibrate import fit_temperature, nll, softmax


@pytest.mark.parametrize("style", list(STYLES))
def test_every_mapped_combination_gives_its_class(style):
    exprs = expressions_of(style)
    assert exprs and set(exprs) <= set(EXPRESSIONS)
    assert {tuple(r.parts) for r in STYLES[style].rules} == {STYLES[style].parts}  # all fixed
    for expr in exprs:
        combos = combinations(style, expr)
        assert combos
        for combo in combos:  # no earlier rule of another class shadows this one
            assert label_of(style, combo) == expr, (style, combo)
    for expr in set(EXPRESSIONS) - set(exprs):
        assert combinations(style, expr) == []


def test_unmapped_combinations_are_excluded_and_never_generated():
    assert label_of("avataaars", {"eyebrows": "default", "eyes": "hearts", "mouth": "smile"}) == EXCLUDED
    assert label_of("open-peeps", {"face": "monster"}) == EXCLUDED
    assert label_of("fun-emoji", {"eyes": "love", "mouth": "kissHeart"}) == EXCLUDED
    for style in STYLES:
        parts = STYLES[style].parts
        for expr, n in itertools.product(expressions_of(style), range(1, 6)):
            opts = avatars.avatar_options(style, expr, n, seed=3)
            combo = {k: opts[k][0] for k in parts}
            assert label_of(style, combo) == expr
            assert opts == avatars.avatar_options(style, expr, n, seed=3)  # deterministic


def test_label_table_is_plain_json():
    table = json.loads(json.dumps(label_table()))
    assert set(table) == set(STYLES)
    assert all(r["label"] in EXPRESSIONS for rules in table.values() for r in rules)


SVG = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
       '<rect x="0" y="0" width="5" height="10" fill="#ff0000"/></svg>')


def test_svg_to_rgb_renders_a_fixture_svg():
    pytest.importorskip("resvg_py")
    rgb = avatars.svg_to_rgb(SVG, 20)
    assert rgb.shape == (20, 20, 3) and rgb.dtype == np.uint8
    assert tuple(rgb[10, 2]) == (255, 0, 0)  # left half: the red rectangle
    assert tuple(rgb[10, 17]) == (255, 255, 255)  # right half: the white background
    with pytest.raises(ValueError):
        avatars.svg_to_rgb("<svg this is not xml", 20)


def test_missing_node_is_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(avatars.shutil, "which", lambda _tool: None)
    with pytest.raises(InputError, match="node: not found.*nodejs"):
        avatars.ensure_node_packages(tmp_path / "node")
    code = main(["data", "avatars", "--out", str(tmp_path / "av"), "--styles", "dylan"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "node" in err[0]


def test_unknown_styles_are_reported(tmp_path, capsys):
    code = main(["data", "avatars", "--out", str(tmp_path / "av"), "--styles", "nope,also-nope"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("unknown avatar style") == 2 and "no known avatar style" in err


def test_out_folder_resumes_or_refuses(tmp_path):
    out = tmp_path / "av"
    assert avatars._check_out(out, {"a": 1}) is False
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"settings": {"a": 1}}))
    assert avatars._check_out(out, {"a": 1}) is True
    with pytest.raises(InputError, match="settings differ: a"):
        avatars._check_out(out, {"a": 2})
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.png").write_bytes(b"")
    with pytest.raises(InputError, match="not empty"):
        avatars._check_out(other, {"a": 1})


def _ece_brute_force(probs, labels, bins):
    total = 0.0
    conf, pred = probs.max(1), probs.argmax(1)
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        members = [i for i in range(len(labels))
                   if (lo < conf[i] <= hi) or (b == 0 and conf[i] == 0)]
        if members:
            acc = np.mean([pred[i] == labels[i] for i in members])
            total += len(members) / len(labels) * abs(acc - np.mean(conf[members]))
    return total


@pytest.mark.parametrize("bins", [1, 5, 15])
def test_ece_matches_brute_force(bins):
    rng = np.random.default_rng(bins)
    logits = rng.normal(0, 2, (300, 7))
    probs = softmax(logits)
    labels = rng.integers(0, 7, 300)
    assert np.isclose(expected_calibration_error(probs, labels, bins),
                      _ece_brute_force(probs, labels, bins))
    confident_right = np.eye(7)[labels]
    assert expected_calibration_error(confident_right, labels, bins) == 0.0


def test_ece_rejects_bad_shapes():
    with pytest.raises(ValueError, match="probs"):
        expected_calibration_error(np.ones(7), np.zeros(1))
    assert expected_calibration_error(np.zeros((0, 7)), np.zeros(0, int)) == 0.0


def test_temperature_minimises_nll_and_recovers_overconfidence():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 7, 2000)
    true_logits = rng.normal(0, 1, (2000, 7))
    true_logits[np.arange(2000), labels] += 1.5
    samples = np.array([rng.choice(7, p=p) for p in softmax(true_logits)])
    over = true_logits * 3.0  # a model 3x over-confident
    t = fit_temperature(over, samples)
    grid = np.exp(np.linspace(np.log(0.05), np.log(20), 2000))
    best = grid[np.argmin([nll(over, samples, g) for g in grid])]
    assert abs(np.log(t) - np.log(best)) < 0.01
    assert 2.4 < t < 3.6
    ece_before = expected_calibration_error(softmax(over), samples)
    assert expected_calibration_error(softmax(over, t), samples) < ece_before


def test_loso_folds_group_sources():
    groups = ["dylan", "rand_1_0", "pip", "open-peeps", "dylan", "mika"]
    assert source_of("pip") == PROCEDURAL and source_of("open-peeps") == "open-peeps"
    folds = dict(loso_folds(groups))
    assert set(folds) == {"loso_dylan", "loso_open-peeps", f"loso_{PROCEDURAL}"}
    assert folds[f"loso_{PROCEDURAL}"].tolist() == [1, 2, 5]
    assert folds["loso_dylan"].tolist() == [0, 4]
    with pytest.raises(InputError, match="two sources"):
        loso_folds(["pip", "mika"])
    with pytest.raises(InputError, match="not in the data"):
        loso_folds(groups, ["micah"])


def _write_source(root, name, rng, per_class=3, size=32):
    for label, expr in enumerate(EXPRESSIONS):
        d = root / name / f"{name}_{expr}"
        d.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            img = rng.integers(0, 80, (size, size, 3)).astype(np.uint8)
            img[label * 4:(label + 1) * 4] = 230
            Image.fromarray(img).save(d / f"{name}_{expr}_{i + 1}.png")


def test_evaluate_loso_on_a_fixture(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DEEPEXPR_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    data = tmp_path / "mixed"
    for name in ("dylan", "personas", "rand_1_0", "pip"):
        _write_source(data, name, rng)
    run = tmp_path / "run"
    assert main(["train", "character", "--data", str(data), "--out", str(run), "--model",
                 "test_cnn_small", "--size", "32", "--epochs", "1", "--batch-size", "8",
                 "--augment", "style", "--quiet", "--threads", "1"]) == 0
    cfg = json.loads((run / "model.json").read_text())
    assert cfg["temperature"] > 0  # calibrated on the validation part
    out = tmp_path / "loso"
    assert main(["evaluate", "recognition", "--model", str(run / "model.safetensors"), "--data",
                 str(data), "--protocol", "loso", "--epochs", "1", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [f["fold"] for f in summary["folds"]] == ["loso_dylan", "loso_personas",
                                                     f"loso_{PROCEDURAL}"]
    assert [f["n"] for f in summary["folds"]] == [21, 21, 42]
    for fold in ("loso_dylan", f"loso_{PROCEDURAL}"):
        assert (out / fold / "test" / "confusion.png").is_file()
    assert "loso_personas" in capsys.readouterr().out


# ---- use: calibrated probabilities, low-confidence answers, face crops (issue 12 item 5) ----

class _Fixed:
    """A character recognizer answering from the image's mean grey: dark -> unsure, light -> joy."""

    name, takes_faces, classifier_weight = "fixed", False, None

    def __init__(self):
        self.seen = []

    def probs(self, items):
        self.seen.extend(items)
        flat = np.full(7, 1 / 7)
        sure = np.eye(7)[EXPRESSIONS.index("joy")] * 0.9 + 0.1 / 7
        return np.stack([sure if np.mean(i) > 128 else flat for i in items])


def test_checkpoint_recognizer_divides_logits_by_the_temperature(tmp_path, make_checkpoint):
    from deepexpr import recognition

    rec = recognition.from_checkpoint(make_checkpoint(tmp_path / "t.safetensors"))
    images = [np.full((32, 32, 3), v, np.uint8) for v in (10, 200)] + [np.random.default_rng(1).integers(
        0, 255, (32, 32, 3), dtype=np.uint8)]
    plain = rec.probs(images)
    assert rec.temperature == 1.0
    rec.config["temperature"] = 2.5
    soft = rec.probs(images)
    np.testing.assert_allclose(soft, softmax(np.log(plain), 2.5), atol=1e-5)  # softmax(z / T)
    assert (soft.argmax(1) == plain.argmax(1)).all() and (soft.max(1) < plain.max(1)).all()


def test_character_answers_below_the_threshold_are_low_confidence(tmp_path, monkeypatch, capsys):
    from deepexpr import recognition

    recognition.register_recognizer("fixed", lambda domain, model: _Fixed())
    for name, grey in (("light.png", 230), ("dark.png", 20)):
        Image.fromarray(np.full((40, 40, 3), grey, np.uint8)).save(tmp_path / name)
    rows = recognition.recognize_paths([tmp_path / "light.png", tmp_path / "dark.png"], "character",
                                       "fixed", crop_faces=False)
    assert [r["low_confidence"] for r in rows] == [False, True]
    assert rows[1]["reason"].startswith("uncertain answer (p = 0.14)") and rows[0]["reason"] == ""
    assert recognition.confidence_fields(np.eye(7)[0] * 0.49 + 0.51 / 7)["low_confidence"] is False
    assert recognition.confidence_fields(np.full(7, 1 / 7), min_confidence=0.1)["low_confidence"] is False
    assert main(["recognize", str(tmp_path / "light.png"), str(tmp_path / "dark.png"), "--domain",
                 "character", "--model", "fixed"]) == 0
    light, dark = capsys.readouterr().out.strip().splitlines()[1:]
    assert " joy " in light and "?" not in light
    assert "?" in dark and "(uncertain answer (p = 0.14))" in dark


def test_predict_emotion_reads_the_first_stylized_face(monkeypatch):
    from deepexpr import recognition

    fixed = _Fixed()
    monkeypatch.setattr(recognition, "load_recognizer", lambda domain, model=None: fixed)
    image = np.zeros((60, 120, 3), np.uint8)
    left, right = np.full((16, 16, 3), 230, np.uint8), np.full((16, 16, 3), 20, np.uint8)
    crops = [([0.0, 0.0, 50.0, 50.0], left, "face"), ([60.0, 0.0, 110.0, 50.0], right, "face")]
    monkeypatch.setattr("deepexpr.stylized.character_crops", lambda img: crops)
    answer = recognition.predict_emotion(image, detail=True, crop_faces=True)
    assert fixed.seen[-1] is left and answer["crop"] == "face"
    assert answer["label"] == "joy" and answer["low_confidence"] is False
    assert answer["probability"] == pytest.approx(0.9 + 0.1 / 7, abs=1e-6)
    plain = recognition.predict_emotion(image, detail=True)  # default: the whole image
    assert fixed.seen[-1] is image and plain["crop"] == "whole image" and plain["low_confidence"] is True
    assert recognition.predict_emotion(image, crop_faces=True) == "joy"


def test_recognize_crop_faces_option(tmp_path, monkeypatch, capsys):
    from deepexpr import recognition

    recognition.register_recognizer("fixed", lambda domain, model: _Fixed())
    Image.fromarray(np.zeros((60, 120, 3), np.uint8)).save(tmp_path / "scene.png")
    left, right = np.full((16, 16, 3), 230, np.uint8), np.full((16, 16, 3), 20, np.uint8)
    crops = [([0.0, 0.0, 50.0, 50.0], left, "face"), ([60.0, 0.0, 110.0, 50.0], right, "face")]
    monkeypatch.setattr("deepexpr.stylized.character_crops", lambda img: crops)
    argv = ["recognize", str(tmp_path / "scene.png"), "--domain", "character", "--model", "fixed",
            "--format", "json"]
    assert main(argv) == 0
    assert [r["crop"] for r in json.loads(capsys.readouterr().out)] == ["whole image"]
    assert main([*argv, "--crop-faces"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["crop"], r["label"], r["low_confidence"]) for r in rows] == [("face", "joy", False),
                                                                           ("face", "anger", True)]


def test_avatars_list_needs_no_out_folder(capsys):
    assert main(["data", "avatars", "--list"]) == 0
    listed = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in listed] == list(STYLES)
    assert main(["data", "avatars"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--out is required" in err[0]
