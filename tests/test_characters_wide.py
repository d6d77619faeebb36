"""The wide style space: determinism, exact landmarks per art style, decorations, and the
classic space left as it was."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np
import pytest
from matplotlib.path import Path as PolyPath

from deepexpr.characters import (
    CharacterStyle,
    artstyles,
    decorations,
    face_landmarks,
    get_character,
    head_outline,
    key_poses,
    list_characters,
    random_characters,
    render_face,
    resolve_characters,
    sample_poses,
)
from deepexpr.characters.rig import check_rig
from deepexpr.characters.widespace import ART_STYLES
from deepexpr.cli import main
from deepexpr.errors import InputError

WIDE_ARTS = [a for a in ART_STYLES if a != "classic"]


@pytest.fixture(scope="module")
def by_art() -> dict[str, CharacterStyle]:
    """One wide character per art style (the first of seed 0 that has it)."""
    found: dict[str, CharacterStyle] = {}
    for style in random_characters(80, 0, space="wide"):
        found.setdefault(style.art_style, style)
    assert set(found) == set(WIDE_ARTS), sorted(found)
    return found


def _digest(img: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(img).tobytes()).hexdigest()


@pytest.mark.parametrize("art", WIDE_ARTS)
def test_same_seed_same_bytes_and_exact_landmarks(by_art, art):
    style = by_art[art]
    rig = key_poses(style, "fear")[0]
    img, lm = render_face(style, rig, 96)
    again = get_character(style.name)  # rebuilt from its name alone
    img2, lm2 = render_face(again, rig, 96)
    assert _digest(img) == _digest(img2) and np.array_equal(lm, lm2)
    assert np.array_equal(lm, face_landmarks(style, rig, 96))
    assert lm.shape == (49, 2) and np.isfinite(lm).all()
    # frontal key poses: every landmark lies inside the drawn head
    for expr in ("joy", "surprise", "anger"):
        pose = key_poses(style, expr)[0]
        lm = render_face(style, pose, 96)[1]
        assert PolyPath(head_outline(style, pose, 96)).contains_points(lm).all(), (art, expr)


def test_different_seeds_and_characters_differ():
    a, b = random_characters(2, 0, space="wide")
    c = random_characters(1, 1, space="wide")[0]
    rig = key_poses(a, "joy")[0]
    digests = {_digest(render_face(s, rig, 64)[0]) for s in (a, b, c)}
    assert len(digests) == 3
    assert random_characters(3, 5, space="wide") == random_characters(3, 5, space="wide")


def test_pixel_art_is_blocky_and_landmarks_scale(by_art):
    style = by_art["pixel"]
    grid = artstyles.pixel_grid(style, 10_000)
    rig = key_poses(style, "joy")[0]
    size = 3 * grid
    img, lm = render_face(style, rig, size)
    cells = img[1::3, 1::3]  # one sample per cell, scaled back up
    assert np.array_equal(np.repeat(np.repeat(cells, 3, 0), 3, 1), img)
    assert len(np.unique(img.reshape(-1, 3), axis=0)) <= max(style.palette_size, 2)
    lm_grid = render_face(style, rig, grid)[1]  # the grid itself, shown 1:1
    assert np.allclose(lm, lm_grid * 3 + 1, atol=1e-4)  # cell i's centre is output pixel 3i + 1


def _diff_box(style, rig, plan, size=128):
    r = check_rig(rig)
    base = np.asarray(artstyles.render_wide(style, r, size, 2, plan={})[0], dtype=int)
    with_deco = np.asarray(artstyles.render_wide(style, r, size, 2, plan=plan)[0], dtype=int)
    ys, xs = np.nonzero(np.abs(base - with_deco).sum(axis=2) > 30)
    return ys, xs


def test_each_decoration_changes_pixels_where_expected():
    style = dataclasses.replace(random_characters(1, 0)[0], name="deco_test", art_style="cel",
                                hair_style="none", ear_style="none", extras=[], decorations=1.0)
    rig = key_poses(style, "neutral")[0]
    lm = face_landmarks(style, rig, 128)
    eye_y = lm[19:31, 1].mean()  # the 12 eye points
    brow_y = lm[0:10, 1].mean()
    mouth_y = lm[31:49, 1].mean()
    cases = {
        "tears": ({"tears": {"side": 1, "both": True}}, lambda ys, xs: ys.min() >= eye_y - 2 and ys.mean() < mouth_y + 10),
        "stream": ({"stream": {"side": -1, "both": False}}, lambda ys, xs: ys.min() >= eye_y - 2 and xs.mean() < 64),
        "sweat": ({"sweat": {"side": 1, "size": 1.0}}, lambda ys, xs: ys.mean() < eye_y and xs.mean() > 64),
        "vein": ({"vein": {"side": -1, "size": 1.0}}, lambda ys, xs: ys.mean() < brow_y and xs.mean() < 64),
        "blush": ({"blush": {"hatch": True, "strength": 0.6}}, lambda ys, xs: eye_y < ys.mean() < mouth_y),
        "tint": ({"tint": {"color": (230, 40, 30), "whole": False}}, lambda ys, xs: ys.mean() < eye_y),
        "shadow": ({"shadow": {"lines": True}}, lambda ys, xs: ys.mean() < eye_y + 4),
        "vomit": ({"vomit": {"width": 1.0}}, lambda ys, xs: ys.min() >= mouth_y - 8 and ys.mean() > mouth_y),
    }
    assert set(cases) == set(decorations.DECORATIONS)
    for name, (plan, where) in cases.items():
        ys, xs = _diff_box(style, rig, plan)
        assert len(ys) > 15, name
        assert where(ys, xs), name


def test_decorations_follow_the_expression_but_not_always():
    styles = [dataclasses.replace(s, decorations=1.0) for s in random_characters(6, 2, space="wide")]

    def rate(expr, name):
        plans = [decorations.plan_decorations(s, check_rig(p), decorations.frame_rng(s, check_rig(p)))
                 for s in styles for p in sample_poses(s, expr, 20, 0)]
        return np.mean([name in pl or (name == "tears" and "stream" in pl) for pl in plans])

    assert rate("sadness", "tears") > 0.4 > rate("joy", "tears")
    assert rate("sadness", "tears") < 1.0  # never one certain cue
    assert rate("anger", "vein") > 0.4 > rate("sadness", "vein")
    assert rate("fear", "sweat") > rate("joy", "sweat")
    assert rate("joy", "blush") > rate("anger", "blush")
    s = styles[0]
    rig = check_rig(key_poses(s, "sadness")[3])
    assert decorations.plan_decorations(s, rig, decorations.frame_rng(s, rig)) == \
        decorations.plan_decorations(s, rig, decorations.frame_rng(s, rig))
    assert decorations.plan_decorations(dataclasses.replace(s, decorations=0.0), rig,
                                        decorations.frame_rng(s, rig)) == {}


def test_classic_space_unchanged(monkeypatch):
    """Classic characters never enter the wide renderer, their files carry no wide fields,
    and the wide renderer without extras draws a classic character pixel for pixel."""
    assert random_characters(3, 4) == random_characters(3, 4, space="classic")
    assert all(s.name.startswith("rand_") for s in resolve_characters("random:2", 0))
    styles = [get_character(n) for n in list_characters()[:4]] + random_characters(2, 7)
    for style in styles:
        assert not {"art_style", "framing", "backdrop", "decorations"} & set(style.to_dict())
    plain = {}
    for style in styles:
        rig = key_poses(style, "surprise")[1]
        plain[style.name] = _digest(render_face(style, rig, 80)[0])
        cel = dataclasses.replace(style, art_style="cel")  # same painting order, no extras
        assert _digest(render_face(cel, rig, 80)[0]) == plain[style.name], style.name

    def refuse(*args, **kwargs):
        raise AssertionError("a classic character went through the wide renderer")

    monkeypatch.setattr("deepexpr.characters.render.render_wide", refuse)
    for style in styles:
        assert _digest(render_face(style, key_poses(style, "surprise")[1], 80)[0]) == plain[style.name]


def test_wide_style_json_round_trip(tmp_path):
    style = random_characters(3, 0, space="wide")[2]
    style.to_json(tmp_path / "w.json")
    back = CharacterStyle.from_json(tmp_path / "w.json")
    assert back == style
    with pytest.raises(InputError):
        CharacterStyle.from_dict({**style.to_dict(), "art_style": "oil"})
    with pytest.raises(InputError):
        random_characters(2, 0, space="baroque")


def test_cli_render_and_sheet_wide(tmp_path):
    out = tmp_path / "ds"
    assert main(["characters", "render", "--out", str(out), "--characters", "wide:2",
                 "--per-expression", "1", "--size", "48", "--expressions", "joy,sadness"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["characters"] == ["wide_0_0", "wide_0_1"]
    assert manifest["versions"]["renderer"] == str(manifest["settings"]["renderer"])
    assert manifest["settings"]["styles"]["wide_0_0"]["art_style"] != "classic"
    out2 = tmp_path / "ds2"
    assert main(["characters", "render", "--out", str(out2), "--characters", "random:1", "--space", "wide",
                 "--per-expression", "1", "--size", "48", "--expressions", "joy"]) == 0
    assert (out2 / "wide_0_0" / "wide_0_0_joy" / "wide_0_0_joy_1.png").is_file()
    sheet = tmp_path / "s.png"
    assert main(["characters", "sheet", "--out", str(sheet), "--characters", "random:2", "--space", "wide",
                 "--size", "48"]) == 0 and sheet.stat().st_size > 0
    with pytest.raises(SystemExit):
        main(["characters", "sheet", "--out", str(sheet), "--space", "baroque"])
