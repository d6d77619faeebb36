"""`deepexpr characters ...`: render data sets, draw contact sheets, list and create characters.

    deepexpr characters list
    deepexpr characters render --out data/chars --per-expression 1000 --size 128 --workers 2
    deepexpr characters sheet --out out/characters_sheet.png
    deepexpr characters new --seed 3 --out my_character.json
"""

from __future__ import annotations

import sys

from deepexpr.cli.options import add_function_options, check_range

MAX_NEW_INDEX = 10_000  # `new` draws every character up to --index: bound its time and memory


def register(commands, groups) -> None:
    """Add the `characters` command and its sub-commands."""
    parser = commands.add_parser("characters", help="procedural stylized characters: render, sheet, list, new")
    sub = parser.add_subparsers(dest="characters_command", metavar="WHAT")
    parser.set_defaults(func=lambda _a: (parser.print_help(sys.stderr), 2)[1])

    chars_help = ("all (built-ins), random:K (K new random characters, of --space), wide:K (K random "
                  "characters of the wide style space), comma-separated names, or style .json paths")
    space_help = ("style space of random:K characters: classic, or wide (icon, flat, line art, manga, "
                  "soft 3D, pixel art, chibi; expression decorations, framings, backdrops)")
    r = sub.add_parser("render", help="write a FERG-layout labelled data set")
    r.add_argument("--out", required=True, help="output folder (new, empty, or an earlier run to resume)")
    add_function_options(r, "deepexpr.characters.export:render_dataset",
                         ("characters", "per_expression", "size", "seed", "workers", "space"),
                         helps={"characters": chars_help, "space": space_help},
                         choices={"space": ["classic", "wide"]})
    r.add_argument("--expressions", default=None, help="comma-separated subset (default all seven)")
    r.set_defaults(func=_render)

    s = sub.add_parser("sheet", help="draw characters x expressions into one PNG")
    s.add_argument("--out", required=True, help="output PNG file")
    s.add_argument("--characters", default="all", help=chars_help)
    add_function_options(s, "deepexpr.characters.sheet:contact_sheet", ("size", "poses", "landmarks"),
                         helps={"size": "cell size in pixels", "poses": "key poses per character (rows)",
                                "landmarks": "overlay the 49 landmarks"})
    add_function_options(s, "deepexpr.characters.style:resolve_characters", ("seed", "space"),
                         helps={"seed": "seed for random:K characters", "space": space_help},
                         choices={"space": ["classic", "wide"]})
    s.set_defaults(func=_sheet)

    ls = sub.add_parser("list", help="print the built-in characters")
    ls.set_defaults(func=_list)

    n = sub.add_parser("new", help="write a new random character as an editable JSON file")
    n.add_argument("--seed", type=int, required=True, help="seed of the random character")
    n.add_argument("--out", required=True, help="output .json file")
    n.add_argument("--index", type=int, default=0, help="which character of that seed")
    n.add_argument("--standin", action="store_true", help="a realistic-human stand-in style instead")
    n.add_argument("--space", default="classic", choices=["classic", "wide"], help=space_help)
    n.set_defaults(func=_new)


def _render(args) -> int:
    from deepexpr.characters.export import render_dataset

    exprs = args.expressions.split(",") if args.expressions else None
    m = render_dataset(args.out, args.characters, args.per_expression, args.size, args.seed,
                       args.workers, expressions=exprs, space=args.space)
    print(f"{args.out}: {m['counts']['total']} images of {len(m['settings']['characters'])} "
          f"characters ({m['images_per_second']} img/s{', resumed' if m['resumed'] else ''})")
    return 0


def _sheet(args) -> int:
    from deepexpr.characters import contact_sheet, resolve_characters
    from deepexpr.errors import InputError
    from deepexpr.io import save_image

    if not args.out.lower().endswith(".png"):
        raise InputError(f"{args.out}: the sheet is written as PNG; give a .png path")
    if not 32 <= args.size <= 1024:
        raise InputError(f"--size {args.size}: must be between 32 and 1024")
    if not 1 <= args.poses <= 18:
        raise InputError(f"--poses {args.poses}: must be between 1 and 18")
    styles = resolve_characters(args.characters, args.seed, args.space)
    sheet = contact_sheet(styles, args.size, poses=args.poses, landmarks=args.landmarks)
    save_image(args.out, sheet)
    print(f"{args.out}: {len(styles)} characters x 7 expressions")
    return 0


def _list(args) -> int:
    from deepexpr.characters import get_character, list_characters

    for name in list_characters():
        s = get_character(name)
        print(f"{name:8s} {s.family:9s} eyes={s.eye_style:6s} nose={s.nose_style:7s} "
              f"mouth={s.mouth_style:6s} ears={s.ear_style:6s} hair={s.hair_style:7s} {s.shading}")
    return 0


def _new(args) -> int:
    from deepexpr.characters import random_characters, standin_humans
    from deepexpr.errors import InputError

    if not args.out.lower().endswith(".json"):
        raise InputError(f"{args.out}: give a .json path for the character file")
    check_range("--index", args.index, 0, MAX_NEW_INDEX)
    if args.standin:
        style = standin_humans(args.index + 1, args.seed)[args.index]
    else:
        style = random_characters(args.index + 1, args.seed, args.space)[args.index]
    style.to_json(args.out)
    print(f"{args.out}: character {style.name} ({style.family}); edit it and render with "
          f"--characters {args.out}")
    return 0
