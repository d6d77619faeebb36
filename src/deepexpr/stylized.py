"""Faces and 49 landmarks on stylized character images (inference).

    >>> from deepexpr.stylized import detect_stylized_faces
    >>> faces = detect_stylized_faces(image)          # (H, W, 3) uint8 or a path
    >>> faces[0].box, faces[0].score, faces[0].angle, faces[0].landmarks.shape   # (49, 2)

Pipeline: the detector (`models.stylized_face`, batch norms folded) reads the image
letterboxed at a zoomed-out level (128) and at the levels `_levels` picks for its size
(faces too small for the coarse level); peaks of the centre heatmap give face squares
(centre, side, angle); the landmark regressor reads each upright face crop, then the crop
re-fitted to those landmarks, again for the faces whose square still moves (`passes`,
`settle`); faces whose landmark heatmaps are diffuse can be dropped (`max_entropy`), and
duplicates merged (`merge_faces`); a face's box lies between its landmarks' square and the
detector's (`box_blend`, `blend_from`), diffuse faces scored high keep the detector's square
(`keep_diffuse`). Boxes, angles and crops all come from `data.face_frame`.

`render_crop(image, face, size)` is the one alignment of a detected face for every model
that reads characters: the face framed the way a whole character render frames it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from deepexpr.data.face_frame import (
    TEMPLATE,
    aligned_crop,
    apply,
    compose,
    crop_transform,
    face_frame,
    frame_box,
    frame_from_params,
    frame_params,
    invert,
)
from deepexpr.errors import InputError, check_settings, setting
from deepexpr.models.threads import torch_threads

BUNDLED_STYLIZED = "stylized_face"  # the bundled weights name (src/deepexpr/weights/)
MIN_SIDE = 16  # images smaller than this have no readable face
PORTRAIT = 0.45  # one face this large (box side / shorter image side) is read as a whole render


@dataclass
class StylizedFace:
    """One detected face.

    Attributes:
        box: (4,) float32 x0, y0, x1, y1: axis-aligned bounds of the turned face square (that
            of the landmarks moved toward the detector's, `StylizedConfig.box_blend`).
        score: detector confidence in [0, 1].
        angle: in-plane angle in degrees (0 upright; positive turns clockwise on screen).
        landmarks: (49, 2) float32 image pixels, `deepexpr.landmarks` order.
        landmark_entropy: mean entropy (nats) of the 49 landmark heatmaps of the last pass:
            low where the regressor sees face parts, near ln(cells) (6.0 for 20 x 20) where
            it sees none (`StylizedConfig.max_entropy` drops those).
        landmarks_from: "regressor", or "detector" for a diffuse face `StylizedConfig.keep_diffuse`
            kept: the detector's square, and the mean face (`face_frame.TEMPLATE`) in it.
    """

    box: np.ndarray
    score: float
    angle: float
    landmarks: np.ndarray
    landmark_entropy: float = float("nan")
    landmarks_from: str = "regressor"

    def to_dict(self) -> dict:
        return {"box": [round(float(v), 2) for v in self.box], "score": round(self.score, 4),
                "angle": round(self.angle, 2), "landmarks": np.round(self.landmarks, 2).tolist(),
                "landmarks_from": self.landmarks_from}


@dataclass
class StylizedConfig:
    """How faces are found. The defaults of threshold, max_entropy, min_scale, settle,
    min_passes, box_blend, blend_from and keep_diffuse were chosen for the bundled model on
    validation scenes (character pools 7001, 7003; never the test pool): `benchmarks/tune_stylized_detection.py`,
    benchmarks/RESULTS.md ("Stylized landmarks", "Session 7" to "Session 10")."""

    model: str = setting(BUNDLED_STYLIZED, "stylized-face weights: bundled name, .safetensors file or run folder")
    threshold: float = setting(0.3, "lowest detection score kept", min=0.0, max=1.0)
    nms_iou: float = setting(0.4, "boxes overlapping more than this are one face", min=0.0, max=1.0)
    max_faces: int = setting(32, "most faces per image", min=1)
    passes: int = setting(4, "most landmark passes (each re-crops on the previous pass's landmarks)", min=1, max=6)
    settle: float = setting(0.15, "after `min_passes` passes, read a face again only while its square moves "
                                 "more than this (fraction of its side; 0: every face every pass)", min=0.0)
    min_passes: int = setting(2, "landmark passes every face gets before `settle` may stop it", min=1, max=6)
    give_up: float = setting(0.0, "stop re-reading a candidate whose first landmark heatmaps are this diffuse "
                                  "(mean entropy, nats; 0: never)", min=0.0)
    turn_above: float = setting(0.0, "also fit a face from its square turned by 90/180/270 degrees when its "
                                     "first landmark heatmaps are this diffuse (mean entropy, nats; 0: never)",
                                min=0.0)
    turn_below: float = setting(0.0, "also fit a face from its square turned by 90/180/270 degrees when the "
                                     "detector is unsure of its angle: its (sin, cos) output shorter than this "
                                     "(0: never)", min=0.0)
    orientation: str = setting("bins", "a detector with orientation bins: bins (its angle turned into the "
                                       "likeliest bin's quarter) or regression (the regressed angle alone)",
                               choices=("bins", "regression"))
    glance_below: float = setting(0.0, "a face whose detector is unsure of its orientation (its likeliest bin's "
                                       "probability; without bins its (sin, cos) length) under this also has its "
                                       "square turned to the next likeliest orientations (without bins: 180, then "
                                       "90 and 270 degrees) read in its first pass; the sharpest reading goes on "
                                       "(0: never)", min=0.0, max=1.0)
    glance_turns: int = setting(1, "how many of the next likeliest orientations `glance_below` reads", min=1,
                                max=15)
    max_entropy: float = setting(4.5, "drop faces whose landmark heatmaps are this diffuse (mean entropy, "
                                      "nats; 0: keep all)", min=0.0)
    box_blend: float = setting(0.3, "a face's box: the square fitted to its landmarks moved this share of the way "
                                    "to the detector's square (0: the landmarks' alone)", min=0.0, max=1.0)
    blend_from: float = setting(4.3, "landmark heatmaps more diffuse than this (mean entropy, nats) move the box "
                                     "further toward the detector's square, all the way at max_entropy (0: "
                                     "box_blend alone)", min=0.0)
    keep_diffuse: float = setting(0.7, "a face more diffuse than max_entropy is kept, with the detector's square "
                                       "and the mean face in it (landmarks_from: detector), when its detector "
                                       "score is at least this (0: dropped)", min=0.0, max=1.0)
    min_scale: float = setting(0.6, "finest pyramid level scales the image by this (0: doubled levels)",
                               min=0.0, max=2.0)
    backend: str = setting("auto", "what runs the two nets: onnx (ONNX Runtime, ~20 percent less CPU), torch, or "
                                   "auto (onnx when onnxruntime and onnx are installed, else torch)",
                           choices=("auto", "onnx", "torch"))
    threads: int = setting(1, "torch threads per image (0: the process's setting; more than 1 is much "
                              "slower when other work keeps a core busy)", min=0)

    def __post_init__(self):
        check_settings(self)  # one line naming the option (e.g. --box-blend 2: must be <= 1.0)


@lru_cache(maxsize=4)
def load_stylized_model(ref: str = BUNDLED_STYLIZED, backend: str = "auto"):
    """The detector + landmark model of a reference (bundled name, file or run folder) for
    inference: batch norms folded (`models.stylized_face.fuse_for_inference`), run by ONNX
    Runtime (`backend` "onnx"; "auto" when it is installed) or by torch.

    Raises:
        InputError: `ref` names no model, or `backend` "onnx" without onnxruntime / onnx.
    """
    from deepexpr.models.checkpoint import load_model
    from deepexpr.models.onnx_runtime import onnx_available
    from deepexpr.models.resolve import resolve_model
    from deepexpr.models.stylized_face import fuse_for_inference, onnx_for_inference

    found = resolve_model(ref, kinds=("bundled", "file", "run"), option="--detector")
    model, _ = load_model(found.path)
    fused = fuse_for_inference(model)
    if backend == "onnx" and not onnx_available():
        raise InputError("--backend onnx: onnxruntime or onnx is not installed; pip install onnxruntime 'onnx<1.17' "
                         "or pass --backend torch")
    if backend in ("auto", "onnx") and onnx_available():
        return onnx_for_inference(fused)
    return fused


def _levels(h: int, w: int, base: int, min_scale: float = 0.0) -> list[tuple[int, float, float]]:
    """(detector input side, smallest and largest face side kept, in input pixels) per
    pyramid level: a zoomed-out level (faces filling the image look like the mid-sized faces
    of training), then the levels for the rest.

    `min_scale` 0: the base level, and finer levels doubled while the image is over 1.5 x
    the level (up to 4 x base). `min_scale` > 0: the finest level scales the image by
    `min_scale` (side a multiple of 32, base to 4 x base), coarser ones halve it while over
    2 x base (training scenes of 192-512 px were scaled by 0.5-1.33 to side 256)."""
    levels = [(base // 2, 24.0, float("inf"))]
    if min_scale > 0:
        sides = [int(np.clip(-(-round(max(h, w) * min_scale) // 32) * 32, base, 4 * base))]
        while sides[-1] > 2 * base:
            sides.append(max(base, -(-sides[-1] // 64) * 32))
        return levels + [(side, 0.0, base * (0.6 if side == sides[-1] else 0.35)) for side in reversed(sides)]
    levels.append((base, 0.0, base * 0.6))
    side = base
    while max(h, w) > side * 1.5 and side < 4 * base:  # small faces of large images stay >= ~12 px
        side *= 2
        levels.append((side, 0.0, base * 0.35))
    return levels


# orientations a square without bins may be glanced at, (turn, prior): the half turn (the passes never reach it) first
_TURNS = ((np.pi, 0.0), (np.pi / 2, 0.0), (-np.pi / 2, 0.0))


def _decode(maps: np.ndarray, a: np.ndarray, threshold: float, min_side: float, max_side: float,
            bins: bool = True):
    """Peaks of one level's maps (6 [+ B], h, w) -> [(score, centre, side, angle, sureness,
    turns)] in image pixels.

    Without orientation bins the sureness is the (sin, cos) output's length (short where the
    detector averages opposite angles) and turns are `_TURNS`. With B bins (and `bins`) the
    regressed angle is turned by a multiple of 360 / B degrees into the likeliest bin's
    sector, the sureness is that bin's probability, and turns lists the other bins as (turn
    from the angle in radians, probability), likeliest first.
    """
    from deepexpr.models.stylized_face import DET_OUTPUTS, SIDE_UNIT, STRIDE

    heat = 1 / (1 + np.exp(-maps[0]))
    padded = np.pad(heat, 1, constant_values=0)
    neigh = np.max([padded[dy:dy + heat.shape[0], dx:dx + heat.shape[1]] for dy in range(3) for dx in range(3)], 0)
    ys, xs = np.nonzero((heat >= neigh) & (heat >= threshold))
    inv = invert(a)[:, :2]
    out = []
    for y, x in zip(ys, xs):
        side = float(np.exp(maps[1, y, x]) * SIDE_UNIT)
        if not min_side <= side <= max_side:
            continue
        c = (np.array([x + maps[4, y, x], y + maps[5, y, x]]) * STRIDE + (STRIDE - 1) / 2)
        centre = inv @ (c - a[:, 2])
        sin, cos = float(maps[2, y, x]), float(maps[3, y, x])
        angle, sure, turns = float(np.arctan2(sin, cos)), float(np.hypot(sin, cos)), list(_TURNS)
        logits = maps[len(DET_OUTPUTS):, y, x]
        if bins and len(logits):
            prob = np.exp(logits - logits.max())
            prob /= prob.sum()
            step, k = 2 * np.pi / len(prob), int(np.argmax(prob))
            angle += step * (k - round(angle / step))
            sure = float(prob[k])
            turns = [(step * (j - k), float(prob[j])) for j in np.argsort(-prob) if j != k]
        out.append((float(heat[y, x]), centre, side * inv[0, 0], angle, sure, turns))
    return out


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / max(1e-9, (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def detector_peaks(image: np.ndarray, model, cfg: StylizedConfig, threshold: float) -> list[tuple]:
    """Every pyramid level's heatmap peaks scored >= `threshold` (`_decode`'s tuples), best first."""
    import torch

    from deepexpr.models.stylized_face import letterbox

    found = []
    for side, min_side, max_side in _levels(*image.shape[:2], model.cfg.detector_input, cfg.min_scale):
        canvas, a = letterbox(image, side)
        x = torch.from_numpy(canvas).permute(2, 0, 1)[None].float().div_(127.5).sub_(1.0)
        with torch.inference_mode():
            found += _decode(model.detect(x)[0].numpy(), a, threshold, min_side, max_side, cfg.orientation == "bins")
    return sorted(found, key=lambda f: -f[0])


def find_faces(image: np.ndarray, model, cfg: StylizedConfig) -> list[tuple[float, np.ndarray, float]]:
    """Detector only: [(score, frame (2, 3), angle sureness, turns (`_decode`))], best first,
    after non-maximum suppression."""
    found = detector_peaks(image, model, cfg, cfg.threshold)
    kept: list[tuple[float, np.ndarray, float, list, np.ndarray]] = []
    for score, centre, side, angle, sure, turns in found:
        m = frame_from_params(centre, side, angle)
        box = frame_box(m)
        if all(_iou(box, k[-1]) <= cfg.nms_iou for k in kept):
            kept.append((score, m, sure, turns, box))
        if len(kept) >= cfg.max_faces:
            break
    return [k[:4] for k in kept]


def read_landmarks(image: np.ndarray, frames: list[np.ndarray], model) -> tuple[list[np.ndarray], list[float]]:
    """One regressor pass: each frame's upright crop -> landmarks (49, 2) float64 in image
    pixels and the mean entropy (nats) of its 49 heatmaps, all crops in one batch."""
    import torch

    from deepexpr.models.stylized_face import soft_argmax

    if not frames:
        return [], []
    crops, maps = zip(*(face_crop(image, m, model.cfg.landmark_input) for m in frames))
    x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
    with torch.inference_mode():
        heat = model.landmark_maps(x)
        pred = soft_argmax(heat).numpy().astype(np.float64)
        logp = heat.flatten(2).log_softmax(-1)
        spread = (-(logp.exp() * logp).sum(-1).mean(-1)).tolist()
    return [apply(invert(t), q) for t, q in zip(maps, pred)], spread


def face_crop(image: np.ndarray, m: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """`aligned_crop(image, m, size)` (upright face crop, image -> crop affine), shrinking only
    the part of the image the crop covers (the same pixels up to the area filter's rounding)."""
    to_crop = crop_transform(m, size)
    (a, b), (c, d) = to_crop[:, :2]
    scale = float(np.sqrt(abs(a * d - b * c)))  # (closed form: LAPACK would wake OpenBLAS's threads)
    h, w = image.shape[:2]
    if scale >= 0.5:  # no shrinking: the warp reads only the pixels it needs
        return aligned_crop(image, m, size)
    corners = apply(invert(to_crop), np.array([[-1, -1], [size, -1], [size, size], [-1, size]], np.float64))
    margin = 4 / scale  # a few crop pixels of context for the area filter
    x0, y0 = np.maximum(np.floor(corners.min(0) - margin), 0).astype(int)
    x1, y1 = np.minimum(np.ceil(corners.max(0) + margin) + 1, [w, h]).astype(int)
    if x1 - x0 < 2 or y1 - y0 < 2:  # wholly outside the image
        return aligned_crop(image, m, size)
    shift = np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0]])
    crop, sub_to_crop = aligned_crop(image[y0:y1, x0:x1], compose(shift, m), size)
    return crop, compose(sub_to_crop, shift)


def fit_landmarks(image: np.ndarray, frames: list[np.ndarray], model, passes: int = 2,
                  settle: float = 0.0, turn_above: float = 0.0, min_passes: int = 2,
                  give_up: float = 0.0, turn: list[bool] | None = None,
                  glance: list[list[float]] | None = None) -> tuple[list[np.ndarray], list[float]]:
    """The 49 landmarks (image pixels) of each face frame by up to `passes` regressor passes,
    each on the square re-fitted to the previous pass's landmarks. After `min_passes` passes
    a face is read again only while its square still moves by more than `settle` (centre
    shift / side, |log| size change, angle in radians; 0: every face every pass): the few
    faces whose first square was far off converge, the rest cost `min_passes` passes.
    `give_up` > 0: a candidate whose first pass is more diffuse than this is not read again
    (no face parts where the detector saw a face: a false candidate, most likely).

    `turn_above` > 0: a face whose first pass is more diffuse than this (mean heatmap entropy)
    has its square turned by 90, 180 and 270 degrees read once; the sharpest, if sharper than
    the face's own first reading, is fitted too and the sharper last fit kept (the passes
    correct ~60 degrees, not an upside-down square: benchmarks/RESULTS.md, "Session 5").
    `turn`: per frame, fit it turned whatever its entropy (`StylizedConfig.turn_below`).
    `glance`: per frame, turns (radians) of its square read beside it in the first pass; the
    sharpest reading goes through the passes (`StylizedConfig.glance_below`).

    Returns:
        per face: landmarks (49, 2) float32, and the mean entropy of its last pass's heatmaps.
    """
    read = None
    if glance and any(glance):
        frames, read = _glance(image, frames, model, glance)
    points, entropy, first = _passes(image, frames, model, passes, settle, min_passes, give_up, read)
    turn = turn or [False] * len(frames)
    unsure = [i for i, e in enumerate(first) if turn[i] or (turn_above and e > turn_above)]
    if not unsure:
        return points, entropy
    turned = []
    for i in unsure:
        centre, side, angle = frame_params(frames[i])
        turned += [frame_from_params(centre, side, angle + np.pi / 2 * r) for r in (1, 2, 3)]
    found, glance = read_landmarks(image, turned, model)  # one reading of every turned square
    better = []  # (face, its sharpest turned square): only those sharper than the face's own first reading
    for n, i in enumerate(unsure):
        best = 3 * n + int(np.argmin(glance[3 * n:3 * n + 3]))
        if glance[best] < first[i]:
            better.append((i, best))
    if better:
        alt, alt_entropy, _ = _passes(image, [turned[b] for _, b in better], model, passes, settle, min_passes,
                                      give_up, read=([found[b] for _, b in better], [glance[b] for _, b in better]))
        for (i, _), q, e in zip(better, alt, alt_entropy):
            if e < entropy[i]:
                points[i], entropy[i] = q, e
    return points, entropy


def _glance(image: np.ndarray, frames: list[np.ndarray], model, glance: list[list[float]]):
    """The first pass of `fit_landmarks` with turned squares: per frame, the square (its own
    or one turned by a `glance` angle) whose reading is sharpest, and ([landmarks], [entropy])
    of those readings (`_passes`'s `read`)."""
    squares, owner = [], []
    for i, (m, turns) in enumerate(zip(frames, glance)):
        centre, side, angle = frame_params(m)
        squares += [m] + [frame_from_params(centre, side, angle + t) for t in turns]
        owner += [i] * (1 + len(turns))
    found, spread = read_landmarks(image, squares, model)
    best: dict[int, int] = {}
    for n, i in enumerate(owner):
        if i not in best or spread[n] < spread[best[i]]:
            best[i] = n
    pick = [best[i] for i in range(len(frames))]
    return [squares[n] for n in pick], ([found[n] for n in pick], [spread[n] for n in pick])


def _passes(image, frames, model, passes: int, settle: float, min_passes: int, give_up: float, read=None):
    """`fit_landmarks`'s passes without turning: per frame landmarks (49, 2) float32, last and first
    pass's heatmap entropy. `read`: the first pass's `read_landmarks` of `frames`, if read."""
    frames, points, entropy = list(frames), [None] * len(frames), [float("nan")] * len(frames)
    first = list(entropy)
    todo = list(range(len(frames)))
    for p in range(passes):
        if not todo:
            break
        found, spread = read if p == 0 and read is not None else read_landmarks(image, [frames[i] for i in todo], model)
        moving = []
        refits = face_frame(np.stack(found))  # (N, 2, 3): one batched fit a pass
        for i, q, e, refit in zip(todo, found, spread, refits):
            usable = bool(np.isfinite(refit).all()) and _plausible(frames[i], refit)
            if points[i] is None or usable:  # a collapsed or runaway fit keeps its last pass
                points[i], entropy[i] = q, e
            if p == 0:
                first[i] = e
                if give_up and e > give_up:
                    continue
            if usable and (p + 1 < min_passes or _frame_change(frames[i], refit) > settle):
                moving.append(i)
                frames[i] = refit
        todo = moving
    return [q.astype(np.float32) for q in points], entropy, first


def _plausible(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether face frame `b`, re-fitted to landmarks read in `a`'s crop, is a correction
    (side 0.5-2 x `a`'s, >= 1 px), not a fit that collapsed onto one feature or ran away."""
    side_a, side_b = frame_params(a)[1], frame_params(b)[1]
    return side_b >= 1.0 and 0.5 <= side_b / max(side_a, 1e-9) <= 2.0


def _frame_change(a: np.ndarray, b: np.ndarray) -> float:
    """How far face frame `b` is from `a`: the largest of centre shift / side, |log| side
    ratio and angle difference (radians)."""
    (ca, sa, ta), (cb, sb, tb) = frame_params(a), frame_params(b)
    sa, sb = max(sa, 1e-9), max(sb, 1e-9)  # a collapsed fit (an untrained model) keeps moving
    turn = abs((tb - ta + np.pi) % (2 * np.pi) - np.pi)
    return float(max(np.hypot(*(cb - ca)) / sa, abs(np.log(sb / sa)), turn))


def detect_stylized_faces(image, cfg: StylizedConfig | None = None, model=None) -> list[StylizedFace]:
    """Faces and 49 landmarks on a stylized image (see the module docstring).

    Args:
        image: (H, W, 3) uint8 RGB (or anything `io.to_rgb_uint8` takes), or a file path.
        cfg: detection settings (default `StylizedConfig()`).
        model: a loaded model (default: `cfg.model`, cached).

    Returns:
        faces, best score first; [] for an image with none (or too small to hold one).
    """
    from deepexpr.io import read_image, to_rgb_uint8

    cfg = cfg or StylizedConfig()
    image = read_image(image) if isinstance(image, str) or hasattr(image, "__fspath__") else to_rgb_uint8(image)
    if min(image.shape[:2]) < MIN_SIDE:
        return []
    model = model if model is not None else load_stylized_model(cfg.model, cfg.backend)
    with torch_threads(cfg.threads):
        scores, points, entropy, frames = candidates(image, model, cfg)
    return merge_faces(scores, points, entropy, cfg, frames)


def candidates(image: np.ndarray, model, cfg: StylizedConfig) -> tuple[list[float], list[np.ndarray], list[float],
                                                                      list[np.ndarray]]:
    """Detector + landmark passes, before `merge_faces`: per candidate (best score first) its
    detector score, landmarks (49, 2), last pass's heatmap entropy and detector frame (2, 3)."""
    found = find_faces(image, model, cfg)
    glance = [[t for t, _ in turns[:cfg.glance_turns]] if sure < cfg.glance_below else [] for _, _, sure, turns in found]
    points, entropy = fit_landmarks(image, [f[1] for f in found], model, cfg.passes, cfg.settle, cfg.turn_above,
                                    cfg.min_passes, cfg.give_up, [f[2] < cfg.turn_below for f in found], glance)
    return [f[0] for f in found], points, entropy, [f[1] for f in found]


def merge_faces(scores: list[float], points: list[np.ndarray], entropy: list[float],
                cfg: StylizedConfig, frames: list[np.ndarray] | None = None) -> list[StylizedFace]:
    """Refined detections (best score first) -> faces (`face_square`; `frames`: the candidates'
    detector frames), duplicates (which meet after refinement) merged into the better-scored
    one. A face is only ever dropped for a better-scored one, so the faces at a higher
    threshold are exactly those of a lower one scored at or above it (what tuning relies on)."""
    faces: list[StylizedFace] = []
    for n, (score, lm, spread) in enumerate(zip(scores, points, entropy)):
        found = face_square(score, lm, spread, None if frames is None else frames[n], cfg)
        if found is None:
            continue
        m, from_detector = found
        if from_detector:
            lm = apply(m, TEMPLATE).astype(np.float32)
        face = StylizedFace(frame_box(m).astype(np.float32), score, float(np.degrees(frame_params(m)[2])), lm, spread,
                            "detector" if from_detector else "regressor")
        if not any(_same_face(face, kept, cfg.nms_iou) for kept in faces):
            faces.append(face)
    return faces


def face_square(score: float, points: np.ndarray, entropy: float, frame: np.ndarray | None,
                cfg: StylizedConfig) -> tuple[np.ndarray, bool] | None:
    """The face frame (2, 3) a candidate reports and whether it is the detector's alone; None
    when the candidate is dropped (under `cfg.threshold`, or more diffuse than
    `cfg.max_entropy` and scored under `cfg.keep_diffuse`).

    The frame: the landmarks' square moved `cfg.box_blend` of the way to the detector's
    (`blend_frames`), further as the heatmaps grow more diffuse than `cfg.blend_from` (all the
    way at `cfg.max_entropy`): where the regressor reads a face poorly its fit drifts, the
    detector's square does not (benchmarks/RESULTS.md, "Session 9")."""
    if score < cfg.threshold:
        return None
    if cfg.max_entropy and entropy > cfg.max_entropy:  # (diffuse heatmaps: no face parts where the detector saw one)
        if frame is None or not cfg.keep_diffuse or score < cfg.keep_diffuse:
            return None
        return frame, True
    m = face_frame(points)
    if frame is None:
        return m, False
    weight = cfg.box_blend
    if cfg.blend_from and cfg.max_entropy > cfg.blend_from and entropy > cfg.blend_from:
        weight += (1 - weight) * min(1.0, (entropy - cfg.blend_from) / (cfg.max_entropy - cfg.blend_from))
    return (blend_frames(m, frame, weight), False) if weight else (m, False)


def blend_frames(a: np.ndarray, b: np.ndarray, weight: float) -> np.ndarray:
    """The face frame between frames `a` and `b` (2, 3): centre and log side `weight` of the way
    to `b`'s; the angle too when the two differ by less than 0.5 rad, else `a`'s."""
    (ca, sa, ta), (cb, sb, tb) = frame_params(a), frame_params(b)
    turn = (tb - ta + np.pi) % (2 * np.pi) - np.pi
    side = float(np.exp((1 - weight) * np.log(max(sa, 1e-9)) + weight * np.log(max(sb, 1e-9))))
    return frame_from_params((1 - weight) * ca + weight * cb, side, ta + weight * turn if abs(turn) < 0.5 else ta)


def _same_face(a: StylizedFace, b: StylizedFace, iou: float) -> bool:
    """Two refined detections of one face: their boxes overlap more than `iou`, or one's
    centre lies inside the other's box."""
    ca, cb = (a.box[:2] + a.box[2:]) / 2, (b.box[:2] + b.box[2:]) / 2
    inside = lambda c, box: box[0] <= c[0] <= box[2] and box[1] <= c[1] <= box[3]  # noqa: E731
    return _iou(a.box, b.box) > iou or inside(ca, b.box) or inside(cb, a.box)


def render_crop(image: np.ndarray, face: StylizedFace | np.ndarray, size: int = 128) -> np.ndarray:
    """The face (a `StylizedFace` or its (49, 2) landmarks) framed like a whole character render
    (upright, `size` x `size` uint8): what the character recognizer and retrieval embedding read."""
    lm = face.landmarks if isinstance(face, StylizedFace) else face
    return aligned_crop(image, face_frame(lm), size, region="render")[0]


def check_model(ref: str, backend: str = "auto") -> None:
    """Raise an InputError (one line) when `ref` names no loadable stylized-face model (or
    `backend` cannot run it)."""
    try:
        load_stylized_model(ref, backend)
    except InputError:
        raise
    except Exception as err:  # noqa: BLE001 - a wrong file type: name it in one line
        raise InputError(f"--detector {ref}: not a stylized-face model ({err})") from err


def draw_faces(image: np.ndarray, faces: list[StylizedFace], width: int = 320):
    """A PIL picture of `image` scaled to `width` with each face's turned square, score and
    49 landmarks drawn."""
    from PIL import Image, ImageDraw

    from deepexpr.data.face_frame import box_corners
    from deepexpr.landmarks import DRAW_PATHS

    scale = width / image.shape[1]
    pil = Image.fromarray(image).resize((width, max(1, round(image.shape[0] * scale))), Image.BILINEAR)
    draw = ImageDraw.Draw(pil)
    for face in faces:
        centre, side, angle = frame_params(face_frame(face.landmarks))
        corners = [tuple(p) for p in ((box_corners(centre, side, angle) + 0.5) * scale).tolist()]
        draw.line(corners + corners[:1], fill=(255, 40, 40), width=2)
        pts = (face.landmarks + 0.5) * scale
        for idx, closed in DRAW_PATHS:
            line = [tuple(p) for p in pts[idx].tolist()]
            draw.line(line + (line[:1] if closed else []), fill=(40, 230, 40), width=1)
        draw.text(corners[0], f"{face.score:.2f}", fill=(255, 255, 0))
    return pil


def faces_sheet(items: list[tuple[str, np.ndarray, list[StylizedFace]]], columns: int = 4, tile: int = 256):
    """A contact sheet (PIL) of (caption, image, faces) items, each drawn by `draw_faces`."""
    from PIL import Image, ImageDraw

    rows = max(1, -(-len(items) // columns))
    sheet = Image.new("RGB", (columns * tile, rows * (tile + 16)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, (caption, image, faces) in enumerate(items):
        pic = draw_faces(image, faces, tile)
        pic.thumbnail((tile, tile))
        x, y = (i % columns) * tile, (i // columns) * (tile + 16)
        sheet.paste(pic, (x + (tile - pic.width) // 2, y + (tile - pic.height) // 2))
        draw.text((x + 4, y + tile + 2), f"{caption[:34]} ({len(faces)})", fill=(0, 0, 0))
    return sheet


def stylized_available(ref: str = BUNDLED_STYLIZED) -> bool:
    """Whether the stylized-face model `ref` can be loaded (the bundled weights exist)."""
    try:
        load_stylized_model(ref)
    except InputError:
        return False
    return True


def detected_landmarks(image: np.ndarray) -> np.ndarray | None:
    """The 49 landmarks (float32 (49, 2)) of the largest face whose landmarks the regressor
    read, for geometry; None when there is none or no stylized-face model is installed."""
    faces = [f for f in detect_stylized_faces(image) if f.landmarks_from == "regressor"] if stylized_available() else []
    return max(faces, key=lambda f: float((f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))).landmarks if faces else None


def character_crops(image: np.ndarray, size: int = 128) -> list[tuple[list[float], np.ndarray, str]]:
    """What character models read from one image: [(box, image or crop, source)].

    - several faces, or one small face: each face's `render_crop`, left to right ("face");
    - one face filling the image (its square >= `PORTRAIT` of the shorter side, as in a
      character render): the whole image ("portrait"), read better than a re-framed crop on
      classic renders and single-character real art (on wide-space renders the crop reads
      better: benchmarks/RESULTS.md, "Session 7", "Real art in use");
    - no face, or no stylized-face model installed: the whole image ("whole image").
    """
    h, w = image.shape[:2]
    whole = [0.0, 0.0, float(w), float(h)]
    faces = detect_stylized_faces(image) if stylized_available() else []
    if not faces:
        return [(whole, image, "whole image")]
    if len(faces) == 1 and faces[0].box[2] - faces[0].box[0] >= PORTRAIT * min(h, w):
        return [([round(float(v), 1) for v in faces[0].box], image, "portrait")]
    faces.sort(key=lambda f: float(f.box[0]))
    return [([round(float(v), 1) for v in f.box], render_crop(image, f, size), "face") for f in faces]
