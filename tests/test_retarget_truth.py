"""The rig estimator's ground-truth generators draw the lip AUs and AU6 as FACS describes
them, each apart from its look-alike (issue 17); the stand-in reader's data and command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deepexpr.characters import face_landmarks, get_character, neutral_rig, standin_humans
from deepexpr.errors import InputError

# 49-point layout (deepexpr.landmarks): eyes 19-30, outer lip 31-42 (31 and 37 the corners,
# 34 the upper middle, 40 the lower middle), inner lip 43-48 (44 upper, 47 lower middle)
CORNERS, UPPER_MID, LOWER_MID, INNER_UP, INNER_LO = (31, 37), 34, 40, 44, 47


def _points(style, **aus):
    rig = neutral_rig()
    rig.update(aus)
    return face_landmarks(style, rig, 256).astype(np.float64)


@pytest.fixture(scope="module")
def people():
    return standin_humans(3, seed=61)


def test_standin_lip_aus_follow_facs(people):
    for style in people:
        rest = _points(style)
        eye = np.linalg.norm(rest[19] - rest[28])

        def moved(style=style, rest=rest, eye=eye, **aus):
            return (_points(style, **aus) - rest) / eye  # (49, 2), y down

        au17 = moved(AU17=1.0)  # lower lip (and the closed line) pushed up, corners stay
        assert au17[LOWER_MID, 1] < -0.02 and au17[INNER_LO, 1] < -0.03 and np.abs(au17[list(CORNERS)]).max() < 0.01
        au15 = moved(AU15=1.0)  # its look-alike moves the corners down instead
        assert au15[list(CORNERS), 1].min() > 0.1
        au23 = moved(AU23=1.0)  # red thinned, corners in place
        thick = lambda p: p[LOWER_MID, 1] - p[UPPER_MID, 1]  # noqa: E731
        assert thick(_points(style, AU23=1.0)) < 0.6 * thick(rest)
        assert np.abs(au23[list(CORNERS), 0]).max() < 0.03
        au24 = moved(AU24=1.0)  # pressed flat: no down-curve, a little longer
        assert au24[CORNERS[0], 0] < 0 < au24[CORNERS[1], 0] and au24[list(CORNERS), 1].max() < 0.005
        au16, au25 = moved(AU16=1.0), moved(AU25=1.0)  # lower lip down; only AU25 lifts the upper
        assert au16[LOWER_MID, 1] > 0.05 and abs(au16[INNER_UP, 1]) < 0.002 and au25[INNER_UP, 1] < -0.002
        assert au16[LOWER_MID, 1] - au16[INNER_LO, 1] > 0.015  # everted: the outer edge moves most


def test_standin_mouth_opening_aus_are_drawn_apart(people):
    """AU25 parts the lips with the chin still; the jaw (AU26/27) drops the chin; AU27 also
    stretches the lips thin (session 9: AU25 was a 0.035 gap beside the jaw's 0.3-0.42)."""
    from deepexpr.characters.geometry import _mouth_geometry

    def mouth(style, **aus):
        rig = neutral_rig()
        rig.update(aus)
        p = _points(style, **aus)
        eye = np.linalg.norm(p[19] - p[28])
        return ((p[INNER_LO, 1] - p[INNER_UP, 1]) / eye, (p[LOWER_MID, 1] - p[INNER_LO, 1]) / eye,
                _mouth_geometry(style, rig)["jaw"])

    for style in people:
        gap25, _, jaw25 = mouth(style, AU25=1.0)
        gap26, thick26, jaw26 = mouth(style, AU26=1.0)
        gap27, thick27, _ = mouth(style, AU27=1.0)
        gap_both, _, jaw_both = mouth(style, AU25=1.0, AU26=1.0)
        assert gap25 > 0.06 and jaw25 == 0.0 and jaw26 > 0.25  # lips apart, teeth show, chin still
        assert gap_both - gap26 > 0.06 and jaw_both == jaw26  # AU25 adds its own gap beside the jaw
        assert thick27 < 0.8 * thick26  # stretched lips
    pip = get_character("pip")  # the cartoons keep their mouths
    assert mouth(pip, AU25=1.0)[0] < 0.04 and mouth(pip, AU27=1.0)[1] == pytest.approx(mouth(pip)[1])


def test_standin_au6_raises_the_lower_lid_not_the_upper(people):
    style = people[0]
    rest, au6 = _points(style), _points(style, AU6=1.0)
    upper, lower = [20, 21, 26, 27], [23, 24, 29, 30]  # upper and lower lid points of both eyes
    assert np.abs(au6[upper, 1] - rest[upper, 1]).max() < 0.3  # pixels at 256
    assert (au6[lower, 1] - rest[lower, 1]).max() < -1.0


def test_cartoon_characters_keep_their_au_drawing():
    """Only the stand-in family changed: a cartoon's AU6 still narrows the eye from above."""
    pip = get_character("pip")
    rest, au6 = _points(pip), _points(pip, AU6=1.0)
    assert (au6[[20, 21], 1] - rest[[20, 21], 1]).min() > 0.5


def _cos(a, b):
    a, b = a.reshape(-1), b.reshape(-1)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_au_model_fields_are_not_copies():
    from deepexpr.data.synthetic_sequences import AU_FIELDS, au_field, base_landmarks

    base = base_landmarks()
    field = {au: au_field(au, base) for au in (12, 15, 16, 17, 20, 23, 24, 25, 26)}
    assert 23 in AU_FIELDS and 24 in AU_FIELDS
    assert _cos(field[23], field[20]) > -0.5 and _cos(field[17], field[26]) > -0.5
    assert _cos(field[16], field[25]) < 0.75 and _cos(field[24], field[15]) < 0.5
    # AU23 thins the red: the outer lip borders close in; the corners stay
    from deepexpr.landmarks83 import MEDIAPIPE_INDICES

    row = {int(v): k for k, v in enumerate(MEDIAPIPE_INDICES)}
    assert field[23][row[0], 1] < -0.5 < 0.5 < field[23][row[17], 1]
    assert np.abs(field[23][[row[61], row[291]]]).max() < 0.2


def test_stale_sequence_corpus_is_refused(tmp_path):
    from deepexpr.data.synthetic_sequences import AU_MODEL_VERSION, SynthConfig, make_corpus

    out = tmp_path / "corpus"
    manifest = make_corpus(out, SynthConfig(subjects=1, max_frames=20), show_progress=False)
    assert manifest["settings"]["au_model"] == AU_MODEL_VERSION
    old = dict(manifest, settings={k: v for k, v in manifest["settings"].items() if k != "au_model"})
    (out / "manifest.json").write_text(json.dumps(old))
    with pytest.raises(InputError, match="au_model"):
        make_corpus(out, SynthConfig(subjects=1, max_frames=20), show_progress=False)


def test_train_standin_reader_cli(tmp_path, monkeypatch):
    """Stand-in faces through the pipeline into class folders (kept when the settings match,
    refused otherwise), a reader trained on them, exported and loaded as `--human standin`."""
    import deepexpr.models.resolve as resolve
    from deepexpr.cli import main
    from deepexpr.data.standin import write_standin_faces
    from deepexpr.expressions import EXPRESSIONS
    from deepexpr.io import read_image
    from deepexpr.retarget.report import load_human_reader

    faces, export = tmp_path / "faces", tmp_path / "weights"
    argv = ["train", "standin-reader", "--faces", str(faces), "--out", str(tmp_path / "run"), "--identities", "2",
            "--per-expression", "4", "--seed", "41", "--model", "test_cnn_small", "--epochs", "1",
            "--export", str(export), "--quiet"]
    assert main(argv) == 0
    made = json.loads((faces / "manifest.json").read_text())
    files = sorted(faces.glob("*/*.png"))
    assert made["images"] == len(files) >= 40 and made["images"] + made["missed"] == 2 * 4 * len(EXPRESSIONS)
    assert {f.parent.name for f in files} <= set(EXPRESSIONS) and files[0].name.startswith("s41i")
    assert write_standin_faces(faces, identities=2, per_expression=4, seed=41, quiet=True) == made  # kept
    with pytest.raises(InputError, match="other settings"):
        write_standin_faces(faces, identities=3, per_expression=4, seed=41, quiet=True)
    import deepexpr.recognition  # noqa: F401  (imported unpatched: it binds WEIGHTS_DIR at import)

    monkeypatch.setattr(resolve, "WEIGHTS_DIR", export)
    probs = load_human_reader("standin").probs([read_image(files[0])])
    assert probs.shape == (1, len(EXPRESSIONS)) and abs(float(probs.sum()) - 1) < 1e-4
    assert main(argv[:-1] + ["--seed", "200"]) == 2  # the evaluation's people


def test_standin_reader_is_named_and_missing_weights_say_what_to_run(monkeypatch, tmp_path):
    import deepexpr.models.resolve as resolve
    import deepexpr.recognition  # noqa: F401  (imported unpatched: it binds WEIGHTS_DIR at import)
    from deepexpr.retarget.report import RetargetEvalConfig, load_human_reader

    assert "standin" in RetargetEvalConfig().human
    monkeypatch.setattr(resolve, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(InputError, match="train standin-reader"):
        load_human_reader("standin")


@pytest.mark.parametrize("flag", ["--identities", "--per-expression", "--epochs"])
def test_train_standin_reader_refuses_zero_before_drawing_anything(tmp_path, capsys, flag):
    from deepexpr.cli import main

    faces = tmp_path / "faces"
    assert main(["train", "standin-reader", "--faces", str(faces), "--out", str(tmp_path / "run"), flag, "0"]) == 2
    assert f"{flag} 0" in capsys.readouterr().err and not faces.exists()


def test_neutral_render_base_closes_the_photos_lips_and_undoes_its_smile():
    """`RenderTruthConfig(base="neutral")`: the photo's parted lips meet, its mouth corners
    come down, the nose and eyes stay; the default keeps the photo's face (and its caches)."""
    from deepexpr.animation.render_truth import (
        LOWER_INNER_LIP,
        UPPER_INNER_LIP,
        RenderTruthConfig,
        base_vertices,
        render_truth_items,
    )
    from deepexpr.data.rig_truth import _cache_file

    photo, neutral = base_vertices("photo"), base_vertices("neutral")
    gap = lambda v: (v[list(UPPER_INNER_LIP), 1] - v[list(LOWER_INNER_LIP), 1]).max()  # noqa: E731 (mm, y up)
    assert gap(photo) > 3.0 and abs(gap(neutral)) < 0.3
    corners, still = [61, 291], [1, 4, 6, 168, 10]  # nose, forehead (the eye corners follow -AU6 a little)
    assert (neutral[corners, 1] < photo[corners, 1] - 1.0).all()
    assert np.abs(neutral[still] - photo[still]).max() < 0.3
    cfg = RenderTruthConfig(identities=1, per_identity=1, size=160, seed=5)
    assert _cache_file(cfg, "c") != _cache_file(RenderTruthConfig(identities=1, per_identity=1, size=160, seed=5,
                                                                  base="neutral"), "c")
    smiling, closed = (next(render_truth_items(RenderTruthConfig(**{**cfg.__dict__, "base": b})))
                       for b in ("photo", "neutral"))
    assert smiling.image.shape == closed.image.shape and not np.array_equal(smiling.image, closed.image)
    with pytest.raises(InputError, match="render base"):
        RenderTruthConfig(base="smile")


def test_painted_texture_smooths_the_skin_between_the_features_and_keeps_them():
    """`painted_texture`: a fold drawn on the cheek is gone, a mark on the lips stays, pixels
    outside the face oval are untouched; `base="painted"` renders the neutral mesh with it."""
    from deepexpr.animation.neutral_texture import LIPS_OUTER, painted_texture
    from deepexpr.animation.render_truth import (
        RenderTruthConfig,
        _base,
        base_vertices,
        render_truth_items,
    )
    from deepexpr.data.rig_truth import _cache_file

    photo, uv, _, _ = _base()
    img = photo.copy()
    cheek = np.round(0.5 * uv[205] + 0.5 * uv[50]).astype(int)  # subject's right cheek, below the eye
    lips = np.round(uv[list(LIPS_OUTER)].mean(0)).astype(int)
    img[cheek[1] - 1:cheek[1] + 2, cheek[0] - 8:cheek[0] + 8] = 0  # a dark fold
    img[lips[1], lips[0] - 3:lips[0] + 3] = (0, 0, 255)  # a blue mark on the lips
    out = painted_texture(img, uv)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert out[cheek[1], cheek[0]].astype(int).sum() > 200  # the fold repainted with skin
    assert (out[lips[1], lips[0]] == (0, 0, 255)).all()  # the lips keep the photo's pixels
    assert np.array_equal(out[:20], img[:20]) and np.array_equal(out[:, -20:], img[:, -20:])
    assert np.array_equal(base_vertices("painted"), base_vertices("neutral"))
    cfg = dict(identities=1, per_identity=1, size=160, seed=5)
    assert _cache_file(RenderTruthConfig(**cfg, base="painted"), "c") != _cache_file(
        RenderTruthConfig(**cfg, base="neutral"), "c")
    neutral, painted = (next(render_truth_items(RenderTruthConfig(**cfg, base=b))) for b in ("neutral", "painted"))
    diff = np.abs(neutral.image.astype(int) - painted.image.astype(int)).sum(2)
    assert 0 < (diff > 10).mean() < 0.2  # only the face's skin changes
