"""A trained HA-GAN generator + discriminator pair loaded for inference.

Translation (`deepexpr.translate`) and its evaluation (`deepexpr.evaluation.hagan`) both
use it, so it lives in the models layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from deepexpr.errors import InputError
from deepexpr.expressions import EXPRESSIONS
from deepexpr.models.resolve import WEIGHTS_DIR

DEFAULT_GENERATOR = WEIGHTS_DIR / "hagan_g.safetensors"


@dataclass
class HaganModel:
    """A trained generator + discriminator pair, ready for inference (eval mode)."""

    generator: object  # HaganGenerator
    discriminator: object  # HaganDiscriminator (D^e used; D^R ignored)
    characters: list[str]  # target characters, one-hot order
    classes: list[str]  # expression classes of D^e
    image_size: int  # model side S
    load_size: int  # aligned human face side before the center crop
    config: dict = field(default_factory=dict)  # the generator's checkpoint JSON
    path: Path | None = None  # where the generator was loaded from
    # rig-code G: the rig is the mean of the rigs read on the face and on its mirror image
    # (yaw and horizontal gaze negated back); session 10: +0.9 points for the judge on
    # validation people, disgust +5 (RESULTS). False: the face alone, as in training.
    mirror_rig: bool = True

    def character_index(self, name: str) -> int:
        """Index of a target character, or InputError listing the model's characters."""
        if name not in self.characters:
            raise InputError(f"character {name!r} is not a target of this HA-GAN model; "
                             f"it was trained for: {', '.join(self.characters)}")
        return self.characters.index(name)

    def run(self, humans: np.ndarray, characters, seed: int | None = 0):
        """Aligned faces (N, L, L, 3) uint8 at load size + character indices (N,) ->
        (generated (N, S, S, 3) uint8, D^e probabilities (N, K))."""
        import torch

        from deepexpr.data.hagan import human_view, to_tensor, to_uint8

        x = to_tensor(human_view(humans, self.image_size))
        chars = torch.as_tensor(np.asarray(characters), dtype=torch.long).reshape(-1)
        if len(chars) == 1 and len(x) > 1:
            chars = chars.expand(len(x))
        gen = torch.Generator().manual_seed(int(seed)) if seed is not None else None
        z = torch.randn(len(x), self.generator.cfg.z_dim, generator=gen)
        with torch.inference_mode():
            if getattr(self.generator.cfg, "rig_code", False):
                fake = self.generator.draw(self._read_rig(x), chars, z)
            else:
                fake = self.generator(x, chars, z)
            probs = torch.softmax(self.discriminator.expression(fake), dim=1)
        return to_uint8(fake), probs.numpy()


    def rig(self, humans: np.ndarray) -> np.ndarray | None:
        """Aligned faces (N, L, L, 3) uint8 -> (N, 23) the rig G reads on each face
        (normalised controls, `deepexpr.data.hagan.rig_dict` turns a row into a rig dict),
        or None for a generator without a rig head."""
        import torch

        from deepexpr.data.hagan import human_view, to_tensor

        g = self.generator
        if getattr(g, "rig_head", None) is None:
            return None
        with torch.inference_mode():
            return self._read_rig(to_tensor(human_view(humans, self.image_size))).numpy()

    def _read_rig(self, x):
        """(N, C, S, S) faces in [-1, 1] -> (N, R) rigs (averaged with the mirror image's when
        `mirror_rig`)."""
        import torch

        from deepexpr.data.hagan import mirror_rig_signs

        g = self.generator
        rig = g.rig(g.encode(x))
        if self.mirror_rig and rig.shape[1] == len(mirror_rig_signs()):  # the character rig's controls
            mirrored = g.rig(g.encode(torch.flip(x, dims=[3])))
            rig = (rig + mirrored * torch.from_numpy(mirror_rig_signs()).to(rig)) / 2
        return rig


def load_hagan(path: str | Path | None = None) -> HaganModel:
    """Load a generator checkpoint and the discriminator beside it (`hagan_d.safetensors`).

    Args:
        path: the generator `.safetensors`, or a training output directory; None = bundled.
    """
    return _load_cached(str(Path(path).resolve()) if path else str(DEFAULT_GENERATOR))


@lru_cache(maxsize=4)
def _load_cached(path: str) -> HaganModel:

    from deepexpr.models.checkpoint import load_model

    p = Path(path)
    if p.is_dir():  # a training run: prefer the moving average of G (cleaner drawings)
        p = p / "hagan_g_ema.safetensors" if (p / "hagan_g_ema.safetensors").is_file() else p / "hagan_g.safetensors"
    if not p.is_file():
        hint = ("the bundled HA-GAN weights are missing; reinstall deepexpr or train them: "
                "deepexpr train hagan --out runs/hagan" if p == DEFAULT_GENERATOR else
                "pass the hagan_g.safetensors written by `deepexpr train hagan`")
        raise InputError(f"{p}: HA-GAN generator not found; {hint}")
    d_path = p.with_name(p.name.replace("hagan_g_ema", "hagan_d").replace("hagan_g", "hagan_d"))
    if d_path == p or not d_path.is_file():
        raise InputError(f"{d_path}: HA-GAN discriminator not found beside {p.name}")
    g, cfg = load_model(p)
    d, _ = load_model(d_path)
    g.float().eval()
    d.float().eval()
    if cfg.get("role") != "generator":
        raise InputError(f"{p}: not an HA-GAN generator checkpoint (role {cfg.get('role')!r})")
    return HaganModel(g, d, list(cfg["characters"]), list(cfg.get("classes", EXPRESSIONS)),
                      int(cfg["preprocess"]["size"]), int(cfg.get("human_load_size", cfg["preprocess"]["size"])),
                      cfg, p)
