"""Drawing one labelled face icon as an emoji-like image: fills, tints, cues, framing.

Monochrome icon sets draw a face as ink on transparency: an outlined face (ink ring,
features, empty inside) or a solid face (an ink disc with the features cut out). Emoji
and other artist-drawn faces fill the face with a colour and use colour conventions for
some classes, so each render here

- finds the face's inside (what ink encloses, `face_regions`),
- fills it (yellow, orange, skin, white) and paints the features dark, or keeps the
  icon as line art,
- tints by the emoji conventions: blue / pale upper face for fear, green face for
  disgust, red face for anger (only those classes ever get those colours),
- adds a sweat drop (mostly fear, sometimes sadness, the emoji convention) and, for fear,
  hands at the cheeks (the screaming face),
- varies line width, size, position, rotation, mirror and background.

`cue_only=True` draws the fear cues on a *surprise* icon: emoji fear has surprise's
shape (wide eyes, open mouth) and only the blue upper face, the sweat drop and the hands
tell them apart, so these renders are labelled fear and their surprise twins never carry a
cue. Emoji paint that blue as a saturated forehead band with a clear edge or over the whole
face (generator 2; generator 1 drew only a soft gradient over the upper half).
"""

from __future__ import annotations

import io
import random

import numpy as np

FACE_FILLS = ((255, 204, 51), (255, 214, 90), (250, 190, 40), (255, 222, 130), (246, 178, 60),
              (240, 200, 160), (226, 172, 124), (198, 134, 96), (250, 250, 250), (236, 236, 236))
INKS = ((0, 0, 0), (40, 30, 20), (70, 45, 25), (35, 35, 55), (90, 60, 30), (60, 60, 60))
BACKGROUNDS = ((255, 255, 255), (245, 245, 245), (255, 255, 255), (209, 212, 249), (182, 227, 244),
               (255, 213, 220), (255, 223, 191), (199, 240, 194), (255, 243, 176), (224, 224, 224),
               (60, 60, 80), (150, 160, 175))
FEAR_TINTS = ((92, 140, 230), (150, 196, 245), (120, 170, 220), (178, 170, 232), (222, 226, 238))
DISGUST_TINTS = ((112, 186, 70), (140, 202, 84), (90, 160, 62), (150, 206, 100))
ANGER_TINTS = ((232, 82, 60), (220, 60, 50), (240, 110, 70), (200, 40, 40))
SWEAT = (120, 190, 245)
TINT_CHANCE = {"fear": 0.6, "disgust": 0.65, "anger": 0.45}
SWEAT_CHANCE = {"fear": 0.4, "sadness": 0.1}
HANDS_CHANCE = 0.2  # fear renders with hands at the cheeks


def rasterise_alpha(svg: str, size: int) -> np.ndarray:
    """The icon's coverage: (size, size) float32 in [0, 1] (`currentColor` drawn black)."""
    import resvg_py
    from PIL import Image

    svg = svg.replace("currentColor", "#000")
    png = resvg_py.svg_to_bytes(svg_string=svg, width=size, height=size)
    img = Image.open(io.BytesIO(bytes(png))).convert("RGBA")
    if img.size != (size, size):
        img = img.resize((size, size), Image.BILINEAR)
    rgba = np.asarray(img, dtype=np.float32) / 255.0
    # two-tone sets draw their second tone light or translucent: count it as fill, not ink
    dark = 1.0 - rgba[..., :3].mean(axis=2)
    return rgba[..., 3] * np.clip(dark * 1.6, 0, 1)


def face_regions(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split non-ink pixels into outside (reaches the border) and enclosed holes.

    Args:
        ink: (H, W) bool.

    Returns:
        (outside, holes): (H, W) bool each.
    """
    from scipy import ndimage

    labels, _ = ndimage.label(~ink)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    outside = np.isin(labels, border[border > 0])
    return outside, ~ink & ~outside


def _tint_mask(region: np.ndarray, label: str, rng: random.Random, generator: int = 2) -> np.ndarray:
    """(H, W) float weights of the class tint inside `region`: fear from the top down,
    disgust whole or from the bottom up, anger whole or from the top."""
    ys = np.flatnonzero(region.any(axis=1))
    if ys.size == 0:
        return np.zeros(region.shape, np.float32)
    top, bottom = ys[0], ys[-1] + 1
    t = (np.arange(region.shape[0], dtype=np.float32) - top) / max(bottom - top, 1)
    if label == "fear" and generator == 1:  # generator 1: a soft gradient over the upper half
        ramp = np.clip((rng.uniform(0.35, 0.7) - t) / 0.25 + 0.5, 0, 1)
    elif label == "fear":  # a forehead band with a soft or sharp edge, or the whole face
        reach = 1.5 if rng.random() < 0.3 else rng.uniform(0.3, 0.7)
        ramp = np.clip((reach - t) / rng.uniform(0.04, 0.25) + 0.5, 0, 1)
    elif label == "anger" and rng.random() < 0.4:
        ramp = np.clip((rng.uniform(0.35, 0.7) - t) / 0.25 + 0.5, 0, 1)
    elif label == "disgust" and rng.random() < 0.3:
        ramp = np.clip((t - rng.uniform(0.2, 0.5)) / 0.25 + 0.5, 0, 1)
    else:
        ramp = np.ones_like(t)
    return region * ramp[:, None].astype(np.float32)


def _tint_colour(label: str, rng: random.Random):
    table = {"fear": FEAR_TINTS, "disgust": DISGUST_TINTS, "anger": ANGER_TINTS}[label]
    return np.array(rng.choice(table), np.float32)


def _sweat_drop(canvas: np.ndarray, region: np.ndarray, ink_colour, rng: random.Random,
                generator: int = 2) -> None:
    """Draw a blue drop at the upper side of the face (in place)."""
    from PIL import Image, ImageDraw

    ys, xs = np.nonzero(region)
    if ys.size == 0:
        return
    h = ys.max() - ys.min() + 1
    r = max(2, int(h * (rng.uniform(0.06, 0.1) if generator == 1 else rng.uniform(0.07, 0.14))))  # emoji drops are large
    side = rng.choice((-1, 1))
    cx = int(xs.mean() + side * (xs.max() - xs.min()) * rng.uniform(0.25, 0.42))
    cy = int(ys.min() + h * rng.uniform(0.15, 0.35))
    img = Image.fromarray(canvas)
    draw = ImageDraw.Draw(img)
    tip = [(cx - r, cy), (cx + r, cy), (cx, cy - int(2.2 * r))]
    outline = tuple(int(c) for c in ink_colour)
    draw.polygon(tip, fill=SWEAT, outline=outline)
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=SWEAT, outline=outline)
    canvas[:] = np.asarray(img)


def _hands(canvas: np.ndarray, region: np.ndarray, fill, ink_colour, rng: random.Random) -> None:
    """Draw two hands (ovals with finger lines) against the lower cheeks (in place)."""
    from PIL import Image, ImageDraw

    ys, xs = np.nonzero(region)
    if ys.size == 0:
        return
    h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    img = Image.fromarray(canvas)
    draw = ImageDraw.Draw(img)
    colour = tuple(int(c) for c in fill)
    outline = tuple(int(c) for c in ink_colour)
    rx, ry = int(w * rng.uniform(0.1, 0.15)), int(h * rng.uniform(0.17, 0.24))
    cy = int(ys.min() + h * rng.uniform(0.55, 0.7))
    lw = max(1, h // 40)
    for side in (-1, 1):
        cx = int(xs.mean() + side * w * rng.uniform(0.4, 0.5))
        draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=colour, outline=outline, width=lw)
        for k in (-1, 0, 1):  # finger lines
            fx = cx + k * rx // 2
            draw.line([(fx, cy - ry + ry // 3), (fx, cy - ry // 4)], fill=outline, width=lw)
    canvas[:] = np.asarray(img)


def _line_width(alpha: np.ndarray, rng: random.Random) -> np.ndarray:
    from scipy import ndimage

    ink = alpha > 0.5
    step = rng.choice((-1, 0, 0, 1, 2)) * max(1, alpha.shape[0] // 96)
    if step > 0:
        ink = ndimage.binary_dilation(ink, iterations=step)
    elif step < 0:
        thin = ndimage.binary_erosion(ink, iterations=-step)
        ink = thin if thin.sum() > 0.4 * ink.sum() else ink
    return ink


def colour_face(alpha: np.ndarray, label: str, rng: random.Random,
                cue_only: bool = False, generator: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Colour an icon's coverage as an emoji-like face (module docstring).

    Args:
        alpha: (S, S) float coverage from `rasterise_alpha`.
        label: the class drawn (decides which tints and cues may appear).
        rng: the render's random source.
        cue_only: a surprise icon drawn as fear: the fear tint and/or sweat drop always.

    Returns:
        (rgb, mask): (S, S, 3) uint8 face on black, (S, S) bool pixels that belong to it.
    """
    ink = _line_width(alpha, rng)
    outside, holes = face_regions(ink)
    solid = ink.sum() > 1.5 * max(holes.sum(), 1)
    face, features = (ink, holes) if solid else (holes, ink)
    # a cue must show: no white face under a pale tint when the cue is all that says fear
    fill = np.array(rng.choice(FACE_FILLS[:8] if cue_only else FACE_FILLS), np.float32)
    ink_colour = np.array(rng.choice(INKS), np.float32)
    line_art = not cue_only and rng.random() < 0.2
    canvas = np.zeros(alpha.shape + (3,), np.float32)
    if line_art:  # the icon as drawn: dark ink, the holes left to the background
        canvas[ink] = ink_colour
        return canvas.astype(np.uint8), ink
    canvas[face] = fill
    tinted = label in TINT_CHANCE and (cue_only or rng.random() < TINT_CHANCE[label])
    if cue_only and label == "fear" and rng.random() < 0.3:
        tinted = False  # the drop alone then (below)
    if tinted:
        w = _tint_mask(face, label, rng, generator)[..., None] * rng.uniform(0.8, 1.0)
        strong = cue_only and label == "fear"  # the blue tints, not the lilac or pale ones
        tint = np.array(rng.choice(FEAR_TINTS[:3]), np.float32) if strong else _tint_colour(label, rng)
        canvas = canvas * (1 - w) + tint * w
    canvas[features] = ink_colour
    mask = face | features
    if solid and rng.random() < 0.5:  # a dark outline around a solid face
        from scipy import ndimage

        ring = ndimage.binary_dilation(ink, iterations=max(1, alpha.shape[0] // 48)) & outside
        canvas[ring] = ink_colour
        mask |= ring
    rgb = canvas.clip(0, 255).astype(np.uint8)
    chance = 0.5 if cue_only else SWEAT_CHANCE.get(label, 0.0)
    drop = label in SWEAT_CHANCE and ((cue_only and not tinted) or rng.random() < chance)
    if drop:
        _sweat_drop(rgb, face, ink_colour, rng, generator)
    hands = generator >= 2 and label == "fear" and rng.random() < HANDS_CHANCE
    if hands:
        _hands(rgb, face, fill, ink_colour, rng)
    if drop or hands:
        mask = mask | (rgb.sum(axis=2) > 0)
    return rgb, mask


def frame(rgb: np.ndarray, mask: np.ndarray, size: int, rng: random.Random) -> np.ndarray:
    """Place a coloured face on a background: scale, offset, rotation, mirror.

    Args:
        rgb: (S, S, 3) uint8 face; mask: (S, S) bool its pixels.
        size: output side in pixels.

    Returns:
        (size, size, 3) uint8.
    """
    from PIL import Image

    face = Image.fromarray(rgb).convert("RGBA")
    face.putalpha(Image.fromarray((mask * 255).astype(np.uint8)))
    side = max(8, int(size * rng.uniform(0.62, 1.0)))
    face = face.resize((side, side), Image.BILINEAR)
    if rng.random() < 0.5:
        face = face.transpose(Image.FLIP_LEFT_RIGHT)
    angle = rng.uniform(-14, 14)
    face = face.rotate(angle, resample=Image.BILINEAR, expand=False)
    colour = rng.choice(BACKGROUNDS)
    if sum(colour) < 330 and rgb[mask].mean() < 110:  # a dark face on a dark ground: unreadable
        colour = (255, 255, 255)
    bg = Image.new("RGBA", (size, size), tuple(colour) + (255,))
    x, y = rng.randint(0, size - side), rng.randint(0, size - side)
    bg.alpha_composite(face, (x, y))
    return np.asarray(bg.convert("RGB"), dtype=np.uint8)


def draw_icon(svg: str, label: str, size: int, rng: random.Random,
              cue_only: bool = False, cache: dict | None = None, generator: int = 2) -> np.ndarray:
    """One training image of an icon: `rasterise_alpha` -> `colour_face` -> `frame`.

    Args:
        cache: a dict to keep each SVG's coverage in (an icon is drawn many times).
        generator: 2 (the current drawing) or 1 (session 7's, which the bundled
            `character_realart` was trained on; kept so that model can be remade).

    Returns:
        (size, size, 3) uint8 RGB.

    Raises:
        ValueError: the SVG cannot be rendered or draws nothing.
    """
    inner = max(16, 2 * size)  # drawn at twice the size, then framed down (smoother lines)
    key = (svg, inner)
    if cache is not None and key in cache:
        alpha = cache[key].astype(np.float32) / 255.0
    else:
        alpha = rasterise_alpha(svg, inner)
        if cache is not None:
            cache[key] = (alpha * 255).round().astype(np.uint8)
    if (alpha > 0.5).sum() < 0.005 * inner * inner:
        raise ValueError("the icon draws (almost) nothing")
    rgb, mask = colour_face(alpha, label, rng, cue_only=cue_only, generator=generator)
    return frame(rgb, mask, size, rng)
