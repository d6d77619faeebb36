"""The label map of DiceBear avatar styles: which part combinations show which expression.

DiceBear (npm `@dicebear/collection`) composes avatars from artist-drawn parts; several
styles name their parts by expression (avataaars `eyebrows=angry`, open-peeps
`face=rage`, ...). A *rule* maps a product of part values to one of the seven classes:
every combination of the listed values shows that class. A combination no rule covers is
"excluded" (ambiguous, or not an expression: hearts, winks, tongues, masks, monsters).
Each rule was checked by eye on a contact sheet of the parts (`deepexpr data avatars
--sheets DIR`); the option names are those of `@dicebear/collection` 9.4.3.

| style | class | parts (each a set of values; all combinations) |
|---|---|---|
| avataaars | joy | eyebrows default/defaultNatural/raisedExcited/raisedExcitedNatural; eyes default/happy/squint; mouth smile/twinkle/default |
| avataaars | anger | eyebrows angry/angryNatural; eyes default/squint; mouth serious/grimace/screamOpen |
| avataaars | sadness | eyebrows sadConcerned/sadConcernedNatural/frownNatural; eyes default/cry/closed; mouth sad/serious |
| avataaars | sadness | eyebrows sadConcerned/sadConcernedNatural; eyes cry; mouth concerned |
| avataaars | fear | eyebrows sadConcerned/sadConcernedNatural/frownNatural; eyes surprised; mouth screamOpen/grimace/concerned |
| avataaars | surprise | eyebrows raisedExcited/raisedExcitedNatural/default/defaultNatural; eyes surprised; mouth disbelief/screamOpen |
| avataaars | disgust | eyebrows angry/angryNatural/upDown/upDownNatural/default/defaultNatural; eyes squint/side/default; mouth vomit |
| avataaars | disgust | eyebrows upDown/upDownNatural; eyes eyeRoll/side; mouth serious/sad |
| avataaars | neutral | eyebrows default/defaultNatural/flatNatural; eyes default; mouth serious |
| open-peeps | anger | face rage/veryAngry/angryWithFang |
| open-peeps | fear | face fear/hectic/concernedFear |
| open-peeps | surprise | face awe |
| open-peeps | joy | face smile/smileBig/smileLOL/smileTeethGap/cute/lovingGrin1/lovingGrin2 |
| open-peeps | neutral | face blank/serious |
| open-peeps | sadness | face solemn/tired |
| fun-emoji | joy | eyes plain/cute/closed/closed2; mouth lilSmile/wideSmile/smileTeeth/smileLol/cute |
| fun-emoji | sadness | eyes sad/tearDrop/crying/plain; mouth sad/drip |
| fun-emoji | neutral | eyes plain; mouth plain |
| fun-emoji | surprise | eyes plain/cute; mouth shout |
| big-smile | joy | eyes cheery/normal; mouth openedSmile/gapSmile/teethSmile/braces/kawaii |
| big-smile | sadness | eyes sad; mouth openSad |
| big-smile | anger | eyes angry; mouth unimpressed |
| big-smile | neutral | eyes normal; mouth unimpressed |
| micah | joy | eyebrows up/eyelashesUp; eyes eyes/round/eyesShadow/smiling/smilingShadow; mouth laughing/smile |
| micah | surprise | eyebrows up/eyelashesUp; eyes eyes/round/eyesShadow; mouth surprised |
| micah | sadness | eyebrows down/eyelashesDown; eyes eyes/round/eyesShadow; mouth sad/frown |
| micah | fear | eyebrows down/eyelashesDown; eyes eyes/round; mouth nervous |
| personas | joy | eyes open/happy; mouth smile/bigSmile |
| personas | sadness | eyes open; mouth frown |
| personas | surprise | eyes open; mouth surprise |
| toon-head | joy | eyebrows happy/neutral/raised; eyes happy/wide/bow; mouth laugh/smile |
| toon-head | anger | eyebrows angry; eyes wide/humble; mouth angry |
| toon-head | sadness | eyebrows sad; eyes humble/wide/bow; mouth sad |
| toon-head | surprise | eyebrows raised; eyes wide; mouth agape |
| toon-head | fear | eyebrows sad; eyes wide; mouth agape |
| dylan | joy / anger / neutral / sadness | mood happy+superHappy / angry / neutral / sad |

Excluded on purpose (examples): avataaars eyes hearts/xDizzy/wink/winkWacky and mouths
eating/tongue; open-peeps cyclops/monster/contempt/suspicious/concerned/calm/cheeky/driven/
explaining/eyesClosed/eatingHappy/old; fun-emoji love/stars/shades/glasses eyes and
kissHeart/sick/faceMask/tongueOut/shy/pissed mouths; personas pacifier/lips/smirk and
sleeping/winking/glasses eyes; micah pucker/smirk; dylan hopeful/confused.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from deepexpr.expressions import EXPRESSIONS

EXCLUDED = "excluded"


@dataclass(frozen=True)
class Rule:
    """Every combination of `parts` values shows `label`."""

    label: str  # one of EXPRESSIONS
    parts: dict[str, tuple[str, ...]]  # part name -> values


@dataclass(frozen=True)
class AvatarStyle:
    """One DiceBear style: its expression parts, label rules and fixed options.

    Attributes:
        js_name: the export name in `@dicebear/collection` (camelCase).
        rules: label rules over the expression parts.
        fixed: options that are the same for every image (accessories that hide the eyes or
            the mouth switched off).
        zoom: (min, max) DiceBear `scale` in percent; styles that draw a bust get > 100 so the
            face fills more of the frame.
        shift_y: DiceBear `translateY` in percent applied with the zoom (moves the face up/down).
    """

    js_name: str
    rules: tuple[Rule, ...]
    fixed: dict = field(default_factory=dict)
    zoom: tuple[int, int] = (90, 110)
    shift_y: int = 0

    @property
    def parts(self) -> tuple[str, ...]:
        """The expression parts, in rule order."""
        seen: dict[str, None] = {}
        for r in self.rules:
            seen.update(dict.fromkeys(r.parts))
        return tuple(seen)


def _r(label: str, **parts: str) -> Rule:
    """A rule from space-separated value lists: `_r("joy", mouth="smile twinkle")`."""
    return Rule(label, {k: tuple(v.split()) for k, v in parts.items()})


_NAT = "Natural"
STYLES: dict[str, AvatarStyle] = {
    "avataaars": AvatarStyle("avataaars", (
        _r("joy", eyebrows=f"default default{_NAT} raisedExcited raisedExcited{_NAT}",
           eyes="default happy squint", mouth="smile twinkle default"),
        _r("anger", eyebrows=f"angry angry{_NAT}", eyes="default squint",
           mouth="serious grimace screamOpen"),
        _r("sadness", eyebrows=f"sadConcerned sadConcerned{_NAT} frown{_NAT}",
           eyes="default cry closed", mouth="sad serious"),
        _r("sadness", eyebrows=f"sadConcerned sadConcerned{_NAT}", eyes="cry", mouth="concerned"),
        _r("fear", eyebrows=f"sadConcerned sadConcerned{_NAT} frown{_NAT}", eyes="surprised",
           mouth="screamOpen grimace concerned"),
        _r("surprise", eyebrows=f"raisedExcited raisedExcited{_NAT} default default{_NAT}",
           eyes="surprised", mouth="disbelief screamOpen"),
        _r("disgust", eyebrows=f"angry angry{_NAT} upDown upDown{_NAT} default default{_NAT}",
           eyes="squint side default", mouth="vomit"),
        _r("disgust", eyebrows=f"upDown upDown{_NAT}", eyes="eyeRoll side", mouth="serious sad"),
        _r("neutral", eyebrows=f"default default{_NAT} flat{_NAT}", eyes="default", mouth="serious"),
    ), fixed={"accessories": ["prescription01", "prescription02", "round"],
              "accessoriesProbability": 15, "facialHairProbability": 0},
        zoom=(125, 150), shift_y=8),
    "open-peeps": AvatarStyle("openPeeps", (
        _r("anger", face="rage veryAngry angryWithFang"),
        _r("fear", face="fear hectic concernedFear"),
        _r("surprise", face="awe"),
        _r("joy", face="smile smileBig smileLOL smileTeethGap cute lovingGrin1 lovingGrin2"),
        _r("neutral", face="blank serious"),
        _r("sadness", face="solemn tired"),
    ), fixed={"accessoriesProbability": 0, "maskProbability": 0, "facialHairProbability": 0},
        zoom=(110, 135), shift_y=5),
    "fun-emoji": AvatarStyle("funEmoji", (
        _r("joy", eyes="plain cute closed closed2",
           mouth="lilSmile wideSmile smileTeeth smileLol cute"),
        _r("sadness", eyes="sad tearDrop crying plain", mouth="sad drip"),
        _r("neutral", eyes="plain", mouth="plain"),
        _r("surprise", eyes="plain cute", mouth="shout"),
    )),
    "big-smile": AvatarStyle("bigSmile", (
        _r("joy", eyes="cheery normal", mouth="openedSmile gapSmile teethSmile braces kawaii"),
        _r("sadness", eyes="sad", mouth="openSad"),
        _r("anger", eyes="angry", mouth="unimpressed"),
        _r("neutral", eyes="normal", mouth="unimpressed"),
    ), fixed={"accessoriesProbability": 0}),
    "micah": AvatarStyle("micah", (
        _r("joy", eyebrows="up eyelashesUp", eyes="eyes round eyesShadow smiling smilingShadow",
           mouth="laughing smile"),
        _r("surprise", eyebrows="up eyelashesUp", eyes="eyes round eyesShadow", mouth="surprised"),
        _r("sadness", eyebrows="down eyelashesDown", eyes="eyes round eyesShadow", mouth="sad frown"),
        _r("fear", eyebrows="down eyelashesDown", eyes="eyes round", mouth="nervous"),
    ), fixed={"glassesProbability": 15, "facialHairProbability": 0}, zoom=(100, 120)),
    "personas": AvatarStyle("personas", (
        _r("joy", eyes="open happy", mouth="smile bigSmile"),
        _r("sadness", eyes="open", mouth="frown"),
        _r("surprise", eyes="open", mouth="surprise"),
    ), fixed={"facialHairProbability": 0}, zoom=(110, 135), shift_y=5),
    "toon-head": AvatarStyle("toonHead", (
        _r("joy", eyebrows="happy neutral raised", eyes="happy wide bow", mouth="laugh smile"),
        _r("anger", eyebrows="angry", eyes="wide humble", mouth="angry"),
        _r("sadness", eyebrows="sad", eyes="humble wide bow", mouth="sad"),
        _r("surprise", eyebrows="raised", eyes="wide", mouth="agape"),
        _r("fear", eyebrows="sad", eyes="wide", mouth="agape"),
    ), fixed={"beardProbability": 0}, zoom=(115, 140), shift_y=6),
    "dylan": AvatarStyle("dylan", (
        _r("joy", mood="happy superHappy"),
        _r("anger", mood="angry"),
        _r("neutral", mood="neutral"),
        _r("sadness", mood="sad"),
    ), fixed={"facialHairProbability": 0}),
}


def label_of(style: str, parts: dict[str, str]) -> str:
    """The class a part combination shows, or "excluded" if no rule covers it.

    Args:
        style: a key of `STYLES`.
        parts: part name -> value, for every expression part of the style.

    Raises:
        KeyError: unknown style.
    """
    for rule in STYLES[style].rules:
        if all(parts.get(k) in vals for k, vals in rule.parts.items()):
            return rule.label
    return EXCLUDED


def combinations(style: str, expression: str) -> list[dict[str, str]]:
    """Every part combination the rules of `style` map to `expression` (may be empty).

    Each combination fixes every expression part of the style (the rules of a style all
    list the same parts); all other options are left to DiceBear's seeded choice.
    """
    out = []
    for rule in STYLES[style].rules:
        if rule.label != expression:
            continue
        keys = list(rule.parts)
        for values in itertools.product(*(rule.parts[k] for k in keys)):
            out.append(dict(zip(keys, values)))
    return out


def expressions_of(style: str) -> list[str]:
    """The classes a style can show, in `EXPRESSIONS` order."""
    have = {r.label for r in STYLES[style].rules}
    return [e for e in EXPRESSIONS if e in have]


def label_table() -> dict[str, list[dict]]:
    """The label map as plain data (written into every manifest)."""
    return {name: [{"label": r.label, "parts": {k: list(v) for k, v in r.parts.items()}}
                   for r in s.rules] for name, s in STYLES.items()}
