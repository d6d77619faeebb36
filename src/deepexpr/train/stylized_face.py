"""Train the stylized-face detector and landmark regressor on composed scenes.

Two stages of one model (`models.stylized_face`), trained one after the other or in two
processes (`stage`), each with its own training state file in the run folder
(`state_<stage>.safetensors`, `train.state`: exact resume). `export` joins the two into one
checkpoint (`model.safetensors` + `model.json`, fp32, ~2.7 MB).

- detector: scenes of `data.scenes` (training character seeds), letterboxed to
  `detector_input`; CenterNet targets (a Gaussian per face centre, focal loss; L1 on log
  side, sin/cos angle and sub-cell offset at the centre cell; with `angle_bins`, the
  orientation bins' cross-entropy there too);
- landmarks: one character per small scene, cropped by its face square moved by a random
  error (the detector's, or the smaller one left for the second pass), soft-argmax
  landmarks, L1 in crop pixels / crop side.

Data are made once per run (deterministic for the seed) and kept in memory; a resumed run
may ask for more steps, scenes or crops (the first ones are the same, the stream goes on).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from deepexpr.data.face_frame import (
    aligned_crop,
    apply,
    face_frame,
    frame_from_params,
    frame_params,
)
from deepexpr.data.scenes import (
    SceneConfig,
    add_character,
    background,
    character_pool,
    compose_scene,
    occlude,
)
from deepexpr.errors import check_settings, setting
from deepexpr.models.checkpoint import save_model
from deepexpr.models.registry import create_model
from deepexpr.models.stylized_face import (
    DET_OUTPUTS,
    SIDE_UNIT,
    STRIDE,
    StylizedFaceNet,
    letterbox,
    orientation_targets,
)
from deepexpr.progress import progress
from deepexpr.train.state import load_state, save_state

STAGES = ("detector", "landmarks")
SMALL_FACE = 64.0  # largest face side of a `small_faces` scene (pixels, before letterboxing)
# what a resumed run may change: more steps and data, wider landmark-crop errors (a curriculum)
EXTENDABLE = {"steps", "save_every", "scenes", "crops", "jitter", "any_rotation", "spin", "small_faces", "occluded",
              "crop_min_face"}
# settings added after runs were made: left out of the recorded settings at their default,
# so those runs still resume
LATER_SETTINGS = {"jitter": 1.0, "any_rotation": 0.15, "init": "", "spin": 0.0, "angle_bins": 0, "small_faces": 0.0,
                  "occluded": 0.0, "crop_min_face": 40.0}


@dataclass
class StylizedTrainConfig:
    out: str = setting("runs/stylized_face", "run folder")
    model: str = setting("stylized_face", "architecture")
    stage: str = setting("detector", "which stage to train", choices=STAGES)
    seed: int = setting(101, "character pool and data seed (evaluation uses other seeds)")
    characters: int = setting(300, "random characters per style space", min=1)
    scenes: int = setting(600, "detector training scenes", min=1)
    crops: int = setting(3000, "landmark training crops", min=1)
    jitter: float = setting(1.0, "landmark crops: scale of the detector-like square errors (1: s.d. 0.06 side "
                                 "off centre, 0.08 in log side, 0.12 rad)", above=0.0)
    spin: float = setting(0.0, "landmark crops: share of the detector-like crops turned by any angle (the "
                               "passes then learn to turn a sideways or upside-down square upright)", min=0.0, max=1.0)
    any_rotation: float = setting(0.15, "detector scenes: share of faces turned by any angle (the rest "
                                        "+-45 degrees)", min=0.0, max=1.0)
    occluded: float = setting(0.0, "landmark crops: share of faces with an occluder drawn over them (a bar, a "
                                   "blob or strokes, `data.scenes.occlude`, as on a third of the scenes' faces)",
                              min=0.0, max=1.0)
    crop_min_face: float = setting(40.0, "landmark crops: smallest face side (pixels) they are cut from (sides "
                                         "log-uniform up to 200; smaller faces are blurrier in the crop)", min=8.0,
                                   max=200.0)
    small_faces: float = setting(0.0, "detector scenes: share composed of small faces only (sides 24-64 px, "
                                      "before letterboxing)", min=0.0, max=1.0)
    angle_bins: int = setting(0, "detector: also classify the face's orientation in this many bins (4: quarters; "
                                 "0: the (sin, cos) regression only; fixed for a run)", min=0, max=16)
    init: str = setting("", "start this stage from the weights of a stylized-face model (bundled name, "
                            ".safetensors file or run folder; a new run only)")
    steps: int = setting(500, "optimizer steps", min=1)
    batch: int = setting(16, "batch size", min=1)
    lr: float = setting(2e-3, "Adam learning rate (cosine down to 0.02 x)", above=0.0)
    max_render: int = setting(128, "largest render side while composing", min=48)
    threads: int = setting(1, "torch threads", min=0)
    save_every: int = setting(100, "steps between state saves", min=1)
    show_progress: bool = setting(True, "progress bar")

    def __post_init__(self):
        check_settings(self)  # one line naming the option (e.g. --angle-bins -1: must be >= 0)

    def to_dict(self) -> dict:
        return asdict(self)


def scene_config(cfg: StylizedTrainConfig) -> SceneConfig:
    return SceneConfig(seed=cfg.seed, characters=cfg.characters, builtins=True, min_side=192,
                       max_side=512, max_render=cfg.max_render, any_rotation=cfg.any_rotation)


def detector_targets(faces, a: np.ndarray, side: int) -> np.ndarray:
    """(7, side/4, side/4) float32: heat, log side, sin, cos, dx, dy, and a mask of the
    centre cells, for faces moved by `a` (scene -> letterboxed input, a scaling)."""
    n = side // STRIDE
    t = np.zeros((7, n, n), np.float32)
    ys, xs = np.mgrid[0:n, 0:n]
    for f in faces:
        c = apply(a, f.centre)
        u = (c - (STRIDE - 1) / 2) / STRIDE  # cell coordinates of the centre
        cell = np.round(u).astype(int)
        if not (0 <= cell[0] < n and 0 <= cell[1] < n):
            continue
        s = f.side * a[0, 0]
        sigma = max(0.7, s / STRIDE / 6)
        t[0] = np.maximum(t[0], np.exp(-((xs - u[0]) ** 2 + (ys - u[1]) ** 2) / (2 * sigma ** 2)))
        t[0, cell[1], cell[0]] = 1.0
        t[1:7, cell[1], cell[0]] = [np.log(s / SIDE_UNIT), np.sin(f.angle), np.cos(f.angle),
                                    u[0] - cell[0], u[1] - cell[1], 1.0]
    return t


def make_detector_data(cfg: StylizedTrainConfig, rng: np.random.Generator, side: int):
    sc = scene_config(cfg)
    small = replace(sc, max_face=SMALL_FACE, max_faces=2 * sc.max_faces)
    images = np.zeros((cfg.scenes, side, side, 3), np.uint8)
    targets = np.zeros((cfg.scenes, 7, side // STRIDE, side // STRIDE), np.float32)
    for i in progress(range(cfg.scenes), desc="scenes", disable=not cfg.show_progress):
        # (a run without small_faces draws the same stream as before the option)
        config = small if cfg.small_faces and rng.uniform() < cfg.small_faces else sc
        scene = compose_scene(config, rng, faces=int(rng.integers(0, config.max_faces + 1)))
        canvas, a = letterbox(scene.image, side)
        images[i, :canvas.shape[0], :canvas.shape[1]] = canvas
        images[i, canvas.shape[0]:], images[i, :, canvas.shape[1]:] = 127, 127
        targets[i] = detector_targets(scene.faces, a, side)
    return images, targets


def landmark_samples(sc: SceneConfig, pools, rng: np.random.Generator, crop: int, n: int = 4,
                     jitter: float = 1.0, spin: float = 0.0, occluded: float = 0.0, min_face: float = 40.0):
    """`n` face crops (crop, crop, 3) of one rendered face, each cropped by its face square
    moved by a random error (every other one detector-like, scaled by `jitter`, and with
    probability `spin` turned by a uniform angle; the others the smaller ones left for the
    second pass), and their landmarks (49, 2) in crop pixels. With probability `occluded`
    an occluder is drawn over the face first (the landmarks stay where the face's are). The
    face's side is log-uniform in `min_face`-200 pixels."""
    face_side = float(np.exp(rng.uniform(np.log(min_face), np.log(200))))
    extent = int(face_side * 1.8)
    scene = background(extent, extent, rng)
    pool = pools[int(rng.uniform() < sc.wide_fraction)]
    style = pool[int(rng.integers(len(pool)))]
    angle = rng.normal(0, 0.3)
    face = add_character(scene, style, rng, face_side, angle, (extent / 2, extent / 2), sc, rng.uniform() < 0.6)
    if occluded and rng.uniform() < occluded:  # (a run without occluders draws the same stream as before)
        occlude(scene, face, rng)
    centre0, side0, ang0 = frame_params(face_frame(face.landmarks))
    out = []
    for k in range(n):
        big = jitter if k % 2 == 0 else 0.0  # the detector's error, or the second pass's
        centre = centre0 + rng.normal(0, 0.06 * big or 0.02, 2) * side0
        side = side0 * np.exp(rng.normal(0, 0.08 * big or 0.03))
        ang = ang0 + rng.normal(0, 0.12 * big or 0.04)
        if big and spin and rng.uniform() < spin:
            ang = ang0 + rng.uniform(-np.pi, np.pi)
        image, to_crop = aligned_crop(scene, frame_from_params(centre, side, ang), crop)
        out.append((image, apply(to_crop, face.landmarks).astype(np.float32)))
    return out


def make_landmark_data(cfg: StylizedTrainConfig, rng: np.random.Generator, crop: int):
    sc = scene_config(cfg)
    pools = character_pool(sc.seed, sc.characters, sc.builtins)
    images = np.zeros((cfg.crops, crop, crop, 3), np.uint8)
    points = np.zeros((cfg.crops, 49, 2), np.float32)
    for i in progress(range(0, cfg.crops, 4), desc="crops", disable=not cfg.show_progress):
        for k, (image, pts) in enumerate(landmark_samples(sc, pools, rng, crop, min(4, cfg.crops - i), cfg.jitter,
                                                                 cfg.spin, cfg.occluded, cfg.crop_min_face)):
            images[i + k], points[i + k] = image, pts
    return images, points


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float, mean/std 0.5 (the registered preprocessing)."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


def detector_loss(out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """CenterNet focal loss on the heatmap + L1 on the regressions at centre cells (+ the
    orientation bins' cross-entropy against `orientation_targets` there, when `out` has
    more channels than `DET_OUTPUTS`)."""
    heat = out[:, 0].sigmoid().clamp(1e-4, 1 - 1e-4)
    gt = t[:, 0]
    pos = (gt == 1).float()
    pos_loss = -(torch.log(heat) * (1 - heat) ** 2 * pos).sum()
    neg_loss = -(torch.log(1 - heat) * heat ** 2 * (1 - gt) ** 4 * (1 - pos)).sum()
    n = pos.sum().clamp(min=1)
    mask = t[:, 6:7]
    reg = ((out[:, 1:6] - t[:, 1:6]).abs() * mask).sum() / n
    bins = out.shape[1] - len(DET_OUTPUTS)
    if bins:
        target = orientation_targets(torch.atan2(t[:, 2], t[:, 3]), bins).movedim(-1, 1)  # (N, B, h, w)
        reg = reg - (target * out[:, len(DET_OUTPUTS):].log_softmax(1) * mask).sum() / n
    return (pos_loss + neg_loss) / n + reg


def _batch(cfg, data, idx, net: StylizedFaceNet):
    images, targets = data
    x = to_tensor(images[idx])
    if cfg.stage == "detector":
        return detector_loss(net.detect(x), torch.from_numpy(targets[idx]))
    crop = images.shape[1]
    return (net.landmarks(x) - torch.from_numpy(targets[idx])).abs().mean() / crop * 100


def train_stylized(cfg: StylizedTrainConfig, resume: bool = False) -> Path:
    """Train one stage (see the module docstring); returns the state file."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / f"state_{cfg.stage}.safetensors"
    torch.manual_seed(cfg.seed)
    net = create_model(cfg.model, **_overrides(cfg.angle_bins))
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    rng = np.random.default_rng(cfg.seed + (0 if cfg.stage == "detector" else 1))
    progress_state = {"step": 0, "losses": [], "cpu_s": 0.0, "wall_s": 0.0}
    if resume and state_path.is_file():
        progress_state = load_state(state_path, {"net": net}, {"opt": opt}, settings=_settings(cfg),
                                    extendable=EXTENDABLE, generators={"rng": rng}).progress
    elif cfg.init:
        init_stage(net, cfg.init, cfg.stage)
    if progress_state["step"] >= cfg.steps:  # finished (e.g. `--resume --export`): nothing to train
        return state_path
    t0, c0 = time.time(), time.process_time()
    data_rng = np.random.default_rng(cfg.seed + 7 + (0 if cfg.stage == "detector" else 1))
    if cfg.stage == "detector":
        data = make_detector_data(cfg, data_rng, net.cfg.detector_input)
    else:
        data = make_landmark_data(cfg, data_rng, net.cfg.landmark_input)
    progress_state.setdefault("data_cpu_s", time.process_time() - c0)
    net.train()
    bar = progress(range(progress_state["step"], cfg.steps), desc=cfg.stage, disable=not cfg.show_progress)
    for step in bar:
        for g in opt.param_groups:
            g["lr"] = cfg.lr * (0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * step / cfg.steps)))
        idx = rng.integers(0, len(data[0]), cfg.batch)
        loss = _batch(cfg, data, idx, net)
        opt.zero_grad()
        loss.backward()
        opt.step()
        progress_state["losses"].append(round(loss.item(), 4))
        progress_state["step"] = step + 1
        if (step + 1) % cfg.save_every == 0 or step + 1 == cfg.steps:
            progress_state["cpu_s"] += time.process_time() - c0
            progress_state["wall_s"] += time.time() - t0
            t0, c0 = time.time(), time.process_time()
            save_state(state_path, {"net": net}, {"opt": opt}, progress_state, _settings(cfg),
                       generators={"rng": rng})
            if not cfg.show_progress:
                print(f"{cfg.stage} step {step + 1}: loss {np.mean(progress_state['losses'][-50:]):.4f}", flush=True)
    return state_path


def _overrides(angle_bins: int) -> dict:
    """The architecture overrides of a model with `angle_bins` (none for the default 0)."""
    return {"angle_bins": angle_bins} if angle_bins else {}


def init_stage(net: StylizedFaceNet, ref: str, stage: str) -> None:
    """Copy one stage's weights (detector: `det_*`, landmarks: `lmk_*`) of the stylized-face
    model `ref` (bundled name, file or run folder) into `net`; the other stage is left as is.
    A detector head with another number of orientation bins gives its common outputs (the
    heatmap, size, angle and offset rows); new bins start from `net`'s own weights.
    Raises InputError when `ref` is not found or its architecture differs."""
    from deepexpr.errors import InputError
    from deepexpr.models.checkpoint import load_model
    from deepexpr.models.resolve import resolve_model

    source, _ = load_model(resolve_model(ref, kinds=("bundled", "file", "run"), option="--init").path)
    prefix = "det_" if stage == "detector" else "lmk_"
    own, theirs = net.state_dict(), {k: v for k, v in source.state_dict().items() if k.startswith(prefix)}
    for key in ("det_head.weight", "det_head.bias"):
        mine, given = own.get(key), theirs.get(key)
        if mine is not None and given is not None and mine.shape != given.shape and mine.shape[1:] == given.shape[1:]:
            theirs[key] = torch.cat([given[:len(DET_OUTPUTS)], mine[len(DET_OUTPUTS):]])
    if any(k not in own or own[k].shape != v.shape for k, v in theirs.items()) or not theirs:
        raise InputError(f"--init {ref}: its {stage} stage does not fit the model {type(net).__name__} "
                         "(another architecture); train from scratch or pick a matching model")
    net.load_state_dict(own | theirs)


def _settings(cfg: StylizedTrainConfig) -> dict:
    d = cfg.to_dict()
    d.pop("show_progress")
    for key, default in LATER_SETTINGS.items():
        if d[key] == default:
            d.pop(key)
    return d


def export_stylized(run: str | Path, out: str | Path, model: str = "stylized_face", base: str = "") -> Path:
    """Join the two stages' weights of a run into one checkpoint `out` (.safetensors + .json).

    A stage the run did not train (no state file) comes from `base` (a stylized-face model
    reference, e.g. the `init` of the stage that was trained), with base's training record.
    A stage started from `init` also keeps the record of the weights it started from.

    Raises:
        InputError: a stage has neither a state in `run` nor a `base`.
    """
    from deepexpr.errors import InputError
    from deepexpr.train.state import read_state

    overrides = _overrides(_detector_bins(run, base))
    net = create_model(model, **overrides)
    state = net.state_dict()
    meta_all = {}
    for stage, prefix in (("detector", "det_"), ("landmarks", "lmk_")):
        path = Path(run) / f"state_{stage}.safetensors"
        if not path.is_file():
            if not base:
                raise InputError(f"{path}: no {stage} state in the run; train that stage or pass --init")
            init_stage(net, base, stage)
            state = net.state_dict() | {k: v for k, v in state.items() if not k.startswith(prefix)}
            meta_all[stage] = _base_record(base, stage)
            continue
        meta, tensors = read_state(path)
        for k, v in tensors.items():
            if k.startswith("model.net.") and k[len("model.net."):].startswith(prefix):
                state[k[len("model.net."):]] = v
        meta_all[stage] = {"steps": meta["progress"]["step"], "cpu_s": round(meta["progress"]["cpu_s"], 1),
                           "wall_s": round(meta["progress"]["wall_s"], 1),
                           "data_cpu_s": round(meta["progress"].get("data_cpu_s", 0.0), 1),
                           "settings": meta["settings"]}
        if meta["settings"].get("init"):
            meta_all[stage]["init_training"] = _base_record(meta["settings"]["init"], stage)
    net.load_state_dict(state)
    pre = {"size": net.cfg.landmark_input, "grayscale": False, "mean": [0.5] * 3, "std": [0.5] * 3}
    save_model(out, net, {"model": model, "overrides": overrides, "preprocess": pre, "training": meta_all})
    return Path(out)


def _detector_bins(run: str | Path, base: str) -> int:
    """The orientation bins of the detector an export takes: the run's detector stage's
    setting, else `base`'s architecture."""
    from deepexpr.models.checkpoint import read_config
    from deepexpr.models.resolve import resolve_model
    from deepexpr.train.state import read_state

    path = Path(run) / "state_detector.safetensors"
    if path.is_file():
        return int(read_state(path)[0]["settings"].get("angle_bins", 0))
    if not base:
        return 0
    found = resolve_model(base, kinds=("bundled", "file", "run"), option="--init")
    return int(read_config(found.path).get("overrides", {}).get("angle_bins", 0))


def _base_record(ref: str, stage: str) -> dict:
    """The training record of `stage` in the config of stylized-face model `ref`."""
    from deepexpr.models.checkpoint import read_config
    from deepexpr.models.resolve import resolve_model

    found = resolve_model(ref, kinds=("bundled", "file", "run"), option="--init")
    return {"from": str(ref), **read_config(found.path).get("training", {}).get(stage, {})}


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(StylizedTrainConfig().to_dict()))
