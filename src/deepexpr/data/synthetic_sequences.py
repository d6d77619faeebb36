"""SYNTHETIC 3D expression sequences (a stand-in for the gated BU-4DFE; label it synthetic).

Everything here is made up from one real face shape: the 83 landmarks (see
`landmarks83`) of the project's base mesh, mediapipe's 468-point 3D face of
`skimage.data.astronaut()`, in mm. Each sequence is that face, varied per subject, driven by
FACS action units (AUs) along an onset-apex-offset time course, with head motion and noise.

Model of one sequence (all choices ours, none from a database):
- AU fields: each AU moves landmarks near a few anchor vertices of the 468-point mesh along
  a direction given as (outward, up, forward) mm at intensity 1, with a Gaussian influence
  of radius `r` mm; AU26/27 (jaw) move every point below the upper inner lip down and back,
  more the nearer the chin. Expressions are EMFACS prototypes (DESIGN.md): joy 6+12+25,
  sadness 1+4+15+17, surprise 1+2+5+26, fear 1+2+4+5+7+20+26, anger 4+5+7+23+17,
  disgust 9+10+15+16.
- Timing at 25 fps: neutral hold, onset, apex hold, offset, neutral tail; durations drawn
  per subject and scaled by the subject's speed; each AU starts with a small random lag.
  The intensity curve is a smoothstep up and down.
- Per subject: anisotropic scale (face width/height/depth +-8%), small per-group offsets
  (eye spacing, mouth, brows), expression intensity (0.6..1.3) with per-AU jitter, speed
  (0.7..1.4), head motion (slow yaw/pitch/roll oscillation of 1..4 degrees plus a drift and
  an expression-linked pitch: up in surprise/fear, down in sadness), and per-frame tracking
  noise (0.1 mm).
- AU displacements in mm scale with the subject's face (per axis, by the same factors as
  its neutral shape): a larger face moves more in mm for the same muscle action, as real
  faces do. This is the one link between a subject's neutral face and its motion; the
  intensity, speed, timing and head motion are drawn independently of the face.
- The base photo smiles with the lips apart; that is the "neutral" of every subject, so joy
  adds to a smile that is already there.

    >>> deepexpr sequences make --out data/sequences      # 100 subjects x 6 expressions
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepexpr.errors import check_settings, setting
from deepexpr.landmarks83 import GROUPS, MEDIAPIPE_INDICES

SYNTH_EXPRESSIONS = ("anger", "disgust", "fear", "joy", "sadness", "surprise")
FPS = 25.0
SYNTHETIC_NOTE = ("SYNTHETIC data made by deepexpr (deepexpr.data.synthetic_sequences): not BU-3DFE/"
                  "BU-4DFE; AU-driven deformations of one mediapipe face mesh of "
                  "skimage.data.astronaut(). Do not report results on it as results on real "
                  "faces.")

# AU -> list of (mediapipe anchor vertices, (outward, up, forward) mm at intensity 1, radius mm)
AU_FIELDS: dict[int, list[tuple[tuple[int, ...], tuple[float, float, float], float]]] = {
    1: [((107, 336, 55, 285), (0.0, 4.5, 0.5), 10.0)],
    2: [((70, 300, 46, 276, 63, 293), (0.0, 4.5, 0.0), 11.0)],
    4: [((107, 336, 55, 285, 66, 296), (-2.5, -3.5, 0.5), 12.0)],
    5: [((159, 386, 160, 158, 387, 385), (0.0, 2.5, 0.3), 5.0)],
    6: [((145, 374, 153, 380), (0.0, 1.5, 0.5), 9.0)],
    7: [((145, 374, 144, 373), (0.0, 1.2, 0.0), 6.0), ((159, 386), (0.0, -0.8, 0.0), 4.0)],
    9: [((98, 327, 129, 358, 64, 294), (0.0, 2.0, 0.5), 7.0), ((168, 6), (0.0, -1.5, 0.0), 6.0)],
    10: [((0, 37, 267, 13, 81, 311), (0.0, 2.5, 0.8), 8.0)],
    12: [((61, 291, 78, 308), (4.0, 3.0, -1.5), 9.0)],
    15: [((61, 291, 78, 308), (0.5, -3.5, 0.0), 9.0)],
    # AU16/17/23/24 as FACS describes them, each apart from its look-alikes (AU_MODEL_VERSION 2):
    # AU16 pulls the lower lip down and out across its width (AU25 only parts the lips);
    # AU17 pushes the lower lip's outer middle and the chin boss up and out, the jaw stays (not
# -AU26) and the inner lips hardly move (not -AU25);
    # AU23 narrows the red of both lips towards the line, the corners stay (not -AU20);
    # AU24 presses the lips together (inner lips meet) and lengthens them a little (not AU15)
    16: [((84, 314, 91, 321), (1.0, -3.0, 1.2), 6.0), ((17,), (0.0, -2.5, 1.5), 5.0)],
    17: [((17,), (0.0, 2.2, 2.5), 6.0), ((152,), (0.0, 1.5, 1.5), 8.0)],
    20: [((61, 291, 78, 308), (4.5, -1.0, -1.0), 9.0)],
    23: [((0, 37, 267), (0.0, -1.3, 0.6), 4.0), ((17, 84, 314), (0.0, 1.5, 0.6), 4.0)],
    24: [((13, 81, 311), (0.0, -1.2, 0.0), 4.0), ((14, 402, 178), (0.0, 1.6, 0.0), 4.0),
         ((0, 37, 267), (0.0, -0.6, -0.3), 4.0), ((61, 291), (1.2, 0.0, 0.0), 4.0)],
    25: [((14, 402, 178), (0.0, -2.0, 0.0), 7.0)],
}
AU_MODEL_VERSION = 2  # of AU_FIELDS: recorded in corpora and ground-truth caches (2: AU16/17/23/24 redrawn)
JAW_AUS = {26: 10.0, 27: 14.0}  # jaw drop (mm at the chin, intensity 1, before AU_GAIN)

AU_GAIN = 1.8  # posed expressions (as in BU-4DFE) are strong: scales every AU_FIELDS entry

EXPRESSION_AUS: dict[str, dict[int, float]] = {  # AU -> apex intensity of the prototype
    "joy": {6: 1.0, 12: 1.0, 25: 0.6},
    "sadness": {1: 1.0, 4: 0.6, 15: 1.0, 17: 0.6},
    "surprise": {1: 1.0, 2: 1.0, 5: 1.0, 26: 1.0},
    "fear": {1: 1.0, 2: 0.6, 4: 0.7, 5: 1.0, 7: 0.5, 20: 1.0, 26: 0.5},
    "anger": {4: 1.2, 5: 0.6, 7: 1.0, 23: 1.0, 17: 0.5},
    "disgust": {9: 1.0, 10: 0.8, 15: 0.7, 16: 0.6},
}
HEAD_PITCH_DEG = {"surprise": 3.0, "fear": 2.0, "sadness": -4.0, "joy": 1.0, "anger": -1.5,
                  "disgust": -1.0}  # expression-linked head pitch at apex (+: chin up)


@dataclass
class SynthConfig:
    subjects: int = setting(100, "synthetic subjects", min=1, max=100000)
    seed: int = setting(0, "random seed (same seed, same corpus)")
    noise_mm: float = setting(0.1, "per-frame landmark tracking noise (std, mm)", min=0)
    max_frames: int = setting(135, "longest sequence written (the paper's length)", min=2, max=10000)
    fmt: str = setting("npy", "npy: one (T,83,3) file per sequence; bnd: one text file per frame",
                       choices=("npy", "bnd"), flag="--format")

    def __post_init__(self):
        check_settings(self)


def base_landmarks() -> np.ndarray:
    """(83, 3) rest landmarks of the base face (mm)."""
    from deepexpr.faces.facemesh import base_mesh

    return base_mesh().vertices[MEDIAPIPE_INDICES].copy()


def au_field(au: int, points: np.ndarray, anchors_xyz: np.ndarray | None = None) -> np.ndarray:
    """(83, 3) displacement of `points` for AU `au` at intensity 1.

    Args:
        au: action unit number (a key of AU_FIELDS or JAW_AUS).
        points: (83, 3) landmarks (mm) of the subject's neutral face.
        anchors_xyz: (468, 3) base mesh vertices (default: the base face); anchors are looked
            up there and moved with the subject via the landmark offset of the nearest point.
    """
    from deepexpr.faces.facemesh import base_mesh

    if au in JAW_AUS:
        lip_y = points[_row(13), 1]
        chin_y = points[_row(152), 1]
        t = np.clip((lip_y - points[:, 1]) / max(lip_y - chin_y, 1e-6), 0, 1)
        t = np.where(points[:, 1] < lip_y - 2.0, np.maximum(t, 0.35), t)  # lower lip moves
        lateral = np.exp(-(points[:, 0] / 55.0) ** 2)  # jaw angle near the ears moves less
        w = t * (0.4 + 0.6 * lateral)
        return JAW_AUS[au] * w[:, None] * np.array([0.0, -1.0, -0.25])
    mesh = base_mesh().vertices if anchors_xyz is None else anchors_xyz
    ref = base_mesh().vertices[MEDIAPIPE_INDICES]
    field = np.zeros_like(points)
    for anchors, (out, up, fwd), radius in AU_FIELDS[au]:
        for a in anchors:
            rows = np.nonzero(MEDIAPIPE_INDICES == a)[0]
            # the subject's own landmark, or the base vertex moved with the subject's face
            pos = points[rows[0]] if len(rows) else mesh[a] + (points - ref).mean(0)
            side = np.sign(mesh[a, 0]) or 1.0
            d2 = ((points - pos) ** 2).sum(1)
            w = np.exp(-d2 / (2 * radius**2))[:, None]
            field_a = w * np.array([out * side, up, fwd])
            field = np.where(np.abs(field_a) > np.abs(field), field_a, field)  # max, no stacking
    return field


def _row(mediapipe_index: int) -> int:
    return int(np.nonzero(MEDIAPIPE_INDICES == mediapipe_index)[0][0])


def smooth_pulse(t: np.ndarray, start, onset, apex, offset) -> np.ndarray:
    """0 -> 1 -> 0 intensity: smoothstep up over `onset`, hold `apex`, smoothstep down."""
    def ss(x):
        x = np.clip(x, 0, 1)
        return x * x * (3 - 2 * x)

    up = ss((t - start) / onset)
    down = ss((t - start - onset - apex) / offset)
    return up * (1 - down)


def rotation(yaw, pitch, roll) -> np.ndarray:
    """Rotation matrix from degrees (yaw about y, pitch about x, roll about z)."""
    y, p, r = np.radians([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


def make_subject(rng: np.random.Generator, base: np.ndarray) -> dict:
    """Random per-subject traits: neutral landmarks and style of moving."""
    scale = 1 + rng.uniform(-0.08, 0.08, size=3)
    neutral = (base - base.mean(0)) * scale + base.mean(0)
    start = 0
    for name, idx in GROUPS.items():  # small per-group shape offsets
        n = len(idx)
        if name != "contour":
            neutral[start:start + n] += rng.normal(0, 1.0, size=3) * [1.0, 1.0, 0.5]
        start += n
    neutral += rng.normal(0, 0.3, size=neutral.shape)
    return {
        "neutral": neutral,
        "scale": scale,  # (3,) face size factors; AU displacements scale with them
        "intensity": rng.uniform(0.6, 1.3),
        "speed": rng.uniform(0.7, 1.4),
        "head_amp": rng.uniform(1.0, 4.0),
        "rng": rng,
    }


def make_sequence(subject: dict, expression: str, noise_mm: float = 0.1,
                  max_frames: int = 135) -> np.ndarray:
    """One synthetic sequence (T, 83, 3), T <= max_frames, for a subject from make_subject."""
    rng = subject["rng"]
    neutral = subject["neutral"]
    speed = subject["speed"] * rng.uniform(0.9, 1.1)
    start = rng.uniform(6, 16) / speed
    onset, apex, offset = (rng.uniform(18, 32) / speed, rng.uniform(20, 45) / speed,
                           rng.uniform(18, 32) / speed)
    tail = rng.uniform(6, 16) / speed
    frames = int(min(max_frames, np.ceil(start + onset + apex + offset + tail)))
    t = np.arange(frames, dtype=np.float64)
    disp = np.zeros((frames, *neutral.shape))
    for au, level in EXPRESSION_AUS[expression].items():
        gain = AU_GAIN * level * subject["intensity"] * rng.uniform(0.8, 1.2)
        lag = rng.uniform(0, 4)
        curve = smooth_pulse(t, start + lag, onset, apex, offset)
        field = au_field(au, neutral) * subject.get("scale", 1.0)  # bigger face, more mm
        disp += gain * curve[:, None, None] * field[None]
    shape = neutral[None] + disp
    # head motion: slow oscillation + expression-linked pitch + drift, about the face centre
    amp, phase = subject["head_amp"], rng.uniform(0, 2 * np.pi, size=3)
    freq = rng.uniform(0.15, 0.5, size=3) / FPS * 2 * np.pi
    main = smooth_pulse(t, start, onset, apex, offset)
    centre = neutral.mean(0)
    drift = rng.normal(0, 1.5, size=3)
    out = np.empty_like(shape)
    for i in range(frames):
        yaw, pitch, roll = amp * np.sin(freq * i + phase) * [1.0, 0.6, 0.4]
        pitch += HEAD_PITCH_DEG[expression] * main[i] * subject["intensity"]
        r = rotation(yaw, pitch, roll)
        out[i] = (shape[i] - centre) @ r.T + centre + drift * i / frames
    out += rng.normal(0, noise_mm, size=out.shape)
    return out


def check_existing_corpus(out: Path, settings: dict) -> None:
    """Refuse to write into `out` unless it is empty or a corpus made with the same settings
    (then it is rewritten: generation is deterministic, so an interrupted run resumes and a
    finished one stays the same; never a mix of two settings).

    Raises:
        InputError: `out` holds other files, or a corpus with other settings (named).
    """
    import json

    from deepexpr.errors import InputError

    if not out.is_dir() or not any(out.iterdir()):
        return
    try:
        manifest = json.loads((out / "manifest.json").read_text())
        ours = manifest.get("generator") == "deepexpr.data.synthetic_sequences"
        made = manifest.get("settings") if ours else None
        if made is None and ours:  # made before settings were recorded
            made = {k: manifest.get(k, settings[k]) for k in ("subjects", "seed", "noise_mm", "format")}
            made["max_frames"] = settings["max_frames"] if manifest.get("frames_max", 0) <= settings["max_frames"] \
                else manifest.get("frames_max")
    except (OSError, ValueError, AttributeError):
        made = None
    if not isinstance(made, dict):
        raise InputError(f"--out {out}: not empty and not a corpus of `deepexpr sequences make`; "
                         "choose a new or empty folder")
    changed = sorted(k for k in settings if made.get(k) != settings[k])
    if changed:
        was = ", ".join(f"{k} {made.get(k)} -> {settings[k]}" for k in changed)
        raise InputError(f"--out {out}: a corpus made with other settings ({was}); writing into it would mix "
                         "two corpora; choose another --out or delete it")


def make_corpus(out: str | Path, config: SynthConfig | None = None, show_progress: bool = True
                ) -> dict:
    """Write `config.subjects` x 6 synthetic sequences to `out` in the reader's layout.

    Also writes out/SYNTHETIC.txt (what this is) and out/manifest.json.

    Returns:
        the manifest dict.
    """
    from deepexpr.data.bu3dfe import write_sequence
    from deepexpr.io import write_json, write_text
    from deepexpr.progress import progress

    config = config or SynthConfig()
    out = Path(out)
    settings = {"subjects": config.subjects, "seed": config.seed, "noise_mm": config.noise_mm,
                "format": config.fmt, "max_frames": config.max_frames, "au_model": AU_MODEL_VERSION}
    check_existing_corpus(out, settings)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "manifest.json", {"synthetic": True, "complete": False, "settings": settings,
                                       "generator": "deepexpr.data.synthetic_sequences"})
    base = base_landmarks()
    rng = np.random.default_rng(config.seed)
    lengths = []
    for s in progress(range(config.subjects), desc="synthesise",
                      disable=None if show_progress else True):
        subject = make_subject(np.random.default_rng(rng.integers(2**63)), base)
        for expr in SYNTH_EXPRESSIONS:
            seq = make_sequence(subject, expr, config.noise_mm, config.max_frames)
            write_sequence(out, f"SYN{s + 1:03d}", expr, seq, fmt=config.fmt)
            lengths.append(len(seq))
    manifest = {"synthetic": True, "note": SYNTHETIC_NOTE, "subjects": config.subjects,
                "expressions": list(SYNTH_EXPRESSIONS), "fps": FPS, "landmarks": 83,
                "units": "mm", "seed": config.seed, "noise_mm": config.noise_mm,
                "format": config.fmt, "frames_min": int(min(lengths)),
                "frames_max": int(max(lengths)), "generator": "deepexpr.data.synthetic_sequences",
                "complete": True, "settings": settings}
    write_text(out / "SYNTHETIC.txt", SYNTHETIC_NOTE + "\n")
    write_json(out / "manifest.json", manifest)
    return manifest
