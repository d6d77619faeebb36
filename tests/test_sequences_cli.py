"""End to end through the CLI: make -> train -> animate -> evaluate, and bad input."""

import json

import pytest
import trimesh

from deepexpr.cli import main


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("seq")
    assert main(["sequences", "make", "--out", str(root / "data"), "--subjects", "5",
                 "--quiet"]) == 0
    assert main(["train", "sequences", "--data", str(root / "data"), "--out", str(root / "run"),
                 "--model", "test_seqlstm", "--epochs", "1", "--free-run-epochs", "1",
                 "--early-stop", "--neutral-jitter", "1", "--quiet",
                 "--export", str(root / "fp16")]) == 0
    return root


def test_make_is_labelled_synthetic(run):
    assert json.loads((run / "data" / "manifest.json").read_text())["synthetic"] is True


def test_animate_gif_and_glb(run, tmp_path):
    weights = str(run / "fp16" / "seq_surprise.safetensors")
    assert main(["animate", "--expression", "surprise", "--weights", weights, "--frames", "4",
                 "--format", "gif", "--size", "64", "--out", str(tmp_path), "--quiet"]) == 0
    assert (tmp_path / "surprise.gif").stat().st_size > 0
    assert (tmp_path / "surprise_strip.png").is_file()
    assert main(["animate", "--expression", "surprise", "--weights", weights, "--frames", "3",
                 "--format", "glb", "--out", str(tmp_path), "--quiet"]) == 0
    assert (tmp_path / "surprise.glb").is_file()


def test_evaluate(run, tmp_path, capsys):
    assert main(["evaluate", "sequences", "--data", str(run / "data"), "--models", str(run / "run"),
                 "--out", str(tmp_path), "--quiet"]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert len(report["rows"]) == 6 and report["synthetic"] is True
    assert "surprise" in capsys.readouterr().out


def test_bad_input(run, tmp_path, capsys):
    assert main(["animate", "--expression", "boredom", "--out", str(tmp_path)]) == 2
    pc = tmp_path / "p.ply"
    trimesh.PointCloud([[0, 0, 0], [1, 0, 0], [0, 1, 0]]).export(pc)
    assert main(["animate", "--expression", "joy", "--mesh", str(pc), "--landmarks", str(pc),
                 "--out", str(tmp_path)]) == 2
    assert "no faces" in capsys.readouterr().err
    assert main(["train", "sequences", "--data", str(tmp_path / "none"), "--quiet"]) == 2
