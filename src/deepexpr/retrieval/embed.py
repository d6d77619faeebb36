"""Turning images into what retrieval compares: features, class probabilities, geometry.

Queries and index rows go through the same functions. A human photo goes through the face
pipeline (`deepexpr.faces.detect_faces`: every face, aligned crop + 49 landmarks) and the
human model; a character image goes to the character model whole, with landmarks from its
rig/landmarks file when known. A precomputed embedding (`.npz` or `.json` with `features`,
`probs`, optionally `landmarks` or `geometry`) skips the models.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepexpr.errors import InputError
from deepexpr.io import read_image
from deepexpr.retrieval.geometry import geometric_features

EMBEDDING_SUFFIXES = (".npz", ".json")


@dataclass
class Embedding:
    """One query (or one index row before stacking)."""

    features: np.ndarray | None  # (D,) float32 penultimate features
    probs: np.ndarray  # (7,) float32 class probabilities
    geometry: np.ndarray | None = None  # (9,) float32, None when no landmarks
    landmarks: np.ndarray | None = None  # (49, 2) in `image` coordinates
    image: np.ndarray | None = None  # RGB uint8 crop the model saw (for the sheet)
    source: str = ""  # file the query came from
    face: int = 0  # face number in the photo (0-based, left to right as detected)
    box: list | None = None  # [x0, y0, x1, y1] of the face in the photo
    domain: str = "human"  # which model embedded it
    classifier_weight: np.ndarray | None = None  # (7, D) final layer of the model that embedded it
    quality: dict | None = None  # a photo face's quality (`Face.quality()`: low_confidence, reason, ...)

    @property
    def low_confidence(self) -> bool:
        """True when the face pipeline says this face is no confident answer (profile, tiny, ...)."""
        return bool((self.quality or {}).get("low_confidence"))

    def to_dict(self, with_weight: bool = False) -> dict:
        """JSON-ready form (what `load_embedding` reads back)."""
        out = {"source": self.source, "face": self.face, "domain": self.domain, "box": self.box,
               "probs": self.probs.tolist()}
        if self.features is not None:
            out["features"] = self.features.tolist()
        if self.landmarks is not None:
            out["landmarks"] = self.landmarks.tolist()
        if self.geometry is not None:
            out["geometry"] = self.geometry.tolist()
        if self.quality is not None:
            out.update(self.quality)
        if with_weight and self.classifier_weight is not None:
            out["classifier_weight"] = self.classifier_weight.tolist()
        return out


def features_and_probs(recognizer, images: list) -> tuple[np.ndarray | None, np.ndarray]:
    """(N, D) float32 features and (N, 7) probabilities of `images` from one recognizer
    (`deepexpr.recognition.Recognizer`)."""
    f, p = recognizer.features_and_probs(images)
    f = None if f is None else np.asarray(f, dtype=np.float32).reshape(len(images), -1)
    return f, np.asarray(p, dtype=np.float32).reshape(len(images), -1)


def classifier_weight(recognizer) -> np.ndarray | None:
    """(7, D) float32 final linear weight of a recognizer, or None."""
    w = recognizer.classifier_weight
    return None if w is None else np.asarray(w, dtype=np.float32)


def safe_geometry(landmarks) -> np.ndarray | None:
    """Geometric features of (49, 2) landmarks, or None when absent or degenerate."""
    if landmarks is None:
        return None
    try:
        return geometric_features(landmarks)
    except ValueError:
        return None


def detect(image: np.ndarray, source: str = "") -> list:
    """Faces in a photo via the face pipeline, left to right; InputError when there is none.

    Uses `deepexpr.faces.detect_faces`.
    """
    from deepexpr.faces import detect_faces
    from deepexpr.faces.drawn import looks_drawn

    faces = list(detect_faces(image))
    drawn = looks_drawn(image, faces[0].box if len(faces) == 1 else None)
    if drawn or not faces:  # a cartoon read as a human face would give a meaningless label
        what = "looks like a drawn character, not a photo" if drawn else "no face found"
        raise InputError(f"{source or 'image'}: {what}; pass a photo with a visible, roughly frontal face, or "
                         "--query-domain character for character art")
    return sorted(faces, key=lambda f: float(np.asarray(f.box).ravel()[0]))


def embed_human_photo(image_or_path, recognizer) -> list[Embedding]:
    """One `Embedding` per face of a photo (human model on the aligned crop)."""
    source = str(image_or_path) if isinstance(image_or_path, (str, Path)) else ""
    image = read_image(image_or_path) if source else np.asarray(image_or_path)
    faces = detect(image, source)
    crops = [np.asarray(f.aligned) for f in faces]
    feats, probs = features_and_probs(recognizer, crops)
    out = []
    for i, face in enumerate(faces):
        lms = getattr(face, "aligned_landmarks", None)
        lms = None if lms is None else np.asarray(lms, dtype=np.float32)
        out.append(Embedding(None if feats is None else feats[i], probs[i], safe_geometry(lms), lms,
                             crops[i], source, i, np.asarray(face.box, dtype=float).ravel().tolist(), "human",
                             classifier_weight(recognizer), _quality(face)))
    return out


def _quality(face) -> dict | None:
    """A pipeline face's quality fields; None for a face from elsewhere (a plug-in detector)."""
    return face.quality() if hasattr(face, "quality") else None


def embed_character_image(image_or_path, recognizer, landmarks=None) -> Embedding:
    """Embedding of a whole character image (character model), geometry from `landmarks`
    (default: the detected stylized face's landmarks)."""
    source = str(image_or_path) if isinstance(image_or_path, (str, Path)) else ""
    image = read_image(image_or_path) if source else np.asarray(image_or_path)
    feats, probs = features_and_probs(recognizer, [image])
    if landmarks is None:  # no rig landmarks: the detected face's (None when there is none)
        from deepexpr.stylized import detected_landmarks

        landmarks = detected_landmarks(image)
    lms = None if landmarks is None else np.asarray(landmarks, dtype=np.float32)
    return Embedding(None if feats is None else feats[0], probs[0], safe_geometry(lms), lms, image,
                     source, 0, [0, 0, image.shape[1], image.shape[0]], "character",
                     classifier_weight(recognizer))


def load_embedding(path: str | Path) -> Embedding:
    """Read a precomputed embedding (`.npz` arrays or `.json`: features, probs, landmarks/geometry)."""
    path = Path(path)
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        else:
            data = json.loads(path.read_text())
            if isinstance(data, dict) and "queries" in data:  # a `retrieve --format json` output
                data = data["queries"][0]["query"]
    except (OSError, ValueError, KeyError, IndexError) as err:
        raise InputError(f"{path}: not a readable embedding ({err}); write features and probs as .npz or .json") from err
    if "probs" not in data:
        raise InputError(f"{path}: embedding has no 'probs'; it needs probs (7,) and usually features (D,)")
    probs = np.asarray(data["probs"], dtype=np.float32).ravel()
    feats = np.asarray(data["features"], dtype=np.float32).ravel() if "features" in data else None
    lms = np.asarray(data["landmarks"], dtype=np.float32) if data.get("landmarks") is not None else None
    geo = np.asarray(data["geometry"], dtype=np.float32) if data.get("geometry") is not None else safe_geometry(lms)
    weight = np.asarray(data["classifier_weight"], dtype=np.float32) if data.get("classifier_weight") is not None else None
    return Embedding(feats, probs, geo, lms, None, str(path), 0, None, str(data.get("domain", "human")), weight)


def load_recognizer_for(domain: str, model: str | None = None):
    """The recognizer of a domain ("human" or "character"); `model` = a checkpoint path/name."""
    from deepexpr.recognition import load_recognizer

    return load_recognizer(domain, model=model)


def find_character_landmarks(path: str | Path) -> np.ndarray | None:
    """Rig landmarks of a rendered character image, from the data set it belongs to.

    Looks up to three folders up for a FERG-layout root with `landmarks.csv` (as
    `deepexpr characters render` writes) and reads it with `FergDataset`. None if not found.
    """
    path = Path(path).resolve()
    for root in list(path.parents)[:4]:
        if (root / "landmarks.csv").is_file():
            try:
                from deepexpr.data.ferg import FergDataset

                for rec in FergDataset(root).records:
                    if Path(rec.path).resolve() == path:
                        return None if rec.landmarks is None else np.asarray(rec.landmarks, dtype=np.float32)
            except Exception:  # noqa: BLE001 — no landmarks is fine: geometry is skipped
                return None
    return None
