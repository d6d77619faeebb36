"""Face icons of public icon sets, rendered as emoji-like training art.

    DIR/<group>/<group>_<expr>/<group>_<expr>_<N>.png    N = 1, 2, ... (FERG-DB layout)
    DIR/labels.csv      path, set, icon, label, cue (which icon each image drew)
    DIR/manifest.json   settings, package versions, each set's licence and author, counts

The icons come from monochrome and two-tone UI icon sets on npm (`@iconify-json/<set>`,
an allow-list below, installed at pinned versions into `<cache>/icons_npm`, never into
the repository). Which icon shows which class is the committed table
`icon_labels.csv` (`deepexpr.data.icon_labels`). Icons are few per set, so each is
drawn many times (`deepexpr.data.icons_draw`: fills, emoji colour conventions, sweat
drops, line width, framing, backgrounds).

Never used: the reserved emoji sets (see the project's design notes) and any UI icon
set of the same vendors, nor the sources of the real-art validation set or their
successors (`deepexpr.data.realart`). The sets are split into three *groups* by design
family (Font Awesome and its derivatives in one, the IconPark variants in one...): a
group is one source for leave-one-source-out, so a held-out group's designs are unseen.
"""

from __future__ import annotations

import csv
import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from deepexpr.data.icon_labels import LABELS_CSV, read_icon_labels
from deepexpr.errors import InputError
from deepexpr.expressions import EXPRESSIONS

# Share-alike and GPL sets (entypo: CC-BY-SA-4.0, icomoon-free: GPL-3.0) are left out: the
# bundled MIT weights are trained on these renders.
GROUPS = {
    "icons-a": ("fa-regular", "fa-solid", "fa6-regular", "fa6-solid", "fa7-regular", "fa7-solid",
                "la", "akar-icons", "ant-design", "carbon", "cil", "circum", "clarity"),
    "icons-b": ("healthicons", "icon-park-outline", "icon-park-solid", "icon-park-twotone",
                "iconamoon", "hugeicons", "tabler", "eva", "famicons", "fontisto",
                "game-icons"),
    "icons-c": ("ph", "solar", "tdesign", "ri", "mdi", "mingcute", "mynaui", "pixelarticons",
                "line-md", "lucide", "uil", "lets-icons", "teenyicons", "bx", "bxs", "gg",
                "gravity-ui", "ion", "iconoir", "jam", "majesticons", "meteor-icons",
                "pepicons-pencil", "pepicons-pop", "proicons", "stash", "vaadin"),
}
VERSIONS = {"akar-icons": "1.2.7", "ant-design": "1.2.9", "bx": "1.2.3", "bxs": "1.2.3",
            "carbon": "1.2.29", "cil": "1.2.3", "circum": "1.2.2", "clarity": "1.2.4",
            "eva": "1.2.3", "fa-regular": "1.2.2", "fa-solid": "1.2.2",
            "fa6-regular": "1.2.4", "fa6-solid": "1.2.4", "fa7-regular": "1.2.3",
            "fa7-solid": "1.2.5", "famicons": "1.2.2", "fontisto": "1.2.1", "game-icons": "1.2.4",
            "gg": "1.2.2", "gravity-ui": "1.2.15", "healthicons": "1.2.13", "hugeicons": "1.2.35",
            "icon-park-outline": "1.2.4", "icon-park-solid": "1.2.4", "icon-park-twotone": "1.2.4",
            "iconamoon": "1.2.2", "iconoir": "1.2.11", "ion": "1.2.7", "jam": "1.2.3",
            "la": "1.2.1", "lets-icons": "1.2.2", "line-md": "1.2.16", "lucide": "1.2.137",
            "majesticons": "1.2.5", "mdi": "1.2.3", "meteor-icons": "1.2.8", "mingcute": "1.2.8",
            "mynaui": "1.2.19", "pepicons-pencil": "1.2.4", "pepicons-pop": "1.2.4", "ph": "1.2.2",
            "pixelarticons": "1.2.9", "proicons": "1.2.20", "ri": "1.2.10", "solar": "1.2.13",
            "stash": "1.2.4", "tabler": "1.2.41", "tdesign": "1.2.19", "teenyicons": "1.2.2",
            "uil": "1.2.3", "vaadin": "1.2.1"}
PACKAGES = {f"@iconify-json/{s}": v for s, v in VERSIONS.items()}
GENERATOR_VERSION = 2  # bump when the drawing (icons_draw) changes what an image looks like
GENERATORS = (1, 2)  # every generator `build_icons` can still draw
CUE_FEAR_SHARE = 0.5  # of the fear images: surprise icons drawn with the fear cues
CUE_DISGUST_SHARE = 0.25  # of the disgust images: neutral icons with a green face


@dataclass
class IconSettings:
    """What defines an icon data set: the same settings always give the same images."""

    groups: list[str]
    per_expression: int  # images per group and class
    size: int
    seed: int
    packages: dict
    generator: int = GENERATOR_VERSION


def group_of(set_name: str) -> str:
    """The LOSO group (source) of an icon set."""
    for group, sets in GROUPS.items():
        if set_name in sets:
            return group
    raise InputError(f"icon set {set_name!r} is not on the allow-list ({LABELS_CSV.name})")


def load_icons(modules: Path, rows=None) -> dict:
    """{(set, icon): svg string} for every row of the label table found in the packages."""
    from deepexpr.data.realart import iconify_svg

    rows = read_icon_labels() if rows is None else rows
    out, loaded = {}, {}
    for set_name, icon, _ in rows:
        if set_name not in loaded:
            loaded[set_name] = json.loads((modules / "@iconify-json" / set_name / "icons.json").read_text())
        svg = iconify_svg(loaded[set_name], icon)
        if svg is not None:
            out[(set_name, icon)] = svg
    return out


def set_licences(modules: Path, sets) -> dict:
    """Each set's licence, author and version as its package states them."""
    out = {}
    for s in sets:
        folder = modules / "@iconify-json" / s
        info = json.loads((folder / "info.json").read_text()) if (folder / "info.json").exists() else {}
        version = json.loads((folder / "package.json").read_text()).get("version")
        out[s] = {"package": f"@iconify-json/{s}", "version": version, "name": info.get("name"),
                  "licence": (info.get("license") or {}).get("spdx") or (info.get("license") or {}).get("title"),
                  "author": (info.get("author") or {}).get("name")}
    return out


def plan(rows, group: str, per_expression: int, seed: int) -> list[tuple[str, int, tuple, bool]]:
    """(class, N, (set, icon), cue_only) of every image of a group.

    Fear takes `CUE_FEAR_SHARE` of its images from the group's surprise icons drawn with
    the fear cues, disgust `CUE_DISGUST_SHARE` from neutral icons with a green face; a
    class without icons in the group is drawn from those alone (or skipped).
    """
    by_class: dict = {e: [] for e in EXPRESSIONS}
    for set_name, icon, label in rows:
        if group_of(set_name) == group:
            by_class[label].append((set_name, icon))
    donors = {"fear": ("surprise", CUE_FEAR_SHARE), "disgust": ("neutral", CUE_DISGUST_SHARE)}
    todo = []
    for expr in EXPRESSIONS:
        own = by_class[expr]
        donor, share = donors.get(expr, (None, 0.0))
        cue_pool = by_class[donor] if donor else []
        if not own and not cue_pool:
            continue
        rng = random.Random(f"{seed}/{group}/{expr}")
        for n in range(1, per_expression + 1):
            cue = bool(cue_pool) and (not own or rng.random() < share)
            todo.append((expr, n, rng.choice(cue_pool if cue else own), cue))
    return todo


def _check_out(out: Path, settings: dict) -> None:
    manifest = out / "manifest.json"
    if manifest.exists():
        old = json.loads(manifest.read_text()).get("settings")
        if old != settings:
            raise InputError(f"{out}: holds a different icon set (other settings); use a new "
                             "--out or delete it (never mixed)")
    elif out.exists() and any(out.iterdir()):
        raise InputError(f"{out}: folder is not empty and has no manifest.json; use a new --out")


def build_icons(out_dir, groups=None, per_expression: int = 300, size: int = 128, seed: int = 0,
                modules: Path | None = None, show_progress: bool | None = None, warn=print,
                rows=None, generator: int = GENERATOR_VERSION) -> dict:
    """Render the labelled icon data set (module docstring).

    Args:
        out_dir: output folder (new, empty, or an earlier run with the same settings).
        groups: group names (default all of `GROUPS`).
        per_expression: images per group and class.
        size: image side in pixels.
        seed: seeds every choice.
        modules: a `node_modules` folder holding the packages (default: installed into
            `<cache>/icons_npm` with npm).
        warn: called with one line per icon that fails to render.
        rows: (set, icon, class) rows (default the committed table).
        generator: which drawing (`GENERATORS`; 1 remakes the data of the bundled model).

    Returns:
        The manifest dict (also `out_dir/manifest.json`), plus "failed".
    """
    from deepexpr.data.avatars import ensure_node_packages
    from deepexpr.io import cache_dir, versions, write_json, write_text

    groups = list(GROUPS) if groups in (None, "all", ["all"]) else list(groups)
    unknown = [g for g in groups if g not in GROUPS]
    wrong = ([f"unknown groups {', '.join(unknown)} (known: {', '.join(GROUPS)})"] if unknown else []) + \
        ([f"--per-expression {per_expression} (give 1 or more)"] if per_expression < 1 else []) + \
        ([f"--size {size} (give 16 to 1024)"] if not 16 <= size <= 1024 else []) + \
        ([f"--generator {generator} (give one of {', '.join(map(str, GENERATORS))})"]
         if generator not in GENERATORS else [])
    if wrong:  # only what is wrong, in one line
        raise InputError("data icons: " + "; ".join(wrong))
    out = Path(out_dir)
    cfg = IconSettings(groups, per_expression, size, seed, dict(PACKAGES), generator)
    _check_out(out, asdict(cfg))
    if modules is None:
        modules = ensure_node_packages(cache_dir() / "icons_npm", PACKAGES)
    rows = read_icon_labels() if rows is None else rows
    svgs = load_icons(Path(modules), rows)
    rows = [r for r in rows if (r[0], r[1]) in svgs]
    todo = [(g, *item) for g in groups for item in plan(rows, g, per_expression, seed)]
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "manifest.json", {"settings": asdict(cfg), "complete": False})  # resumable
    start = time.time()
    lines, failed = _render(todo, svgs, out, (size, seed, generator), show_progress, warn)
    write_text(out / "labels.csv", "\n".join(lines) + "\n")
    used = sorted({s for s, _, _ in rows if group_of(s) in groups})
    counts = {g: {e: sum(1 for ln in lines[1:] if ln.startswith(f"{g}/{g}_{e}/")) for e in EXPRESSIONS}
              for g in groups}
    manifest = {"settings": asdict(cfg), "versions": versions(), "label_table": LABELS_CSV.name,
                "icons_per_class": {e: sum(1 for r in rows if r[2] == e) for e in EXPRESSIONS},
                "licences": set_licences(Path(modules), used), "counts": counts,
                "total": len(lines) - 1, "complete": not failed,
                "images_per_second": round(len(todo) / max(time.time() - start, 1e-6), 1)}
    write_json(out / "manifest.json", manifest)
    return {**manifest, "failed": failed}


def _render(todo, svgs: dict, out: Path, drawing: tuple, show_progress, warn):
    """Draw every planned image not yet on disk (`drawing` = size, seed, generator).

    Returns (labels.csv lines, failed paths)."""
    from deepexpr.data.avatars import _save_png
    from deepexpr.data.icons_draw import draw_icon
    from deepexpr.progress import progress

    size, seed, generator = drawing
    lines, failed, cache = ["path,set,icon,label,cue"], [], {}
    bar = progress(total=len(todo), desc="icons", unit="img", disable=show_progress is False
                   if show_progress is not None else None)
    for group, expr, n, (set_name, icon), cue in todo:
        rel = f"{group}/{group}_{expr}/{group}_{expr}_{n}.png"
        path = out / rel
        bar.update(1)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                img = draw_icon(svgs[(set_name, icon)], expr, size,
                                random.Random(f"{seed}/{group}/{expr}/{n}"), cue_only=cue, cache=cache,
                                generator=generator)
                _save_png(img, path)
            except (ValueError, OSError) as err:
                failed.append(rel)
                warn(f"deepexpr: {set_name}:{icon} ({rel}): cannot render ({err}); skipped")
                continue
        lines.append(f"{rel},{set_name},{icon},{expr},{int(cue)}")
    bar.close()
    return lines, failed


def review_sheet(modules: Path, label: str, rows=None, cell: int = 48, columns: int = 16):
    """All icons of one class in the table, drawn plainly with their names (for the check
    by eye). Returns (H, W, 3) uint8 RGB."""
    from PIL import Image, ImageDraw

    from deepexpr.data.icons_draw import rasterise_alpha

    rows = [r for r in (read_icon_labels() if rows is None else rows) if r[2] == label]
    svgs = load_icons(Path(modules), rows)
    items = [(f"{s}:{i}", svgs[(s, i)]) for s, i, _ in rows if (s, i) in svgs]
    h = cell + 10
    sheet = Image.new("RGB", (columns * cell * 2, max(1, -(-len(items) // columns)) * h), "white")
    draw = ImageDraw.Draw(sheet)
    for k, (name, svg) in enumerate(items):
        x, y = (k % columns) * cell * 2, (k // columns) * h
        a = rasterise_alpha(svg, cell)
        sheet.paste(Image.fromarray((255 - a * 255).astype(np.uint8)), (x, y))
        draw.text((x, y + cell), name[:24], fill="red")
    return np.asarray(sheet)


def contact_sheet(root, group: str, columns: int = 10, cell: int = 64) -> np.ndarray:
    """One row per class of a group: its first `columns` images. (H, W, 3) uint8 RGB."""
    from deepexpr.data.avatars import contact_sheet as style_sheet

    return style_sheet(root, group, columns, cell, exprs=EXPRESSIONS)


def read_image_labels(root) -> list[dict]:
    """The rows of `DIR/labels.csv` (path, set, icon, label, cue)."""
    with open(Path(root) / "labels.csv", newline="") as f:
        return list(csv.DictReader(f))
