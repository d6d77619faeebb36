"""Face -> character rig: ground-truth round trip, ARKit mapping, smoothing, fallback,
VMC loopback, rig map format, metrics, CLI."""

from __future__ import annotations

import csv
import threading

import numpy as np
import pytest
from PIL import Image

from deepexpr.characters import RIG_CONTROLS, neutral_rig, render_face, standin_humans
from deepexpr.characters.rig import AUS
from deepexpr.cli import main
from deepexpr.data.rig_truth import TruthConfig, truth_items, truth_rig
from deepexpr.errors import InputError
from deepexpr.evaluation.retarget import agreement, mae_per_column, pearson_per_column
from deepexpr.retarget import (
    ARKIT_NAMES,
    CSV_COLUMNS,
    OneEuroFilter,
    Rig,
    RigTracker,
    TrackerConfig,
    estimate_rig,
    load_default_rigmap,
    to_arkit,
)
from deepexpr.retarget.vmc import VMCSender, head_quaternion, parse_address


@pytest.fixture(scope="module")
def heldout_person():
    """A stand-in person no rig map saw (training seeds 100, 101; evaluation 200)."""
    return standin_humans(1, seed=777)[0]


def _face(image):
    from deepexpr.faces.rigface import find_rig_faces

    faces = find_rig_faces(image, 1)
    assert faces, "the face pipeline must find the drawn stand-in"
    return faces[0]


def test_truth_items_are_deterministic_and_exact():
    cfg = TruthConfig(identities=2, per_identity=3, size=96, seed=5)
    a, b = list(truth_items(cfg)), list(truth_items(cfg))
    assert len(a) == 2 * 4 and sum(i.is_calibration for i in a) == 2
    for x, y in zip(a, b):
        assert x.rig == y.rig and np.array_equal(x.image, y.image)
    # the stored rig is exactly the one that drew the image
    style = standin_humans(2, seed=5)[0]
    assert np.array_equal(a[1].image, render_face(style, a[1].rig, 96)[0])
    rig, source = truth_rig(style, np.random.default_rng(0), cfg)
    assert set(rig) == set(RIG_CONTROLS) and all(0 <= rig[x] <= 1 for x in AUS)
    assert abs(rig["head_yaw"]) <= cfg.max_yaw


@pytest.mark.slow
def test_known_rig_round_trips(heldout_person):
    """Draw a held-out person with known rigs, run the face pipeline and the estimator."""
    joy = {**neutral_rig(), "AU6": 0.8, "AU12": 1.0, "AU25": 0.6, "head_yaw": 12.0}
    sad = {**neutral_rig(), "AU1": 1.0, "AU4": 0.6, "AU15": 1.0, "head_roll": -8.0}
    neutral_image, _ = render_face(heldout_person, neutral_rig(), 256)
    est_neutral = estimate_rig(_face(neutral_image)).values
    est_joy = estimate_rig(_face(render_face(heldout_person, joy, 256)[0])).values
    est_sad = estimate_rig(_face(render_face(heldout_person, sad, 256)[0])).values
    for est, truth in ((est_joy, joy), (est_sad, sad), (est_neutral, neutral_rig())):
        err = np.mean([abs(est[a] - truth[a]) for a in AUS])
        assert err < 0.15, (err, {a: round(est[a], 2) for a in AUS})
        for c, tol in (("head_yaw", 5.0), ("head_roll", 4.0)):
            assert abs(est[c] - truth[c]) < tol, (c, est[c], truth[c])
    assert est_joy["AU12"] > 0.6 > est_neutral["AU12"] + 0.3
    assert est_sad["AU15"] > 0.6 and est_sad["AU1"] > 0.6 and est_joy["AU15"] < 0.3


def test_rig_never_nan_and_no_face():
    rig = estimate_rig(None)
    assert "no face" in rig.flags and rig.values == neutral_rig()
    assert all(v == 0 for v in rig.confidence.values())
    with pytest.raises(InputError):
        estimate_rig(np.zeros((10, 3)))
    # a degenerate mesh (all points equal) gives finite values
    rig = estimate_rig(np.zeros((478, 3)))
    assert all(np.isfinite(v) for v in rig.values.values())


def test_tracker_holds_then_falls_back(heldout_person):
    model = load_default_rigmap()
    smile = {**neutral_rig(), "AU12": 1.0, "AU6": 0.8}
    face = _face(render_face(heldout_person, smile, 256)[0])
    tracker = RigTracker(TrackerConfig(hold_frames=2), model=model)
    good = tracker.update(face, 0.0)
    assert not {"held", "neutral fallback"} & set(good.flags)
    held = [tracker.update(None, 0.04 * k) for k in (1, 2)]
    assert all("held" in r.flags and r.values == good.values for r in held)
    fallback = tracker.update(None, 0.12)
    assert "neutral fallback" in fallback.flags and fallback.values == neutral_rig()
    face.quality = 0.05  # low quality counts as missing
    low = RigTracker(TrackerConfig(min_quality=0.3), model=model).update(face, 0.0)
    assert "low quality" in low.flags and "neutral fallback" in low.flags
    assert all(np.isfinite(v) for r in [good, *held, fallback, low] for v in r.values.values())


def test_one_euro_smooths_jitter_and_follows_steps():
    rng = np.random.default_rng(0)
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    t = np.arange(100) / 25.0
    noisy = 0.5 + rng.normal(0, 0.1, (100, 3))
    out = np.array([f(x, ti) for x, ti in zip(noisy, t)])
    assert out[20:].std(0).max() < 0.5 * noisy[20:].std(0).min()
    f.reset()
    step = np.array([f(np.array([0.0 if k < 10 else 1.0]), k / 25.0)[0] for k in range(60)])
    assert step[9] == 0.0 and 0.0 < step[11] < 1.0 and step[-1] > 0.95
    assert np.all(np.diff(step) >= -1e-12)  # no overshoot / oscillation


def test_tracker_ema_and_bad_smoothing():
    with pytest.raises(InputError):
        RigTracker(TrackerConfig(smoothing="kalman"))


def test_arkit_mapping():
    assert len(ARKIT_NAMES) == 52 == len(set(ARKIT_NAMES))
    values = {**neutral_rig(), "AU12": 0.7, "AU26": 0.3, "AU27": 0.6, "AU1": 0.4, "gaze_x": 0.5,
              "gaze_y": -0.25, "AU17": 0.8}
    a = to_arkit(values)
    assert list(a) == list(ARKIT_NAMES)
    assert a["mouthSmileLeft"] == a["mouthSmileRight"] == pytest.approx(0.7)
    assert a["jawOpen"] == pytest.approx(0.6) and a["browInnerUp"] == pytest.approx(0.4)
    assert a["eyeLookOutLeft"] == a["eyeLookInRight"] == pytest.approx(0.5)
    assert a["eyeLookInLeft"] == a["eyeLookOutRight"] == 0.0
    assert a["eyeLookUpLeft"] == pytest.approx(0.25) and a["eyeLookDownLeft"] == 0.0
    assert a["mouthShrugUpper"] == pytest.approx(0.4)
    assert a["eyeBlinkLeft"] == a["tongueOut"] == a["cheekPuff"] == 0.0
    assert all(0.0 <= v <= 1.0 for v in to_arkit({c: 5.0 for c in AUS}).values())


def test_metrics_against_brute_force():
    rng = np.random.default_rng(1)
    p, t = rng.uniform(size=(30, 4)), rng.uniform(size=(30, 4))
    t[:, 3] = 0.5  # constant column -> r 0
    r = pearson_per_column(p, t)
    for k in range(3):
        assert r[k] == pytest.approx(np.corrcoef(p[:, k], t[:, k])[0, 1])
    assert r[3] == 0.0
    assert mae_per_column(p, t) == pytest.approx([np.mean(np.abs(p[:, k] - t[:, k])) for k in range(4)])
    assert agreement(["a", "b", "c"], ["a", "x", "c"]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        mae_per_column(p, t[:5])


def test_rigmap_save_load_round_trip(tmp_path):
    from deepexpr.models.rigmap import load_rigmap, save_rigmap

    model = load_default_rigmap()
    path = save_rigmap(model, tmp_path / "rm.safetensors")
    again = load_rigmap(path)
    mesh = np.c_[model.reference_ * 100 + 200, np.zeros((468, 0))].astype(np.float32)
    mesh[:, 1] *= -1  # back to photo axes (y down)
    a, b = model.predict(model.features(mesh)), again.predict(again.features(mesh))
    assert a == pytest.approx(b)
    with pytest.raises(InputError):
        load_rigmap(tmp_path / "missing.safetensors")


def _receiver():
    from pythonosc.dispatcher import Dispatcher
    from pythonosc.osc_server import ThreadingOSCUDPServer

    got = []
    disp = Dispatcher()
    disp.set_default_handler(lambda address, *args: got.append((address, args)))
    server = ThreadingOSCUDPServer(("127.0.0.1", 0), disp)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, got


def test_vmc_loopback():
    import time

    server, got = _receiver()
    try:
        values = {**neutral_rig(), "AU12": 0.9, "head_yaw": 20.0}
        with VMCSender("127.0.0.1", server.server_address[1]) as vmc:
            vmc.send(values, 1.5)
        deadline = time.time() + 5
        while time.time() < deadline and not any(a == "/VMC/Ext/T" for a, _ in got):
            time.sleep(0.02)
    finally:
        server.shutdown()
        server.server_close()
    blends = {args[0]: args[1] for a, args in got if a == "/VMC/Ext/Blend/Val"}
    assert set(blends) == set(ARKIT_NAMES) and blends["mouthSmileLeft"] == pytest.approx(0.9)
    assert any(a == "/VMC/Ext/Blend/Apply" for a, _ in got)
    bone = [args for a, args in got if a == "/VMC/Ext/Bone/Pos"][0]
    assert bone[0] == "Head" and np.linalg.norm(bone[4:8]) == pytest.approx(1.0, abs=1e-5)
    assert bone[5] == pytest.approx(head_quaternion(20.0, 0, 0)[1], abs=1e-5)
    assert [args for a, args in got if a == "/VMC/Ext/T"][0][0] == pytest.approx(1.5)


def test_vmc_bad_addresses():
    assert parse_address("10.0.0.2:4000") == ("10.0.0.2", 4000)
    assert parse_address(":4000") == ("127.0.0.1", 4000)
    for bad in ("host:notaport", "host:70000"):
        with pytest.raises(InputError):
            parse_address(bad)
    with pytest.raises(InputError):
        VMCSender("no-such-host.invalid", 39539)


@pytest.fixture(scope="module")
def photos(tmp_path_factory, heldout_person):
    d = tmp_path_factory.mktemp("retarget")
    smile = {**neutral_rig(), "AU12": 1.0, "AU6": 0.8}
    face = np.full((300, 300, 3), 230, np.uint8)
    face[22:278, 22:278] = render_face(heldout_person, smile, 256)[0]
    Image.fromarray(face).save(d / "face.png")
    Image.fromarray(np.full((200, 200, 3), 128, np.uint8)).save(d / "blank.png")
    return d


@pytest.mark.slow
def test_cli_retarget_photo(photos, tmp_path):
    out, rig_csv, rig_json = tmp_path / "pip.png", tmp_path / "rig.csv", tmp_path / "rig.json"
    argv = ["retarget", str(photos / "face.png"), "--character", "pip", "--out", str(out),
            "--rig-csv", str(rig_csv), "--rig-json", str(rig_json), "--arkit", "--side-by-side"]
    assert main(argv) == 0
    assert Image.open(out).size == (512, 256)
    rows = list(csv.DictReader(open(rig_csv)))
    assert len(rows) == 1 and list(rows[0])[:len(CSV_COLUMNS)] == list(CSV_COLUMNS)
    assert float(rows[0]["AU12"]) > 0.5 and "mouthSmileLeft" in rows[0]
    assert main(argv) == 2  # existing outputs are not overwritten without --overwrite
    assert main(argv + ["--overwrite", "--calibrate", str(photos / "face.png")]) == 0


def test_cli_retarget_bad_input(photos, tmp_path, capsys):
    cases = [
        ["retarget", str(photos / "blank.png"), "--out", str(tmp_path / "a.png")],
        ["retarget", str(photos / "face.png"), "--character", "nobody", "--out", str(tmp_path / "b.png")],
        ["retarget", str(photos / "face.png"), "--calibrate", str(photos / "blank.png"),
         "--out", str(tmp_path / "c.png")],
        ["retarget", str(photos / "face.png"), "--face", "3", "--out", str(tmp_path / "d.png")],
        ["retarget", str(photos / "face.png"), "--vmc", "no-such-host.invalid:39539",
         "--out", str(tmp_path / "e.png")],
        ["retarget", str(tmp_path / "missing.jpg")],
    ]
    for argv in cases:
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and err.startswith("deepexpr: error:"), err


@pytest.mark.slow
def test_cli_retarget_video_goes_on_without_faces(photos, tmp_path):
    from deepexpr.animation.preview import write_video

    face = np.asarray(Image.open(photos / "face.png").resize((304, 304)))
    blank = np.full_like(face, 128)
    write_video([face, blank, face, face], tmp_path / "clip.mp4", fps=10)
    rig_csv, rig_json = tmp_path / "rig.csv", tmp_path / "rig.json"
    assert main(["retarget", str(tmp_path / "clip.mp4"), "--out", str(tmp_path / "out.mp4"),
                 "--rig-csv", str(rig_csv), "--rig-json", str(rig_json)]) == 0
    rows = list(csv.DictReader(open(rig_csv)))
    assert [int(r["frame"]) for r in rows] == [0, 1, 2, 3]
    import json

    flags = [f["flags"] for f in json.loads(rig_json.read_text())["frames"]]
    assert "held" in flags[1] and "no face" in flags[1]
    assert (tmp_path / "out.mp4").stat().st_size > 0


def test_rig_neutral_helper():
    r = Rig.neutral("x")
    assert r.flags == ["x"] and r.quality == 0.0 and set(r.values) == set(RIG_CONTROLS)


@pytest.mark.slow
def test_rendered_faces_carry_their_rig():
    """The 3D ground truth: the AU model moves the mesh as labelled, the render is a face."""
    from deepexpr.animation.render_truth import (
        AUS,
        RENDERED_AUS,
        RenderTruthConfig,
        _base,
        deform,
        render_truth_items,
    )
    from deepexpr.data.synthetic_sequences import make_subject
    from deepexpr.landmarks83 import MEDIAPIPE_INDICES

    _, _, verts, _ = _base()
    subject = make_subject(np.random.default_rng(0), verts[MEDIAPIPE_INDICES])
    rest = deform({}, subject)
    assert np.allclose(rest[MEDIAPIPE_INDICES], subject["neutral"], atol=1e-6)  # RBF is exact there
    chin, corner = 152, 61
    assert deform({"AU26": 1.0}, subject)[chin, 1] < rest[chin, 1] - 5.0  # the jaw drops (mm)
    assert deform({"AU12": 1.0}, subject)[corner, 1] > rest[corner, 1] + 1.0  # the corner rises
    assert set(RENDERED_AUS) == set(AUS)  # the AU model has a field for every rig AU
    items = list(render_truth_items(RenderTruthConfig(identities=1, per_identity=2, size=192, seed=9)))
    assert items[0].is_calibration and len(items) == 3
    for item in items:
        assert item.rig["gaze_x"] == 0.0  # the renders keep the eyes still
        assert _face(item.image).quality > 0.5
