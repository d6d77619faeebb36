"""Contact sheets of retrieval results: a PNG (PIL) and a self-contained HTML page.

Per query, one band: on the left the face the model saw with its 49 landmarks and the
seven class probabilities as bars; on the right one row per character with its top
matches (thumbnail, label, JS distance, geometric distance). Matches whose label differs
from the query's perceived one are framed in grey, matching ones in green.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from deepexpr.errors import InputError
from deepexpr.expressions import EXPRESSIONS
from deepexpr.io import atomic_path, write_text
from deepexpr.sheet import Grid, draw_row_labels, font, paste_centred, stack_vertically

QUERY_SIZE = 200  # query face side (px)
THUMB = 96  # match thumbnail side (px)
PAD = 8
BAR_COLORS = {"anger": (205, 50, 50), "disgust": (90, 150, 50), "fear": (130, 70, 170), "joy": (235, 175, 30),
              "neutral": (140, 140, 140), "sadness": (60, 100, 200), "surprise": (230, 110, 190)}


def _thumb(path_or_image, size: int):
    from PIL import Image

    try:
        im = Image.fromarray(path_or_image) if isinstance(path_or_image, np.ndarray) else Image.open(path_or_image)
        im = im.convert("RGB")
    except Exception:  # noqa: BLE001 — a missing thumbnail must not stop the sheet
        im = Image.new("RGB", (size, size), (230, 230, 230))
    scale = size / max(im.size)
    return im.resize((max(1, round(im.size[0] * scale)), max(1, round(im.size[1] * scale))), Image.BILINEAR), scale


def draw_query(query, size: int = QUERY_SIZE):
    """The query face with its landmarks drawn (PIL image, size×size)."""
    from PIL import Image, ImageDraw

    from deepexpr.landmarks import DRAW_PATHS

    canvas = Image.new("RGB", (size, size), (255, 255, 255))
    if query.image is None:
        return canvas
    im, scale = _thumb(np.asarray(query.image), size)
    paste_centred(canvas, im, 0, 0, size, size)
    if query.landmarks is not None:
        off = np.array([(size - im.size[0]) / 2, (size - im.size[1]) / 2])
        pts = np.asarray(query.landmarks) * scale + off
        draw = ImageDraw.Draw(canvas)
        for idx, closed in DRAW_PATHS:
            line = [tuple(map(float, pts[i])) for i in idx + (idx[:1] if closed else [])]
            draw.line(line, fill=(0, 220, 120), width=1)
        for x, y in pts:
            draw.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=(255, 60, 60))
    return canvas


def _draw_bars(draw, probs, x: int, y: int, width: int, text_font) -> int:
    for name, p in zip(EXPRESSIONS, probs):
        draw.text((x, y), f"{name}", fill=(30, 30, 30), font=text_font)
        bx = x + 62
        draw.rectangle([bx, y + 2, bx + width - 100, y + 12], outline=(200, 200, 200))
        draw.rectangle([bx, y + 2, bx + int((width - 100) * float(p)), y + 12], fill=BAR_COLORS[name])
        draw.text((bx + width - 96, y), f"{float(p):.2f}", fill=(30, 30, 30), font=text_font)
        y += 16
    return y


def render_band(result, top: int):
    """One query's band (PIL image)."""
    from PIL import Image, ImageDraw

    rows = result.by_character or {"all": result.matches}
    big, small = font(13), font(11)
    left = QUERY_SIZE + 2 * PAD
    row_h = THUMB + 34
    grid = Grid(left=left + 90, top=28, cell_w=THUMB, cell_h=THUMB, gap_x=PAD, gap_y=row_h - THUMB)
    width = left + 90 + top * (THUMB + PAD) + PAD
    height = max(QUERY_SIZE + 7 * 16 + 48, 28 + len(rows) * row_h) + PAD
    band = Image.new("RGB", (width, height), (250, 250, 250))
    draw = ImageDraw.Draw(band)
    q = result.query
    title = f"{Path(q.source).name or 'query'}  face {q.face + 1}  perceived: {EXPRESSIONS[int(np.argmax(q.probs))]}"
    draw.text((PAD, 6), title, fill=(0, 0, 0), font=big)
    band.paste(draw_query(q), (PAD, 26))
    _draw_bars(draw, q.probs, PAD, 32 + QUERY_SIZE, QUERY_SIZE, small)
    draw_row_labels(draw, grid, [char or "-" for char in rows], left, big, fill=(0, 0, 0), anchor="la",
                    dy=-6)
    for r, matches in enumerate(rows.values()):
        for k, m in enumerate(matches[:top]):
            x, y = grid.cell(r, k)
            paste_centred(band, _thumb(m.path, THUMB)[0], x, y, THUMB, THUMB)
            ok = m.label == result.matched_label
            draw.rectangle([x - 1, y - 1, x + THUMB, y + THUMB], outline=(40, 170, 70) if ok else (170, 170, 170),
                           width=2)
            geo = "-" if m.geometry is None else f"{m.geometry:.2f}"
            draw.text((x, y + THUMB + 2), f"{m.label}", fill=(0, 0, 0), font=small)
            draw.text((x, y + THUMB + 15), f"js {m.js:.3f} g {geo}", fill=(80, 80, 80), font=small)
    return band


def contact_sheet(results: list, top: int = 5):
    """All queries' bands stacked vertically (PIL image)."""

    if not results:
        raise InputError("no query produced results; nothing to draw")
    return stack_vertically([render_band(r, top) for r in results])


def _data_uri(image) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def html_sheet(results: list, top: int = 5) -> str:
    """A self-contained HTML page (images inlined) with the same content as the PNG."""
    parts = ["<!doctype html><meta charset='utf-8'><title>deepexpr retrieval</title>",
             "<style>body{font-family:sans-serif}td{text-align:center;font-size:12px;padding:4px}"
             ".ok img{outline:3px solid #2a4}.no img{outline:3px solid #aaa}</style>"]
    for r in results:
        q = r.query
        bars = "".join(f"<tr><td>{n}</td><td style='text-align:left'><div style='background:rgb{BAR_COLORS[n]};"
                       f"width:{int(150 * float(p))}px;height:10px'></div></td><td>{float(p):.2f}</td></tr>"
                       for n, p in zip(EXPRESSIONS, q.probs))
        parts.append(f"<h2>{html.escape(Path(q.source).name or 'query')} — face {q.face + 1}, perceived "
                     f"{EXPRESSIONS[int(np.argmax(q.probs))]}, matched label {r.matched_label}</h2>")
        parts.append(f"<table><tr><td><img src='{_data_uri(draw_query(q))}'></td><td><table>{bars}</table></td></tr></table>")
        parts.append("<table>")
        for char, matches in (r.by_character or {"all": r.matches}).items():
            cells = []
            for m in matches[:top]:
                im, _ = _thumb(m.path, THUMB)
                geo = "-" if m.geometry is None else f"{m.geometry:.2f}"
                cls = "ok" if m.label == r.matched_label else "no"
                cells.append(f"<td class='{cls}'><img src='{_data_uri(im)}' title='{html.escape(m.path)}'><br>"
                             f"{m.label}<br>js {m.js:.3f} g {geo}</td>")
            parts.append(f"<tr><th>{html.escape(char)}</th>{''.join(cells)}</tr>")
        parts.append("</table>")
    return "\n".join(parts) + "\n"


def write_sheet(results: list, out: str | Path, top: int = 5) -> Path:
    """Write a PNG (or .html when `out` ends with .html/.htm), atomically."""
    out = Path(out)
    if out.suffix.lower() in (".html", ".htm"):
        write_text(out, html_sheet(results, top))
    else:
        sheet = contact_sheet(results, top)
        with atomic_path(out) as tmp:
            sheet.save(tmp, format="PNG" if out.suffix.lower() != ".jpg" else "JPEG")
    return out
