"""Ground truth for the rig estimator: drawn realistic-human stand-ins with known rigs.

SYNTHETIC, made here: `standin_humans(k, seed)` people (a separate style family that
mediapipe's face mesh finds: 84/84 at 192 and 256 px in a check at build time) drawn with a
known rig per image. Rigs mix two sources so the estimator sees both real expressions and
AUs apart from their usual partners:

* half: a frame of one of the seven expressions (`sample_poses`, EMFACS prototypes varied),
* half: random sparse AUs (each on with probability `p_active`, intensity uniform 0..1).

Head yaw/pitch/roll and gaze are drawn uniformly within `TruthConfig` limits for every
image. Each identity also gets a frontal neutral image (its calibration photo). Hold out
identities by using another `seed` (names are "standin_<seed>_<i>").

    >>> for item in truth_items(TruthConfig(identities=2, per_identity=3)):
    ...     item.image.shape, item.rig["AU12"], item.identity
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from deepexpr.characters import neutral_rig, render_face, sample_poses, standin_humans
from deepexpr.characters.rig import AUS, RIG_CONTROLS, check_rig
from deepexpr.errors import InputError, check_settings, setting
from deepexpr.expressions import EXPRESSIONS


@dataclass
class TruthConfig:
    identities: int = 60  # stand-in people
    per_identity: int = 40  # images per person (plus one neutral calibration image)
    size: int = 256  # image side in pixels (mediapipe finds the drawn faces at 192-256 px)
    seed: int = 100  # people "standin_<seed>_<i>" and their rigs; another seed = held-out people
    p_active: float = 0.3  # random-AU rigs: chance that each AU is on
    max_yaw: float = 20.0  # head angles drawn uniformly in +-these (degrees)
    max_pitch: float = 12.0
    max_roll: float = 10.0
    max_gaze: float = 0.8  # gaze drawn uniformly in +-this


@dataclass
class RigMapData:
    """Which ground truth `deepexpr train rigmap` fits on (options generated from these)."""

    identities: int = setting(60, "stand-in people per seed", min=1, max=100_000)
    per_identity: int = setting(40, "images per stand-in person (plus a neutral)", min=1, max=10_000)
    seeds: tuple[int, ...] = setting((100, 101), "stand-in people seeds (held-out evaluation uses 200)")
    render_identities: int = setting(24, "rendered 3D identities (calibrated rows only; 0: none)", min=0,
                                     max=10_000)
    render_per_identity: int = setting(25, "images per rendered identity", min=1, max=10_000)
    render_seeds: tuple[int, ...] = setting((300,), "rendered identities seeds, `render_identities` each "
                                            "(held-out evaluation uses 400)")
    render_base: str = setting("photo", "rendered identities' neutral face: the source photo's own (smiling, "
                               "lips apart), that face with its smile undone and lips closed, or that "
                               "face with the photo's skin repainted smooth (no smile folds)",
                               choices=("photo", "neutral", "painted"))
    out: str = setting("runs/rigmap", "run folder: the training state (--resume continues it), "
                       "rigmap.safetensors + rigmap.json")
    export: str | None = setting(None, "also write rigmap.safetensors + rigmap.json here "
                                 "(src/deepexpr/weights to bundle)")

    def __post_init__(self):
        check_settings(self)
        if not self.seeds:
            raise InputError("--seeds: give at least one seed, e.g. 100,101")
        if self.render_identities > 0 and not self.render_seeds:
            raise InputError("--render-seeds: give at least one seed, e.g. 300, or --render-identities 0")


@dataclass
class TruthItem:
    """One ground-truth image: `rig` is exactly what drew `image`."""

    image: np.ndarray  # (S, S, 3) uint8
    rig: dict[str, float]
    identity: str  # the stand-in's name
    expression: str  # the expression the rig came from, or "random"
    is_calibration: bool = False  # the person's frontal neutral image


def truth_rig(style, rng: np.random.Generator, cfg: TruthConfig) -> tuple[dict[str, float], str]:
    """One ground-truth rig for a person: (full rig dict, source expression or "random")."""
    if rng.uniform() < 0.5:
        expr = EXPRESSIONS[int(rng.integers(len(EXPRESSIONS)))]
        rig = sample_poses(style, expr, 1, seed=int(rng.integers(1 << 30)))[0]
    else:
        expr = "random"
        rig = neutral_rig()
        for a in AUS:
            if rng.uniform() < cfg.p_active:
                rig[a] = float(rng.uniform(0.0, 1.0))
    rig["head_yaw"] = float(rng.uniform(-cfg.max_yaw, cfg.max_yaw))
    rig["head_pitch"] = float(rng.uniform(-cfg.max_pitch, cfg.max_pitch))
    rig["head_roll"] = float(rng.uniform(-cfg.max_roll, cfg.max_roll))
    rig["gaze_x"] = float(rng.uniform(-cfg.max_gaze, cfg.max_gaze))
    rig["gaze_y"] = float(rng.uniform(-cfg.max_gaze, cfg.max_gaze))
    return check_rig(rig), expr


def truth_items(cfg: TruthConfig | None = None) -> Iterator[TruthItem]:
    """Ground-truth images, person by person: first the neutral calibration image, then
    `per_identity` images with known rigs. Deterministic for a config."""
    cfg = cfg or TruthConfig()
    for i, style in enumerate(standin_humans(cfg.identities, cfg.seed)):
        rng = np.random.default_rng([cfg.seed, i])
        image, _ = render_face(style, neutral_rig(), cfg.size)
        yield TruthItem(image, neutral_rig(), style.name, "neutral", True)
        for _ in range(cfg.per_identity):
            rig, expr = truth_rig(style, rng, cfg)
            image, _ = render_face(style, rig, cfg.size)
            yield TruthItem(image, rig, style.name, expr)


# bump when the drawing or the mesh features change (2: meshes from faces.pipeline; 3: the
# stand-ins' AU6/16/17/23/24 drawn as FACS describes them); the AU model's own version is in
# the key too (rendered ground truth), and the stand-ins' mouth drawing's in theirs
# (`characters.geometry.STANDIN_MOUTH_VERSION`, so a stand-in change keeps the render caches)
CACHE_VERSION = 3


@dataclass
class MeshSet:
    """Meshes of ground-truth images (rows) with their rigs.

    Attributes:
        meshes: (N, 478, 3) float32 photo meshes.
        rigs: (N, 23) float32 rig values in `RIG_CONTROLS` order.
        identity: (N,) person names. expression: (N,) source expression or "random".
        calibration: (N,) bool, the person's neutral calibration image.
        found: images where the face pipeline found a face / images drawn.
        appearance: (N, N_APPEARANCE) float32 patch features (`deepexpr.faces.appearance`)
            once `with_appearance` added them, else None.
    """

    meshes: np.ndarray
    rigs: np.ndarray
    identity: np.ndarray
    expression: np.ndarray
    calibration: np.ndarray
    found: tuple[int, int]
    appearance: np.ndarray | None = None


def _cache_file(cfg, cache_dir: str | Path, **extra) -> Path:
    """The cache file of a ground-truth config (`extra` keys for derived features)."""
    from deepexpr.data.synthetic_sequences import AU_MODEL_VERSION

    if isinstance(cfg, TruthConfig):  # the drawn stand-ins' own drawing version (renders keep their key)
        from deepexpr.characters.geometry import STANDIN_MOUTH_VERSION

        extra = {"standin_mouth": STANDIN_MOUTH_VERSION, **extra}
    fields = asdict(cfg)
    if fields.get("base") == "photo":  # renders on the photo's own face keep the caches made before `base`
        del fields["base"]
    key = json.dumps({**fields, "v": CACHE_VERSION, "au_model": AU_MODEL_VERSION, **extra}, sort_keys=True)
    prefix = "rigtruth" if isinstance(cfg, TruthConfig) else type(cfg).__name__.lower()
    return Path(cache_dir) / f"{prefix}_{zlib.crc32(key.encode()):08x}.npz"


def collect_meshes(cfg, cache_dir: str | Path | None = None, quiet: bool = False,
                   items: Iterator[TruthItem] | None = None) -> MeshSet:
    """Ground-truth meshes: every item through the face pipeline (cached in `cache_dir`).

    Args:
        cfg: a `TruthConfig` (or another ground-truth config dataclass with `identities`,
            `per_identity`; it names the cache file).
        items: the ground-truth images (default: `truth_items(cfg)`).
    """
    from deepexpr.faces.rigface import find_rig_faces
    from deepexpr.progress import progress

    cache = None
    if cache_dir is not None:
        cache = _cache_file(cfg, cache_dir)
        if cache.is_file():
            z = np.load(cache, allow_pickle=False)
            return MeshSet(z["meshes"], z["rigs"], z["identity"], z["expression"], z["calibration"],
                           tuple(int(v) for v in z["found"]))
    rows, drawn = [], 0
    total = cfg.identities * (cfg.per_identity + 1)
    items = truth_items(cfg) if items is None else items
    for item in progress(items, total=total, desc="rig ground truth", disable=quiet):
        drawn += 1
        faces = find_rig_faces(item.image, max_faces=1)
        if not faces or faces[0].mesh.shape[0] < 478:
            continue
        rows.append((faces[0].mesh, [item.rig[c] for c in RIG_CONTROLS], item.identity,
                     item.expression, item.is_calibration))
    ms = MeshSet(np.stack([r[0] for r in rows]).astype(np.float32), np.array([r[1] for r in rows], np.float32),
                 np.array([r[2] for r in rows]), np.array([r[3] for r in rows]),
                 np.array([r[4] for r in rows], bool), (len(rows), drawn))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, meshes=ms.meshes, rigs=ms.rigs, identity=ms.identity,
                            expression=ms.expression, calibration=ms.calibration, found=np.array(ms.found))
        tmp.replace(cache)
    return ms


def with_appearance(ms: MeshSet, cfg, cache_dir: str | Path | None = None, quiet: bool = False,
                    items: Iterator[TruthItem] | None = None) -> MeshSet:
    """`ms` (made by `collect_meshes(cfg, items=items)`) with its rows' patch features.

    The images are drawn again (deterministic for `cfg`) and each row's crop is made from its
    cached mesh as the face pipeline makes it (`faces.appearance.appearance_of_photo`): the
    pipeline does not run again. Cached in `cache_dir` beside the meshes.
    """
    from deepexpr.faces.appearance import APPEARANCE_VERSION, appearance_of_photo
    from deepexpr.progress import progress

    cache = None if cache_dir is None else _cache_file(cfg, cache_dir, appearance=APPEARANCE_VERSION)
    if cache is not None and cache.is_file():
        feats = np.load(cache, allow_pickle=False)["appearance"]
    else:
        feats, row = [], 0
        items = truth_items(cfg) if items is None else items
        total = cfg.identities * (cfg.per_identity + 1)
        for item in progress(items, total=total, desc="rig ground truth: appearance", disable=quiet):
            if row == len(ms.meshes):
                break
            if (item.identity != ms.identity[row] or item.is_calibration != ms.calibration[row]
                    or not np.array_equal(np.float32([item.rig[c] for c in RIG_CONTROLS]), ms.rigs[row])):
                continue  # the pipeline found no face in this image: it has no row
            feats.append(appearance_of_photo(item.image, ms.meshes[row]))
            row += 1
        if row != len(ms.meshes):
            raise RuntimeError(f"with_appearance: matched {row} of {len(ms.meshes)} rows; stale mesh cache?")
        feats = np.stack(feats).astype(np.float32)
        if cache is not None:
            tmp = cache.with_suffix(".tmp.npz")
            np.savez_compressed(tmp, appearance=feats)
            tmp.replace(cache)
    return MeshSet(ms.meshes, ms.rigs, ms.identity, ms.expression, ms.calibration, ms.found, feats)
