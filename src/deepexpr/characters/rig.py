"""The character rig: FACS controls, EMFACS key poses, per-character variation, interpolation.

A rig value is a plain `dict[str, float]` over `RIG_CONTROLS`:
    AUs (0 = off, 1 = maximal; the renderer maps each to a geometric motion), head
    yaw/pitch/roll in degrees (yaw + turns the face to the image right, pitch + looks down,
    roll + tilts clockwise), gaze_x/gaze_y in [-1, 1] (+ = image right / down).

How frames are made (FERG-DB's method, paper 000 section 3.1): each character has >= 15
key poses per expression, built from the EMFACS prototypes (several prototype variants per
expression, intensities, optional AUs, head pose and gaze varied per character by a seeded
generator). Frames interpolate neutral -> key pose and key pose -> key pose of the same
expression.

Weak-intensity policy (documented choice; the paper keeps only key poses with 70% human
agreement): an interpolated neutral -> key frame uses t in [WEAK_T, 1] only, so no labelled
emotional frame is weaker than 60% of a key pose; the near-neutral part of the ramp
(t < WEAK_T) is excluded, never relabelled neutral. Neutral frames themselves interpolate
between neutral key poses (head pose and gaze vary; every AU stays <= 0.12).
"""

from __future__ import annotations

import functools
import zlib

import numpy as np

from deepexpr.errors import InputError
from deepexpr.expressions import EXPRESSIONS, canonical

AUS = ("AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU9", "AU10", "AU12", "AU15", "AU16",
       "AU17", "AU20", "AU23", "AU24", "AU25", "AU26", "AU27")
POSE = ("head_yaw", "head_pitch", "head_roll", "gaze_x", "gaze_y")
RIG_CONTROLS: tuple[str, ...] = AUS + POSE
# Limits of each control (AUs 0..1, head angles in degrees, gaze -1..1).
LIMITS = {**{a: (0.0, 1.0) for a in AUS}, "head_yaw": (-25.0, 25.0), "head_pitch": (-15.0, 15.0),
          "head_roll": (-12.0, 12.0), "gaze_x": (-1.0, 1.0), "gaze_y": (-1.0, 1.0)}

KEY_POSES_PER_EXPRESSION = 18
WEAK_T = 0.6  # neutral -> key frames use t in [WEAK_T, 1]; weaker frames are excluded
NEUTRAL_AU_MAX = 0.12  # neutral poses never exceed this on any AU

# EMFACS prototypes and major variants (Ekman & Friesen; intensities chosen so the drawn
# expression reads at a glance). Each expression has several variants; key poses draw
# from them in turn. Values are apex intensities before per-character scaling.
PROTOTYPES: dict[str, list[dict[str, float]]] = {
    "joy": [
        {"AU6": 0.8, "AU12": 1.0, "AU25": 0.7, "AU26": 0.15},  # smile showing teeth
        {"AU6": 0.9, "AU12": 1.0, "AU25": 0.8, "AU26": 0.35},  # open, laughing smile
        {"AU6": 0.7, "AU12": 1.0},  # closed-mouth smile
        {"AU6": 1.0, "AU12": 1.0, "AU25": 1.0, "AU26": 0.6, "AU2": 0.2},  # big laugh
    ],
    "sadness": [
        {"AU1": 1.0, "AU4": 0.7, "AU15": 1.0},
        {"AU1": 1.0, "AU4": 0.6, "AU15": 0.9, "AU17": 0.6},
        {"AU1": 0.9, "AU4": 0.5, "AU15": 0.8, "AU6": 0.3, "AU17": 0.3},
        {"AU1": 1.0, "AU4": 0.8, "AU15": 1.0, "AU25": 0.4, "AU26": 0.1},  # lips slightly parted
    ],
    "surprise": [
        {"AU1": 1.0, "AU2": 1.0, "AU5": 0.9, "AU25": 1.0, "AU26": 0.9},
        {"AU1": 1.0, "AU2": 1.0, "AU5": 1.0, "AU25": 1.0, "AU27": 0.8},
        {"AU1": 0.9, "AU2": 0.9, "AU5": 0.8, "AU25": 1.0, "AU26": 0.6},
        {"AU1": 1.0, "AU2": 0.8, "AU5": 1.0, "AU25": 1.0, "AU26": 1.0},
    ],
    "fear": [
        {"AU1": 1.0, "AU2": 0.7, "AU4": 0.7, "AU5": 1.0, "AU20": 1.0, "AU25": 1.0, "AU26": 0.3},
        {"AU1": 1.0, "AU2": 0.6, "AU4": 0.8, "AU5": 0.9, "AU7": 0.3, "AU20": 1.0, "AU25": 1.0,
         "AU26": 0.5},
        {"AU1": 0.9, "AU2": 0.8, "AU4": 0.6, "AU5": 1.0, "AU20": 0.9, "AU25": 0.8},
        {"AU1": 1.0, "AU2": 0.5, "AU4": 0.7, "AU5": 1.0, "AU20": 1.0, "AU25": 1.0, "AU27": 0.5},
    ],
    "anger": [
        {"AU4": 1.0, "AU5": 0.6, "AU7": 0.8, "AU23": 0.9, "AU24": 0.8},
        {"AU4": 1.0, "AU5": 0.5, "AU7": 0.9, "AU10": 0.8, "AU25": 1.0, "AU26": 0.35},  # snarl
        {"AU4": 1.0, "AU7": 1.0, "AU24": 1.0, "AU17": 0.5},
        {"AU4": 1.0, "AU5": 0.7, "AU7": 0.6, "AU10": 0.6, "AU20": 0.5, "AU25": 1.0,
         "AU26": 0.6},  # shouting
    ],
    "disgust": [
        {"AU9": 1.0, "AU10": 0.8, "AU15": 0.6, "AU16": 0.4, "AU4": 0.5},
        {"AU9": 1.0, "AU10": 1.0, "AU17": 0.6, "AU4": 0.6, "AU7": 0.4},
        {"AU9": 0.8, "AU10": 1.0, "AU15": 0.8, "AU25": 0.6, "AU4": 0.4, "AU6": 0.3},
        {"AU9": 1.0, "AU10": 0.7, "AU16": 0.8, "AU25": 0.9, "AU26": 0.2, "AU4": 0.6},
    ],
    "neutral": [{}],
}
# AUs that carry each expression's label: key poses keep them >= 0.6 after variation.
CORE_AUS = {"joy": ("AU12",), "sadness": ("AU1", "AU15"), "surprise": ("AU1", "AU2", "AU5"),
            "fear": ("AU1", "AU5", "AU20"), "anger": ("AU4",), "disgust": ("AU9", "AU10"),
            "neutral": ()}
# Optional AUs an animator might add to give a pose character (small intensities).
OPTIONAL_AUS = {"joy": ("AU2", "AU25", "AU26"), "sadness": ("AU17", "AU6", "AU7"),
                "surprise": ("AU25",), "fear": ("AU7", "AU26", "AU16"),
                "anger": ("AU9", "AU17", "AU5"), "disgust": ("AU6", "AU7", "AU17", "AU24"),
                "neutral": ()}
# Typical head/gaze acting per expression: (mean, spread) of yaw, pitch, roll, gaze_x, gaze_y.
ACTING = {
    "joy": ((0, -3, 0, 0, 0), (14, 5, 6, 0.4, 0.2)),
    "sadness": ((0, 8, 0, 0, 0.6), (12, 4, 5, 0.4, 0.25)),
    "surprise": ((0, -4, 0, 0, -0.1), (12, 4, 4, 0.3, 0.2)),
    "fear": ((0, 2, 0, 0, 0), (14, 4, 5, 0.7, 0.25)),
    "anger": ((0, 3, 0, 0, 0), (12, 4, 4, 0.25, 0.15)),
    "disgust": ((0, -1, 0, 0, 0.1), (14, 4, 6, 0.5, 0.25)),
    "neutral": ((0, 0, 0, 0, 0), (14, 5, 5, 0.45, 0.3)),
}


def neutral_rig() -> dict[str, float]:
    """All controls at rest (frontal, looking ahead)."""
    return {c: 0.0 for c in RIG_CONTROLS}


_NEUTRAL = {c: 0.0 for c in RIG_CONTROLS}


def check_rig(rig: dict) -> dict[str, float]:
    """A full rig dict: missing controls are 0, values clipped to `LIMITS`.

    Raises:
        InputError: an unknown control name.
    """
    out = dict(_NEUTRAL)
    for key, value in rig.items():
        limits = LIMITS.get(key)
        if limits is None:
            unknown = [k for k in rig if k not in LIMITS]
            raise InputError(f"rig: unknown control(s) {unknown}; valid: {', '.join(RIG_CONTROLS)}")
        lo, hi = limits
        out[key] = float(min(hi, max(lo, float(value))))
    return out


def _expression(expression: str) -> str:
    try:
        return canonical(expression)
    except ValueError:
        raise InputError(f"unknown expression {expression!r}; expected one of "
                         f"{', '.join(EXPRESSIONS)}") from None


def _seed(*parts) -> list[int]:
    return [zlib.crc32(str(p).encode()) for p in parts]


def key_poses(style, expression: str, count: int = KEY_POSES_PER_EXPRESSION) -> list[dict[str, float]]:
    """The character's key poses for one expression (deterministic for the character).

    Pose 0 is the frontal apex of the first EMFACS prototype (used by the contact sheet);
    the others cycle through the prototype variants with per-character intensity scaling,
    optional AUs, head pose and gaze.

    Args:
        style: a CharacterStyle (its name, expressiveness and acting scales are used).
        expression: one of EXPRESSIONS (aliases accepted).
        count: number of key poses (>= 15 by default).

    Returns:
        list of full rig dicts.
    """
    expr = _expression(expression)
    return [dict(pose) for pose in _key_poses(*_acting_of(style), expr, int(count))]


def _acting_of(style) -> tuple[str, float, float, float]:
    """What of a style the key poses depend on: its name and acting gains."""
    return (getattr(style, "name", str(style)), float(getattr(style, "expressiveness", 1.0)),
            float(getattr(style, "brow_acting", 1.0)), float(getattr(style, "mouth_acting", 1.0)))


@functools.lru_cache(maxsize=512)
def _key_poses(name: str, gain: float, brow_gain: float, mouth_gain: float, expr: str,
               count: int) -> tuple[dict[str, float], ...]:
    """`key_poses`, cached (read-only: callers get copies)."""
    rng = np.random.default_rng(_seed("keys", name, expr))
    # A per-character acting bias per AU: some characters smile wider, frown harder.
    bias = {a: float(rng.uniform(0.85, 1.12)) for a in AUS}
    mean, spread = ACTING[expr]
    poses = []
    for k in range(count):
        proto = PROTOTYPES[expr][k % len(PROTOTYPES[expr])]
        rig = neutral_rig()
        if expr == "neutral":
            for a in ("AU12", "AU25", "AU1", "AU2", "AU6"):
                if rng.uniform() < 0.25:
                    rig[a] = float(rng.uniform(0.0, NEUTRAL_AU_MAX))
        else:
            for a, v in proto.items():
                scale = gain * bias[a] * (1.0 if k == 0 else rng.uniform(0.78, 1.12))
                scale *= brow_gain if a in ("AU1", "AU2", "AU4") else 1.0
                scale *= mouth_gain if a in ("AU12", "AU15", "AU20", "AU10", "AU26") else 1.0
                rig[a] = v * scale
            if k > 0:
                for a in OPTIONAL_AUS[expr]:
                    if rng.uniform() < 0.3:
                        rig[a] = max(rig[a], float(rng.uniform(0.1, 0.4)))
            for a in CORE_AUS[expr]:
                rig[a] = max(rig[a], 0.6)
        if k > 0:
            draws = rng.normal(0, 1, 5).clip(-1.8, 1.8)
            for c, m, s, d in zip(POSE, mean, spread, draws):
                rig[c] = m + s * d * 0.6
        else:
            rig["gaze_y"] = mean[4] * 0.5
        poses.append(check_rig(rig))
    return tuple(poses)


def interpolate(a: dict[str, float], b: dict[str, float], t: float) -> dict[str, float]:
    """Blend two rigs: (1 - t) a + t b, with a smoothstep on t (animators' ease-in/out)."""
    s = float(t) * float(t) * (3.0 - 2.0 * float(t))
    return {c: (1.0 - s) * a.get(c, 0.0) + s * b.get(c, 0.0) for c in RIG_CONTROLS}


def sample_poses(style, expression: str, n: int, seed: int = 0) -> list[dict[str, float]]:
    """`n` labelled frames of one expression, interpolated between the character's key poses.

    Half of the frames ramp neutral -> key pose with t in [WEAK_T, 1] (weaker frames are
    excluded, see the module docstring); the other half blend two key poses of the same
    expression with t in [0, 1]. Neutral frames blend two neutral key poses. A small
    per-frame jitter of head pose and gaze keeps frames distinct.

    Args:
        style: a CharacterStyle.
        expression: one of EXPRESSIONS.
        n: number of frames.
        seed: the same (style, expression, n, seed) gives the same frames.

    Returns:
        list of `n` full rig dicts.
    """
    expr = _expression(expression)
    if int(n) < 0:
        raise InputError(f"sample_poses: n={n} must be >= 0")
    acting = _acting_of(style)  # the key poses are only read here: no copies needed
    keys = _key_poses(*acting, expr, KEY_POSES_PER_EXPRESSION)
    neutrals = keys if expr == "neutral" else _key_poses(*acting, "neutral", KEY_POSES_PER_EXPRESSION)
    rng = np.random.default_rng(_seed("frames", getattr(style, "name", style), expr, int(seed)))
    out = []
    for _ in range(int(n)):
        k = keys[int(rng.integers(len(keys)))]
        if expr != "neutral" and rng.uniform() < 0.5:
            start = neutrals[int(rng.integers(len(neutrals)))]
            t = rng.uniform(WEAK_T, 1.0)
            # The head moves with the ramp; the AUs ease from rest to the key pose.
            rig = interpolate(start, k, t)
        else:
            other = keys[int(rng.integers(len(keys)))]
            rig = interpolate(k, other, rng.uniform(0.0, 1.0))
        rig["head_yaw"] += rng.normal(0, 2.0)
        rig["head_pitch"] += rng.normal(0, 1.0)
        rig["head_roll"] += rng.normal(0, 1.0)
        rig["gaze_x"] += rng.normal(0, 0.08)
        rig["gaze_y"] += rng.normal(0, 0.05)
        out.append(check_rig(rig))
    return out
