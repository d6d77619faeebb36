"""The seven expression classes, in FERG-DB order, and the label aliases of other data sets.

Every model, data set and report in deepexpr uses `EXPRESSIONS` order. Readers of
other data sets translate their native labels with `to_index(value, scheme)`.
"""

from __future__ import annotations

EXPRESSIONS: tuple[str, ...] = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")
NUM_CLASSES = len(EXPRESSIONS)
INDEX = {name: i for i, name in enumerate(EXPRESSIONS)}

# Common English spellings seen in folder names and papers.
SYNONYMS: dict[str, str] = {
    "angry": "anger", "anger": "anger", "an": "anger",
    "disgust": "disgust", "disgusted": "disgust", "di": "disgust",
    "fear": "fear", "fearful": "fear", "afraid": "fear", "scared": "fear", "fe": "fear",
    "joy": "joy", "happy": "joy", "happiness": "joy", "ha": "joy", "smile": "joy",
    "neutral": "neutral", "ne": "neutral", "calm": "neutral",
    "sadness": "sadness", "sad": "sadness", "sa": "sadness",
    "surprise": "surprise", "surprised": "surprise", "su": "surprise",
}

# FER2013 `emotion` column: 0 Angry, 1 Disgust, 2 Fear, 3 Happy, 4 Sad, 5 Surprise, 6 Neutral.
FER2013 = ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")
# CK+ emotion codes (Emotion/*.txt): 0 neutral, 1 anger, 2 contempt, 3 disgust, 4 fear,
# 5 happy, 6 sadness, 7 surprise. Contempt has no class here (None: skipped).
CKPLUS = ("neutral", "anger", None, "disgust", "fear", "joy", "sadness", "surprise")
# KDEF file-name codes (e.g. AF01ANS.JPG): AF afraid, AN angry, DI disgusted, HA happy,
# NE neutral, SA sad, SU surprised.
KDEF = {"AF": "fear", "AN": "anger", "DI": "disgust", "HA": "joy", "NE": "neutral",
        "SA": "sadness", "SU": "surprise"}
# RAF-DB basic labels 1..7: Surprise, Fear, Disgust, Happiness, Sadness, Anger, Neutral.
RAFDB = (None, "surprise", "fear", "disgust", "joy", "sadness", "anger", "neutral")
# AffectNet expression ids: 0 Neutral, 1 Happy, 2 Sad, 3 Surprise, 4 Fear, 5 Disgust,
# 6 Anger, 7 Contempt (None), 8 None, 9 Uncertain, 10 No-Face.
AFFECTNET = ("neutral", "joy", "sadness", "surprise", "fear", "disgust", "anger",
             None, None, None, None)

SCHEMES = {"fer2013": FER2013, "ckplus": CKPLUS, "kdef": KDEF, "rafdb": RAFDB,
           "affectnet": AFFECTNET}


def canonical(name: str) -> str:
    """Map a label spelling ("Happy", "sad", "AN") to one of `EXPRESSIONS`.

    Raises:
        ValueError: the name is not a known expression.
    """
    key = str(name).strip().lower()
    if key in SYNONYMS:
        return SYNONYMS[key]
    raise ValueError(
        f"unknown expression {name!r}; expected one of {', '.join(EXPRESSIONS)}"
    )


def to_index(value, scheme: str | None = None) -> int | None:
    """Translate a data set's native label into an index into `EXPRESSIONS`.

    Args:
        value: a name ("happy"), or a code/id of `scheme` (FER2013 3, KDEF "HA", ...).
        scheme: one of `SCHEMES`, or None for names.

    Returns:
        The class index, or None when the scheme's class has no counterpart (contempt).
    """
    if scheme is None:
        return INDEX[canonical(value)]
    table = SCHEMES[scheme]
    if isinstance(table, dict):
        name = table.get(str(value).upper())
        if name is None:
            raise ValueError(f"unknown {scheme} code {value!r}")
    else:
        i = int(value)
        if not 0 <= i < len(table):
            raise ValueError(f"{scheme} label {value!r} out of range 0..{len(table) - 1}")
        name = table[i]
    return None if name is None else INDEX[name]
