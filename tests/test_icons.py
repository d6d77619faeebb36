"""Face-icon training art: the label table, the drawing, the data command (no network)."""

import json
import random

import numpy as np
import pytest
from PIL import Image

from deepexpr.cli import main
from deepexpr.data import icons, icons_draw
from deepexpr.data.icon_labels import read_icon_labels, suggest_label
from deepexpr.errors import InputError
from deepexpr.evaluation.loso import PROCEDURAL, loso_folds, source_of
from deepexpr.expressions import EXPRESSIONS

# an outlined face: ring, two eyes, an open mouth (Iconify body, 24 x 24 view box)
OUTLINE = ('<g fill="none" stroke="currentColor" stroke-width="2"><circle cx="12" cy="12" r="9"/>'
           '<circle cx="12" cy="16" r="2"/></g><circle cx="9" cy="9.5" r="1.2" fill="currentColor"/>'
           '<circle cx="15" cy="9.5" r="1.2" fill="currentColor"/>')
# a solid face: a disc with the eyes and mouth cut out (even-odd)
SOLID = ('<path fill="currentColor" fill-rule="evenodd" d="M12 2a10 10 0 1 1 0 20a10 10 0 1 1 0-20z'
         'M8 8h2v3H8zM14 8h2v3h-2zM8 15h8v2H8z"/>')


def _svg(body):
    return f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">{body}</svg>'


def test_suggest_label_follows_the_emoji_names():
    assert suggest_label("mood-angry") == "anger"
    assert suggest_label("face-grin-tears") == "joy"  # tears of joy
    assert suggest_label("anguished-face") == "fear"
    assert suggest_label("face-dissatisfied") == "sadness"
    assert suggest_label("emoticon-sick") == "disgust"
    assert suggest_label("face-surprise") == "surprise"
    assert suggest_label("face-meh-blank") == "neutral"
    for name in ("hanger", "danger-circle", "checkbox-blank", "face-mask", "emoticon-robot-angry",
                 "home-smile", "smiley-melting", "mood-annoyed"):
        assert suggest_label(name) is None, name
    assert suggest_label("emoji-angry", "line-md") is None  # renders empty (checked by eye)
    assert suggest_label("nausea", "healthicons") is None  # a whole figure, not a face


def test_committed_table_uses_allowed_sets_only_and_every_class():
    rows = read_icon_labels()
    assert len(rows) == len({(s, i) for s, i, _ in rows})  # no duplicates
    assert {label for _, _, label in rows} == set(EXPRESSIONS)
    allowed = {s for sets in icons.GROUPS.values() for s in sets}
    assert {s for s, _, _ in rows} <= allowed == set(icons.VERSIONS)
    from deepexpr.data.realart import ICONIFY_SETS

    for name in allowed:  # no emoji set at all, and none of the validation set's sources
        assert "emoji" not in name and name not in ICONIFY_SETS.values(), name
        assert not name.startswith(("streamline", "emojione", "fxemoji")), name
    assert sum(len(v) for v in icons.GROUPS.values()) == len(allowed)  # each set in one group


def test_face_regions_split_outside_from_enclosed():
    ink = np.zeros((20, 20), bool)
    ink[4, 4:16] = ink[15, 4:16] = ink[4:16, 4] = ink[4:16, 15] = True
    outside, holes = icons_draw.face_regions(ink)
    assert holes[5:15, 5:15].all() and holes.sum() == 100
    assert outside[0, 0] and not outside[10, 10] and not (outside & ink).any()


def _blue(img):
    r, g, b = (img[..., k].astype(int) for k in range(3))
    return b > r + 25  # blue, light blue or lilac


def _green(img):
    r, g, b = (img[..., k].astype(int) for k in range(3))
    return (g > r + 30) & (g > b + 50)


@pytest.mark.parametrize("body", [OUTLINE, SOLID])
def test_draw_icon_is_deterministic_and_fills_the_face(body):
    a = icons_draw.draw_icon(_svg(body), "joy", 64, random.Random(5))
    b = icons_draw.draw_icon(_svg(body), "joy", 64, random.Random(5))
    c = icons_draw.draw_icon(_svg(body), "joy", 64, random.Random(6))
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    alpha = icons_draw.rasterise_alpha(_svg(body), 48)
    assert 0.05 < (alpha > 0.5).mean() < 0.9


def test_class_colours_appear_only_with_their_class():
    alpha = icons_draw.rasterise_alpha(_svg(OUTLINE), 96)

    def faces(label, cue=False):  # the coloured faces without a background
        out = [icons_draw.colour_face(alpha, label, random.Random(k), cue_only=cue) for k in range(16)]
        return [rgb[mask] for rgb, mask in out]

    # every fear render of a surprise icon carries a cue: a blue tint or a (blue) sweat drop
    assert all(_blue(px).sum() > 6 for px in faces("fear", cue=True))
    assert all(_blue(px).sum() == 0 for px in faces("surprise"))  # surprise is never blue
    assert all(_green(px).sum() == 0 for px in faces("neutral") + faces("joy"))
    assert sum(_green(px).sum() > 50 for px in faces("disgust")) >= 5
    assert all(_green(px).sum() > 50 for px in faces("disgust", cue=True))


def test_fear_blue_reaches_the_whole_face_in_some_renders():
    alpha = icons_draw.rasterise_alpha(_svg(OUTLINE), 96)
    lower = np.zeros(alpha.shape, bool)
    lower[int(0.72 * 96):] = True  # below the mouth: only a whole-face tint is blue there
    whole = 0
    for k in range(40):
        rgb, mask = icons_draw.colour_face(alpha, "fear", random.Random(k), cue_only=True)
        whole += _blue(rgb[mask & lower]).mean() > 0.5
    assert 3 <= whole <= 30  # some renders, not all (a forehead band is the other kind)


def test_hands_are_drawn_on_fear_only(monkeypatch):
    alpha = icons_draw.rasterise_alpha(_svg(OUTLINE), 96)

    def render(label, chance):
        monkeypatch.setattr(icons_draw, "HANDS_CHANCE", chance)
        return icons_draw.colour_face(alpha, label, random.Random(2))

    m0, m1 = render("fear", 0.0)[1], render("fear", 1.0)[1]
    grown = m1 & ~m0
    assert grown.sum() > 20  # the hands reach past the face outline
    ys, xs = np.nonzero(grown)
    assert ys.mean() > 96 * 0.5 and (xs < 48).any() and (xs >= 48).any()  # both lower cheeks
    for label in ("surprise", "sadness", "joy"):
        assert np.array_equal(render(label, 0.0)[0], render(label, 1.0)[0])


def test_plan_draws_fear_from_surprise_icons_with_cues():
    rows = [("tabler", "mood-surprised", "surprise"), ("tabler", "mood-nervous", "fear"),
            ("tabler", "mood-smile", "joy"), ("fa6-solid", "face-surprise", "surprise")]
    plan = icons.plan(rows, "icons-b", 40, seed=1)
    fear = [p for p in plan if p[0] == "fear"]
    assert len(fear) == 40 and {p[1] for p in fear} == set(range(1, 41))
    cue = [p for p in fear if p[3]]
    assert 8 < len(cue) < 32 and all(p[2] == ("tabler", "mood-surprised") for p in cue)
    assert {p[0] for p in plan} == {"fear", "joy", "surprise"}  # classes without icons skipped
    a = icons.plan(rows, "icons-a", 5, seed=1)  # only a surprise icon: fear all from cues
    assert [p[0] for p in a].count("fear") == 5 and all(p[3] for p in a if p[0] == "fear")
    assert plan == icons.plan(rows, "icons-b", 40, seed=1)


def _fixture_modules(tmp_path):
    """A node_modules folder with every allowed set at its pinned version; tabler and
    fa6-solid hold three faces each."""
    root = tmp_path / "cache" / "icons_npm" / "node_modules" / "@iconify-json"
    faces = {"tabler": {"mood-angry": OUTLINE, "mood-surprised": OUTLINE, "mood-smile": SOLID},
             "fa6-solid": {"face-angry": SOLID, "face-surprise": SOLID, "face-smile": OUTLINE}}
    for name, version in icons.VERSIONS.items():
        folder = root / name
        folder.mkdir(parents=True)
        (folder / "package.json").write_text(json.dumps({"version": version}))
        (folder / "info.json").write_text(json.dumps({"name": name, "license": {"spdx": "MIT"},
                                                      "author": {"name": "someone"}}))
        body = {k: {"body": v} for k, v in faces.get(name, {}).items()}
        (folder / "icons.json").write_text(json.dumps({"prefix": name, "icons": body,
                                                       "width": 24, "height": 24}))
    return root.parent


def test_build_icons_writes_the_ferg_layout_and_refuses_other_settings(tmp_path):
    modules = _fixture_modules(tmp_path)
    rows = [("tabler", "mood-angry", "anger"), ("tabler", "mood-surprised", "surprise"),
            ("tabler", "mood-smile", "joy"), ("fa6-solid", "face-angry", "anger"),
            ("tabler", "not-there", "sadness")]
    out = tmp_path / "icons"
    m = icons.build_icons(out, ["icons-b"], 3, 32, seed=0, modules=modules, rows=rows,
                          show_progress=False)
    assert m["total"] == 12 and not m["failed"]  # anger, fear (cues), joy, surprise x 3
    assert m["counts"]["icons-b"]["fear"] == 3 and m["counts"]["icons-b"]["sadness"] == 0
    img = Image.open(out / "icons-b" / "icons-b_fear" / "icons-b_fear_3.png")
    assert img.size == (32, 32)
    labels = icons.read_image_labels(out)
    assert {r["label"] for r in labels} == {"anger", "fear", "joy", "surprise"}
    assert all(r["cue"] == "1" for r in labels if r["label"] == "fear")
    assert m["licences"]["tabler"]["licence"] == "MIT" and "fa6-solid" not in m["licences"]
    again = icons.build_icons(out, ["icons-b"], 3, 32, seed=0, modules=modules, rows=rows,
                              show_progress=False)
    assert again["total"] == 12  # resumed
    with pytest.raises(InputError, match="different icon set"):
        icons.build_icons(out, ["icons-b"], 4, 32, seed=0, modules=modules, rows=rows)
    with pytest.raises(InputError, match="known"):
        icons.build_icons(tmp_path / "x", ["icons-z"], 3, 32, modules=modules, rows=rows)
    with pytest.raises(InputError) as bad:
        icons.build_icons(tmp_path / "y", ["icons-b"], 0, 32, modules=modules, rows=rows)
    assert "--per-expression 0" in str(bad.value) and "--size" not in str(bad.value)  # only what is wrong


def test_data_icons_cli_on_fixture_packages(tmp_path, monkeypatch, capsys):
    _fixture_modules(tmp_path)
    monkeypatch.setenv("DEEPEXPR_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "ic"
    code = main(["data", "icons", "--out", str(out), "--per-expression", "2", "--size", "32",
                 "--groups", "icons-a,icons-b", "--sheets", str(tmp_path / "sheets")])
    assert code == 0, capsys.readouterr()
    assert (out / "icons-a" / "icons-a_anger" / "icons-a_anger_2.png").exists()
    assert (tmp_path / "sheets" / "icons-b.png").exists()
    assert (tmp_path / "sheets" / "icons_anger.png").exists()
    assert "icon-set groups" in capsys.readouterr().out
    code = main(["data", "icons", "--out", str(out), "--per-expression", "3", "--size", "32"])
    err = capsys.readouterr().err
    assert code != 0 and "different icon set" in err and "Traceback" not in err


def test_icon_groups_are_loso_sources():
    assert source_of("icons-a") == "icons-a" and source_of("wide_3_1") == PROCEDURAL
    groups = np.array(["icons-a", "icons-b", "aia", "icons-a"])
    folds = dict(loso_folds(groups))
    assert set(folds) == {"loso_icons-a", "loso_icons-b", f"loso_{PROCEDURAL}"}
    assert folds["loso_icons-a"].tolist() == [0, 3]


def test_cached_coverage_draws_the_same_image():
    cache = {}
    first = icons_draw.draw_icon(_svg(OUTLINE), "fear", 48, random.Random(3), cue_only=True, cache=cache)
    assert len(cache) == 1
    again = icons_draw.draw_icon(_svg(OUTLINE), "fear", 48, random.Random(3), cue_only=True, cache=cache)
    plain = icons_draw.draw_icon(_svg(OUTLINE), "fear", 48, random.Random(3), cue_only=True)
    assert np.array_equal(first, again) and np.array_equal(first, plain)
    with pytest.raises(ValueError, match="nothing"):
        icons_draw.draw_icon(_svg('<circle cx="1" cy="1" r="0.1"/>'), "joy", 48, random.Random(0))


def test_generator_one_keeps_session_sevens_drawing(monkeypatch):
    """Generator 1 (the bundled model's data) draws no hands and never a whole-face blue;
    classes without a fear cue draw the same pixels under both generators."""
    alpha = icons_draw.rasterise_alpha(_svg(OUTLINE), 96)
    lower = np.zeros(alpha.shape, bool)
    lower[int(0.72 * 96):] = True
    for label in ("joy", "disgust", "anger", "sadness"):
        one = icons_draw.colour_face(alpha, label, random.Random(4), generator=1)[0]
        two = icons_draw.colour_face(alpha, label, random.Random(4), generator=2)[0]
        assert np.array_equal(one, two), label
    monkeypatch.setattr(icons_draw, "HANDS_CHANCE", 1.0)
    whole = 0
    for k in range(40):
        rgb, mask = icons_draw.colour_face(alpha, "fear", random.Random(k), cue_only=True, generator=1)
        plain = icons_draw.colour_face(alpha, "fear", random.Random(k), cue_only=True, generator=1)[1]
        assert np.array_equal(mask, plain)  # deterministic, and no hands grow the mask
        whole += _blue(rgb[mask & lower]).mean() > 0.5
    assert whole == 0


def test_data_icons_refuses_an_unknown_generator(tmp_path, capsys):
    assert main(["data", "icons", "--out", str(tmp_path / "o"), "--generator", "7"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--generator 7" in err[0]
