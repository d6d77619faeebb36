"""`deepexpr data ...`: build labelled data sets from public packages.

    deepexpr data avatars --out data/avatars --per-expression 200 --size 128
    deepexpr data avatars --out data/av --styles open-peeps,avataaars --sheets out/sheets
    deepexpr data realart --out data/realart      # validation only: never train on it
    deepexpr data icons --out data/icons --per-expression 350 --sheets out/sheets
    deepexpr data emoji-faces --out data/emoji --characters 100 --per-expression 6 --sheet s.png
"""

from __future__ import annotations

import sys


def register(commands, groups) -> None:
    """Add the `data` command and its sub-commands."""
    parser = commands.add_parser("data", help="build labelled data sets (DiceBear avatars, face icons)")
    sub = parser.add_subparsers(dest="data_command", metavar="WHAT")
    parser.set_defaults(func=lambda _a: (parser.print_help(sys.stderr), 2)[1])

    a = sub.add_parser("avatars", help="render labelled DiceBear avatars (needs node + npm)")
    a.add_argument("--out", default=None,
                   help="output folder (new, empty, or an earlier run to resume); required unless --list")
    a.add_argument("--styles", default="all",
                   help="comma-separated DiceBear styles (default all mapped styles)")
    a.add_argument("--per-expression", type=int, default=100, help="images per style and expression")
    a.add_argument("--size", type=int, default=128, help="image side in pixels")
    a.add_argument("--seed", type=int, default=0, help="seed of every choice")
    a.add_argument("--sheets", default=None,
                   help="also write one contact sheet per style into this folder (<style>.png) "
                        "and overview.png (styles x classes)")
    a.add_argument("--list", action="store_true", help="print the styles and their classes, then stop")
    a.set_defaults(func=_avatars)

    v = sub.add_parser("realart", help="the real-art validation set (emoji faces; needs node + npm)")
    v.add_argument("--out", required=True, help="output folder (new or empty)")
    v.add_argument("--size", type=int, default=128, help="image side in pixels")
    v.set_defaults(func=_realart)

    i = sub.add_parser("icons", help="render labelled face icons of public icon sets as "
                                     "emoji-like art (needs node + npm)")
    i.add_argument("--out", required=True, help="output folder (new, empty, or an earlier run to resume)")
    i.add_argument("--groups", default="all", help="comma-separated icon-set groups (icons-a,icons-b,icons-c)")
    i.add_argument("--per-expression", type=int, default=300, help="images per group and class")
    i.add_argument("--size", type=int, default=128, help="image side in pixels")
    i.add_argument("--seed", type=int, default=0, help="seed of every choice")
    i.add_argument("--generator", type=int, default=None,
                   help="icon drawing: 2 (default, current) or 1 (the data the bundled "
                        "character_realart was trained on)")
    i.add_argument("--sheets", default=None,
                   help="also write a contact sheet per group (<group>.png) and the label table "
                        "per class (icons_<class>.png, for the check by eye) into this folder")
    i.set_defaults(func=_icons)

    e = sub.add_parser("emoji-faces", help="draw procedural emoji-style faces (fear with surprise's "
                                           "shape plus blue tint, sweat drop or hands; no node needed)")
    e.add_argument("--out", required=True, help="output folder (new, empty, or an earlier run to resume)")
    e.add_argument("--characters", type=int, default=100, help="how many emoji faces")
    e.add_argument("--per-expression", type=int, default=6, help="frames per face and class")
    e.add_argument("--size", type=int, default=128, help="image side in pixels")
    e.add_argument("--seed", type=int, default=0, help="seed of the faces and of every frame")
    e.add_argument("--sheet", default=None, help="also write a contact sheet (classes x faces) to this PNG")
    e.add_argument("--version", type=int, default=None,
                   help="drawing version: 2 (default, current) or 1 (the frames of stage 12)")
    e.set_defaults(func=_emoji_faces)


def _avatars(args) -> int:
    from pathlib import Path

    from deepexpr.data.avatar_labels import STYLES, expressions_of
    from deepexpr.data.avatars import build_avatars, contact_sheet, overview_sheet

    if args.list:
        for name in STYLES:
            print(f"{name:11s} {', '.join(expressions_of(name))}")
        return 0
    if not args.out:
        from deepexpr.errors import InputError

        raise InputError("data avatars: --out is required (or --list); see `deepexpr data avatars --help`")
    styles = None if args.styles == "all" else [s.strip() for s in args.styles.split(",") if s.strip()]
    warn = lambda line: print(line, file=sys.stderr)  # noqa: E731
    m = build_avatars(args.out, styles, args.per_expression, args.size, args.seed, warn=warn)
    if args.sheets:
        from deepexpr.io import save_image

        for style in m["settings"]["styles"]:
            save_image(Path(args.sheets) / f"{style}.png", contact_sheet(args.out, style))
        save_image(Path(args.sheets) / "overview.png", overview_sheet(args.out, m["settings"]["styles"]))
    failed = f", {len(m['failed'])} failed" if m["failed"] else ""
    print(f"{args.out}: {m['counts']['total']} images of {len(m['settings']['styles'])} styles "
          f"({m['images_per_second']} img/s{', resumed' if m['resumed'] else ''}{failed})")
    skipped = styles is not None and len(m["settings"]["styles"]) < len(styles)
    return 1 if m["failed"] or skipped else 0


def _realart(args) -> int:
    from deepexpr.data.realart import build_realart

    m = build_realart(args.out, args.size, warn=lambda line: print(line, file=sys.stderr))
    per_set = ", ".join(f"{s} {sum(c.values())}" for s, c in m["counts"].items())
    print(f"{args.out}: {m['total']} faces ({per_set}); validation only, never train on it")
    return 0


def _icons(args) -> int:
    from pathlib import Path

    from deepexpr.data.icons import GENERATOR_VERSION, build_icons, contact_sheet, review_sheet
    from deepexpr.expressions import EXPRESSIONS
    from deepexpr.io import cache_dir, save_image

    groups = None if args.groups == "all" else [g.strip() for g in args.groups.split(",") if g.strip()]
    m = build_icons(args.out, groups, args.per_expression, args.size, args.seed,
                    warn=lambda line: print(line, file=sys.stderr), generator=args.generator or GENERATOR_VERSION)
    if args.sheets:
        for group in m["settings"]["groups"]:
            save_image(Path(args.sheets) / f"{group}.png", contact_sheet(args.out, group))
        modules = cache_dir() / "icons_npm" / "node_modules"
        for expr in EXPRESSIONS:
            save_image(Path(args.sheets) / f"icons_{expr}.png", review_sheet(modules, expr))
    failed = f", {len(m['failed'])} failed" if m["failed"] else ""
    print(f"{args.out}: {m['total']} images of {len(m['settings']['groups'])} icon-set groups "
          f"({len(m['licences'])} sets; {m['images_per_second']} img/s{failed})")
    return 1 if m["failed"] else 0


def _emoji_faces(args) -> int:
    from deepexpr.characters.emojiface import EMOJI_VERSION, emoji_sheet, render_emoji_dataset
    from deepexpr.io import save_image

    m = render_emoji_dataset(args.out, args.characters, args.per_expression, args.size, args.seed,
                             version=args.version or EMOJI_VERSION)
    if args.sheet:
        save_image(args.sheet, emoji_sheet(args.out))
    print(f"{args.out}: {m['counts']['total']} emoji-style frames of {args.characters} faces "
          f"({m['seconds']} s{', resumed' if m['resumed'] else ''})")
    return 0
