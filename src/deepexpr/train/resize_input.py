"""Continue a trained CNN at a larger input size, keeping every learned weight.

A `cnn_small`-like checkpoint flattens its last conv grid (4 x 4 at 64 px) into the FC
layer, so the FC's shape fixes the input size. Adding an adaptive average pool to that
same grid (`feature_grid`) makes the network read any input size with the same weights:
at 80 px the 5 x 5 grid is pooled to 4 x 4. The result starts close to the source (the
convolutions see features at 1.25x their trained scale) and is then fine-tuned with
`deepexpr train transfer --from OUT`. Used by `scripts/train_bundled_models.sh` (issue 12,
session 8: the character model reads 80 px, where a sweat drop or a forehead tint is a
few pixels more; 96 px misses the 500 images/s inference target on one core).

    python -m deepexpr.train.resize_input SRC.safetensors 80 OUT.safetensors
"""

from __future__ import annotations

import sys
from pathlib import Path

from deepexpr.errors import InputError

MAX_SIZE = 1024  # input side cap: the FC grid stays 4 x 4, more only costs time


def resize_input(source: str | Path, size: int, out: str | Path) -> dict:
    """Write a copy of checkpoint `source` that reads (N, C, size, size) images.

    Args:
        source: a checkpoint of an `ExpressionCNN` (the conv grid is flattened into the FC).
        size: the new input side in pixels; the last conv grid must be at least the old one.
        out: the new checkpoint (.safetensors + .json), written atomically.

    Returns:
        The new checkpoint's config (`overrides` gain `input_size` and `feature_grid`,
        `preprocess.size` is `size`, `resized_from` names the source).

    Raises:
        InputError: `out` exists, not a plain CNN checkpoint, or `size` smaller than the source's input
            or above `MAX_SIZE`.
    """
    from deepexpr.models import create_model
    from deepexpr.models.checkpoint import load_model, save_model
    from deepexpr.models.cnn import ExpressionCNN

    if Path(out).exists():
        raise InputError(f"{out}: exists; give a new file name (nothing is overwritten)")
    model, cfg = load_model(source)
    if not isinstance(model, ExpressionCNN):
        raise InputError(f"{source}: {cfg['model']} is not a plain CNN; only those can be resized")
    old = int(model.cfg.input_size)
    if size < old:
        raise InputError(f"{source}: reads {old} px; a smaller size ({size}) would lose its grid")
    if size > MAX_SIZE:
        raise InputError(f"size {size} px is more than {MAX_SIZE}; pick a size in {old}..{MAX_SIZE}")
    grid = model.cfg.feature_grid or _grid_side(model)
    overrides = {**cfg.get("overrides", {}), "input_size": int(size), "feature_grid": grid}
    new = create_model(cfg["model"], **overrides)
    new.load_state_dict(model.state_dict())  # same tensors: the pool has no weights
    config = {k: v for k, v in cfg.items() if k not in ("versions", "temperature", "test_metrics")}
    config.update(overrides=overrides, preprocess={**cfg.get("preprocess", {}), "size": int(size)},
                  resized_from={"path": str(source), "size": old})
    if "temperature" in cfg:  # calibration belongs to the source's size; refit after training
        config["resized_from"]["temperature"] = cfg["temperature"]
    save_model(out, new, config)
    return config


def _grid_side(model) -> int:
    """Side of the conv output grid the FC layer reads (e.g. 4 for cnn_small at 64 px)."""
    import torch

    with torch.no_grad():
        x = torch.zeros(1, model.cfg.in_chans, model.cfg.input_size, model.cfg.input_size)
        return int(model.features(x).shape[-1])


def main(argv: list[str] | None = None) -> int:
    """`python -m deepexpr.train.resize_input SRC SIZE OUT`."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3 or not argv[1].isdigit():
        print("usage: python -m deepexpr.train.resize_input SRC.safetensors SIZE OUT.safetensors",
              file=sys.stderr)
        return 2
    try:
        cfg = resize_input(argv[0], int(argv[1]), argv[2])
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"{argv[2]}: {cfg['model']} reading {argv[1]} px (from {cfg['resized_from']['size']} px)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
