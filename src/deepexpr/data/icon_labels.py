"""Which face icons of the allowed Iconify sets show which class.

`icon_labels.csv` (committed; columns set, icon, label) is the table the data command
uses. It was drafted by `suggest_label` from the icon names and then checked by eye on a
contact sheet per class (`deepexpr data icons --sheets DIR`): icons whose drawing did not
show the named class (a robot, a mask, a face that mixes classes, a non-face icon whose
name happens to contain a class word) were removed by hand.

Naming conventions followed (the Unicode emoji names): "anguished", "anxious", "nervous",
"worried", "screaming", "fearful" are fear; "pouting", "angry", "annoyed", "rage" anger;
"nauseated", "vomiting", "sick" disgust; "open mouth", "hushed", "astonished", "shocked",
"surprised" surprise; "expressionless", "neutral", "meh", "blank" neutral; "tears of joy"
and laughing joy; crying, frowning, sad, unhappy, pensive sadness.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from deepexpr.expressions import EXPRESSIONS

LABELS_CSV = Path(__file__).with_name("icon_labels.csv")

# Icons whose drawing is not a face (checked by eye): healthicons draws nausea and
# vomiting ("vomiting", one t) as a whole figure; line-md's faces are animations that
# render as an empty circle.
EXCLUDED_SETS = ("line-md",)
EXCLUDED_ICONS = re.compile(r"^healthicons:(nausea|vomiting)")
# An icon name must look like a face before a class word counts ("danger", "storage" and
# "hanger" contain "anger"; "blank" names checkboxes and calendars too).
_FACE = re.compile(r"(^|-)(face|emoji|emoticon|mood|smiley|emotion|meh|sad|happy|angry|"
                   r"annoyed|cry|crying|laugh|grin|surprise|surprised|shocked|neutral|nervous|"
                   r"nausea|nauseous|vomiting|vomitting|sick|wow|unhappy|worry|worried|frown|"
                   r"frowning|smile|mad|rage|expressionless|screaming)($|-)")
_NOT_FACE = re.compile(r"robot|devil|mask|poop|cat|dog|cow|pig|panda|koala|penguin|sheep|"
                       r"ghost|skull|alien|bird|scan|profile|man|woman|male|female|baby|kid|"
                       r"boy|agent|star|halloween|pumpkin|plus|minus|add|remove|check|cog|edit|"
                       r"dollar|bitcoin|heart|search|off|x-eyes|sticker|file|folder|document|"
                       r"chart|calendar|note|box|shield|garage|storage|hanger|danger|square-"
                       r"|bomb|funny|dizzy|tongue|kiss|wink|cool|sunglasses|confus|puzzled|"
                       r"sickbed|bed|message|game|tag|scarecrow|glove|absorber|scientist|"
                       r"negative|home|bag|chat|lego|bear|clipboard|database|user|camera|imp|"
                       r"melting|crazy|upside|none|sinister|crooked|wry|flip|bad-|(^|-)ai(-|$)|"
                       r"talking|annoyed|frown-open|frowning-open|(worried|angry|rolling)-eyes|crab|trending|diamond|glutton|sharp-smile|no-mouth")
_RULES = (  # first match wins (the more specific classes first)
    ("joy", r"tears-of-joy|grin.*tears|cry-and-laugh|laugh.*tears|grinning.*open-mouth"),
    ("disgust", r"disgust|nause|vomit|puke|(^|-)sick($|-)|yuck"),
    ("fear", r"fear|scared|afraid|nervous|terrif|frighten|scream|anxious|anguished|worr"),
    ("anger", r"angry|anger|(^|-)mad($|-)|rage|furious|annoyed|pouting|wrrr"),
    ("sadness", r"dissatisfied|(^|-)sad|cry|frown|unhappy|(^|-)sob|tear|upset|disappoint|pensive|glum"),
    ("surprise", r"surpris|shock|astonish|(^|-)wow($|-)|open-mouth|amazed|hushed"),
    ("neutral", r"neutral|(^|-)meh|blank|expressionless|straight|indifferent|empty|normal"),
    ("joy", r"happy|smil|laugh|grin|(^|-)joy|cheer|glad|beam|excited|satisfied"),
)


def suggest_label(name: str, set_name: str = "") -> str | None:
    """A class for an icon name by the conventions above, or None (not a face, or mixed).

    Example:
        >>> suggest_label("mood-angry"), suggest_label("hanger"), suggest_label("face-mask")
        ('anger', None, None)
    """
    if set_name in EXCLUDED_SETS or EXCLUDED_ICONS.search(f"{set_name}:{name}"):
        return None
    if not _FACE.search(name) or _NOT_FACE.search(name):
        return None
    for label, pattern in _RULES:
        if re.search(pattern, name):
            return label
    return None


def read_icon_labels(path: Path = LABELS_CSV) -> list[tuple[str, str, str]]:
    """The committed table: (set, icon name, class) rows.

    Raises:
        ValueError: a row names a class that is not one of the seven.
    """
    with open(path, newline="") as f:
        rows = [(r["set"], r["icon"], r["label"]) for r in csv.DictReader(f)]
    bad = [r for r in rows if r[2] not in EXPRESSIONS]
    if bad:
        raise ValueError(f"{path}: unknown class in {bad[:3]}")
    return rows
