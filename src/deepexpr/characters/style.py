"""Character art styles: one dataclass, the built-in cast, random sampling, JSON files.

A `CharacterStyle` is everything the renderer needs to draw one character, in face
units (the head's half-width is 1; y grows downwards; the head centre is the origin).
It is a small, flat, human-editable record: `deepexpr characters new --seed 3 --out
c.json` writes one, a person edits colours or shapes, and `--characters c.json` draws it.

Families:
    "human", "animal", "creature": stylized targets (the built-ins and `random_characters`).
    "standin_human": a realistic-looking drawn human (natural skin tones, small proportionate
        eyes, realistic nose and lips, shading). HA-GAN uses these as a clearly labelled
        stand-in for human photos; they are never among the built-ins or random targets.
"""

from __future__ import annotations

import dataclasses
import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepexpr.characters.widespace import (
    ART_STYLES,
    BACKDROPS,
    FRAMINGS,
    STYLE_SPACES,
    WIDE_EYE_STYLES,
    WIDE_MOUTH_STYLES,
    WIDE_SHADINGS,
    wide_overrides,
)
from deepexpr.errors import InputError

EYE_STYLES = ("round", "dot", "almond", "anime")
BROW_STYLES = ("thin", "thick", "block", "bushy", "arched")
NOSE_STYLES = ("none", "dot", "button", "long", "animal", "realistic")
MOUTH_STYLES = ("line", "lips", "toothy", "small")
EAR_STYLES = ("none", "human", "cat", "bear", "elf", "mouse")
HAIR_STYLES = ("none", "short", "spiky", "long", "bob", "bun", "curly", "mohawk", "side")
EXTRAS = ("blush", "freckles", "whiskers", "muzzle", "horns", "antennae", "spots", "glasses")
FAMILIES = ("human", "animal", "creature", "standin_human")
SHADINGS = ("flat", "shaded")


@dataclass
class CharacterStyle:
    """One character's look. Lengths are in face units (head half-width = 1).

    Colours are "#rrggbb" strings so the JSON file stays readable and editable.
    """

    name: str  # folder-safe identifier, used in file names (e.g. "pip")
    family: str = "human"  # one of FAMILIES
    # --- head ---
    head_height: float = 1.2  # half-height of the skull above the cheek line
    jaw_height: float = 1.05  # distance from the cheek line down to the chin
    jaw_width: float = 0.8  # width at the chin level relative to the cheeks (0.3 pointy .. 1 square)
    top_exponent: float = 2.0  # superellipse exponent of the cranium (2 round, 3+ boxy)
    jaw_exponent: float = 2.0  # superellipse exponent of the jaw (1.6 pointed, 2 round, 3+ square)
    head_scale: float = 0.33  # head half-width as a fraction of the image size
    head_y: float = 0.53  # head centre height as a fraction of the image size
    # --- colours and line ---
    skin: str = "#f2c9a0"  # fill of head, ears, neck
    line_color: str = "#3a2a22"  # outlines and line features
    outline: float = 0.025  # outline weight in face units (0 = no outline)
    shading: str = "flat"  # "flat" fill or "shaded" (soft light from the upper left)
    background: str = "#f4f1ea"  # image background
    shirt: str = "#5a7bbf"  # shoulders colour
    # --- eyes ---
    eye_style: str = "round"  # one of EYE_STYLES
    eye_size: float = 1.0  # scale of the eye half-width (1 = 0.2 face units)
    eye_aspect: float = 0.75  # eye half-height / half-width when neutral
    eye_spacing: float = 0.4  # distance of each eye centre from the midline
    eye_y: float = 0.05  # eye line height (0 = cheek line; positive = lower)
    eye_tilt: float = 0.0  # outer corners up (+) or down (-), face units
    iris_color: str = "#5a3b22"  # iris fill
    iris_size: float = 0.55  # iris radius / eye half-width
    sclera: str = "#ffffff"  # eye white
    # --- brows ---
    brow_style: str = "thick"  # one of BROW_STYLES
    brow_color: str = "#3a2a22"  # brow fill
    brow_thickness: float = 0.05  # brow half-thickness at the widest point
    brow_length: float = 1.15  # brow half-length relative to the eye half-width
    brow_gap: float = 0.1  # neutral gap between the eye top and the brow
    brow_arch: float = 0.04  # arch height of the neutral brow
    # --- nose ---
    nose_style: str = "button"  # one of NOSE_STYLES
    nose_y: float = 0.42  # height of the nose tip
    nose_size: float = 1.0  # scale of the nose
    nose_color: str = "#e0a884"  # fill of button / realistic noses (animal noses use line_color)
    # --- mouth ---
    mouth_style: str = "line"  # one of MOUTH_STYLES
    mouth_y: float = 0.7  # height of the neutral lip line
    mouth_width: float = 0.3  # neutral mouth half-width
    lip_color: str = "#c8646a"  # lips (style "lips") and tongue tint
    lip_thickness: float = 0.045  # lip thickness (style "lips")
    mouth_inside: str = "#5a1f24"  # mouth cavity
    # --- ears, hair, extras ---
    ear_style: str = "human"  # one of EAR_STYLES
    ear_size: float = 1.0  # ear scale
    ear_inner: str = "#e0a0a0"  # inner ear colour (animal ears)
    hair_style: str = "short"  # one of HAIR_STYLES
    hair_color: str = "#4a2f1f"  # hair fill
    hair_volume: float = 0.15  # how far hair stands off the skull
    extras: list[str] = field(default_factory=list)  # any of EXTRAS
    accent: str = "#ff8c8c"  # blush / spots / horn colour
    # --- acting ---
    expressiveness: float = 1.0  # scales all key-pose intensities (0.8 subtle .. 1.2 broad)
    brow_acting: float = 1.0  # extra scale of brow motion (some characters act with brows)
    mouth_acting: float = 1.0  # extra scale of mouth motion
    # --- wide style space (widespace.py); the defaults draw the classic renderer's frames ---
    art_style: str = "classic"  # one of ART_STYLES (icon, flat, lineart, manga, soft3d, pixel, ...)
    framing: str = "classic"  # "classic", "fill" (no neck/shoulders), "shoulders", "offcentre"
    head_x: float = 0.5  # head centre across the image, as a fraction of the image size
    backdrop: str = "flat"  # one of BACKDROPS: flat, gradient, noise, pattern
    backdrop_color: str = "#f4f1ea"  # second backdrop colour (gradient end, pattern, noise)
    decorations: float = 0.0  # propensity of expression decorations (tears, sweat, veins, ...)
    pixel_grid: int = 0  # art_style "pixel": cells across the image
    palette_size: int = 0  # art_style "pixel": colours of the palette

    # ---- JSON ----
    def to_dict(self) -> dict:
        """A plain dict (JSON-ready). Wide-space fields at their defaults are left out, so a
        classic character's file and manifest entry read as before the wide space existed."""
        data = dataclasses.asdict(self)
        for key, default in _WIDE_DEFAULTS.items():
            if data[key] == default:
                del data[key]
        return data

    @classmethod
    def from_dict(cls, data: dict, source: str = "style") -> CharacterStyle:
        """Build a style from a dict, checking names and choices.

        Raises:
            InputError: unknown keys or invalid choices (message names `source`).
        """
        if not isinstance(data, dict):
            raise InputError(f"{source}: expected a JSON object with style fields")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(
                f"{source}: unknown style field(s) {', '.join(unknown)}; "
                f"valid fields: {', '.join(sorted(known))}"
            )
        if "name" not in data:
            raise InputError(f"{source}: missing field 'name'")
        style = cls(**data)
        style.validate(source)
        return style

    def to_json(self, path: str | Path) -> None:
        """Write the style as an indented, editable JSON file (atomically)."""
        from deepexpr.io import write_json

        write_json(path, self.to_dict())

    @classmethod
    def from_json(cls, path: str | Path) -> CharacterStyle:
        """Read a style JSON file written by `to_json` (or by hand).

        Raises:
            InputError: missing file, bad JSON or invalid fields.
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise InputError(f"{path}: no such file; give a character name or a style JSON path") from None
        except (OSError, ValueError) as err:
            raise InputError(f"{path}: not a readable JSON style file ({err}); "
                             "write one with `deepexpr characters new`") from None
        return cls.from_dict(data, source=str(path))

    def validate(self, source: str = "style") -> None:
        """Raise InputError when a choice field holds an unknown value."""
        checks = {"family": FAMILIES, "eye_style": EYE_STYLES + WIDE_EYE_STYLES,
                  "brow_style": BROW_STYLES, "nose_style": NOSE_STYLES,
                  "mouth_style": MOUTH_STYLES + WIDE_MOUTH_STYLES, "ear_style": EAR_STYLES,
                  "hair_style": HAIR_STYLES, "shading": SHADINGS + WIDE_SHADINGS,
                  "art_style": ART_STYLES, "framing": FRAMINGS, "backdrop": BACKDROPS}
        for key, choices in checks.items():
            if getattr(self, key) not in choices:
                raise InputError(f"{source}: {key}={getattr(self, key)!r} is not one of "
                                 f"{', '.join(choices)}")
        bad = [e for e in self.extras if e not in EXTRAS]
        if bad:
            raise InputError(f"{source}: unknown extras {bad}; valid: {', '.join(EXTRAS)}")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", self.name or ""):
            raise InputError(f"{source}: name {self.name!r} must use letters, digits, '_', '.', '-' "
                             "(it becomes a folder and file name)")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, str) and f.name not in checks and f.name != "name":
                if not (len(value) == 7 and value.startswith("#")):
                    raise InputError(f"{source}: {f.name}={value!r} must be a colour like '#a0b1c2'")


# ----------------------------------------------------------------------------------------------
# The built-in cast: eight targets whose styles differ the way FERG-DB's six do (and more).
# ----------------------------------------------------------------------------------------------
_WIDE_FIELDS = ("art_style", "framing", "head_x", "backdrop", "backdrop_color", "decorations",
                "pixel_grid", "palette_size")
_WIDE_DEFAULTS = {f.name: f.default for f in dataclasses.fields(CharacterStyle) if f.name in _WIDE_FIELDS}

_BUILTINS: dict[str, dict] = {
    # Big-headed toddler: round head, large round eyes, dot nose, line mouth, short hair.
    "pip": dict(family="human", head_height=1.18, jaw_height=0.95, jaw_width=0.78,
                skin="#f7d2b0", eye_style="round", eye_size=1.25, eye_aspect=0.95,
                eye_y=0.12, iris_color="#3b6fb6", iris_size=0.6, brow_style="thin",
                brow_thickness=0.03, brow_color="#6b4a2b", nose_style="dot", nose_y=0.45,
                mouth_style="line", mouth_y=0.7, mouth_width=0.30, hair_style="short",
                hair_color="#7a4a25", extras=["blush"], background="#f3efe6", shirt="#e2b33c",
                outline=0.028),
    # Anime teen: heart-shaped face with pointed chin, anime eyes, long hair, tiny nose.
    "mika": dict(family="human", head_height=1.22, jaw_height=1.12, jaw_width=0.38,
                 jaw_exponent=1.7, skin="#fde3d0", eye_style="anime", eye_size=1.3,
                 eye_aspect=1.0, eye_y=0.16, eye_spacing=0.42, iris_color="#7b3fb0",
                 iris_size=0.72, brow_style="thin", brow_thickness=0.03, brow_color="#3b2438",
                 brow_gap=0.14, nose_style="none", nose_y=0.5, mouth_style="small",
                 mouth_y=0.78, mouth_width=0.23, hair_style="long", hair_color="#2c2440",
                 line_color="#2a1a2a", outline=0.018, background="#f0ecf6", shirt="#e07a9b",
                 extras=["blush"], expressiveness=1.1),
    # Square-jawed grown-up: boxy head, almond eyes, heavy block brows, long nose, lips.
    "bruno": dict(family="human", head_height=1.1, jaw_height=1.15, jaw_width=0.95,
                  top_exponent=2.6, jaw_exponent=3.2, skin="#c98f64", eye_style="almond",
                  eye_size=0.9, eye_aspect=0.55, eye_y=0.0, iris_color="#3a2a1a",
                  iris_size=0.5, brow_style="block", brow_thickness=0.065,
                  brow_color="#2a1d16", brow_gap=0.07, nose_style="long", nose_y=0.44,
                  nose_size=1.2, nose_color="#b27a52", mouth_style="lips", mouth_y=0.75,
                  mouth_width=0.34, lip_color="#9c5a4a", lip_thickness=0.05, hair_style="spiky",
                  hair_color="#1f1a17", shading="shaded", outline=0.035,
                  background="#e9eef2", shirt="#3d6b4a", brow_acting=1.15),
    # Elderly lady: oval face, small dot eyes, bushy brows, button nose, bun, glasses.
    "greta": dict(family="human", head_height=1.15, jaw_height=1.05, jaw_width=0.7,
                  skin="#f0c8b0", eye_style="dot", eye_size=0.75, eye_aspect=0.8,
                  eye_y=0.05, iris_color="#222222", brow_style="bushy", brow_thickness=0.05,
                  brow_color="#7d7773", nose_style="button", nose_y=0.45, nose_size=1.2,
                  nose_color="#e6a994", mouth_style="lips", mouth_y=0.74, mouth_width=0.31,
                  lip_color="#b86a78", lip_thickness=0.035, hair_style="bun",
                  hair_color="#d9d9d9", extras=["glasses", "blush"], line_color="#4a3a3a",
                  background="#f5efe6", shirt="#8a5a9e", outline=0.022),
    # Cat: animal ears, muzzle, whiskers, animal nose, big almond eyes, orange fur.
    "tabby": dict(family="animal", head_height=1.05, jaw_height=0.95, jaw_width=0.8,
                  top_exponent=2.3, skin="#e8a25a", eye_style="almond", eye_size=1.15,
                  eye_aspect=0.8, eye_y=0.05, eye_spacing=0.43, eye_tilt=0.04,
                  iris_color="#7fb03a", iris_size=0.6, brow_style="thick",
                  brow_thickness=0.035, brow_color="#9a5a22", nose_style="animal", nose_y=0.38,
                  mouth_style="line", mouth_y=0.64, mouth_width=0.34, ear_style="cat",
                  ear_inner="#f5b5b5", hair_style="none", extras=["muzzle", "whiskers", "spots"],
                  accent="#c07030", line_color="#4a2a14", background="#eef3e8", shirt="#4a90c0"),
    # Bear cub: round ears, muzzle, small dot eyes, button nose, toothy grin.
    "barney": dict(family="animal", head_height=1.05, jaw_height=1.0, jaw_width=0.9,
                   top_exponent=2.2, jaw_exponent=2.4, skin="#8a5a3a", eye_style="dot",
                   eye_size=0.8, eye_aspect=0.9, eye_y=0.0, eye_spacing=0.36,
                   iris_color="#1a1010", brow_style="thick", brow_thickness=0.04,
                   brow_color="#4a2a18", nose_style="animal", nose_y=0.4, nose_size=1.4,
                   mouth_style="toothy", mouth_y=0.68, mouth_width=0.32, ear_style="bear",
                   ear_inner="#d9a87a", hair_style="none", extras=["muzzle"],
                   line_color="#2a1a10", outline=0.03, shading="shaded",
                   background="#f2eee0", shirt="#c04a3a", mouth_acting=1.1),
    # Creature: green, horned, anime-ish round eyes, elf ears, no nose, wide toothy mouth.
    "zorp": dict(family="creature", head_height=1.3, jaw_height=0.9, jaw_width=0.95,
                 top_exponent=2.0, jaw_exponent=2.8, skin="#8cc86a", eye_style="round",
                 eye_size=1.35, eye_aspect=1.0, eye_y=0.0, eye_spacing=0.45,
                 iris_color="#d02a2a", iris_size=0.45, brow_style="arched",
                 brow_thickness=0.045, brow_color="#3a6a2a", nose_style="none", nose_y=0.38,
                 mouth_style="toothy", mouth_y=0.62, mouth_width=0.46, ear_style="elf",
                 ear_inner="#6aa84a", hair_style="mohawk", hair_color="#7a3ab0",
                 extras=["horns", "spots"], accent="#6aa050", line_color="#1e3a14",
                 outline=0.032, background="#ece8f4", shirt="#3a3a5a", expressiveness=1.15),
    # Curly-haired kid: pear-ish face, almond eyes with tilt, freckles, button nose, lips.
    "rosa": dict(family="human", head_height=1.15, jaw_height=1.02, jaw_width=0.68,
                 skin="#a8704a", eye_style="almond", eye_size=1.05, eye_aspect=0.7,
                 eye_y=0.08, eye_tilt=0.03, iris_color="#2a1a10", iris_size=0.62,
                 brow_style="arched", brow_thickness=0.032, brow_color="#1e120c",
                 nose_style="button", nose_y=0.44, nose_color="#935f3c", mouth_style="lips",
                 mouth_y=0.72, mouth_width=0.32, lip_color="#8a3f3f", lip_thickness=0.05,
                 hair_style="curly", hair_color="#1e140e", hair_volume=0.22,
                 extras=["freckles"], accent="#7a4a2a", line_color="#2a1810",
                 background="#f6eee6", shirt="#2f9e8f", shading="shaded", outline=0.02),
    # Ghostly blob-creature: pale blue, no ears, dot eyes, side hair tuft, mouse-like.
    "moxi": dict(family="creature", head_height=1.25, jaw_height=1.1, jaw_width=1.0,
                 top_exponent=1.9, jaw_exponent=3.5, skin="#bcd6f2", eye_style="anime",
                 eye_size=1.1, eye_aspect=1.05, eye_y=0.05, eye_spacing=0.38,
                 iris_color="#2a4a9a", iris_size=0.7, brow_style="thin", brow_thickness=0.03,
                 brow_color="#2a3a6a", nose_style="dot", nose_y=0.4, mouth_style="line",
                 mouth_y=0.66, mouth_width=0.34, ear_style="mouse", ear_inner="#f0b8d0",
                 hair_style="side", hair_color="#f2d24a", extras=["antennae", "blush"],
                 accent="#f07aa0", line_color="#1a2a4a", outline=0.03,
                 background="#f4f2e8", shirt="#f0a030"),
}


def list_characters() -> list[str]:
    """Names of the built-in characters (stylized targets), in a fixed order."""
    return list(_BUILTINS)


def get_character(name: str | Path) -> CharacterStyle:
    """A built-in character by name, or a style JSON file by path.

    Raises:
        InputError: unknown name (the message lists the known ones) or a bad JSON file.
    """
    key = str(name)
    if key in _BUILTINS:
        return CharacterStyle(name=key, **_BUILTINS[key])
    if key.endswith(".json") or Path(key).is_file():
        return CharacterStyle.from_json(key)
    if key.startswith(("rand_", "standin_", "wide_")):
        parsed = _parse_generated(key)
        if parsed is not None:
            return parsed
    raise InputError(
        f"unknown character {key!r}; known: {', '.join(list_characters())} "
        "(or random:K, wide:K, rand_<seed>_<i>, wide_<seed>_<i>, standin_<seed>_<i>, or a style .json path)"
    )


def _parse_generated(name: str) -> CharacterStyle | None:
    """Rebuild "rand_<seed>_<i>" / "wide_<seed>_<i>" / "standin_<seed>_<i>" from their seed
    and index."""
    parts = name.split("_")
    if len(parts) != 3 or not parts[1].lstrip("-").isdigit() or not parts[2].isdigit():
        return None
    seed, i = int(parts[1]), int(parts[2])
    if parts[0] == "rand":
        return _random_style(seed, i, standin=False)
    if parts[0] == "wide":
        return _random_wide(seed, i)
    return _random_style(seed, i, standin=True)


# ----------------------------------------------------------------------------------------------
# Random sampling from the style space.
# ----------------------------------------------------------------------------------------------
_SKIN_STYLIZED = ["#f7d2b0", "#fde3d0", "#c98f64", "#a8704a", "#f0c8b0", "#e8a25a",
                  "#8a5a3a", "#8cc86a", "#bcd6f2", "#f2b8d8", "#c8b0f0", "#f0e08a",
                  "#9ad8c8", "#d8d8d8", "#ffb070", "#b07050"]
_SKIN_NATURAL = ["#f6d7c3", "#eec1a2", "#e0ac8a", "#c68c63", "#a86f4c", "#8d5a3b",
                 "#6e432a", "#f1c6a8", "#d9a07e", "#b67b58"]
_HAIR_NATURAL = ["#1a1411", "#2f2019", "#4a2f1f", "#6e4a2c", "#9a6a3a", "#c4a06a",
                 "#d9c08a", "#8a3a1e", "#bdbdbd", "#3a3a3a"]
_HAIR_STYLIZED = _HAIR_NATURAL + ["#7a3ab0", "#2a6ad0", "#e05a8a", "#30a070", "#f2d24a",
                                  "#ff7a30", "#2c2440"]
_IRIS = ["#3b6fb6", "#5a3b22", "#2a1a10", "#7fb03a", "#7b3fb0", "#d02a2a", "#2a8a8a",
         "#9a6a2a", "#4a4a4a"]
_BG = ["#f4f1ea", "#eef3e8", "#e9eef2", "#f0ecf6", "#f6eee6", "#f2eee0", "#eaf2f2", "#f8f8f8"]
_SHIRT = ["#5a7bbf", "#e2b33c", "#3d6b4a", "#8a5a9e", "#c04a3a", "#2f9e8f", "#3a3a5a",
          "#f0a030", "#e07a9b", "#707070"]


def _rng(seed: int, i: int, salt: str) -> np.random.Generator:
    return np.random.default_rng([zlib.crc32(salt.encode()), int(seed) & 0xFFFFFFFF, int(i)])


def _jitter_hex(rng: np.random.Generator, color: str, amount: float) -> str:
    rgb = np.array([int(color[k:k + 2], 16) for k in (1, 3, 5)], dtype=float)
    rgb = np.clip(rgb * (1 + rng.uniform(-amount, amount)) + rng.normal(0, 255 * amount / 3, 3), 0, 255)
    return "#" + "".join(f"{int(v):02x}" for v in rgb)


def _darker(color: str, f: float) -> str:
    rgb = [int(color[k:k + 2], 16) for k in (1, 3, 5)]
    return "#" + "".join(f"{int(max(0, min(255, v * f))):02x}" for v in rgb)


def _random_style(seed: int, i: int, standin: bool) -> CharacterStyle:
    """Character `i` of `seed`: a stand-in human or a stylized target (never both)."""
    rng = _rng(seed, i, "standin" if standin else "stylized")
    return _random_standin(rng, seed, i) if standin else _random_stylized(rng, seed, i)


def _random_standin(rng: np.random.Generator, seed: int, i: int) -> CharacterStyle:
    """Realistic-human family: natural palettes, small eyes, thin brows, real nose and lips."""
    u = rng.uniform
    pick = lambda seq: seq[int(rng.integers(len(seq)))]  # noqa: E731
    skin = _jitter_hex(rng, pick(_SKIN_NATURAL), 0.04)
    hair = pick(_HAIR_NATURAL)
    return CharacterStyle(
        name=f"standin_{seed}_{i}", family="standin_human",
        head_height=u(1.08, 1.2), jaw_height=u(1.1, 1.25), jaw_width=u(0.55, 0.85),
        top_exponent=u(1.9, 2.3), jaw_exponent=u(1.9, 2.5), head_scale=u(0.31, 0.34),
        head_y=u(0.51, 0.54), skin=skin, line_color=_darker(skin, 0.55),
        outline=float(pick([0.0, 0.006, 0.01])), shading="shaded",
        background=pick(["#d8d8d8", "#c8ccd2", "#e0dcd4", "#bfc8c0", "#d0c8c0"]),
        shirt=pick(_SHIRT), eye_style="almond", eye_size=u(0.78, 0.9),
        eye_aspect=u(0.45, 0.55), eye_spacing=u(0.36, 0.41), eye_y=u(-0.05, 0.03),
        eye_tilt=u(-0.01, 0.02), iris_color=pick(["#5a3b22", "#2a1a10", "#3b6fb6",
                                                    "#4a6a4a", "#6a5a3a"]),
        iris_size=u(0.5, 0.6), sclera="#f4f0ea", brow_style=pick(["thin", "arched"]),
        brow_color=_darker(hair, 0.9), brow_thickness=u(0.02, 0.032),
        brow_length=u(1.1, 1.3), brow_gap=u(0.06, 0.1), brow_arch=u(0.02, 0.05),
        nose_style="realistic", nose_y=u(0.4, 0.47), nose_size=u(0.9, 1.15),
        nose_color=_darker(skin, 0.82), mouth_style="lips", mouth_y=u(0.74, 0.8),
        mouth_width=u(0.24, 0.3), lip_color=_jitter_hex(rng, pick(["#b8706a", "#a85a5a",
                                                                   "#c07a72", "#8a4a44"]), 0.05),
        lip_thickness=u(0.035, 0.05), ear_style="human", ear_size=u(0.85, 1.0),
        hair_style=pick(["short", "long", "bob", "side", "bun", "none", "curly"]),
        hair_color=hair, hair_volume=u(0.06, 0.14),
        extras=["freckles"] if u() < 0.15 else [], accent=_darker(skin, 0.75),
        expressiveness=u(0.9, 1.05), brow_acting=u(0.9, 1.1), mouth_acting=u(0.9, 1.1),
    )


def _random_stylized(rng: np.random.Generator, seed: int, i: int) -> CharacterStyle:
    """Stylized family: any head, eye, brow, nose, mouth, ear and hair style; bold colours."""
    u = rng.uniform
    pick = lambda seq: seq[int(rng.integers(len(seq)))]  # noqa: E731
    family = pick(["human", "human", "human", "animal", "creature"])
    skin = _jitter_hex(rng, pick(_SKIN_STYLIZED[:8] if family == "human" else _SKIN_STYLIZED), 0.06)
    hair = pick(_HAIR_STYLIZED)
    extras = []
    if family == "animal":
        extras += ["muzzle"] + (["whiskers"] if u() < 0.6 else [])
    if family == "creature":
        extras += [pick(["horns", "antennae", "spots"])]
    for extra, p in (("blush", 0.35), ("freckles", 0.15), ("glasses", 0.1)):
        if u() < p:
            extras.append(extra)
    ears = {"human": ["human", "human", "elf", "none"], "animal": ["cat", "bear", "mouse"],
            "creature": ["elf", "none", "mouse", "cat"]}[family]
    eye_style = pick(EYE_STYLES)
    # Eyes must stay big enough to read at 64-128 px; dot eyes are dark.
    eye_size = {"dot": u(0.65, 0.95), "almond": u(0.95, 1.3)}.get(eye_style, u(0.85, 1.4))
    iris = pick(["#2a1a10", "#1a1410", "#222222", "#2a1a30"]) if eye_style == "dot" else pick(_IRIS)
    return CharacterStyle(
        name=f"rand_{seed}_{i}", family=family,
        head_height=u(1.0, 1.32), jaw_height=u(0.88, 1.18), jaw_width=u(0.35, 1.0),
        top_exponent=u(1.8, 2.8), jaw_exponent=u(1.6, 3.4), head_scale=u(0.31, 0.35),
        head_y=u(0.52, 0.55), skin=skin, line_color=_darker(skin, u(0.2, 0.4)),
        outline=u(0.012, 0.038), shading=pick(SHADINGS), background=pick(_BG),
        shirt=pick(_SHIRT), eye_style=eye_style, eye_size=eye_size,
        eye_aspect=u(0.55, 1.05), eye_spacing=u(0.34, 0.46), eye_y=u(-0.02, 0.16),
        eye_tilt=u(-0.03, 0.05), iris_color=iris, iris_size=u(0.45, 0.72),
        brow_style=pick(BROW_STYLES), brow_color=_darker(hair, u(0.6, 1.0)),
        brow_thickness=u(0.022, 0.065), brow_length=u(0.95, 1.3), brow_gap=u(0.06, 0.14),
        brow_arch=u(0.0, 0.07), nose_style=pick(["none", "dot", "button", "long"] +
                                                (["animal"] * 3 if family == "animal" else [])),
        nose_y=u(0.36, 0.48), nose_size=u(0.8, 1.35), nose_color=_darker(skin, 0.88),
        mouth_style=pick(MOUTH_STYLES), mouth_y=u(0.62, 0.8), mouth_width=u(0.2, 0.38),
        lip_color=_jitter_hex(rng, pick(["#c8646a", "#b86a78", "#9c5a4a", "#d07a8a"]), 0.05),
        lip_thickness=u(0.03, 0.055), ear_style=pick(ears), ear_size=u(0.8, 1.2),
        ear_inner=_jitter_hex(rng, "#f0b0b0", 0.08),
        hair_style=pick(HAIR_STYLES if family == "human" else ["none", "none", "mohawk", "spiky", "side"]),
        hair_color=hair, hair_volume=u(0.08, 0.22), extras=extras,
        accent=_jitter_hex(rng, pick(["#ff8c8c", "#c07030", "#6aa050", "#f07aa0"]), 0.05),
        expressiveness=u(0.9, 1.2), brow_acting=u(0.85, 1.2), mouth_acting=u(0.85, 1.2),
    )


def _random_wide(seed: int, i: int) -> CharacterStyle:
    """Wide-space character `i` of `seed`: a classic random character from its own seed
    stream, changed by its art style, framing and backdrop (`widespace.wide_overrides`)."""
    base = _random_stylized(_rng(seed, i, "wide-base"), seed, i)
    data = {**base.to_dict(), **wide_overrides(_rng(seed, i, "wide"), base.to_dict())}
    data["name"] = f"wide_{seed}_{i}"
    return CharacterStyle(**data)


def random_characters(k: int, seed: int = 0, space: str = "classic") -> list[CharacterStyle]:
    """`k` new random stylized characters, the same for the same seed.

    space "classic" gives "rand_<seed>_<i>": families human (60%), animal (20%) and creature
    (20%); space "wide" gives "wide_<seed>_<i>", drawn in the wide style space (icon, flat,
    line art, manga, soft 3D, pixel art, chibi; decorations, framings, backdrops; see
    `deepexpr.characters.widespace`). "standin_human" never appears.
    """
    if int(k) < 0:
        raise InputError(f"random characters: k={k} must be >= 0")
    if space not in STYLE_SPACES:
        raise InputError(f"style space {space!r}: expected one of {', '.join(STYLE_SPACES)}")
    if space == "wide":
        return [_random_wide(int(seed), i) for i in range(int(k))]
    return [_random_style(int(seed), i, standin=False) for i in range(int(k))]


def standin_humans(k: int, seed: int = 0) -> list[CharacterStyle]:
    """`k` drawn "realistic human" faces ("standin_<seed>_<i>"), deterministic by seed.

    A separate style family (natural skin tones, small almond eyes, thin brows, realistic
    nose and lips, shading, thin or no outline) used by HA-GAN as a labelled stand-in for
    human photos. Never part of `list_characters()` or `random_characters()`.
    """
    if int(k) < 0:
        raise InputError(f"standin humans: k={k} must be >= 0")
    return [_random_style(int(seed), i, standin=True) for i in range(int(k))]


def resolve_characters(spec, seed: int = 0, space: str = "classic") -> list[CharacterStyle]:
    """Turn "all", "random:K", "wide:K", "a,b,c", a list of names/paths/styles into styles.

    Args:
        spec: what to resolve.
        seed: seed of random:K / wide:K characters.
        space: style space of random:K characters: classic or wide (wide:K is always wide).

    Raises:
        InputError: unknown names (listing the known ones) or a malformed random:K.
    """
    if space not in STYLE_SPACES:
        raise InputError(f"--space {space!r}: expected one of {', '.join(STYLE_SPACES)}")
    if isinstance(spec, CharacterStyle):
        return [spec]
    if spec is None or spec == "all":
        return [get_character(n) for n in list_characters()]
    if isinstance(spec, str):
        if spec.startswith(("random:", "wide:")):
            kind, k = spec.split(":", 1)
            if not k.isdigit() or int(k) < 1:
                raise InputError(f"--characters {spec!r}: expected {kind}:K with K a positive integer")
            return random_characters(int(k), seed, "wide" if kind == "wide" else space)
        if spec.startswith("standin:"):
            k = spec.split(":", 1)[1]
            if not k.isdigit() or int(k) < 1:
                raise InputError(f"--characters {spec!r}: expected standin:K with K a positive integer")
            return standin_humans(int(k), seed)
        spec = [s for s in spec.split(",") if s.strip()]
    styles = []
    for item in spec:
        styles.append(item if isinstance(item, CharacterStyle) else get_character(str(item).strip()))
    names = [s.name for s in styles]
    if len(set(names)) != len(names):
        raise InputError(f"characters {names}: names must be unique")
    if not styles:
        raise InputError("characters: empty list; give names, 'all' or random:K")
    return styles
