"""What comes out of an HA-GAN run: sample grids, reproducible generation, the fp16 bundle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from deepexpr.data.hagan import human_view, to_tensor, to_uint8
from deepexpr.models.checkpoint import load_model, save_model


def sample_grid(g, humans: np.ndarray, characters: list[str], image_size: int, seed: int = 0,
                labels: list[str] | None = None) -> np.ndarray:
    """A picture to judge the GAN by: one row per human face (input, then each character).

    Args:
        humans: (R, L, L, 3) uint8 faces (center-cropped to the model size).
    Returns:
        (R * S, (1 + C) * S, 3) uint8 grid, 2-px gaps.
    """
    g.eval()
    x = to_tensor(human_view(humans, image_size))
    gen = torch.Generator().manual_seed(seed)
    cols = [to_uint8(x)]
    with torch.no_grad():
        code = g.encode(x)
        for c in range(len(characters)):
            z = torch.randn(len(x), g.cfg.z_dim, generator=gen)
            cols.append(to_uint8(g.decode(code, torch.full((len(x),), c, dtype=torch.long), z)))
    return tile([[col[r] for col in cols] for r in range(len(x))])


def tile(rows: list[list[np.ndarray]], gap: int = 2) -> np.ndarray:
    """Tile equal-sized HxWx3 images into a white-gapped grid."""
    h, w = rows[0][0].shape[:2]
    ncol = max(len(r) for r in rows)
    out = np.full((len(rows) * (h + gap) - gap, ncol * (w + gap) - gap, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, im in enumerate(row):
            out[i * (h + gap) : i * (h + gap) + h, j * (w + gap) : j * (w + gap) + w] = im
    return out


def generate(g, humans: torch.Tensor, characters: torch.Tensor, seed: int | None = 0) -> torch.Tensor:
    """G in eval mode with reproducible noise: (N, 3, S, S) humans -> (N, 3, S, S) characters."""
    g.eval()
    gen = torch.Generator().manual_seed(int(seed)) if seed is not None else None
    z = torch.randn(len(humans), g.cfg.z_dim, generator=gen)
    with torch.no_grad():
        return g(humans, characters, z)



def export_bundle(run_dir: str | Path, weights_dir: str | Path, half: bool = True) -> list[Path]:
    """Copy a run's G and D into `weights_dir` (fp16 by default: half the size, same output
    to within fp16 rounding; `load_model` casts back to float32 when loading).

    Returns the written .safetensors paths (their .json configs are written beside them).
    """
    run, dst = Path(run_dir), Path(weights_dir)
    written = []
    for name in ("hagan_g", "hagan_d"):
        src = run / f"{name}.safetensors"
        if name == "hagan_g" and (run / "hagan_g_ema.safetensors").is_file():
            src = run / "hagan_g_ema.safetensors"  # the moving average draws cleaner images
        model, config = load_model(src)
        if half:
            model = model.half()
        config = {k: v for k, v in config.items() if k != "versions"}
        config["exported_from"] = str(src)
        config["dtype"] = "float16" if half else "float32"
        save_model(dst / f"{name}.safetensors", model, config)
        written.append(dst / f"{name}.safetensors")
    return written
