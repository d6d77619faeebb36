"""The renderer's fast paths give exactly what the plain versions give: core-object
drawing vs ImageDraw, all eye discs at once vs one by one, the lid test vs np.interp,
caches vs style edits, the PNG writer vs PIL."""

import dataclasses
import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from deepexpr.characters import get_character, key_poses, render_face
from deepexpr.characters.export import encode_png
from deepexpr.characters.features import _discs_in
from deepexpr.characters.geometry import _disc_in, _inside
from deepexpr.characters.painter import _Painter


def _painter(size=64):
    return _Painter(get_character("pip"), key_poses(get_character("pip"), "joy")[0], size, 2)


def test_painter_primitives_draw_what_imagedraw_draws():
    rng = np.random.default_rng(0)
    p = _painter()
    ref = p.img.copy()
    draw = ImageDraw.Draw(ref)
    for k in range(40):
        pts = rng.uniform(5, 120, (int(rng.integers(3, 9)), 2))
        col, edge = tuple(int(c) for c in rng.integers(0, 256, 3)), (20, 30, 40)
        width = int(rng.integers(0, 12))
        if k % 4 == 0:
            p.poly(pts, fill=col, outline=edge, width=width)
            if width > 0:
                draw.polygon(pts.ravel().tolist(), fill=col, outline=edge, width=width)
            else:
                draw.polygon(pts.ravel().tolist(), fill=col)
        elif k % 4 == 1:  # widths > 4 and > 8 exercise the curve joints
            p.line(pts, col, max(width, 1))
            draw.line(pts.ravel().tolist(), fill=col, width=max(width, 1), joint="curve")
            if max(width, 1) >= 4:  # the painter's round caps
                for x, y in (pts[0], pts[-1]):
                    r = max(width, 1) / 2.0
                    draw.ellipse([x - r, y - r, x + r, y + r], fill=col)
        elif k % 4 == 2:
            p.closed_line(pts, col, max(width, 1))
            closed = np.concatenate([pts, pts[:1]])
            draw.line(closed.ravel().tolist(), fill=col, width=max(width, 1), joint="curve")
        else:
            rad = float(rng.uniform(1, 9))
            c = pts[0]
            p.dot(c, rad, col, edge, width)
            box = [c[0] - rad, c[1] - rad, c[0] + rad, c[1] + rad]
            if width > 0:
                draw.ellipse(box, fill=col, outline=edge, width=width)
            else:
                draw.ellipse(box, fill=col)
    assert np.array_equal(np.asarray(p.img), np.asarray(ref))


def test_discs_in_equals_disc_in_one_by_one():
    rng = np.random.default_rng(1)
    u = np.linspace(-1, 1, 13)
    for _ in range(30):
        ex = 0.3 + 0.2 * u
        eu = -0.08 * (1 - u * u) ** 0.6 + rng.normal(0, 0.005, 13)
        el = 0.07 * (1 - u * u) ** 0.5
        discs = []
        for _ in range(int(rng.integers(1, 5))):
            cx, cy = 0.3 + rng.normal(0, 0.12), rng.normal(0, 0.05)
            rx = float(rng.uniform(0.01, 0.15))
            curves = (np.maximum(eu, -9), np.minimum(el, cy)) if rng.uniform() < 0.3 else None
            discs.append((cx, cy, rx, rx * 1.1, (0, 0, 0), None, curves))
        outlines, spans = _discs_in(discs, ex, eu, el)
        n = 30
        for i, d in enumerate(discs):
            one = _disc_in(d[0], d[1], d[2], d[3], ex[0], ex[-1], ex, *(d[6] or (eu, el)))
            if spans[i] is None:
                assert one is None
                continue
            a, b = spans[i]
            o = i * n
            got = np.concatenate([outlines[o + a:o + b], outlines[o + n - b:o + n - a]])
            assert np.array_equal(got, one)


def test_inside_agrees_with_np_interp():
    rng = np.random.default_rng(2)
    ex = np.linspace(-0.2, 0.2, 13) + 0.4
    eu, el = -0.06 * np.cos(np.linspace(-1.4, 1.4, 13)), 0.05 * np.cos(np.linspace(-1.4, 1.4, 13))
    seen = set()
    for _ in range(400):
        cx, cy, rad = 0.4 + rng.normal(0, 0.1), rng.normal(0, 0.03), float(rng.uniform(0.005, 0.06))
        xs = np.array([cx - rad, cx, cx + rad])
        want = (not (cx - rad <= ex[0] or cx + rad >= ex[-1])
                and bool((np.interp(xs, ex, eu) < cy - rad).all())
                and bool((np.interp(xs, ex, el) > cy + rad).all()))
        assert _inside(cx, cy, rad, ex.tolist(), eu.tolist(), el.tolist()) == want
        seen.add(want)
    assert seen == {True, False}


def test_cached_shapes_follow_style_edits():
    style = get_character("barney")
    rig = key_poses(style, "joy")[1]
    first, _ = render_face(style, rig, 64)
    edited = dataclasses.replace(style, hair_color="#20c040", ear_style="elf", skin="#a0c0ff")
    changed, _ = render_face(edited, rig, 64)
    assert not np.array_equal(first, changed)
    again, _ = render_face(style, rig, 64)
    assert np.array_equal(first, again)
    style2 = dataclasses.replace(style)
    style2.ear_style = "none"  # edited in place after an earlier render of an equal look
    assert not np.array_equal(render_face(style2, rig, 64)[0], first)


@pytest.mark.parametrize("level", [0, 1, 6])
def test_png_writer_round_trips(level):
    img, _ = render_face(get_character("tabby"), key_poses(get_character("tabby"), "fear")[0], 48)
    data = encode_png(img, level)
    back = Image.open(io.BytesIO(data))
    assert back.mode == "RGB" and np.array_equal(np.asarray(back), img)
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and data.endswith(b"IEND\xaeB`\x82")
    with pytest.raises(ValueError, match="RGB"):
        encode_png(np.zeros((4, 4), np.uint8))


def test_core_probe_accepts_the_installed_pillow():
    # If this fails, Pillow changed its private drawing API: frames stay right (the public
    # fallback below), but rendering is slower; adapt painter.py or pin Pillow lower.
    from deepexpr.characters import painter

    assert painter.PIL_CORE


def test_public_imagedraw_fallback_draws_the_same_frames(monkeypatch):
    from deepexpr.characters import painter, random_characters

    styles = [get_character(n) for n in ("pip", "zorp", "rosa")] + random_characters(2, seed=4)
    frames = {}
    for fast in (True, False):
        monkeypatch.setattr(painter, "PIL_CORE", fast)
        painter._BODY_CACHE.clear()  # the cached body canvas was drawn by one of the paths
        frames[fast] = [render_face(s, key_poses(s, e)[0], 96)[0]
                        for s in styles for e in ("joy", "surprise", "anger")]
    assert all(np.array_equal(a, b) for a, b in zip(frames[True], frames[False], strict=True))
