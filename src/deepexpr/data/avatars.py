"""Real artist-drawn avatars from DiceBear, labelled by their expression parts.

    DIR/<style>/<style>_<expr>/<style>_<expr>_<N>.png     N = 1, 2, ... (FERG-DB layout)
    DIR/manifest.json   styles, package versions, each style's licence, label map, counts, seed

DiceBear (npm `@dicebear/core` + `@dicebear/collection`, MIT code; each style's art has
its own licence, recorded in the manifest) draws SVG in Node: one Node process renders a
whole batch (JSON lines in, JSON lines out, `avatars_render.mjs`), `resvg-py` rasterises
(cairosvg renders several styles blank or cropped). The npm packages are installed, at
pinned versions, into the project's cache (`<cache>/node`), never into the repository.

Which part combinations show which class is `deepexpr.data.avatar_labels`. Everything
that is not expression varies per image: DiceBear's seed (hair, skin, clothing, head),
background colour, zoom and a mirror. A re-run with the same settings resumes (existing
images are kept); other settings, or a non-empty folder without a manifest, are refused.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from deepexpr.data.avatar_labels import STYLES, combinations, expressions_of, label_table
from deepexpr.errors import InputError

PACKAGES = {"@dicebear/core": "9.4.3", "@dicebear/collection": "9.4.3"}
SCRIPT = Path(__file__).with_name("avatars_render.mjs")
GENERATOR_VERSION = 1  # bump when the sampling of options changes what an image looks like
BACKGROUNDS = ("ffffff", "f2f2f2", "d1d4f9", "c0aede", "b6e3f4", "ffd5dc", "ffdfbf", "c7f0c2",
               "fff3b0", "3b3b4f", "9ca3af", "fde68a")
NODE_HINT = ("install Node.js 18+ with npm (Debian/Ubuntu: `apt-get install nodejs npm`; "
             "others: https://nodejs.org)")


@dataclass
class AvatarSettings:
    """What defines an avatar data set: the same settings always give the same images."""

    styles: list[str]  # style names (keys of STYLES), in order
    per_expression: int  # images per style and expression
    size: int  # image side in pixels
    seed: int  # seeds every choice
    packages: dict  # npm package -> version
    generator: int = GENERATOR_VERSION


def node_dir() -> Path:
    """Where the npm packages live: `<deepexpr cache>/node` (outside the repository)."""
    from deepexpr.io import cache_dir

    return cache_dir() / "node"


def _installed_version(modules: Path, pkg: str) -> str | None:
    try:
        return json.loads((modules / pkg / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def ensure_node_packages(root: Path | None = None, packages: dict | None = None,
                         quiet: bool = False) -> Path:
    """Install the pinned npm packages into `root` (default `node_dir()`) if missing.

    Returns:
        The `node_modules` folder.

    Raises:
        InputError: node or npm missing (the message says how to get them), or npm failed.
    """
    packages = packages or PACKAGES
    root = Path(root) if root else node_dir()
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise InputError(f"{tool}: not found; `deepexpr data avatars` needs it: {NODE_HINT}")
    modules = root / "node_modules"
    if all(_installed_version(modules, p) == v for p, v in packages.items()):
        return modules
    root.mkdir(parents=True, exist_ok=True)
    if not quiet:
        print(f"deepexpr: installing {', '.join(f'{p}@{v}' for p, v in packages.items())} "
              f"into {root}", flush=True)
    cmd = ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(root),
           *[f"{p}@{v}" for p, v in packages.items()]]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        last = (res.stderr.strip().splitlines() or ["no output"])[-1]
        raise InputError(f"npm install into {root} failed ({last}); check the network or npm")
    return modules


def node_render(requests: list[dict], modules: Path, on_reply=None) -> list[dict]:
    """Render DiceBear requests in one Node process.

    Args:
        requests: dicts {"style": js_name, "options": {...}}, or the string "meta".
        modules: the `node_modules` folder holding @dicebear/*.
        on_reply: called with (index, reply) as replies arrive (progress, writing).

    Returns:
        One reply per request: {"svg": str} or {"error": str} (or the meta dict).
    """
    proc = subprocess.Popen(["node", str(SCRIPT), str(modules)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            bufsize=1 << 16)

    def feed():  # a writer thread: Node answers while we still send (no pipe deadlock)
        try:
            for r in requests:
                proc.stdin.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
        except BrokenPipeError:
            pass
        finally:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    replies = []
    for line in proc.stdout:
        reply = json.loads(line)
        if on_reply is not None:
            on_reply(len(replies), reply)
        replies.append(reply)
    writer.join()
    err = proc.stderr.read()
    proc.wait()
    if len(replies) != len(requests):
        last = (err.strip().splitlines() or ["no output"])[-1]
        raise InputError(f"{SCRIPT.name}: Node stopped after {len(replies)} of "
                         f"{len(requests)} avatars ({last})")
    return replies


def svg_to_rgb(svg: str, size: int, background: str = "#ffffff") -> np.ndarray:
    """Rasterise an SVG string with resvg onto a background.

    Returns:
        (size, size, 3) uint8 RGB.

    Raises:
        ValueError: the SVG cannot be parsed or rendered.
    """
    import io

    from PIL import Image

    try:
        import resvg_py
    except ImportError as err:
        raise InputError("resvg-py: not installed; `pip install resvg-py` "
                         "(or `pip install deepexpr[avatars]`)") from err
    png = resvg_py.svg_to_bytes(svg_string=svg, width=size, height=size, background=background)
    img = Image.open(io.BytesIO(bytes(png))).convert("RGB")
    if img.size != (size, size):  # non-square viewBox: resvg keeps the aspect ratio
        img = img.resize((size, size), Image.BILINEAR)
    return np.asarray(img, dtype=np.uint8)


def avatar_options(style: str, expression: str, n: int, seed: int) -> dict:
    """The DiceBear options of image `n` (1-based) of a style and expression.

    Expression parts come from the label map (a combination picked at random); everything
    else varies with DiceBear's seed, a background colour, a zoom and a mirror.
    """
    spec = STYLES[style]
    rng = random.Random(f"{seed}/{style}/{expression}/{n}")
    combo = rng.choice(combinations(style, expression))
    zoom = rng.randint(*spec.zoom)
    opts = {**spec.fixed, **{k: [v] for k, v in combo.items()},
            "seed": f"{seed}-{style}-{expression}-{n}",
            "backgroundColor": [rng.choice(BACKGROUNDS)],
            "scale": zoom, "translateY": spec.shift_y if zoom > 100 else 0,
            "flip": rng.random() < 0.5}
    return opts


def check_styles(names) -> tuple[list[str], list[str]]:
    """Split requested style names into (known, unknown)."""
    names = list(STYLES) if names in (None, "all", ["all"]) else list(names)
    known = [s for s in names if s in STYLES]
    return known, [s for s in names if s not in STYLES]


def _plan(settings: AvatarSettings, root: Path) -> list[tuple[str, str, int, Path]]:
    """(style, expression, N, path) of every image not yet written."""
    todo = []
    for style in settings.styles:
        for expr in expressions_of(style):
            folder = root / style / f"{style}_{expr}"
            folder.mkdir(parents=True, exist_ok=True)
            for n in range(1, settings.per_expression + 1):
                path = folder / f"{style}_{expr}_{n}.png"
                if not (path.exists() and path.stat().st_size > 0):
                    todo.append((style, expr, n, path))
    return todo


def _check_out(out: Path, settings: dict) -> bool:
    """True to resume; InputError when `out` holds something else."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder; choose another --out")
    manifest = out / "manifest.json"
    if manifest.exists():
        try:
            old = json.loads(manifest.read_text()).get("settings")
        except ValueError:
            raise InputError(f"{manifest}: unreadable manifest; delete the folder or use a new --out") from None
        if old != settings:
            diff = sorted(k for k in set(old or {}) | set(settings)
                          if (old or {}).get(k) != settings.get(k))
            raise InputError(f"{out}: holds a different avatar set (settings differ: "
                             f"{', '.join(diff)}); use a new --out or delete it (never mixed)")
        return True
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out}: folder is not empty and has no manifest.json; "
                         "use an empty or new --out folder")
    return False


def _save_png(rgb: np.ndarray, path: Path) -> None:
    from PIL import Image

    tmp = path.with_name(f".{path.name}.tmp")
    Image.fromarray(rgb).save(tmp, format="PNG", compress_level=1)
    os.replace(tmp, path)


def _counts(root: Path, styles: list[str]) -> dict:
    counts: dict = {}
    for style in styles:
        counts[style] = {e: len(list((root / style / f"{style}_{e}").glob(f"{style}_{e}_*.png")))
                         for e in expressions_of(style)}
    counts["total"] = sum(sum(c.values()) for c in counts.values())
    return counts


def _licences(meta: dict, styles: list[str]) -> dict:
    out = {}
    for s in styles:
        m = meta["styles"].get(STYLES[s].js_name, {})
        out[s] = {"package": f"@dicebear/{s}", "licence": (m.get("license") or {}).get("name"),
                  "licence_url": (m.get("license") or {}).get("url"),
                  "creator": m.get("creator"), "source": m.get("source")}
    return out


def build_avatars(out_dir, styles=None, per_expression: int = 100, size: int = 128,
                  seed: int = 0, show_progress: bool | None = None, warn=print) -> dict:
    """Render a labelled avatar data set in the FERG-DB layout (see the module docstring).

    Args:
        out_dir: output folder (new, empty, or an earlier run with the same settings).
        styles: style names (default all of `STYLES`); unknown names are reported and skipped.
        per_expression: images per style and expression.
        size: image side in pixels.
        seed: seeds every choice.
        warn: called with one line per skipped style or failed image.

    Returns:
        The manifest dict (also written to `out_dir/manifest.json`), plus "failed".
    """
    from deepexpr.io import versions, write_json
    from deepexpr.progress import progress

    if per_expression < 1 or not 16 <= size <= 1024:
        raise InputError(f"--per-expression {per_expression} / --size {size}: need >= 1 and 16..1024")
    known, unknown = check_styles(styles)
    for name in unknown:
        warn(f"deepexpr: unknown avatar style {name!r} skipped; known: {', '.join(STYLES)}")
    if not known:
        raise InputError(f"no known avatar style in {styles}; known: {', '.join(STYLES)}")
    modules = ensure_node_packages()
    out = Path(out_dir)
    cfg = AvatarSettings(known, per_expression, size, seed, dict(PACKAGES))
    resumed = _check_out(out, asdict(cfg))
    out.mkdir(parents=True, exist_ok=True)
    meta = node_render(["meta"], modules)[0]
    manifest = {"settings": asdict(cfg), "complete": False, "versions": versions(),
                "package_versions": meta["versions"], "licences": _licences(meta, known),
                "label_map": {s: label_table()[s] for s in known}}
    write_json(out / "manifest.json", manifest)
    todo = _plan(cfg, out)
    requests = [{"style": STYLES[s].js_name, "options": avatar_options(s, e, n, seed)}
                for s, e, n, _ in todo]
    failed: list[str] = []
    bar = progress(total=len(todo), desc="avatars", unit="img", disable=show_progress is False
                   if show_progress is not None else None)
    start = time.time()

    def write(i: int, reply: dict) -> None:
        style, _, _, path = todo[i]
        try:
            if "error" in reply:
                raise ValueError(reply["error"])
            _save_png(svg_to_rgb(reply["svg"], size), path)
        except ValueError as err:
            failed.append(str(path))
            warn(f"deepexpr: {path}: the {style} SVG failed to render ({err}); skipped")
        bar.update(1)

    node_render(requests, modules, on_reply=write)
    bar.close()
    manifest.update(complete=not failed, counts=_counts(out, known), resumed=resumed,
                    images_per_second=round(len(todo) / max(time.time() - start, 1e-6), 1))
    write_json(out / "manifest.json", manifest)
    return {**manifest, "failed": failed}


def contact_sheet(root, style: str, columns: int = 8, cell: int = 96, exprs=None) -> np.ndarray:
    """One row per expression of `style`: its first `columns` images, the class name at left.

    Args:
        style: the folder of one style (or icon group) in the FERG layout under `root`.
        exprs: the rows (default: the classes the avatar style can show).

    Returns:
        (H, W, 3) uint8 RGB sheet (for reviewing the label map by eye).
    """
    from PIL import Image, ImageDraw

    root = Path(root)
    exprs = expressions_of(style) if exprs is None else exprs
    label_w = 80
    sheet = Image.new("RGB", (label_w + columns * cell, len(exprs) * cell), "white")
    draw = ImageDraw.Draw(sheet)
    for row, expr in enumerate(exprs):
        draw.text((4, row * cell + cell // 2 - 6), expr, fill="black")
        for col in range(columns):
            path = root / style / f"{style}_{expr}" / f"{style}_{expr}_{col + 1}.png"
            if path.exists():
                img = Image.open(path).convert("RGB").resize((cell, cell), Image.BILINEAR)
                sheet.paste(img, (label_w + col * cell, row * cell))
    return np.asarray(sheet)


def overview_sheet(root, styles, cell: int = 56, sample: int = 1) -> np.ndarray:
    """Styles (rows) x the seven classes (columns): image `sample` of each; blank where the
    style shows no such class. Returns (H, W, 3) uint8 RGB."""
    from PIL import Image, ImageDraw

    from deepexpr.expressions import EXPRESSIONS

    root, label_w, head = Path(root), 72, 14
    sheet = Image.new("RGB", (label_w + len(EXPRESSIONS) * cell, head + len(styles) * cell), "white")
    draw = ImageDraw.Draw(sheet)
    for col, expr in enumerate(EXPRESSIONS):
        draw.text((label_w + col * cell + 2, 1), expr[:8], fill="black")
    for row, style in enumerate(styles):
        draw.text((2, head + row * cell + cell // 2 - 6), style, fill="black")
        for col, expr in enumerate(EXPRESSIONS):
            path = root / style / f"{style}_{expr}" / f"{style}_{expr}_{sample}.png"
            if path.exists():
                img = Image.open(path).convert("RGB").resize((cell - 2, cell - 2), Image.BILINEAR)
                sheet.paste(img, (label_w + col * cell + 1, head + row * cell + 1))
    return np.asarray(sheet)
