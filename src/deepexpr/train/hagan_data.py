"""HA-GAN training data: augmentation of the human faces, the pair sampler, G's template init.

`HaganData` and the image conversions live in `deepexpr.data.hagan` (translation needs
them too).
"""

from __future__ import annotations

import numpy as np
import torch

from deepexpr.data.hagan import HaganData, center_crop, rig_targets, to_tensor
from deepexpr.errors import InputError
from deepexpr.expressions import EXPRESSIONS
from deepexpr.train.hagan_losses import landmark_weights


def expression_medians(data: HaganData, kind: str = "median") -> torch.Tensor:
    """Each character's picture of each expression: (C, 7, 3, S, S) in [-1, 1].

    The starting point of G's templates (`HaganGenerator.set_templates`). kind "median": the
    per-pixel median of the character's images of that expression; "medoid": the real image
    nearest (L1) to that median (a sharp frame, not a blend). An expression with no image of
    the character falls back to its neutral image.
    """
    if kind not in ("median", "medoid"):
        raise InputError(f"template init {kind!r}: expected median or medoid")
    out = []
    for c in range(len(data.characters)):
        row = []
        for e in range(len(EXPRESSIONS)):
            sel = data.char_images[(data.char_ids == c) & (data.char_labels == e)]
            if not len(sel):
                row.append(data.neutral_images[c])
                continue
            med = np.median(sel, axis=0)
            if kind == "medoid":
                row.append(sel[np.abs(sel.astype(np.float32) - med).mean(axis=(1, 2, 3)).argmin()])
            else:
                row.append(med.astype(np.uint8))
        out.append(to_tensor(np.stack(row)))
    return torch.stack(out)


PAPER_ANGLES = (0, -150, -120, -90, -60, -30, 30, 60, 90, 120, 150)  # 0 = the unrotated crop


def augment_human(image: np.ndarray, size: int, mode: str, rng: np.random.Generator,
                  flip: bool | None = None) -> np.ndarray:
    """One augmented `size` x `size` view of an (L, L, 3) human face.

    Modes: "none" = center crop; "paper" = one of the paper's 110 views (five crops: four
    corners + center, x 11 rotations: 0 and +-30..150 degrees, x horizontal flip);
    "light" = random crop, rotation in +-10 degrees, flip (what suits aligned faces best).
    `flip`: mirror or not (None: a coin toss); ignored by mode "none".
    """
    import cv2

    L = image.shape[0]
    margin = L - size
    if mode == "none" or margin < 0:
        return center_crop(image, size)
    if mode == "paper":
        top, left = [(0, 0), (0, margin), (margin, 0), (margin, margin),
                     (margin // 2, margin // 2)][rng.integers(5)]
        angle = float(PAPER_ANGLES[rng.integers(len(PAPER_ANGLES))])
    elif mode == "light":
        top, left = rng.integers(0, margin + 1, size=2)
        angle = float(rng.uniform(-10, 10))
    else:
        raise InputError(f"augment mode {mode!r}: expected none, light or paper")
    crop = image[top : top + size, left : left + size]
    if angle:
        m = cv2.getRotationMatrix2D((size / 2 - 0.5, size / 2 - 0.5), angle, 1.0)
        crop = cv2.warpAffine(crop, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if (rng.random() < 0.5) if flip is None else flip:
        crop = crop[:, ::-1]
    return np.ascontiguousarray(crop)


class PairSampler:
    """Draws batches: human faces, a target character each, a real character image of the
    same character and expression (for D), the target of the matched L1, and that
    character's neutral image (Eq. 4).

    The matched target: with `pairing="rig"` (drawn humans only) the target character drawn
    with the human face's own rig, mirrored with the face (the character making exactly this
    face: intensity, head pose, gaze); with "expression" another random real frame of the
    character with the same expression (all a real labelled set allows).
    """

    def __init__(self, data: HaganData, image_size: int, augment: str, rng: np.random.Generator,
                 pairing: str = "expression"):
        if pairing not in ("rig", "expression"):
            raise InputError(f"pairing {pairing!r}: expected rig or expression")
        if pairing == "rig" and not data.can_pair_rigs:
            raise InputError("pairing rig needs drawn humans with rigs (the stand-in); use --pairing expression")
        self.data, self.size, self.augment, self.rng, self.pairing = data, image_size, augment, rng, pairing
        self.pool: dict[tuple[int, int], np.ndarray] = {}
        for c in range(len(data.characters)):
            for e in range(len(EXPRESSIONS)):
                idx = np.flatnonzero((data.char_ids == c) & (data.char_labels == e))
                if len(idx):
                    self.pool[(c, e)] = idx

    def batch(self, n: int) -> dict[str, torch.Tensor]:
        d, rng = self.data, self.rng
        hi = rng.integers(0, len(d.human_images), size=n)
        labels = d.human_labels[hi].astype(np.int64)
        chars = rng.integers(0, len(d.characters), size=n)
        real_idx = np.array([rng.choice(self.pool[(int(c), int(e))]) for c, e in zip(chars, labels)])
        flips = rng.random(n) < 0.5
        humans = np.stack([augment_human(d.human_images[i], self.size, self.augment, rng, bool(f))
                           for i, f in zip(hi, flips)])
        extra = {}
        if d.human_rigs is not None:  # what G's rig head should read on each (mirrored) view
            extra["rig"] = torch.from_numpy(rig_targets(d.human_rigs[hi], flips & (self.augment != "none")))
        if self.pairing == "rig":
            from deepexpr.data.standin import render_paired

            matched = render_paired(d.target_styles, d.human_rigs[hi], chars, self.size,
                                    flips & (self.augment != "none"))
        else:
            matched = d.char_images[[rng.choice(self.pool[(int(c), int(e))]) for c, e in zip(chars, labels)]]
        return {
            "human": to_tensor(humans),
            "label": torch.from_numpy(labels),
            "character": torch.from_numpy(chars.astype(np.int64)),
            "real": to_tensor(d.char_images[real_idx]),
            "matched": to_tensor(matched),
            "neutral": to_tensor(d.neutral_images[chars]),
            **extra,
        }


def parse_names(spec: str, allowed, what: str) -> list[str]:
    """'a, b' -> ["a", "b"], each checked against `allowed`; InputError naming the unknown
    ones (`what` says what they should be, e.g. "expression"). "" -> []."""
    names = [n.strip() for n in spec.split(",") if n.strip()]
    bad = [n for n in names if n not in allowed]
    if bad:
        raise InputError(f"{', '.join(bad)}: unknown {what}; expected some of {', '.join(allowed)}")
    return names


def random_rigs(styles, per_character: int, rng: np.random.Generator, focus: str = "",
                focus_factor: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Rigs to teach G's decoder to draw every face, not only the labelled poses.

    Per character: a third of the rigs are its own expression poses (`sample_poses`) at a
    random intensity (AUs scaled by U(0, 1.1)); a third those poses as they are; a third
    random AU mixtures (each AU on with probability 0.3, at U(0, 1)). Head yaw, pitch and gaze
    are uniform over 80% of their range in the random third, the poses' own otherwise; head
    roll is always 0 (the aligned human faces carry none). `focus` (an expression name):
    its poses are drawn `focus_factor` times as often as each other expression's (session 8:
    the decoder drew disgust's nose wrinkle and raised lip too faintly); "" draws every
    expression alike (and the same rigs as before the option existed).

    Returns:
        raw rigs (C * per_character, len(RIG_CONTROLS)) float32 and their character indices.
    """
    from deepexpr.characters import sample_poses
    from deepexpr.characters.rig import AUS, LIMITS, RIG_CONTROLS
    from deepexpr.data.standin import rig_vector

    n_aus, rigs, chars = len(AUS), [], []
    for c, style in enumerate(styles):
        per_expr = -(-per_character // len(EXPRESSIONS))
        counts = {e: int(round(per_expr * focus_factor)) if e == focus else per_expr for e in EXPRESSIONS}
        poses = [rig_vector(r) for e in EXPRESSIONS
                 for r in sample_poses(style, e, counts[e], seed=int(rng.integers(1 << 30)))]
        poses = np.stack(poses)[rng.permutation(len(poses))[:per_character]]
        kind = np.arange(per_character) % 3
        scaled = kind == 0
        poses[scaled, :n_aus] *= rng.uniform(0, 1.1, size=(scaled.sum(), 1))
        mix = kind == 2
        poses[mix, :n_aus] = rng.uniform(0, 1, (mix.sum(), n_aus)) * (rng.random((mix.sum(), n_aus)) < 0.3)
        for name in ("head_yaw", "head_pitch", "gaze_x", "gaze_y"):
            lo, hi = LIMITS[name]
            poses[mix, RIG_CONTROLS.index(name)] = rng.uniform(0.8 * lo, 0.8 * hi, mix.sum())
        poses[:, :n_aus] = poses[:, :n_aus].clip(0, 1)
        poses[:, RIG_CONTROLS.index("head_roll")] = 0.0
        rigs.append(poses)
        chars.append(np.full(per_character, c))
    return np.concatenate(rigs).astype(np.float32), np.concatenate(chars).astype(np.int64)


class RenderPool:
    """(rig, character) -> render pairs drawn once by the project's renderer, for G's decoder.

    The decoder of a rig-code G is a neural renderer of the target characters; this pool is
    its training set (rigs of every intensity from `random_rigs`, exact renders).
    """

    def __init__(self, styles, per_character: int, size: int, rng: np.random.Generator, focus: str = "",
                 focus_factor: float = 1.0):
        from deepexpr.characters import render_face
        from deepexpr.data.hagan import rig_dict

        if focus and focus not in EXPRESSIONS:
            raise InputError(f"render-pool focus {focus!r}: expected one of {', '.join(EXPRESSIONS)} or nothing")
        self.rng = rng
        raw, self.chars = random_rigs(styles, per_character, rng, focus, focus_factor)
        self.rigs = rig_targets(raw)
        drawn = [render_face(styles[int(c)], rig_dict(r), size) for r, c in zip(self.rigs, self.chars)]
        self.images = np.stack([im for im, _ in drawn])
        self.landmarks = np.stack([lm for _, lm in drawn]).astype(np.float32)  # (N, 49, 2) pixels
        from deepexpr.characters.rig import neutral_rig

        neutral = [render_face(s, neutral_rig(), size) for s in styles]
        # (C, 3, S, S) in [-1, 1]: what the feature-weighted L1 compares each render with
        self.neutral = to_tensor(np.stack([im for im, _ in neutral]))
        self.neutral_landmarks = np.stack([lm for _, lm in neutral]).astype(np.float32)  # (C, 49, 2)
        self.last: np.ndarray = np.zeros(0, np.int64)  # the pool rows of the last batch
        self._blobs: dict[float, torch.Tensor] = {}  # sigma -> (N, 1, S, S) float16 landmark blobs

    def batch(self, n: int, probs: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(normalised rigs (n, R), character indices (n,), renders (n, 3, S, S) in [-1, 1]);
        pool rows drawn with probabilities `probs` (N,) (None: uniform)."""
        i = self.last = (self.rng.integers(0, len(self.rigs), size=n) if probs is None
                         else self.rng.choice(len(self.rigs), size=n, p=probs))
        return (torch.from_numpy(self.rigs[i]), torch.from_numpy(self.chars[i]), to_tensor(self.images[i]))

    def feature_points(self) -> torch.Tensor:
        """(n, 98, 2) the last batch's landmarks and its characters' neutral ones (pixels)."""
        i = self.last
        return torch.from_numpy(np.concatenate([self.landmarks[i], self.neutral_landmarks[self.chars[i]]], 1))

    def landmark_blobs(self, sigma: float = 1.5) -> torch.Tensor:
        """(n, 1, S, S) the last batch's landmark blob maps (`landmark_weights` with gain 1, minus 1).

        Computed once per pool image (render's and neutral face's landmarks) and kept as
        float16: computing them per batch made the landmark-weighted L1 1.5x slower per update
        (session 5).
        """
        if sigma not in self._blobs:
            size, chunks = self.images.shape[1], []
            for start in range(0, len(self.rigs), 64):
                rows = np.arange(start, min(start + 64, len(self.rigs)))
                points = np.concatenate([self.landmarks[rows], self.neutral_landmarks[self.chars[rows]]], 1)
                chunks.append((landmark_weights(torch.from_numpy(points), size, 1.0, sigma) - 1.0).half())
            self._blobs[sigma] = torch.cat(chunks)
        return self._blobs[sigma][torch.from_numpy(self.last)].float()
