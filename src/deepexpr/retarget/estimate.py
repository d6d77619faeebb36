"""Face -> rig: `estimate_rig`, per-person calibration, and a tracker for video.

    >>> from deepexpr.faces.rigface import find_rig_faces
    >>> from deepexpr.retarget import estimate_rig
    >>> rig = estimate_rig(find_rig_faces(photo)[0])
    >>> rig.values["AU12"], rig.confidence["AU12"], rig.flags

Confidence of a value = face quality x the rig map's held-out Pearson r for that control
(clipped to [0, 1]); gaze without iris points has confidence 0. A face below
`TrackerConfig.min_quality` (or no face) is not trusted: the tracker holds the last good
rig for `hold_frames` frames, then falls back to neutral; both are flagged. Values are
never NaN: a non-finite estimate is replaced by the fallback and flagged.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from deepexpr.characters.rig import RIG_CONTROLS, check_rig, neutral_rig
from deepexpr.errors import InputError
from deepexpr.models.resolve import bundled_path
from deepexpr.models.rigmap import GAZE, NeutralFace, RigMap, load_rigmap

BUNDLED_RIGMAP = "rigmap"  # the bundled weights name (models.resolve.WEIGHTS_DIR)


@dataclass
class Rig:
    """A rig estimate for one face in one frame.

    Attributes:
        values: {control: value} over `RIG_CONTROLS` (AUs 0..1, head degrees, gaze -1..1).
        confidence: {control: 0..1}.
        quality: the face's quality (0 = no usable face).
        flags: what happened ("no face", "low quality", "held", "neutral fallback",
            "calibrated", "no irises", "non-finite").
    """

    values: dict[str, float]
    confidence: dict[str, float]
    quality: float = 1.0
    flags: list[str] = field(default_factory=list)

    @classmethod
    def neutral(cls, *flags: str) -> Rig:
        """The rest pose with zero confidence."""
        return cls(neutral_rig(), {c: 0.0 for c in RIG_CONTROLS}, 0.0, list(flags))

    def as_dict(self) -> dict:
        return {"values": dict(self.values), "confidence": dict(self.confidence),
                "quality": float(self.quality), "flags": list(self.flags)}


@functools.lru_cache(maxsize=4)
def load_default_rigmap(path: str | None = None) -> RigMap:
    """The bundled rig map (or the one at `path`), loaded once per process."""
    return load_rigmap(path or bundled_path(BUNDLED_RIGMAP))


def _mesh_of(face) -> tuple[np.ndarray, float, list[str]]:
    """(mesh, quality, flags) of a `RigFace`, a `deepexpr.faces.Face` or a (N, 3) mesh."""
    if hasattr(face, "quality") and hasattr(face, "mesh"):
        return np.asarray(face.mesh), float(face.quality), list(face.flags)
    if hasattr(face, "mesh468"):  # a face pipeline `Face`: the iris mesh when it has one
        from deepexpr.faces.rigface import pipeline_quality

        quality, flags = pipeline_quality(face)
        return np.asarray(face.mesh478 if face.mesh478 is not None else face.mesh468), quality, flags
    mesh = np.asarray(face, np.float64)
    if mesh.ndim != 2 or mesh.shape[1] != 3 or mesh.shape[0] < 468:
        raise InputError(f"estimate_rig: a face mesh must be (468 or 478, 3), got {mesh.shape}")
    return mesh, 1.0, []


def _appearance_of(face, model: RigMap, given: np.ndarray | None) -> np.ndarray | None:
    """The face's patch features when the map reads them (None: a bare mesh, or not needed)."""
    if not model.with_appearance or given is not None:
        return given
    from deepexpr.faces.appearance import appearance_of_face

    return appearance_of_face(face)


def estimate_rig(face, neutral: np.ndarray | None = None, model: RigMap | None = None,
                 appearance: np.ndarray | None = None) -> Rig:
    """The rig of one face (no smoothing; see `RigTracker` for video).

    Args:
        face: a `deepexpr.faces.rigface.RigFace` (478 points with irises), a
            `deepexpr.faces.Face` of the face pipeline (its 478-point mesh) or a (468 | 478, 3) photo mesh;
            None gives the neutral rig flagged "no face".
        neutral: the person's (468, 3) frontal neutral from `calibrate`, or None for the
            population neutral.
        model: a `RigMap` (default: the bundled one).
        appearance: the face's (N_APPEARANCE,) patch features (`deepexpr.faces.appearance`)
            if already made; by default made from the face's aligned crop when the map reads
            them (a bare mesh has none: flagged "no appearance", read as neutral skin).

    Returns:
        `Rig` with every control finite.
    """
    if face is None:
        return Rig.neutral("no face")
    model = model or load_default_rigmap()
    mesh, quality, flags = _mesh_of(face)
    try:
        feats = model.features(mesh)
    except ValueError:  # the similarity fit refuses a degenerate mesh (all points at one place)
        return Rig.neutral("non-finite", *flags)
    appearance = _appearance_of(face, model, appearance)
    if model.with_appearance and appearance is None:
        flags.append("no appearance")
    values = model.predict(feats, neutral, appearance)
    if not all(math.isfinite(v) for v in values.values()):
        return Rig.neutral("non-finite", *flags)
    conf = {c: float(np.clip(model.reliability_.get(c, 0.5), 0.0, 1.0)) * quality for c in RIG_CONTROLS}
    if feats.gaze is None:
        flags.append("no irises")
        conf.update({c: 0.0 for c in GAZE})
    if neutral is not None:
        flags.append("calibrated")
    return Rig(check_rig(values), conf, quality, flags)


def calibrate(face, model: RigMap | None = None, appearance: np.ndarray | None = None) -> np.ndarray:
    """A person's neutral (468, 3) frontal mesh from their neutral face (see `estimate_rig`);
    a `NeutralFace` array that also carries the neutral face's patch features when the map
    reads them (`appearance`: already made ones)."""
    model = model or load_default_rigmap()
    mesh, _, _ = _mesh_of(face)
    return NeutralFace(model.neutral_of(mesh), _appearance_of(face, model, appearance))


class OneEuroFilter:
    """One-Euro filter (Casiez et al. 2012) over a vector: strong smoothing when still,
    little lag when moving. `min_cutoff` (Hz) sets the jitter, `beta` the speed response."""

    def __init__(self, min_cutoff: float = 1.5, beta: float = 0.5, d_cutoff: float = 1.0):
        self.min_cutoff, self.beta, self.d_cutoff = float(min_cutoff), float(beta), float(d_cutoff)
        self.reset()

    def reset(self) -> None:
        self._x = self._dx = self._t = None

    @staticmethod
    def _alpha(cutoff, dt: float):
        tau = 1.0 / (2.0 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        """Filtered value of `x` (D,) at time `t` seconds (increasing)."""
        x = np.asarray(x, np.float64)
        if self._x is None or t <= self._t:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), float(t)
            return x.copy()
        dt = float(t) - self._t
        dx = (x - self._x) / dt
        a_d = self._alpha(self.d_cutoff, dt)
        self._dx = a_d * dx + (1 - a_d) * self._dx
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        a = self._alpha(cutoff, dt)
        self._x = a * x + (1 - a) * self._x
        self._t = float(t)
        return self._x.copy()


@dataclass
class TrackerConfig:
    min_quality: float = 0.3  # faces below this are not trusted (hold / fall back)
    hold_frames: int = 12  # frames the last good rig is held before the neutral fallback
    smoothing: str = "one-euro"  # "one-euro", "ema" or "none"
    min_cutoff: float = 1.5  # One-Euro: Hz
    beta: float = 0.05  # One-Euro: speed coefficient (values are in degrees for the head)
    ema: float = 0.5  # EMA: weight of the new value


class RigTracker:
    """Rig per frame of one person in a video: smoothing, hold-last-good, neutral fallback.

        >>> tracker = RigTracker(neutral=calibrate(first_face))
        >>> for t, face in frames:               # face is a RigFace or None
        ...     rig = tracker.update(face, t)
    """

    def __init__(self, config: TrackerConfig | None = None, neutral: np.ndarray | None = None,
                 model: RigMap | None = None):
        self.config = config or TrackerConfig()
        if self.config.smoothing not in ("one-euro", "ema", "none"):
            raise InputError(f"smoothing {self.config.smoothing!r}: use one-euro, ema or none")
        self.neutral, self.model = neutral, model
        self._filter = OneEuroFilter(self.config.min_cutoff, self.config.beta)
        self._last: Rig | None = None
        self._smoothed: np.ndarray | None = None
        self._missed = 0

    def update(self, face, t: float) -> Rig:
        """The rig at time `t` (seconds) from this frame's face (None = no face)."""
        rig = estimate_rig(face, self.neutral, self.model) if face is not None else Rig.neutral("no face")
        if face is None or rig.quality < self.config.min_quality or "non-finite" in rig.flags:
            return self._fallback(rig, t)
        self._missed = 0
        x = np.array([rig.values[c] for c in RIG_CONTROLS])
        if self.config.smoothing == "one-euro":
            x = self._filter(x, t)
        elif self.config.smoothing == "ema" and self._smoothed is not None:
            x = self.config.ema * x + (1 - self.config.ema) * self._smoothed
        self._smoothed = x
        rig.values = check_rig(dict(zip(RIG_CONTROLS, x.tolist())))
        self._last = rig
        return rig

    def _fallback(self, rig: Rig, t: float) -> Rig:
        """Hold the last good rig for a while, then the neutral rig; flagged either way."""
        self._missed += 1
        flags = rig.flags + (["low quality"] if rig.quality > 0 else [])
        if self._last is not None and self._missed <= self.config.hold_frames:
            held = Rig(dict(self._last.values), {c: v * 0.5 for c, v in self._last.confidence.items()},
                       rig.quality, flags + ["held"])
            return held
        self._filter.reset()
        self._smoothed = None
        return Rig.neutral(*flags, "neutral fallback")
