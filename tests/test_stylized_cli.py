"""`deepexpr landmarks`, `evaluate landmarks`, `index build` and `recognize --domain character`
with the stylized-face model on tiny fixtures; option help and out-of-range settings."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deepexpr.data.face_frame import TEMPLATE, face_frame, frame_box


def test_cli_landmarks(tiny_checkpoint, character_png, tmp_path, capsys):
    from deepexpr.cli import main

    bad = tmp_path / "broken.png"
    bad.write_text("not an image")
    sheet = tmp_path / "sheet.png"
    rc = main(["landmarks", str(character_png), str(bad), "--model", str(tiny_checkpoint),
               "--threshold", "0", "--max-faces", "2", "--sheet", str(sheet)])
    out, err = capsys.readouterr()
    assert rc == 1  # the broken file is reported, the good one processed
    rows = json.loads(out)
    assert len(rows) == 1 and rows[0]["path"] == str(character_png)
    assert 1 <= len(rows[0]["faces"]) <= 2 and len(rows[0]["faces"][0]["landmarks"]) == 49
    assert "broken.png" in err and "Traceback" not in err and sheet.is_file()

    rc = main(["landmarks", str(character_png), "--model", str(tiny_checkpoint), "--threshold", "0",
               "--max-faces", "1", "--format", "csv"])
    header, row = capsys.readouterr().out.splitlines()[:2]
    names, values = header.split(","), row.split(",")
    assert rc == 0 and len(names) == len(set(names)) == len(values)  # box and points apart
    face = rows[0]["faces"][0]
    assert [float(values[names.index(c)]) for c in ("box_x0", "box_y1", "x48")] == pytest.approx(
        [face["box"][0], face["box"][3], face["landmarks"][48][0]], abs=0.01)

    rc = main(["landmarks", str(character_png), "--model", str(tiny_checkpoint), "--threshold", "1",
               "--format", "csv", "--sheet", str(tmp_path / "missing" / "x" / "sheet.png")])
    out, err = capsys.readouterr()
    assert out.splitlines()[0].startswith("path,face,score") and len(out.splitlines()) == 1
    assert "no stylized face found" in err
    assert rc == 0


def test_cli_landmarks_backend_choice(tiny_checkpoint, character_png, monkeypatch, capsys):
    """`--backend torch` runs without ONNX Runtime; `--backend onnx` where it is missing is
    one line and a non-zero exit before any image is read."""
    from deepexpr import stylized
    from deepexpr.cli import main
    from deepexpr.models import onnx_runtime

    monkeypatch.setattr(onnx_runtime, "onnx_available", lambda: False)
    stylized.load_stylized_model.cache_clear()
    try:
        rc = main(["landmarks", str(character_png), "--model", str(tiny_checkpoint), "--backend", "onnx"])
        out, err = capsys.readouterr()
        assert rc != 0 and out == "" and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1 and "--backend onnx" in err and "--backend torch" in err
        rc = main(["landmarks", str(character_png), "--model", str(tiny_checkpoint), "--backend", "torch",
                   "--threshold", "0", "--max-faces", "1"])
        out, _ = capsys.readouterr()
        assert rc == 0 and len(json.loads(out)[0]["faces"]) == 1
    finally:
        stylized.load_stylized_model.cache_clear()


def test_cli_landmarks_unwritable_sheet(tiny_checkpoint, character_png, tmp_path, capsys):
    from deepexpr.cli import main

    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc = main(["landmarks", str(character_png), "--model", str(tiny_checkpoint), "--threshold", "0",
               "--format", "table", "--sheet", str(blocker / "sheet.png")])
    out, err = capsys.readouterr()
    assert rc == 1 and "pip.png" in out
    assert len([line for line in err.splitlines() if "sheet" in line]) == 1 and "Traceback" not in err


def test_index_records_each_rows_geometry_source(tmp_path, monkeypatch):
    """Rows with data-set landmarks are "rig"; without, the detected face's landmarks fill
    the geometry ("detected"), or nothing does ("none"); the flag survives save/load,
    subsets and incremental rebuilds."""
    from pathlib import Path

    from deepexpr import stylized
    from deepexpr.retrieval.index import (
        ImageRecord,
        build_index,
        geometry_sources,
        load_index,
        save_index,
        scan_images,
    )
    from retrieval_fakes import TEMPLATE as FAKE_FACE
    from retrieval_fakes import FakeRecognizer, make_ferg_tree

    root = tmp_path / "chars"
    lms = make_ferg_tree(root)
    recs = sorted(scan_images(root), key=lambda r: r.path)
    with_rig = {r.path for r in recs[::3]}
    found = {r.path for r in recs[1::3]}
    records = [ImageRecord(r.path, r.label, r.character, lms[r.path] if r.path in with_rig else None) for r in recs]
    calls = []

    def fake_detected(image):
        calls.append(image.shape)
        key = int(image[0, 0].sum())  # which file: recognised below by its first pixel
        return FAKE_FACE.copy() if key in keys_found else None

    from deepexpr.io import read_image

    keys_found = {int(read_image(p)[0, 0].sum()) for p in found}
    keys_other = {int(read_image(r.path)[0, 0].sum()) for r in recs if r.path not in found}
    found = {p for p in found if int(read_image(p)[0, 0].sum()) not in keys_other}  # unambiguous ones
    assert found, "fixture images must differ in their first pixel"
    monkeypatch.setattr(stylized, "detected_landmarks", fake_detected)
    index, _ = build_index(root, FakeRecognizer(), records=records, show_progress=False)
    sources = dict(zip([str((root / p).resolve()) for p in index.paths], geometry_sources(index)))
    for r in records:
        want = "rig" if r.path in with_rig else "detected" if r.path in found else None
        if want:
            assert sources[str(Path(r.path).resolve())] == want
    assert set(sources.values()) == {"rig", "detected", "none"}
    assert len(calls) == len(records) - len(with_rig)  # detection only where the data set has none
    rows = np.array(geometry_sources(index)) == "none"
    assert np.isnan(index.geometry[rows]).all() and np.isfinite(index.geometry[~rows]).all()

    save_index(index, tmp_path / "x.idx")
    back = load_index(tmp_path / "x.idx")
    assert geometry_sources(back) == geometry_sources(index)
    assert geometry_sources(back.subset(np.array([2, 0]))) == [geometry_sources(index)[i] for i in (2, 0)]
    again, report = build_index(root, FakeRecognizer(), previous=back, records=records, show_progress=False)
    assert report.reused == len(records) and geometry_sources(again) == geometry_sources(index)


def test_recognize_character_reads_each_detected_face(tmp_path, monkeypatch, make_checkpoint):
    """With crop_faces: one row per detected face (left to right, its render crop read), the
    whole image flagged when no face is found; by default the whole image is read."""
    from PIL import Image

    from deepexpr import recognition, stylized
    from deepexpr.stylized import StylizedFace

    two = tmp_path / "two.png"
    none = tmp_path / "none.png"
    Image.fromarray(np.full((120, 200, 3), 200, np.uint8)).save(two)
    Image.fromarray(np.full((50, 60, 3), 90, np.uint8)).save(none)
    faces = {}
    for name, x in (("right", 110.0), ("left", 10.0)):
        lm = (TEMPLATE * 80 + [x, 10]).astype(np.float32)
        faces[name] = StylizedFace(frame_box(face_frame(lm)).astype(np.float32), 0.9, 0.0, lm)
    seen = []

    def fake_detect(image, cfg=None, model=None):
        seen.append(image.shape)
        return [faces["right"], faces["left"]] if image.shape[1] == 200 else []

    monkeypatch.setattr(stylized, "stylized_available", lambda ref=None: True)
    monkeypatch.setattr(stylized, "detect_stylized_faces", fake_detect)
    checkpoint = make_checkpoint(tmp_path / "tiny.safetensors")
    rows = recognition.recognize_paths([two, none], "character", checkpoint, crop_faces=True)
    assert [r["crop"] for r in rows] == ["face", "face", "whole image"]
    assert rows[0]["face"][0] < rows[1]["face"][0]  # left to right
    assert np.allclose(rows[0]["face"], np.round(faces["left"].box, 1))
    assert rows[2]["face"] == [0.0, 0.0, 60.0, 50.0]
    assert all(r["label"] is not None and r["error"] is None for r in rows)
    # one face filling the image: read whole, like the renders the character model knows
    monkeypatch.setattr(stylized, "detect_stylized_faces", lambda image, cfg=None, model=None: [faces["left"]])
    Image.fromarray(np.full((90, 90, 3), 120, np.uint8)).save(none)
    assert [r["crop"] for r in recognition.recognize_paths([none], "character", checkpoint, crop_faces=True)] == \
        ["portrait"]
    assert [r["crop"] for r in recognition.recognize_paths([two], "character", checkpoint)] == ["whole image"]


def test_cli_evaluate_landmarks_report(tiny_checkpoint, tmp_path, capsys):
    from deepexpr.cli import main

    out = tmp_path / "report.json"
    rc = main(["evaluate", "landmarks", "--model", str(tiny_checkpoint), "--sizes", "64", "--per-size", "2",
               "--scenes", "1", "--out", str(out)])
    assert rc == 0
    report = json.loads(out.read_text())
    assert set(report["landmarks"]["sizes"]) == {"64"} and report["landmarks"]["sizes"]["64"]["faces"] == 2
    assert 0 <= report["detection"]["recall"] <= 1 and report["detection"]["scenes"] == 1
    capsys.readouterr()
    assert main(["evaluate", "landmarks", "--model", str(tiny_checkpoint), "--sizes", "6x"]) == 2
    assert "--sizes" in capsys.readouterr().err


@pytest.mark.parametrize("command, option", [(["landmarks"], "--box-blend"), (["train", "stylized-face"], "--angle-bins")])
def test_help_of_the_stylized_commands(command, option, capsys):
    """Every option's help formats (a bare percent sign in one broke `landmarks --help`)."""
    from deepexpr.cli import main

    with pytest.raises(SystemExit) as stop:
        main([*command, "--help"])
    assert stop.value.code == 0
    assert option in capsys.readouterr().out


@pytest.mark.parametrize("argv, option", [(["landmarks", "x.png", "--box-blend", "2"], "--box-blend"),
                                          (["landmarks", "x.png", "--glance-below", "-0.5"], "--glance-below"),
                                          (["train", "stylized-face", "--angle-bins", "-1"], "--angle-bins")])
def test_out_of_range_stylized_settings_are_one_line_errors(argv, option, tmp_path, capsys):
    from deepexpr.cli import main

    assert main([*argv, "--out", str(tmp_path / "run")] if argv[0] == "train" else argv) != 0
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and option in err and "Traceback" not in err
