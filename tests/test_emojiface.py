"""Emoji-style character frames (issue 12, session 9): label-driven cues, fear with
surprise's shape, new decorations drawn only when planned, and `deepexpr data emoji-faces`."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from deepexpr.characters import decorations, random_characters, sample_poses
from deepexpr.characters.artstyles import render_wide
from deepexpr.characters.emojiface import (
    emoji_characters,
    emoji_plan,
    emoji_rig,
    emoji_sheet,
    render_emoji_frame,
)
from deepexpr.characters.rig import check_rig
from deepexpr.cli import main
from deepexpr.data.ferg import FergDataset
from deepexpr.errors import InputError

FEAR_CUES = {"tint", "sweat", "hands"}


def _plans(expr: str, n: int = 200) -> list[dict]:
    return [emoji_plan(expr, np.random.default_rng([7, k])) for k in range(n)]


def test_fear_always_has_a_cue_and_surprise_never_has_one():
    fear, surprise = _plans("fear"), _plans("surprise")
    assert all(FEAR_CUES & set(p) for p in fear)
    assert not any(FEAR_CUES & set(p) for p in surprise)
    blue = [p["tint"]["color"] for p in fear if "tint" in p]
    assert blue and all(c[2] > c[0] and c[2] >= c[1] for c in blue)  # blue, purple or pale blue
    assert {True, False} <= {p["tint"]["whole"] for p in fear if "tint" in p}  # band and face
    assert any("hands" in p for p in fear) and not any("hands" in p for e in ("joy", "anger", "sadness",
                                                                               "neutral", "disgust")
                                                        for p in _plans(e, 60))
    green = [p["tint"]["color"] for p in _plans("disgust") if "tint" in p]
    assert green and all(c[1] > c[0] and c[1] > c[2] for c in green)
    assert any("tongue" in p for p in _plans("disgust"))
    assert _plans("neutral", 50) == [{}] * 50


def test_fear_takes_surprise_shape():
    style = emoji_characters(1, 3)[0]
    anguished = 0
    for k in range(40):
        fear_own = check_rig(sample_poses(style, "fear", 1, k)[0])
        for version in (1, 2):
            r = emoji_rig(style, "fear", fear_own, np.random.default_rng(k), version)
            assert r["AU1"] >= 0.75 and r["AU25"] >= 0.8 and r["AU20"] <= 0.4  # wide-open, not stretched
            assert r["AU5"] > 0.3
            assert (r["AU4"] >= 0.25) if version == 2 else (r["AU15"] == 0)  # v2: worried brows
            anguished += r["AU15"] > 0
    assert 0 < anguished < 40  # some anguished open frowns, in version 2 only


def test_anguished_fear_may_go_without_cue():
    plans = [emoji_plan("fear", np.random.default_rng([3, k]), anguished=True) for k in range(100)]
    bare = sum(not (FEAR_CUES & set(p)) for p in plans)
    assert 20 < bare < 80


def test_frames_are_deterministic_and_icon_faces():
    styles = emoji_characters(3, 5)
    assert [s.name for s in styles] == ["emoji_5_0", "emoji_5_1", "emoji_5_2"]
    assert all(s.art_style == "icon" and s.hair_style == "none" for s in styles)
    a, lm_a, _ = render_emoji_frame(styles[1], "fear", 2, 0, 64)
    b, lm_b, _ = render_emoji_frame(styles[1], "fear", 2, 0, 64)
    assert np.array_equal(np.asarray(a), np.asarray(b)) and np.array_equal(lm_a, lm_b)
    c, _, _ = render_emoji_frame(styles[1], "fear", 3, 0, 64)
    assert not np.array_equal(np.asarray(a), np.asarray(c))
    with pytest.raises(InputError):
        emoji_characters(0)
    with pytest.raises(InputError):
        render_emoji_frame(styles[0], "fear", 1, 0, 64, version=9)
    v1, _, _ = render_emoji_frame(styles[1], "fear", 2, 0, 64, version=1)
    assert not np.array_equal(np.asarray(a), np.asarray(v1))  # the versions differ


def test_new_decorations_draw_where_they_belong():
    style = emoji_characters(1, 2)[0]
    r = check_rig(sample_poses(style, "surprise", 1, 0)[0])
    plain = np.asarray(render_wide(style, r, 96, 2, plan={})[0], dtype=float)
    hands = np.asarray(render_wide(style, r, 96, 2, plan={"hands": {"size": 1.0, "x": 0.8, "y": 0.5}})[0], float)
    diff = np.abs(hands - plain).sum(2) > 30
    rows, cols = np.nonzero(diff)
    assert diff.sum() > 100 and rows.mean() > 40  # the lower half, at both sides
    assert (cols < 40).any() and (cols > 56).any()
    band = {"tint": {"color": (90, 140, 235), "whole": False, "band": 0.0, "edge": 0.0, "strength": 0.9}}
    tinted = np.asarray(render_wide(style, r, 96, 2, plan=band)[0], float)
    top, bottom = tinted[20:30, 40:56], tinted[75:80, 40:56]
    assert (top[..., 2] - top[..., 0]).mean() > 40  # the forehead turns blue
    assert np.abs(bottom - plain[75:80, 40:56]).mean() < 1  # the chin does not
    tongue = np.asarray(render_wide(style, r, 96, 2, plan={"tongue": {"length": 0.2}})[0], float)
    assert (np.abs(tongue - plain).sum(2) > 30).sum() > 20


def test_ordinary_frames_never_get_emoji_only_decorations():
    """Wide characters' own plans never name the new decorations: their renders are unchanged."""
    styles = [dataclasses.replace(s, decorations=1.0) for s in random_characters(6, 4, space="wide")]
    for s in styles:
        for e in ("fear", "disgust", "surprise"):
            for p in sample_poses(s, e, 10, 0):
                plan = decorations.plan_decorations(s, check_rig(p), decorations.frame_rng(s, check_rig(p)))
                assert not {"hands", "tongue"} & set(plan)
                assert "band" not in plan.get("tint", {})


def test_cli_writes_resumes_and_refuses(tmp_path, capsys):
    out = tmp_path / "emo"
    args = ["data", "emoji-faces", "--out", str(out), "--characters", "2", "--per-expression", "2",
            "--size", "48", "--sheet", str(tmp_path / "sheet.png")]
    assert main(args) == 0
    assert len(list(out.glob("*/*/*.png"))) == 2 * 7 * 2
    m = json.loads((out / "manifest.json").read_text())
    assert m["complete"] and m["settings"]["family"] == "emoji" and m["settings"]["emoji_version"] == 2
    ds = FergDataset(out)
    assert sorted(set(ds.characters)) == ["emoji_0_0", "emoji_0_1"] and len(ds) == 28
    assert (tmp_path / "sheet.png").stat().st_size > 0 and emoji_sheet(out).size[1] == 7 * 96
    first = (out / "emoji_0_0/emoji_0_0_fear/emoji_0_0_fear_1.png").read_bytes()
    assert main(args) == 0  # resumes: same frames
    assert (out / "emoji_0_0/emoji_0_0_fear/emoji_0_0_fear_1.png").read_bytes() == first
    capsys.readouterr()
    assert main(args[:-4] + ["--size", "64"]) != 0  # other settings: refused, one line
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "different data set" in err[0]
