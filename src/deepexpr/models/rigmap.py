"""Rig map: a face mesh -> the character rig (AU intensities, head angles, gaze).

Shared by training (`deepexpr.train.rigmap`) and inference (`deepexpr.retarget`):

* Features. The 478-point mesh (`deepexpr.faces.rigface`) is put into a frontal frame by a
  3D similarity fit (`landmarks.fit_similarity`: rotation, uniform scale, shift) of its rigid points
  (`STABLE`: nose bridge, eye corners, temples, forehead) onto the population neutral
  `reference`; the 468 frontalised points minus a neutral (the person's own from a
  calibration photo, or the population neutral) are the AU features (1404 numbers).
* Head angles: the fitted rotation's yaw/pitch/roll (degrees), mapped by the network to the
  rig's convention (yaw + = face turned to the image right, pitch + = looking down,
  roll + = clockwise).
* Gaze: each iris centre relative to its eye (corners for x, lids for y; frontal frame, eye widths), averaged
  over the two eyes, mapped to gaze_x / gaze_y in [-1, 1]. No irises: gaze 0.
* Distances (optional, `geometry`; the bundled map uses them): 46 distances around the
  mouth, eyes and brows (`MEASURES`: lip thickness, mouth opening, lids, brow and cheek
  heights, lip and chin protrusion) minus the neutral's.
* Appearance (optional, `appearance`): HOG and shading of patches placed by the mesh on
  the pipeline's aligned crop (`deepexpr.faces.appearance`: mouth, chin, eyes, brows, nose,
  cheeks; 1152 numbers) minus the neutral's (the person's own when the calibration photo
  gave a crop, `NeutralFace.appearance`, else the population mean `appearance_mean_`): for
  the AUs the mesh hardly moves with (lip thinning/pressing, chin, wrinkles).
* Map: a small MLP (1410, or 1456 with the distances, -> 256 -> 256 -> 23, GELU; NumPy at
  inference) from the AU features, the raw angles and the iris offsets to all 23 controls;
  AUs clipped to [0, 1].
  One input flags whether the features are relative to the person's own neutral
  (calibrated) or to the population neutral `reference`; training shows it both.
  (Tried first: ridge regression, AUs only, plus affine maps for angles and gaze: held-out
  AU MAE 0.124 against the MLP's 0.100; head pitch r 0.46 against 0.80.)

Weights are safetensors + a JSON config beside them (`save_rigmap` / `load_rigmap`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepexpr.characters.rig import AUS, LIMITS
from deepexpr.landmarks import fit_similarity

# mediapipe indices that do not move with expression: nose bridge and ridge, inner and
# outer eye corners, temples, forehead.
STABLE = (168, 6, 197, 195, 5, 4, 1, 33, 133, 263, 362, 127, 356, 234, 454, 10, 151, 9, 8)
N_MESH = 468
RIGHT_IRIS, LEFT_IRIS = 468, 473  # iris centres (refine_landmarks=True)
RIGHT_EYE = (33, 133, 159, 145)  # outer, inner corner, upper, lower lid (subject's right)
LEFT_EYE = (263, 362, 386, 374)
HEAD = ("head_yaw", "head_pitch", "head_roll")
GAZE = ("gaze_x", "gaze_y")
FORMAT_VERSION = 1


def canonical_points(mesh: np.ndarray) -> np.ndarray:
    """Photo mesh (N, 3) -> right-handed frame: x image right, y up, z towards the camera."""
    p = np.asarray(mesh, np.float64).copy()
    p[:, 1] *= -1.0
    p[:, 2] *= -1.0
    return p


def normalise_reference(mesh: np.ndarray) -> np.ndarray:
    """A mesh in the canonical frame, centred on `STABLE` and scaled to unit eye-corner width."""
    p = canonical_points(mesh)
    p -= p[list(STABLE)].mean(0)
    return p / max(float(np.linalg.norm(p[33] - p[263])), 1e-9)


def euler_yxz(rot: np.ndarray) -> np.ndarray:
    """Yaw (about y), pitch (about x), roll (about z) in degrees of R = Ry @ Rx @ Rz."""
    pitch = np.arcsin(np.clip(-rot[1, 2], -1.0, 1.0))
    yaw = np.arctan2(rot[0, 2], rot[2, 2])
    roll = np.arctan2(rot[1, 0], rot[1, 1])
    return np.degrees([yaw, pitch, roll])


@dataclass
class MeshFeatures:
    """What the rig map reads from one mesh.

    Attributes:
        frontal: (478 or 468, 3) the mesh in the reference's frontal frame and scale.
        angles: (3,) raw yaw, pitch, roll (degrees) of the head rotation.
        gaze: (2,) iris offset from the eye centre in eye widths (x right, y up), or None.
    """

    frontal: np.ndarray
    angles: np.ndarray
    gaze: np.ndarray | None


def mesh_features(mesh: np.ndarray, reference: np.ndarray) -> MeshFeatures:
    """Frontalise a photo mesh (N >= 468, 3) against `reference` (468, 3) -> `MeshFeatures`."""
    p = canonical_points(mesh)
    idx = list(STABLE)
    m = fit_similarity(p[idx], reference[idx])  # rotation, uniform scale, shift (Umeyama)
    linear, t = m[:, :3], m[:, 3]
    rot = linear / np.cbrt(np.linalg.det(linear))  # the rotation without the scale
    frontal = p @ linear.T + t
    angles = euler_yxz(rot.T)  # rotation of the head = inverse of the frontalising one
    gaze = None
    if len(frontal) >= 478:
        offsets = []
        for iris, (outer, inner, upper, lower) in ((RIGHT_IRIS, RIGHT_EYE), (LEFT_IRIS, LEFT_EYE)):
            # x from the corners, y from the lids (the corners sit lower than the eye's middle)
            centre = np.array([0.5 * (frontal[outer, 0] + frontal[inner, 0]),
                               0.5 * (frontal[upper, 1] + frontal[lower, 1])])
            width = max(float(np.linalg.norm(frontal[outer, :2] - frontal[inner, :2])), 1e-9)
            offsets.append((frontal[iris, :2] - centre) / width)
        gaze = np.mean(offsets, 0)
    return MeshFeatures(frontal.astype(np.float32), angles.astype(np.float32), gaze)


def au_features(frontal: np.ndarray, neutral: np.ndarray) -> np.ndarray:
    """(1404,) float32 AU features: the 468 frontal points minus a neutral, flattened."""
    return (frontal[:N_MESH] - neutral[:N_MESH]).reshape(-1).astype(np.float32)


# Distances around the mouth, eyes and brows (mediapipe indices; "r" = subject's right):
# (kind, a, b): "dy" = y[a] - y[b], "dx" = x[a] - x[b], "dz" = z[a] - z[b], "d" = |a - b|.
MEASURES = (
    ("d", 61, 291), ("d", 78, 308), ("dy", 13, 14), ("dy", 0, 13), ("dy", 14, 17),  # mouth width,
    # inner width, opening, upper and lower lip thickness
    ("dy", 61, 13), ("dy", 291, 13), ("dy", 61, 14), ("dy", 291, 14),  # lip corners vs the lips
    ("dy", 2, 0), ("dy", 17, 152), ("dy", 14, 152), ("dy", 0, 152),  # nose-lip, lip-chin, jaw
    ("dz", 0, 1), ("dz", 17, 1), ("dz", 13, 1), ("dz", 14, 1), ("dz", 152, 1), ("dz", 61, 1),
    ("dz", 291, 1),  # lip and chin protrusion (pout, press, chin raiser)
    ("d", 37, 84), ("d", 267, 314), ("dy", 37, 61), ("dy", 267, 291),  # lip heights off-centre
    ("dy", 159, 145), ("dy", 386, 374), ("dy", 159, 133), ("dy", 386, 362),  # lids
    ("dy", 145, 133), ("dy", 374, 362), ("dy", 105, 159), ("dy", 334, 386),  # lower lids, brows
    ("dy", 107, 133), ("dy", 336, 362), ("dy", 70, 33), ("dy", 300, 263), ("dx", 336, 107),
    ("d", 98, 327), ("dy", 98, 1), ("dy", 327, 1), ("dy", 117, 33), ("dy", 346, 263),  # nose, cheeks
    ("dy", 50, 33), ("dy", 280, 263), ("dy", 205, 61), ("dy", 425, 291),
)
N_GEOMETRY = len(MEASURES)
BASE_INPUTS = 3 * N_MESH + 6  # AU features (1404), head angles (3), gaze (2), calibrated flag


_GEO_A = np.array([a for _, a, _ in MEASURES])
_GEO_B = np.array([b for _, _, b in MEASURES])
_GEO_AXIS = np.array(["xyz".index(k[1]) if k != "d" else 0 for k, _, _ in MEASURES])
_GEO_DIST = np.array([k == "d" for k, _, _ in MEASURES])


def geometry(frontal: np.ndarray) -> np.ndarray:
    """(N_GEOMETRY,) distances of `MEASURES` in a frontal mesh (eye-width units)."""
    p = np.asarray(frontal, np.float64)
    d = p[_GEO_A] - p[_GEO_B]
    return np.where(_GEO_DIST, np.sqrt((d * d).sum(1)), d[np.arange(N_GEOMETRY), _GEO_AXIS])


class NeutralFace(np.ndarray):
    """A person's (468, 3) frontal neutral mesh (what `retarget.calibrate` returns), with the
    neutral face's patch features in `.appearance` ((N_APPEARANCE,) or None) for a map that
    reads appearance. Behaves as the plain array everywhere else."""

    appearance: np.ndarray | None = None

    def __new__(cls, mesh: np.ndarray, appearance: np.ndarray | None = None) -> NeutralFace:
        out = np.asarray(mesh).view(cls)
        out.appearance = appearance
        return out

    def __array_finalize__(self, obj) -> None:
        self.appearance = getattr(obj, "appearance", None)


def appearance_delta(appearance: np.ndarray | None, neutral: np.ndarray | None, mean: np.ndarray) -> np.ndarray:
    """Patch features minus the neutral's: the person's own (`neutral.appearance`) when the
    calibration carried one, else the population `mean`; a missing `appearance` (a bare mesh)
    gives zeros (= the neutral)."""
    if appearance is None:
        return np.zeros_like(mean)
    own = getattr(neutral, "appearance", None)
    return np.asarray(appearance, np.float32) - (mean if own is None else own)


def mlp_input(feats: MeshFeatures, reference: np.ndarray, neutral: np.ndarray | None,
              with_geometry: bool = False, appearance: np.ndarray | None = None) -> np.ndarray:
    """(1410,) float32 network input: AU features (relative to `neutral`, else the population
    `reference`), raw head angles / 30, iris offsets (0 without irises), calibrated flag;
    with `with_geometry`, (1410 + N_GEOMETRY,): `geometry` of the mesh minus the neutral's;
    then `appearance` ((N_APPEARANCE,) from `appearance_delta`) when given."""
    base = reference if neutral is None else neutral
    x = au_features(feats.frontal, base)
    gaze = np.zeros(2, np.float32) if feats.gaze is None else feats.gaze
    parts = [x, feats.angles / 30.0, gaze, [0.0 if neutral is None else 1.0]]
    if with_geometry:
        parts.append(geometry(feats.frontal) - geometry(base))
    if appearance is not None:
        parts.append(appearance)
    return np.concatenate(parts).astype(np.float32)


def gelu(x: np.ndarray) -> np.ndarray:
    """GELU, tanh approximation (as `torch.nn.GELU(approximate="tanh")`)."""
    return 0.5 * x * (1.0 + np.tanh(0.7978845608028654 * (x + 0.044715 * x ** 3)))


OUTPUTS = AUS + HEAD + GAZE  # network output order (= RIG_CONTROLS)
# What an appearance map takes from its mesh-only pose map: on a real photo the patches
# (learned from drawings and one photo texture) move the head angles 10-15 degrees and the
# horizontal gaze (astronaut, looking at the camera: gaze_x -0.56 vs 0.15); the iris's
# vertical place needs the eye patches (held-out gaze_y r 0.84 vs 0.26), so gaze_y stays.
FROM_POSE_MAP = HEAD + ("gaze_x",)
SMALL_BATCH = 8  # rows up to which `RigMap.forward` multiplies without BLAS


def _einsum_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for a few rows, in NumPy's own loop (no BLAS threads)."""
    return np.einsum("ij,jk->ik", a, b)


@dataclass
class RigMap:
    """Learned mesh -> rig map (see the module docstring). Attributes end in `_` when learned.

    Attributes:
        reference_: (468, 3) population neutral, frontal frame (also the pose-fit target).
        layers_: [(W (D_in, D_out), b (D_out,)), ...] the MLP; GELU between layers.
        in_mean_, in_std_: (1410,) input standardisation.
        out_scale_: (23,) network output * scale = rig value (degrees for the head).
        reliability_: {control: 0..1} held-out Pearson r per control (confidence scale).
        config: JSON-able settings and provenance.
        appearance_mean_: (N_APPEARANCE,) population neutral patch features
            (`deepexpr.faces.appearance`) when the map reads appearance, else None.
        pose_map_: a mesh-only `RigMap` whose `FROM_POSE_MAP` values replace this map's (an appearance
            map's head angles are worse on the photo-textured renders and move by 10-15 degrees
            on the astronaut, whose skin it never saw), or None.
    """

    reference_: np.ndarray
    layers_: list[tuple[np.ndarray, np.ndarray]]
    in_mean_: np.ndarray
    in_std_: np.ndarray
    out_scale_: np.ndarray
    reliability_: dict[str, float] = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    appearance_mean_: np.ndarray | None = None
    pose_map_: RigMap | None = None

    @property
    def with_appearance(self) -> bool:
        """True when the network reads patch appearance after the mesh inputs."""
        return self.appearance_mean_ is not None

    @property
    def with_geometry(self) -> bool:
        """True when the network reads the `geometry` distances too (more inputs)."""
        extra = len(self.appearance_mean_) if self.with_appearance else 0
        return len(self.in_mean_) - extra == BASE_INPUTS + N_GEOMETRY

    def features(self, mesh: np.ndarray) -> MeshFeatures:
        return mesh_features(mesh, self.reference_)

    def neutral_of(self, mesh: np.ndarray) -> np.ndarray:
        """A person's neutral (468, 3) frontal mesh from a neutral face's photo mesh."""
        return self.features(mesh).frontal[:N_MESH]

    def forward(self, x: np.ndarray) -> np.ndarray:
        """(N, 1410) network inputs -> (N, 23) rig values in `OUTPUTS` order (not clipped)."""
        h = (np.asarray(x, np.float32) - self.in_mean_) / self.in_std_
        # A frame or two: einsum's own loop, not BLAS. OpenBLAS threads a (1, 1410) x
        # (1410, 256) product and its threads then spin, taking the core the drawing needs
        # (estimate + draw 38 ms/frame instead of 11 on the shared 2-core machine).
        product = np.matmul if len(h) > SMALL_BATCH else _einsum_matmul
        for k, (w, b) in enumerate(self.layers_):
            h = product(h, w) + b
            if k < len(self.layers_) - 1:
                h = gelu(h)
        return h * self.out_scale_

    def predict(self, feats: MeshFeatures, neutral: np.ndarray | None = None,
                appearance: np.ndarray | None = None) -> dict[str, float]:
        """Rig values (AUs in [0, 1], head degrees, gaze in [-1, 1]) from `MeshFeatures` (and
        the face's (N_APPEARANCE,) patch features when the map reads them; None = neutral)."""
        delta = appearance_delta(appearance, neutral, self.appearance_mean_) if self.with_appearance else None
        x = mlp_input(feats, self.reference_, neutral, self.with_geometry, delta)[None]
        out = self.forward(x)[0]
        if self.pose_map_ is not None:  # its inputs are the mesh part of ours (same reference)
            pose = self.pose_map_.forward(x[:, :len(self.pose_map_.in_mean_)])[0]
            taken = [OUTPUTS.index(c) for c in FROM_POSE_MAP]
            out[taken] = pose[taken]
        rig = {c: float(np.clip(v, *LIMITS[c])) for c, v in zip(OUTPUTS, out)}
        if feats.gaze is None:
            rig.update({c: 0.0 for c in GAZE})
        return rig


def save_rigmap(model: RigMap, path: str | Path) -> Path:
    """Write `path` (.safetensors) and its JSON config beside it, atomically each."""
    from safetensors.numpy import save_file

    from deepexpr.io import atomic_path

    path = Path(path).with_suffix(".safetensors")
    tensors = {"reference": model.reference_.astype(np.float32), "in_mean": model.in_mean_,
               "in_std": model.in_std_, "out_scale": model.out_scale_}
    if model.with_appearance:
        tensors["appearance_mean"] = model.appearance_mean_
    if model.pose_map_ is not None:
        pose = model.pose_map_
        tensors.update({"pose.in_mean": pose.in_mean_, "pose.in_std": pose.in_std_, "pose.out_scale": pose.out_scale_})
        for k, (w, b) in enumerate(pose.layers_):
            tensors[f"pose.layer{k}.weight"], tensors[f"pose.layer{k}.bias"] = w, b
    for k, (w, b) in enumerate(model.layers_):
        tensors[f"layer{k}.weight"], tensors[f"layer{k}.bias"] = w, b
    tensors = {k: np.ascontiguousarray(v, np.float32) for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp))
    cfg = {**model.config, "format_version": FORMAT_VERSION, "aus": list(AUS), "head": list(HEAD),
           "gaze": list(GAZE), "reliability": model.reliability_}
    if model.with_appearance:
        from deepexpr.faces.appearance import APPEARANCE_VERSION

        cfg["appearance_version"] = APPEARANCE_VERSION
    with atomic_path(path.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(cfg, indent=1))
    return path


def load_rigmap(path: str | Path) -> RigMap:
    """Read a rig map written by `save_rigmap`.

    Raises:
        InputError: a missing or unreadable file.
    """
    from safetensors.numpy import load_file

    from deepexpr.errors import InputError

    path = Path(path).with_suffix(".safetensors")
    meta = path.with_suffix(".json")
    if not path.is_file() or not meta.is_file():
        raise InputError(f"{path}: rig map weights or their JSON are missing; run "
                         "`deepexpr train rigmap --export src/deepexpr/weights`")
    try:
        t = load_file(str(path))
        cfg = json.loads(meta.read_text())
    except Exception as err:  # noqa: BLE001 - any decoding failure is one input error
        raise InputError(f"{path}: not a rig map ({type(err).__name__}: {err})") from err
    if list(cfg.get("aus", [])) != list(AUS):
        raise InputError(f"{path}: rig map AUs {cfg.get('aus')} differ from the rig's {list(AUS)}")
    reference = t["reference"].astype(np.float64)
    pose = None
    if "pose.in_mean" in t:  # the mesh-only map of the head angles and gaze
        n = sum(1 for k in t if k.startswith("pose.layer") and k.endswith(".weight"))
        pose = RigMap(reference, [(t[f"pose.layer{k}.weight"], t[f"pose.layer{k}.bias"]) for k in range(n)],
                      t["pose.in_mean"], t["pose.in_std"], t["pose.out_scale"])
    n = sum(1 for k in t if k.startswith("layer") and k.endswith(".weight"))
    layers = [(t[f"layer{k}.weight"], t[f"layer{k}.bias"]) for k in range(n)]
    appearance = t.get("appearance_mean")
    if appearance is not None:
        from deepexpr.faces.appearance import APPEARANCE_VERSION

        if cfg.get("appearance_version") != APPEARANCE_VERSION:
            raise InputError(f"{path}: the map reads patch features of version {cfg.get('appearance_version')}, "
                             f"this deepexpr makes version {APPEARANCE_VERSION}; retrain it "
                             "(`deepexpr train rigmap --appearance`)")
    return RigMap(reference, layers, t["in_mean"], t["in_std"], t["out_scale"],
                  dict(cfg.get("reliability", {})), cfg, appearance, pose)
