"""A real-art validation set: emoji faces of public icon packages, labelled by Unicode name.

Never trained on. The faces come from npm packages other than the reserved vendors'
sets (see the project's design notes), installed at pinned versions into the project's
cache (`<cache>/realart_npm`), never into the repository:

| set | npm package | art | licence |
|---|---|---|---|
| emojione | @iconify-json/emojione 1.2.3 | EmojiOne 2 (colour SVG) | CC BY 4.0 |
| emojione-v1 | @iconify-json/emojione-v1 1.2.3 | EmojiOne 1 (colour SVG) | CC BY-SA 4.0 |
| emojione-mono | @iconify-json/emojione-monotone 1.2.1 | EmojiOne line art (black SVG) | CC BY 4.0 |
| fxemoji | @iconify-json/fxemoji 1.2.2 | Firefox OS emoji (SVG) | Apache 2.0 |
| streamline | @iconify-json/streamline-emojis 1.2.4 | Streamline emojis (SVG) | CC BY 4.0 |
| emojione3 | emoji-datasource-emojione 4.0.4 | EmojiOne 3 (64 px PNG) | see its LICENSE |

The label list (`realart_labels.csv`: codepoint, CLDR name, Unicode name, label, and
the Firefox OS set's own icon name) names
32 faces whose Unicode name states one of the seven classes; faces that mix classes
(grimacing, flushed, heart eyes, rolling eyes...) are left out. The set is written in
the FERG-DB layout, one "character" per icon set:
`DIR/<set>/<set>_<expr>/<set>_<expr>_<N>.png`, plus `DIR/labels.csv` (path, set,
codepoint, name, label) and `DIR/manifest.json`.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from deepexpr.errors import InputError

LABELS_CSV = Path(__file__).with_name("realart_labels.csv")
ICONIFY_SETS = {"emojione": "emojione", "emojione-v1": "emojione-v1",
                "emojione-mono": "emojione-monotone", "fxemoji": "fxemoji",
                "streamline": "streamline-emojis"}
PACKAGES = {"@iconify-json/emojione": "1.2.3", "@iconify-json/emojione-v1": "1.2.3",
            "@iconify-json/emojione-monotone": "1.2.1", "@iconify-json/fxemoji": "1.2.2",
            "@iconify-json/streamline-emojis": "1.2.4", "emoji-datasource-emojione": "4.0.4"}


def read_labels(path: Path = LABELS_CSV) -> list[dict]:
    """The committed label list: dicts with codepoint, name, unicode_name, label."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _kebab(name: str) -> str:
    return name.lower().replace(" ", "-").replace("_", "-")


def iconify_names(row: dict, set_name: str) -> list[str]:
    """Icon names a face has in an Iconify set: the CLDR name in kebab case and its
    numbered variants; the Firefox OS set uses its own names (column fxemoji_name, matched
    by eye)."""
    if set_name == "fxemoji":
        return [row["fxemoji_name"]] if row.get("fxemoji_name") else []
    base = _kebab(row["name"])
    return [base, f"{base}-1", f"{base}-2"]


def iconify_svg(icons: dict, name: str) -> str | None:
    """An Iconify icon as a standalone SVG string (None if the set lacks it)."""
    icon = icons["icons"].get(name)
    if icon is None:
        alias = icons.get("aliases", {}).get(name)
        if alias is None:
            return None
        icon = icons["icons"].get(alias["parent"])
        if icon is None:
            return None
    left, top = icon.get("left", icons.get("left", 0)), icon.get("top", icons.get("top", 0))
    w, h = icon.get("width", icons.get("width", 16)), icon.get("height", icons.get("height", 16))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f'viewBox="{left} {top} {w} {h}">{icon["body"]}</svg>')


def _faces(modules: Path, labels: list[dict]):
    """(set, row, kind, data) for every labelled face found: kind "svg" (string) or "png" (path)."""
    for set_name, pkg in ICONIFY_SETS.items():
        icons = json.loads((modules / "@iconify-json" / pkg / "icons.json").read_text())
        for row in labels:
            variants = [s for s in (iconify_svg(icons, n) for n in iconify_names(row, set_name)) if s]
            for svg in dict.fromkeys(variants):  # numbered variants are distinct drawings
                yield set_name, row, "svg", svg
    png_dir = modules / "emoji-datasource-emojione" / "img" / "emojione" / "64"
    for row in labels:
        for name in (f"{row['codepoint'].lower()}.png", f"{row['codepoint'].lower()}-fe0f.png"):
            if (png_dir / name).is_file():
                yield "emojione3", row, "png", png_dir / name
                break


def _to_rgb(kind: str, data, size: int) -> np.ndarray:
    from PIL import Image

    if kind == "svg":
        from deepexpr.data.avatars import svg_to_rgb

        return svg_to_rgb(data, size)
    img = Image.open(data).convert("RGBA")
    flat = Image.new("RGBA", img.size, (255, 255, 255, 255))
    flat.alpha_composite(img)
    return np.asarray(flat.convert("RGB").resize((size, size), Image.BICUBIC), dtype=np.uint8)


def build_realart(out_dir, size: int = 128, modules: Path | None = None, warn=print) -> dict:
    """Install the packages (if needed) and write the validation set (module docstring).

    Returns:
        The manifest dict (also `out_dir/manifest.json`).
    """
    from deepexpr.data.avatars import ensure_node_packages
    from deepexpr.io import cache_dir, save_image, versions, write_json, write_text

    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not (out / "manifest.json").exists():
        raise InputError(f"{out}: folder is not empty and has no manifest.json; use a new --out")
    if modules is None:
        modules = ensure_node_packages(cache_dir() / "realart_npm", PACKAGES)
    labels = read_labels()
    counts: dict = {}
    lines = ["path,set,codepoint,name,label"]
    for set_name, row, kind, data in _faces(Path(modules), labels):
        expr = row["label"]
        n = counts.setdefault(set_name, {}).get(expr, 0) + 1
        rel = f"{set_name}/{set_name}_{expr}/{set_name}_{expr}_{n}.png"
        try:
            save_image(out / rel, _to_rgb(kind, data, size))
        except (ValueError, OSError) as err:
            warn(f"deepexpr: {set_name} {row['codepoint']} ({row['name']}): cannot render ({err}); skipped")
            continue
        counts[set_name][expr] = n
        lines.append(f"{rel},{set_name},{row['codepoint']},{row['name']},{expr}")
    write_text(out / "labels.csv", "\n".join(lines) + "\n")
    manifest = {"size": size, "packages": PACKAGES, "label_list": LABELS_CSV.name,
                "counts": counts, "total": len(lines) - 1, "versions": versions(),
                "note": "validation only: never train or tune on this set"}
    write_json(out / "manifest.json", manifest)
    return manifest
