"""Contact sheet: characters x the seven expressions, labelled."""

from __future__ import annotations

from PIL import Image, ImageDraw

from deepexpr.characters.render import render_face_pil
from deepexpr.characters.rig import key_poses
from deepexpr.expressions import EXPRESSIONS
from deepexpr.sheet import Grid, draw_column_labels, draw_row_labels, font


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
    label_font = font(max(10, size // 9))
    longest = max(len(s.name) for s in styles)
    label_w = max(70, size * 2 // 3, int(label_font.getlength("m" * longest)) + 12)
    grid = Grid(left=label_w, top=max(18, size // 7), cell_w=size, cell_h=size)
    rows = [(s, k) for s in styles for k in range(poses)]
    sheet = grid.canvas(len(rows), len(EXPRESSIONS))
    draw = ImageDraw.Draw(sheet)
    draw_column_labels(draw, grid, EXPRESSIONS, label_font)
    draw_row_labels(draw, grid, [style.name if k == 0 else None for style, k in rows], 6, label_font)
    for i, (style, k) in enumerate(rows):
        for j, expr in enumerate(EXPRESSIONS):
            img, lm = render_face_pil(style, key_poses(style, expr)[k], size)
            if landmarks:
                d = ImageDraw.Draw(img)
                for x, y in lm:
                    d.point((float(x), float(y)), fill=(255, 0, 0))
            sheet.paste(img, grid.cell(i, j))
    return sheet
