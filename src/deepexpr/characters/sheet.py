"""Contact sheet: characters x the seven expressions, labelled."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

from deepexpr.characters.render import render_face_pil
from deepexpr.characters.rig import key_poses
from deepexpr.expressions import EXPRESSIONS


def _font(px: int):
    try:
        return ImageFont.load_default(size=px)
    except TypeError:  # Pillow < 10.1 has one bitmap size
        return ImageFont.load_default()


def contact_sheet(styles, size: int = 128, poses: int = 1, landmarks: bool = False) -> Image.Image:
    """A labelled grid: one row per character, one column per expression (FERG order).

    Each cell shows the character's first key pose of the expression (the frontal apex of
    the EMFACS prototype); `poses` > 1 adds further key poses as extra rows per character,
    which shows the variation between frames.

    Args:
        styles: CharacterStyle objects (or one).
        size: cell size in pixels.
        poses: key poses shown per character (rows per character).
        landmarks: overlay the 49 landmarks (to check them by eye).

    Returns:
        an RGB PIL image.
    """
    if not isinstance(styles, (list, tuple)):
        styles = [styles]
    font = _font(max(10, size // 9))
    longest = max(len(s.name) for s in styles)
    label_w = max(70, size * 2 // 3, int(font.getlength("m" * longest)) + 12)
    head_h = max(18, size // 7)
    rows = [(s, k) for s in styles for k in range(poses)]
    sheet = Image.new("RGB", (label_w + size * len(EXPRESSIONS), head_h + size * len(rows)), "white")
    draw = ImageDraw.Draw(sheet)
    for j, expr in enumerate(EXPRESSIONS):
        draw.text((label_w + j * size + size // 2, head_h // 2), expr, fill="black", font=font,
                  anchor="mm")
    for i, (style, k) in enumerate(rows):
        y = head_h + i * size
        if k == 0:
            draw.text((6, y + size // 2), style.name, fill="black", font=font, anchor="lm")
        for j, expr in enumerate(EXPRESSIONS):
            img, lm = render_face_pil(style, key_poses(style, expr)[k], size)
            if landmarks:
                d = ImageDraw.Draw(img)
                for x, yy in lm:
                    d.point((float(x), float(yy)), fill=(255, 0, 0))
            sheet.paste(img, (label_w + j * size, y))
    return sheet
