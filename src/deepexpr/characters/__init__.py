"""Procedural stylized characters: styles, FACS rig, key poses, renderer, data set export.

    from deepexpr.characters import get_character, key_poses, random_characters, render_face
    style = get_character("pip")
    image, landmarks = render_face(style, key_poses(style, "joy")[0], size=256)
    wide = random_characters(8, seed=0, space="wide")  # icon, manga, pixel art, ... (widespace.py)
"""

from deepexpr.characters.render import face_landmarks, head_outline, render_face
from deepexpr.characters.rig import (
    AUS,
    RIG_CONTROLS,
    WEAK_T,
    check_rig,
    interpolate,
    key_poses,
    neutral_rig,
    sample_poses,
)
from deepexpr.characters.sheet import contact_sheet
from deepexpr.characters.style import (
    CharacterStyle,
    get_character,
    list_characters,
    random_characters,
    resolve_characters,
    standin_humans,
)

Rig = dict  # a rig value is a plain dict[str, float] over RIG_CONTROLS


def render_dataset(*args, **kwargs):
    """Write a FERG-layout data set (see `deepexpr.characters.export.render_dataset`)."""
    from deepexpr.characters.export import render_dataset as _render

    return _render(*args, **kwargs)


__all__ = [
    "AUS", "RIG_CONTROLS", "WEAK_T", "CharacterStyle", "Rig", "check_rig", "contact_sheet",
    "face_landmarks", "get_character", "head_outline", "interpolate", "key_poses", "list_characters",
    "neutral_rig", "random_characters", "render_dataset", "render_face", "resolve_characters",
    "sample_poses", "standin_humans",
]
