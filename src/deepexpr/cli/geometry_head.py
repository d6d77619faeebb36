"""`deepexpr train geometry-head`: the expression-geometry head fused with the character CNN.

    deepexpr train geometry-head --data real/builtin64 real/random64 wide128v7 emoji128 \
        avatars128 icons128 --out runs/geometry_head.safetensors
"""

from __future__ import annotations

from deepexpr.cli.options import add_options, config_from_args
from deepexpr.cli.outputs import declare_outputs

CONFIG = "deepexpr.train.geometry_head:GeometryHeadConfig"


def register(commands, groups) -> None:
    p = groups["train"].add_parser(
        "geometry-head", help="train the expression-geometry head on detected landmarks (fused with the "
                              "character CNN when bundled as character_realart_geometry)")
    p.add_argument("--data", required=True, nargs="+",
                   help="character images in FERG-DB layout (procedural, `data avatars`, `data icons`); "
                        "each avatar style and icon group is one source of the stratified sample")
    p.add_argument("--out", required=True, help="the head's .safetensors file (its .json is written beside it)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    add_options(p, CONFIG)
    declare_outputs(p, out="file")
    p.set_defaults(func=_geometry_head)


def _geometry_head(args) -> int:
    import json
    from pathlib import Path

    from deepexpr.data.avatar_labels import STYLES
    from deepexpr.data.icons import GROUPS
    from deepexpr.errors import InputError
    from deepexpr.stylized import detected_landmarks, stylized_available
    from deepexpr.train.geometry_head import GeometryHeadConfig, train_geometry_head

    out = Path(args.out)
    if out.suffix != ".safetensors":
        raise InputError(f"{out}: --out must be a .safetensors file")
    if out.exists() and not args.overwrite:
        raise InputError(f"{out}: exists; pass --overwrite to replace it or choose another --out")
    if not stylized_available():
        raise InputError("the stylized-face detector (bundled `stylized_face`) is missing; train it with "
                         "`bash scripts/train_bundled_models.sh` (section d)")
    cfg = config_from_args(GeometryHeadConfig, args)
    summary = train_geometry_head(args.data, detected_landmarks, out, frozenset(STYLES) | frozenset(GROUPS), cfg)
    print(json.dumps(summary, indent=1))
    return 0
