"""The labelled human STAND-IN for HA-GAN, and pairing it with target-character images.

No labelled human expression set can be fetched on these machines, so HA-GAN's default run
uses a stand-in the project draws itself: faces in a realistic-human style
(`deepexpr.characters.standin_humans`: natural skin tones, shading, realistic nose and
lips) that is kept out of the target characters. They are drawings, not photos: every
number measured on them says "stand-in". Identities are separate people
("standin_<seed>_<i>"), so folds can hold people out.

Human faces, drawn or photographed, go through one alignment (`align_face`): a similarity
transform that puts the eye centres and the nose base at fixed places in an L x L crop,
from the 49 landmarks. The renderer gives the landmarks of drawn faces exactly; the face
pipeline gives them for photos. So G sees photos framed like its training faces.

Real labelled sets (FER2013 csv, image folders) come in through `human_data_from_records`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np

from deepexpr.errors import InputError, check_settings, setting
from deepexpr.expressions import EXPRESSIONS, INDEX
from deepexpr.landmarks import LEFT_EYE, NOSE_BASE, RIGHT_EYE

STANDIN_NOTICE = ("human side: STAND-IN data (drawn realistic-human-style faces, not photos; "
                  "no labelled human set is available here)")

# Where align_face puts the subject's right eye (image left), left eye and nose base,
# as fractions of the crop side.
ALIGN_TEMPLATE = np.array([[0.34, 0.40], [0.66, 0.40], [0.50, 0.60]], dtype=np.float32)


def anchor_points(landmarks49: np.ndarray) -> np.ndarray:
    """(49, 2) landmarks -> (3, 2): right-eye centre, left-eye centre, nose-base centre.

    Eyes and nose base barely move with expression (the mouth and brows do), so the
    alignment does not depend on the expression it is meant to preserve.
    """
    p = np.asarray(landmarks49, dtype=np.float32)
    return np.stack([p[RIGHT_EYE].mean(0), p[LEFT_EYE].mean(0), p[NOSE_BASE].mean(0)])


def align_face(image: np.ndarray, landmarks49: np.ndarray, size: int) -> np.ndarray:
    """Warp a face to the HA-GAN human frame: (H, W, 3) uint8 + (49, 2) -> (size, size, 3).

    Least-squares similarity (rotation, uniform scale, shift) from `anchor_points` to
    `ALIGN_TEMPLATE * size`; borders replicate the edge pixels.
    """
    import cv2

    src = anchor_points(landmarks49)
    dst = ALIGN_TEMPLATE * size
    m = similarity(src, dst)
    return cv2.warpAffine(np.ascontiguousarray(image), m, (size, size), flags=cv2.INTER_AREA
                          if _scale(m) < 1 else cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 least-squares similarity transform taking points `src` (K, 2) onto `dst` (K, 2)."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    denom = (s**2).sum()
    if denom < 1e-9:
        raise InputError("face landmarks are degenerate (all at one point); cannot align the face")
    a = (s * d).sum() / denom  # s·d
    b = (s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum() / denom  # s x d
    r = np.array([[a, -b], [b, a]])
    t = mu_d - r @ mu_s
    return np.hstack([r, t[:, None]]).astype(np.float32)


def _scale(m: np.ndarray) -> float:
    return float(np.hypot(m[0, 0], m[1, 0]))


@dataclass
class StandinConfig:
    # 24 identities under-trained the encoder
    identities: int = setting(64, "stand-in: number of drawn people", min=1, max=100_000)
    per_expression: int = setting(10, "stand-in: frames per person and expression", min=1, max=100_000)
    char_per_expression: int = setting(40, "character frames per expression", min=1, max=100_000)
    characters: tuple[str, ...] | None = setting(None, "target characters, comma-separated (default: all "
                                                 "built-in characters)")
    image_size: int = setting(64, "model side (character images are drawn at this size)", min=8, max=1024)
    load_size: int = setting(72, "aligned human face side (augmentation crops image_size out of it)",
                             min=8, max=2048)
    render_size: int = setting(128, "stand-in faces are drawn at this size, then aligned down", min=8, max=2048)
    seed: int = 0  # identities, poses and frames all follow from it

    def __post_init__(self):
        check_settings(self)

    def to_dict(self) -> dict:
        return asdict(self)

    def key(self) -> str:
        """Cache key: these settings + the source of the character renderer (a changed
        renderer draws different images, so a cache made by an older one is not reused)."""
        text = json.dumps({**self.to_dict(), "v": 2, "renderer": renderer_fingerprint()},
                          sort_keys=True, default=list)
        return hashlib.sha1(text.encode()).hexdigest()[:12]


def renderer_fingerprint() -> str:
    """Hash of the character package's source files (style, rig, renderer)."""
    from pathlib import Path

    import deepexpr.characters as chars

    h = hashlib.sha1()
    for f in sorted(Path(chars.__file__).parent.glob("*.py")):
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def render_humans(styles, per_expression: int, load_size: int, render_size: int, seed: int = 0,
                  expressions=EXPRESSIONS, with_rigs: bool = False):
    """Draw and align stand-in faces.

    Returns:
        images (N, load_size, load_size, 3) uint8, labels (N,), identity index (N,) into
        `styles`; with `with_rigs`, also the rig of each face (N, len(RIG_CONTROLS)) float32.
    """
    from deepexpr.characters import render_face, sample_poses

    images, labels, ids, rigs = [], [], [], []
    for i, style in enumerate(styles):
        for expr in expressions:
            for rig in sample_poses(style, expr, per_expression, seed=seed):
                img, lms = render_face(style, rig, render_size)
                images.append(align_face(img, lms, load_size))
                labels.append(INDEX[expr])
                ids.append(i)
                rigs.append(rig_vector(rig))
    out = (np.stack(images), np.array(labels, np.int64), np.array(ids, np.int64))
    return (*out, np.stack(rigs)) if with_rigs else out


def rig_vector(rig: dict) -> np.ndarray:
    """A rig dict -> (len(RIG_CONTROLS),) float32 in RIG_CONTROLS order (missing controls 0)."""
    from deepexpr.characters.rig import RIG_CONTROLS

    return np.array([float(rig.get(c, 0.0)) for c in RIG_CONTROLS], np.float32)


def paired_rig(vector: np.ndarray, flipped: bool = False) -> dict[str, float]:
    """The rig a target character is drawn with to make *this* human face (rig pairing).

    The human's AUs, head yaw/pitch and gaze; head roll 0, because `align_face` levels the
    eyes, so the aligned face G sees carries no roll to copy. `flipped`: the face was
    mirrored (augmentation), so yaw, roll and horizontal gaze change sign (the rig's AUs are
    bilateral).
    """
    from deepexpr.characters.rig import RIG_CONTROLS

    rig = {c: float(v) for c, v in zip(RIG_CONTROLS, vector)}
    rig["head_roll"] = 0.0
    if flipped:
        rig["head_yaw"], rig["gaze_x"] = -rig["head_yaw"], -rig["gaze_x"]
    return rig


def render_paired(styles, rigs: np.ndarray, characters: np.ndarray, size: int,
                  flipped: np.ndarray | None = None) -> np.ndarray:
    """Each target character making the face of the matching human frame.

    Args:
        styles: the target CharacterStyles (one-hot order).
        rigs: (N, len(RIG_CONTROLS)) rigs of the human frames (`render_humans(with_rigs=True)`).
        characters: (N,) index into `styles` per frame.
        flipped: (N,) bool, the human view was mirrored.
    Returns:
        (N, size, size, 3) uint8 renders.
    """
    from deepexpr.characters import render_face

    flipped = np.zeros(len(rigs), bool) if flipped is None else flipped
    return np.stack([render_face(styles[int(c)], paired_rig(r, bool(f)), size)[0]
                     for r, c, f in zip(rigs, characters, flipped)])


def render_targets(styles, per_expression: int, size: int, seed: int = 0, expressions=EXPRESSIONS):
    """Draw the target characters: their expression frames and one canonical neutral each.

    Returns:
        images (M, size, size, 3) uint8, labels (M,), character index (M,), neutral (C, size, size, 3).
    """
    from deepexpr.characters import render_face, sample_poses
    from deepexpr.characters.rig import neutral_rig

    images, labels, ids, neutral = [], [], [], []
    for c, style in enumerate(styles):
        neutral.append(render_face(style, neutral_rig(), size)[0])
        for expr in expressions:
            for rig in sample_poses(style, expr, per_expression, seed=seed + 7919):
                images.append(render_face(style, rig, size)[0])
                labels.append(INDEX[expr])
                ids.append(c)
    return np.stack(images), np.array(labels, np.int64), np.array(ids, np.int64), np.stack(neutral)


def target_styles(names=None):
    """Target character styles: the given names (built-in, generated or .json) or all built-ins."""
    from deepexpr.characters import get_character, list_characters

    names = list(names) if names else list_characters()
    styles = [get_character(n) for n in names]
    if any(getattr(s, "family", "") == "standin_human" for s in styles):
        raise InputError("stand-in human faces cannot be target characters (they are the human side)")
    return styles


def build_standin_data(cfg: StandinConfig, use_cache: bool = True):
    """The default HA-GAN training data: stand-in humans + target characters (cached on disk).

    Returns:
        a `deepexpr.data.hagan.HaganData` with `source` "stand-in ..." and human_ids = identity.
    """
    from deepexpr.characters import standin_humans
    from deepexpr.data.hagan import HaganData
    from deepexpr.io import cache_dir

    styles = target_styles(cfg.characters)
    names = [s.name for s in styles]
    cache = cache_dir() / "hagan" / f"standin_{cfg.key()}.npz"
    if use_cache and cache.is_file():
        z = np.load(cache)
        arrays = {k: z[k] for k in z.files}
    else:
        humans = standin_humans(cfg.identities, seed=cfg.seed)
        hi, hl, hid, hr = render_humans(humans, cfg.per_expression, cfg.load_size, cfg.render_size, cfg.seed,
                                        with_rigs=True)
        ci, cl, cid, neutral = render_targets(styles, cfg.char_per_expression, cfg.image_size, cfg.seed)
        arrays = {"human_images": hi, "human_labels": hl, "human_ids": hid, "human_rigs": hr, "char_images": ci,
                  "char_labels": cl, "char_ids": cid, "neutral_images": neutral}
        if use_cache:
            from deepexpr.io import atomic_path

            with atomic_path(cache) as tmp:
                np.savez(tmp, **arrays)
    source = f"stand-in: {cfg.identities} drawn realistic-human-style identities (standin_{cfg.seed}_*)"
    return HaganData(characters=names, source=source, target_styles=styles, **arrays)


def identity_folds(ids: np.ndarray, k: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Identity-independent k-fold: (train mask, test mask) per fold; no person in both.

    Identities are shuffled with `seed` and dealt round-robin into k folds.
    """
    people = np.unique(ids)
    if not 2 <= k <= len(people):
        raise InputError(f"k={k} folds need 2 <= k <= number of identities ({len(people)})")
    order = np.random.default_rng(seed).permutation(people)
    folds = []
    for f in range(k):
        test_people = order[f::k]
        test = np.isin(ids, test_people)
        folds.append((~test, test))
    return folds


def human_data_from_records(records, characters_data, load_size: int = 72, source: str = "records"):
    """Real labelled human faces (FER2013 csv, image folders) paired with target characters.

    Args:
        records: iterable of records with `.label` (expression name or index) and either
            `.image` (array) or `.path`; `.subject` / `.identity` (if present) becomes the
            identity used by identity-independent folds (else each image is its own identity).
        characters_data: a HaganData whose character arrays are reused (e.g. from
            `build_standin_data`), so only the human side changes.
        load_size: faces are resized to this side (these sets are already face crops).
    """
    import cv2

    from deepexpr.data.hagan import HaganData
    from deepexpr.io import to_rgb_uint8

    images, labels, ids = [], [], []
    names: dict = {}
    for n, rec in enumerate(records):
        label = getattr(rec, "label", None)
        if label is None:
            continue
        idx = label if isinstance(label, (int, np.integer)) else INDEX.get(str(label))
        if idx is None:
            continue
        img = getattr(rec, "image", None)
        if img is None:
            from PIL import Image

            img = np.asarray(Image.open(rec.path).convert("RGB"))
        img = cv2.resize(to_rgb_uint8(img), (load_size, load_size), interpolation=cv2.INTER_AREA)
        who = getattr(rec, "subject", None) or getattr(rec, "identity", None) or n
        images.append(img)
        labels.append(int(idx))
        ids.append(names.setdefault(who, len(names)))
    if not images:
        raise InputError("human data: no labelled images found; check the data path and its labels")
    return HaganData(np.stack(images), np.array(labels), np.array(ids), characters_data.char_images,
                     characters_data.char_labels, characters_data.char_ids,
                     characters_data.neutral_images, characters_data.characters, source)
