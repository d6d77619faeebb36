"""`deepexpr characters ...` through main([...])."""

import json

from PIL import Image

from deepexpr.cli import main


def test_list(capsys):
    assert main(["characters", "list"]) == 0
    out = capsys.readouterr().out
    assert "pip" in out and "tabby" in out and len(out.strip().splitlines()) >= 8


def test_render_sheet_new(tmp_path, capsys):
    out = tmp_path / "ds"
    assert main(["characters", "render", "--out", str(out), "--characters", "pip",
                 "--per-expression", "1", "--size", "32", "--seed", "1"]) == 0
    assert (out / "pip" / "pip_joy" / "pip_joy_1.png").exists()
    assert json.loads((out / "manifest.json").read_text())["counts"]["total"] == 7
    sheet = tmp_path / "sheet.png"
    assert main(["characters", "sheet", "--out", str(sheet), "--characters", "pip,zorp", "--size", "40"]) == 0
    w, h = Image.open(sheet).size
    assert w >= 7 * 40 and h >= 2 * 40
    js = tmp_path / "c.json"
    assert main(["characters", "new", "--seed", "4", "--out", str(js)]) == 0
    assert json.loads(js.read_text())["name"] == "rand_4_0"
    assert main(["characters", "render", "--out", str(tmp_path / "j"), "--characters", str(js),
                 "--per-expression", "1", "--size", "32", "--expressions", "joy"]) == 0
    assert (tmp_path / "j" / "rand_4_0" / "rand_4_0_joy" / "rand_4_0_joy_1.png").exists()


def test_bad_input_exits_2_with_one_line(tmp_path, capsys):
    cases = [
        ["characters", "render", "--out", str(tmp_path / "a"), "--characters", "nobody"],
        ["characters", "render", "--out", str(tmp_path / "b"), "--characters", "pip", "--expressions", "bored"],
        ["characters", "render", "--out", str(tmp_path / "c"), "--characters", "random:zero"],
        ["characters", "sheet", "--out", str(tmp_path / "s.jpg")],
        ["characters", "new", "--seed", "1", "--out", str(tmp_path / "x.txt")],
    ]
    for argv in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("deepexpr: error:") and "\n" not in err and "Traceback" not in err
    # an output folder holding another data set is refused, never mixed
    base = ["characters", "render", "--out", str(tmp_path / "d"), "--characters", "pip",
            "--per-expression", "1", "--size", "32"]
    assert main(base) == 0
    assert main(base[:-1] + ["48"]) == 2
    assert "different data set" in capsys.readouterr().err
    assert main(["characters"]) == 2
