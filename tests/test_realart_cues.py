"""Renderer v7's colour cues of expression (issue 12, session 5) and the "stylecue"
augmentation that keeps them."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import torch

from deepexpr.characters import decorations, random_characters, render_face, sample_poses
from deepexpr.characters.export import RENDERER_VERSION
from deepexpr.characters.rig import check_rig
from deepexpr.train.augment import augment_batch


def _plans(expr: str, n_chars: int = 8, n_poses: int = 15) -> list[dict]:
    styles = [dataclasses.replace(s, decorations=1.0) for s in random_characters(n_chars, 3, space="wide")]
    return [decorations.plan_decorations(s, check_rig(p), decorations.frame_rng(s, check_rig(p)))
            for s in styles for p in sample_poses(s, expr, n_poses, 0)]


def _hue(rgb) -> str:
    r, g, b = rgb
    return "green" if g > r and g > b else "blue" if b > r and b >= g else "red/yellow"


def test_fear_and_disgust_tints_are_frequent_and_class_consistent():
    assert RENDERER_VERSION >= 7
    fear, disgust, joy = _plans("fear"), _plans("disgust"), _plans("joy")
    fear_tints = [p["tint"]["color"] for p in fear if "tint" in p]
    disgust_tints = [p["tint"]["color"] for p in disgust if "tint" in p]
    assert len(fear_tints) > 0.3 * len(fear) and len(disgust_tints) > 0.3 * len(disgust)
    assert {_hue(c) for c in fear_tints} == {"blue"}  # blue or pale blue, never green
    assert {_hue(c) for c in disgust_tints} == {"green"}
    assert len({tuple(c) for c in fear_tints}) > 1  # a few shades, not one colour
    assert not any("vomit" in p for p in joy + fear)
    assert any("vomit" in p for p in disgust)
    assert not any("tint" in p and _hue(p["tint"]["color"]) == "green" for p in joy + fear)


def test_icon_faces_are_never_green_or_blue_and_render_deterministically():
    icons = [s for s in random_characters(60, 1, space="wide") if s.art_style == "icon"]
    assert icons
    for s in icons:
        assert _hue(tuple(int(s.skin[k:k + 2], 16) for k in (1, 3, 5))) == "red/yellow", s.skin
    style = icons[0]
    rig = sample_poses(style, "disgust", 1, 4)[0]
    a, lm_a = render_face(style, rig, 64)
    b, lm_b = render_face(style, rig, 64)
    assert hashlib.sha1(a.tobytes()).digest() == hashlib.sha1(b.tobytes()).digest()
    assert np.array_equal(lm_a, lm_b)


def test_stylecue_turns_hue_less_than_style():
    """A pure green batch: "style" turns some images far from green, "stylecue" keeps every
    image's hue within 30 degrees (greyscale aside)."""
    x = torch.zeros(64, 3, 16, 16, dtype=torch.uint8)
    x[:, 1] = 200
    x[:, 0] = 60
    x[:, 2] = 60

    def worst_turn(mode: str) -> float:
        out = augment_batch(x, mode, torch.Generator().manual_seed(0)).mean(dim=(2, 3))
        yiq = torch.tensor([[0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
        iq, ref = out @ yiq.T, x[:1].float().mean(dim=(2, 3)) @ yiq.T
        colourful = iq.norm(dim=1) > 0.3 * ref.norm()
        angle = torch.atan2(iq[:, 1], iq[:, 0]) - torch.atan2(ref[0, 1], ref[0, 0])
        angle = torch.remainder(angle + torch.pi, 2 * torch.pi) - torch.pi
        return float(angle[colourful].abs().max())

    assert worst_turn("stylecue") < np.radians(35)
    assert worst_turn("style") > np.radians(60)


def test_wide_faces_are_never_green_or_blue_by_themselves():
    """Classic random characters may be green creatures; their wide versions are not."""
    classic = random_characters(80, 4)
    assert any(_hue(tuple(int(s.skin[k:k + 2], 16) for k in (1, 3, 5))) != "red/yellow" for s in classic)
    for s in random_characters(80, 4, space="wide"):
        if s.art_style not in ("lineart", "manga"):  # paper-white skins
            r, g, b = (int(s.skin[k:k + 2], 16) for k in (1, 3, 5))
            assert g <= r + 10 and b <= r + 10, (s.name, s.skin)
