"""The labelled human STAND-IN for HA-GAN, and pairing it with target-character images.

No labelled human expression set can be fetched on these machines, so HA-GAN's default run
uses a stand-in the project draws itself: faces in a realistic-human style
(`deepexpr.characters.standin_humans`: natural skin tones, shading, realistic nose and
lips) that is kept out of the target characters. They are drawings, not photos: every
number measured on them says "stand-in". Identities are separate people
("standin_<seed>_<i>"), so folds can hold people out.

Human faces, drawn or photographed, go through one alignment (`deepexpr.faces.align_face`
with `frame="hagan"`): a similarity transform that puts the eye centres and the nose base at
fixed places in an L x L crop,
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

STANDIN_NOTICE = ("human side: STAND-IN data (drawn realistic-human-style faces, not photos; "
                  "no labelled human set is available here)")

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
        # v3: the stand-ins' AU6/16/17/23/24 drawn as FACS describes them (issue 17); v4: their
        # AU25/26/27 drawn apart (issue 17, session 9)
        text = json.dumps({**self.to_dict(), "v": 4, "renderer": renderer_fingerprint()},
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
    from deepexpr.faces.align import align_face

    images, labels, ids, rigs = [], [], [], []
    for i, style in enumerate(styles):
        for expr in expressions:
            for rig in sample_poses(style, expr, per_expression, seed=seed):
                img, lms = render_face(style, rig, render_size)
                images.append(align_face(img, lms, load_size, frame="hagan")[0])
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

    The human's AUs, head yaw/pitch and gaze; head roll 0, because the HA-GAN frame levels the
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


def write_standin_faces(out, identities: int = 60, per_expression: int = 8, seed: int = 150,
                        size: int = 256, quiet: bool = False) -> dict:
    """Drawn stand-in people as a labelled human set in class folders, framed as photos are.

    Each face is drawn (`sample_poses` of each expression) at `size` px and goes through the
    face pipeline (`deepexpr.faces.detect_faces`), whose aligned crop is written to
    `out/<expression>/<person>_<k>.png` (person "s<seed>i<i>", so `--subject-pattern prefix`
    reads identities). It trains a human expression reader (`deepexpr train human --data out`)
    that sees faces exactly as `deepexpr evaluate retarget --human` feeds them. Use a `seed`
    apart from the evaluation's people (200). A finished folder of the same settings is kept.

    Returns:
        the manifest: settings, images written, faces the pipeline missed.
    """
    from pathlib import Path

    from deepexpr.characters import render_face, sample_poses, standin_humans
    from deepexpr.faces import detect_faces
    from deepexpr.io import save_image, write_json
    from deepexpr.progress import progress

    out = Path(out)
    settings = {"identities": identities, "per_expression": per_expression, "seed": seed, "size": size,
                "v": 3, "renderer": renderer_fingerprint()}
    manifest_path = out / "manifest.json"
    if manifest_path.is_file():
        made = json.loads(manifest_path.read_text())
        if made.get("settings") == settings and made.get("complete"):
            return made
        raise InputError(f"{out}: holds stand-in faces of other settings or an unfinished run; "
                         "choose another folder or delete it")
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out}: not empty; choose a new or empty folder")
    written, missed = 0, 0
    styles = standin_humans(identities, seed)
    for i, style in enumerate(progress(styles, desc="stand-in faces", disable=quiet or None)):
        for expr in EXPRESSIONS:
            for k, rig in enumerate(sample_poses(style, expr, per_expression, seed=seed + i)):
                faces = detect_faces(render_face(style, rig, size)[0], max_faces=1)
                if not faces:
                    missed += 1
                    continue
                (out / expr).mkdir(parents=True, exist_ok=True)
                save_image(out / expr / f"s{seed}i{i}_{k}.png", faces[0].aligned)
                written += 1
    manifest = {"settings": settings, "images": written, "missed": missed, "complete": True,
                "note": STANDIN_NOTICE}
    write_json(manifest_path, manifest)
    return manifest
