"""Contact sheets: the grid and label drawing shared by every sheet the package draws.

The character sheet (`deepexpr.characters.contact_sheet`: characters x expressions) and the
retrieval sheet (`deepexpr.retrieval.sheet`: one band per query, one row of matches per
character) lay out their cells with a `Grid` and label rows and columns with the helpers
here; each keeps its own layout.

    >>> grid = Grid(left=80, top=20, cell_w=64, cell_h=64)
    >>> sheet = grid.canvas(rows=2, cols=7)
    >>> draw_column_labels(ImageDraw.Draw(sheet), grid, EXPRESSIONS, font(12))
"""

from __future__ import annotations

from dataclasses import dataclass


def font(px: int):
    """PIL's default font at `px` pixels (one bitmap size on Pillow < 10.1)."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=px)
    except TypeError:  # Pillow < 10.1 has one bitmap size
        return ImageFont.load_default()


@dataclass(frozen=True)
class Grid:
    """Cell positions of a regular grid: cell (row, col) starts at
    (left + col * (cell_w + gap_x), top + row * (cell_h + gap_y))."""

    left: int  # x of the first column (room for row labels on its left)
    top: int  # y of the first row (room for column labels above it)
    cell_w: int
    cell_h: int
    gap_x: int = 0
    gap_y: int = 0

    def cell(self, row: int, col: int) -> tuple[int, int]:
        """Top-left pixel of a cell."""
        return self.left + col * (self.cell_w + self.gap_x), self.top + row * (self.cell_h + self.gap_y)

    def canvas(self, rows: int, cols: int, background="white"):
        """A blank RGB image just large enough for `rows` x `cols` cells."""
        from PIL import Image

        width = self.left + cols * self.cell_w + max(cols - 1, 0) * self.gap_x
        height = self.top + rows * self.cell_h + max(rows - 1, 0) * self.gap_y
        return Image.new("RGB", (width, height), background)


def draw_column_labels(draw, grid: Grid, labels, font, fill="black") -> None:
    """Each label centred above its column, in the band between y = 0 and `grid.top`."""
    for col, text in enumerate(labels):
        x, _ = grid.cell(0, col)
        draw.text((x + grid.cell_w // 2, grid.top // 2), text, fill=fill, font=font, anchor="mm")


def draw_row_labels(draw, grid: Grid, labels, x: int, font, fill="black", anchor: str = "lm",
                    dy: int = 0) -> None:
    """Each label at `x`, beside its row (at the row's middle + `dy`); None labels are skipped."""
    for row, text in enumerate(labels):
        if text is not None:
            _, y = grid.cell(row, 0)
            draw.text((x, y + grid.cell_h // 2 + dy), text, fill=fill, font=font, anchor=anchor)


def paste_centred(canvas, image, x: int, y: int, width: int, height: int) -> None:
    """Paste `image` centred in the box (x, y, width, height) of `canvas`."""
    canvas.paste(image, (x + (width - image.size[0]) // 2, y + (height - image.size[1]) // 2))


def stack_vertically(images, background=(255, 255, 255)):
    """Images one below the other, left-aligned, on a canvas as wide as the widest."""
    from PIL import Image

    sheet = Image.new("RGB", (max(im.size[0] for im in images), sum(im.size[1] for im in images)),
                      background)
    y = 0
    for im in images:
        sheet.paste(im, (0, y))
        y += im.size[1]
    return sheet
