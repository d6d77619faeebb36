"""HA-GAN in use: redraw each face of a photo as a chosen character, and read its expression.

    >>> from deepexpr.translate import translate
    >>> for t in translate("photo.jpg", character="pip", seed=0):
    ...     t.image, t.label, t.probs        # (S, S, 3) uint8, "joy", (7,) D^e probabilities

Each face found by the face pipeline (`deepexpr.faces.detect_faces`) is aligned to the HA-GAN
human frame (`deepexpr.faces.align_face(frame="hagan")`, eyes and nose base at fixed places), center
cropped to the model size, passed through G with the character's one-hot and seeded noise,
and D^e reads the generated image (the paper's recognition path; the D^R leg is unused).

The bundled default model (`src/deepexpr/weights/hagan_g.safetensors` + `hagan_d`) was
trained on the drawn human STAND-IN, not on photos: see README, section HA-GAN.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepexpr.errors import InputError
from deepexpr.expressions import EXPRESSIONS
from deepexpr.faces.detect import MESH_TO_49  # noqa: F401  (old name)
from deepexpr.models.hagan_pair import DEFAULT_GENERATOR, HaganModel, load_hagan  # noqa: F401 (re-exported)


@dataclass
class Translation:
    """One face of a photo, redrawn as one character."""

    box: tuple[int, int, int, int] | None  # face box in the photo (x0, y0, x1, y1), None if given aligned
    human: np.ndarray  # (S, S, 3) uint8 the aligned face G saw
    character: str  # target character
    image: np.ndarray  # (S, S, 3) uint8 generated character image
    probs: np.ndarray  # (K,) D^e expression probabilities on the generated image
    label: str  # argmax expression
    classes: list[str]  # names of the probabilities
    rig: dict | None = None  # the rig G read on the face (AUs 0..1, head yaw/pitch in degrees, gaze), rig-code G only


def aligned_human(face, load_size: int, image: np.ndarray | None = None) -> np.ndarray:
    """Bring a detected face into the HA-GAN human frame (load_size, load_size, 3) uint8.

    Uses the face's 49 landmarks with the photo when they are in photo coordinates, else its
    aligned crop with `aligned_landmarks` (or with `landmarks49` when those lie in the crop);
    a face without landmarks is resized as it is.
    """
    from deepexpr.faces.align import align_face

    def to_frame(img, points):
        return align_face(img, points, load_size, frame="hagan")[0]

    lms = getattr(face, "landmarks49", None)
    crop = getattr(face, "aligned", None)
    if lms is not None:
        lms = np.asarray(lms, np.float32)
        if image is not None and _inside(lms, image.shape):
            try:
                return to_frame(image, lms)
            except InputError:
                pass
        crop_lms = getattr(face, "aligned_landmarks", None)
        if crop is not None and crop_lms is not None:  # `deepexpr.faces.Face` without the photo
            return to_frame(crop, np.asarray(crop_lms, np.float32))
        if crop is not None and _inside(lms, crop.shape):
            return to_frame(crop, lms)
    if crop is None:
        raise InputError("face has neither landmarks nor an aligned crop; cannot translate it")
    import cv2

    return cv2.resize(np.ascontiguousarray(crop), (load_size, load_size), interpolation=cv2.INTER_AREA)


def _inside(lms: np.ndarray, shape) -> bool:
    h, w = shape[:2]
    return bool((lms[:, 0] >= -0.05 * w).all() and (lms[:, 0] <= 1.05 * w).all()
                and (lms[:, 1] >= -0.05 * h).all() and (lms[:, 1] <= 1.05 * h).all())


def read_photo(image) -> np.ndarray:
    """A path, PIL image or array -> RGB uint8 (H, W, 3); InputError for missing/corrupt files
    (`deepexpr.io.as_rgb`: EXIF orientation, grey / RGBA / 16-bit handled)."""
    from deepexpr.io import as_rgb

    return as_rgb(image)


def find_faces(photo: np.ndarray) -> list:
    """Faces of a photo (`deepexpr.faces.detect_faces`: box, 49 landmarks in photo pixels,
    aligned crop with its landmarks), left to right."""
    from deepexpr.faces import detect_faces

    return list(detect_faces(photo))


def translate(image, character: str | list[str] | None = None, seed: int | None = 0,
              model: HaganModel | None = None, faces=None) -> list[Translation]:
    """Redraw every face of `image` as `character` (a name, a list of names, or None = all).

    Args:
        image: a path or an RGB array.
        character: target character(s) of the model.
        seed: noise seed (the same seed gives the same drawing); None = random.
        model: a loaded `HaganModel` (default: the bundled one).
        faces: already-detected faces of `image` (skips detection).

    Returns:
        one `Translation` per (face, character), faces in detection order.

    Raises:
        InputError: unreadable image, unknown character, or no face found.
    """
    model = model or load_hagan()
    names = model.characters if character in (None, "all") else (
        [character] if isinstance(character, str) else list(character))
    indices = [model.character_index(n) for n in names]
    photo = read_photo(image)
    faces = find_faces(photo) if faces is None else faces
    if not faces:
        where = image if isinstance(image, (str, Path)) else "image"
        raise InputError(f"{where}: no face found; use a photo with a visible, roughly frontal face")
    humans = np.stack([aligned_human(f, model.load_size, photo) for f in faces])
    from deepexpr.data.hagan import rig_dict

    rigs = model.rig(humans)
    out = []
    for name, idx in zip(names, indices):
        gen, probs = model.run(humans, [idx] * len(humans), seed)
        from deepexpr.data.hagan import human_view

        views = human_view(humans, model.image_size)
        for i, face in enumerate(faces):
            box = getattr(face, "box", None)
            out.append(Translation(tuple(int(v) for v in box) if box is not None else None, views[i],
                                   name, gen[i], probs[i], model.classes[int(probs[i].argmax())],
                                   model.classes, rig_dict(rigs[i]) if rigs is not None else None))
    return out


def side_by_side(results: list[Translation], cell: int = 160, standin_note: bool = True) -> np.ndarray:
    """A picture per call: one row per face: the input face, then each character with D^e's
    label and a bar per class. Returns (H, W, 3) uint8."""
    from PIL import Image, ImageDraw

    by_face: dict[int, list[Translation]] = {}
    keys: list = []
    for t in results:
        k = (t.box, t.human.tobytes()[:64])
        if k not in keys:
            keys.append(k)
        by_face.setdefault(keys.index(k), []).append(t)
    ncol = max(len(v) for v in by_face.values())
    label_h, bars_h, pad = 16, 7 * 11 + 4, 6
    row_h = label_h + cell + bars_h + pad
    foot = 16 if standin_note else 0
    canvas = Image.new("RGB", (pad + (1 + ncol) * (cell + pad), pad + len(by_face) * row_h + foot), "white")
    draw = ImageDraw.Draw(canvas)
    for r, ts in by_face.items():
        y = pad + r * row_h
        draw.text((pad, y), f"face {r + 1}" + (f" {ts[0].box}" if ts[0].box else ""), fill=(0, 0, 0))
        canvas.paste(Image.fromarray(ts[0].human).resize((cell, cell), Image.BICUBIC), (pad, y + label_h))
        for c, t in enumerate(ts):
            x = pad + (1 + c) * (cell + pad)
            draw.text((x, y), f"{t.character}: {t.label} {t.probs.max():.0%}", fill=(0, 0, 0))
            canvas.paste(Image.fromarray(t.image).resize((cell, cell), Image.BICUBIC), (x, y + label_h))
            _bars(draw, t, x, y + label_h + cell + 2, cell)
    if standin_note:
        draw.text((pad, canvas.height - foot + 2), "HA-GAN: generator trained on the drawn human stand-in; "
                  "label = D^e on the generated image", fill=(90, 90, 90))
    return np.asarray(canvas)


def _bars(draw, t: Translation, x: int, y: int, width: int) -> None:
    name_w = 52
    for k, (name, p) in enumerate(zip(t.classes, t.probs)):
        yy = y + k * 11
        draw.text((x, yy - 1), name[:8], fill=(60, 60, 60))
        w = int((width - name_w) * float(p))
        color = (220, 90, 60) if name == t.label else (120, 150, 200)
        draw.rectangle([x + name_w, yy + 1, x + name_w + max(w, 1), yy + 8], fill=color)


def recognize_faces(model: HaganModel, humans: np.ndarray, character: int = 0, seed: int | None = 0):
    """The paper's recognition: D^e on G's drawing of each face as one character.

    Args:
        humans: (N, L, L, 3) uint8 faces in the HA-GAN frame (see `aligned_human`).
    Returns:
        (N, K) probabilities in `model.classes` order.
    """
    return model.run(humans, [character] * len(humans), seed)[1]




class HaganRecognizer:
    """Expression recognition through HA-GAN (the paper's Sec. 4): each human face is drawn
    as one target character by G, and D^e reads the drawing.

    Items given to `probs` / `features` are detected faces (objects with `landmarks49` and
    `aligned`, as `deepexpr.faces.detect_faces` returns) or face crops (arrays, resized).

    Attributes:
        classes: expression names of the probabilities.
        domain: "human" (the input side).
    """

    domain = "human"
    takes_faces = True  # aligns each detected face to the HA-GAN frame itself
    classifier_weight = None  # D^e is not a linear head over `features`

    def __init__(self, model: HaganModel | None = None, character: str | None = None, seed: int = 0):
        self.model = model or load_hagan()
        self.character = self.model.character_index(character) if character else 0
        self.seed = seed
        self.classes = list(self.model.classes)
        self.name = "hagan"

    def _humans(self, items) -> np.ndarray:
        import cv2

        from deepexpr.io import to_rgb_uint8

        size = self.model.load_size
        out = []
        for it in items:
            if hasattr(it, "aligned") or hasattr(it, "landmarks49"):
                out.append(aligned_human(it, size))
            else:  # a face crop: find its landmarks to align it like the training faces
                crop = to_rgb_uint8(it)
                found = find_faces(crop) if min(crop.shape[:2]) >= 64 else []
                out.append(aligned_human(found[0], size, crop) if found else
                           cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA))
        return np.stack(out)

    def features_and_probs(self, items) -> tuple[np.ndarray, np.ndarray]:
        """((N, fc_dim) D's shared features of G's drawings of the N faces (D^e reads these),
        (N, K) D^e probabilities)."""
        import torch

        from deepexpr.data.hagan import to_tensor

        gen, probs = self.model.run(self._humans(items), [self.character], self.seed)
        with torch.inference_mode():
            return self.model.discriminator.forward_features(to_tensor(gen)).numpy(), probs

    def probs(self, items) -> np.ndarray:
        """(N, K) D^e probabilities on G's drawings of the N faces."""
        return self.model.run(self._humans(items), [self.character], self.seed)[1]

    def features(self, items) -> np.ndarray:
        """(N, fc_dim) D's shared features of the drawings (D^e reads these)."""
        return self.features_and_probs(items)[0]


def load_hagan_recognizer(domain: str = "human", model: str | None = None, **_) -> HaganRecognizer:
    """Loader for `deepexpr recognize --model hagan` (`deepexpr.recognition.load_recognizer`)."""
    if domain not in (None, "human"):
        raise InputError(f"HA-GAN recognises human faces, not the {domain!r} domain")
    path = None if model in (None, "hagan") else model
    return HaganRecognizer(load_hagan(path))


__all__ = ["EXPRESSIONS", "HaganModel", "HaganRecognizer", "Translation", "aligned_human",
           "load_hagan", "load_hagan_recognizer", "read_photo", "recognize_faces",
           "side_by_side", "translate"]
