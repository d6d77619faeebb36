"""What HA-GAN training and translation share: the paired data set and the image conversions.

Both `deepexpr.train.hagan*` (training) and `deepexpr.translate` (inference) read these;
`deepexpr.data.standin` builds `HaganData`. Images are uint8 (N, S, S, 3) on disk and in
memory, float (N, 3, S, S) in [-1, 1] for the networks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from deepexpr.errors import InputError
from deepexpr.expressions import EXPRESSIONS


@dataclass
class HaganData:
    """Everything a run trains on, as uint8 arrays in memory (small at 64 px).

    Human images are stored at `load_size` (>= the model's image size) so the paper's
    corner/center crops have room; character images at the model's image size.
    """

    human_images: np.ndarray  # (N, L, L, 3) uint8 aligned human faces
    human_labels: np.ndarray  # (N,) expression index (EXPRESSIONS order)
    human_ids: np.ndarray  # (N,) identity of the person (for identity-independent splits)
    char_images: np.ndarray  # (M, S, S, 3) uint8 target-character images
    char_labels: np.ndarray  # (M,) expression index
    char_ids: np.ndarray  # (M,) index into `characters`
    neutral_images: np.ndarray  # (C, S, S, 3) uint8 the neutral image of each character (Eq. 4)
    characters: list[str]  # target character names, one-hot order
    source: str = "unknown"  # where the human images come from (stand-in, fer2013, ...)
    # Drawn humans only: the rig of each face (N, len(RIG_CONTROLS)) and the target styles,
    # so a character can be drawn making exactly that face (rig pairing). None for real sets.
    human_rigs: np.ndarray | None = None
    target_styles: list | None = None

    def subset_humans(self, mask: np.ndarray) -> HaganData:
        """The same characters with only the human rows where `mask` is true."""
        rigs = self.human_rigs[mask] if self.human_rigs is not None else None
        return HaganData(self.human_images[mask], self.human_labels[mask], self.human_ids[mask],
                         self.char_images, self.char_labels, self.char_ids, self.neutral_images,
                         self.characters, self.source, rigs, self.target_styles)

    @property
    def can_pair_rigs(self) -> bool:
        """True when every human face has a rig and the targets can be drawn (stand-in)."""
        return self.human_rigs is not None and self.target_styles is not None

    def check(self) -> None:
        """Raise InputError when a class has no character image for some character."""
        if len(self.human_images) == 0:
            raise InputError("training data: no human images; pass a data set with labelled faces")
        present = {(int(c), int(e)) for c, e in zip(self.char_ids, self.char_labels)}
        for e in np.unique(self.human_labels):
            for c, name in enumerate(self.characters):
                if (c, int(e)) not in present:
                    raise InputError(
                        f"character {name!r}: no images of {EXPRESSIONS[int(e)]}; "
                        "every character needs every expression the humans show"
                    )


def rig_scale() -> np.ndarray:
    """(len(RIG_CONTROLS),) the largest magnitude of each rig control (AUs 1, head angles in
    degrees, gaze 1): dividing by it puts every control of a rig vector in [-1, 1]."""
    from deepexpr.characters.rig import LIMITS, RIG_CONTROLS

    return np.array([max(abs(LIMITS[c][0]), abs(LIMITS[c][1])) for c in RIG_CONTROLS], np.float32)


def rig_targets(rigs: np.ndarray, flipped: np.ndarray | None = None) -> np.ndarray:
    """What G's rig head predicts for a face: its rig as the paired character is drawn with it.

    Head roll 0 (the HA-GAN alignment levels the eyes), yaw and horizontal gaze negated for a
    mirrored view (`deepexpr.data.standin.paired_rig`), every control divided by `rig_scale`.

    Args:
        rigs: (N, len(RIG_CONTROLS)) raw rig vectors (`render_humans(with_rigs=True)`).
        flipped: (N,) bool, the view was mirrored.
    Returns:
        (N, len(RIG_CONTROLS)) float32, AUs in [0, 1], pose and gaze in [-1, 1].
    """
    from deepexpr.characters.rig import RIG_CONTROLS

    out = np.array(rigs, np.float32, copy=True)
    out[:, RIG_CONTROLS.index("head_roll")] = 0.0
    if flipped is not None:
        f = np.asarray(flipped, bool)
        for c in ("head_yaw", "gaze_x"):
            out[f, RIG_CONTROLS.index(c)] *= -1.0
    return out / rig_scale()


def mirror_rig_signs() -> np.ndarray:
    """(len(RIG_CONTROLS),) float32: +1, -1 for head yaw and horizontal gaze. A normalised rig
    read on a mirrored face times these is the rig of the face itself (the AUs are symmetric
    controls; roll is 0 after alignment)."""
    from deepexpr.characters.rig import RIG_CONTROLS

    signs = np.ones(len(RIG_CONTROLS), np.float32)
    signs[[RIG_CONTROLS.index("head_yaw"), RIG_CONTROLS.index("gaze_x")]] = -1.0
    return signs


def rig_dict(target: np.ndarray) -> dict[str, float]:
    """A normalised rig vector (a `rig_targets` row, or G's rig head) -> a rig dict, clipped to
    the controls' limits (what `deepexpr.characters.render_face` takes)."""
    from deepexpr.characters.rig import LIMITS, RIG_CONTROLS

    raw = np.asarray(target, np.float32) * rig_scale()
    return {c: float(np.clip(v, *LIMITS[c])) for c, v in zip(RIG_CONTROLS, raw)}


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, S, S, 3) uint8 -> (N, 3, S, S) float in [-1, 1] (the [0.5]/[0.5] normalisation)."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, 3, S, S) float in [-1, 1] -> (N, S, S, 3) uint8."""
    x = ((images.detach().float().clamp(-1, 1) + 1.0) * 127.5).round().byte()
    return x.permute(0, 2, 3, 1).cpu().numpy()


def center_crop(image: np.ndarray, size: int) -> np.ndarray:
    """The center `size` crop of an (L, L, 3) image (resized up when L < size)."""
    L = image.shape[0]
    if L >= size:
        top = (L - size) // 2
        return np.ascontiguousarray(image[top : top + size, top : top + size])
    import cv2

    return cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)


def human_view(images: np.ndarray, size: int) -> np.ndarray:
    """Test-time view of human faces at load size: the center `size` crop."""
    return np.stack([center_crop(im, size) for im in images])


