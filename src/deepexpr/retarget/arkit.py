"""The rig under ARKit's 52 blendshape names (Apple ARFaceAnchor.BlendShapeLocation).

Each ARKit value is the MAX of its sources (a source is a rig control times a weight;
"gaze_x+" is max(0, gaze_x), "gaze_x-" is max(0, -gaze_x)). "Left"/"Right" are the
subject's own sides; the rig's AUs are symmetric, so every AU feeds both sides
(one-to-many). gaze_x + is image right = the subject's left for an unmirrored camera.

| ARKit                         | from the rig          | note                                  |
|-------------------------------|-----------------------|---------------------------------------|
| browInnerUp                   | AU1                   |                                       |
| browOuterUpLeft/Right         | AU2                   | one-to-many (both sides)              |
| browDownLeft/Right            | AU4                   | one-to-many                           |
| eyeWideLeft/Right             | AU5                   | one-to-many                           |
| cheekSquintLeft/Right         | AU6                   | one-to-many                           |
| eyeSquintLeft/Right           | AU7                   | one-to-many                           |
| noseSneerLeft/Right           | AU9                   | one-to-many                           |
| mouthUpperUpLeft/Right        | AU10                  | one-to-many                           |
| mouthSmileLeft/Right          | AU12                  | one-to-many                           |
| mouthFrownLeft/Right          | AU15                  | one-to-many                           |
| mouthLowerDownLeft/Right      | AU16                  | one-to-many                           |
| mouthShrugLower               | AU17                  |                                       |
| mouthShrugUpper               | 0.5 AU17              | lossy: AU17 pushes the upper lip a bit|
| mouthStretchLeft/Right        | AU20                  | one-to-many                           |
| mouthRollLower/Upper          | 0.5 AU23              | lossy: ARKit has no lip tightener     |
| mouthPressLeft/Right          | AU24                  | one-to-many                           |
| jawOpen                       | max(AU26, AU27)       | lossy: jaw drop and mouth stretch merge|
| eyeLookOutLeft, eyeLookInRight| gaze_x+               |                                       |
| eyeLookInLeft, eyeLookOutRight| gaze_x-               |                                       |
| eyeLookDownLeft/Right         | gaze_y+               |                                       |
| eyeLookUpLeft/Right           | gaze_y-               |                                       |
| eyeBlinkLeft/Right, jawForward, jawLeft, jawRight, mouthClose, mouthFunnel, mouthPucker, mouthLeft, mouthRight, mouthDimpleLeft/Right, cheekPuff, tongueOut | - | always 0: not in the rig |

AU25 (lips part) has no ARKit shape of its own: it is lost (ARKit implies parted lips from
jawOpen / mouthLowerDown / mouthUpperUp). Head angles are not blendshapes (see `vmc`).
"""

from __future__ import annotations

ARKIT_NAMES = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft", "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight",
    "eyeLookOutRight", "eyeLookUpRight", "eyeSquintRight", "eyeWideRight", "jawForward",
    "jawLeft", "jawRight", "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft",
    "mouthRight", "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthPressLeft",
    "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
    "mouthUpperUpRight", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft",
    "browOuterUpRight", "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft",
    "noseSneerRight", "tongueOut",
)

_BOTH = {"browOuterUp": "AU2", "browDown": "AU4", "eyeWide": "AU5", "cheekSquint": "AU6",
         "eyeSquint": "AU7", "noseSneer": "AU9", "mouthUpperUp": "AU10", "mouthSmile": "AU12",
         "mouthFrown": "AU15", "mouthLowerDown": "AU16", "mouthStretch": "AU20", "mouthPress": "AU24",
         "eyeLookDown": "gaze_y+", "eyeLookUp": "gaze_y-"}
# ARKit name -> ((source, weight), ...); absent names are always 0.
ARKIT_MAPPING: dict[str, tuple[tuple[str, float], ...]] = {
    **{f"{stem}{side}": ((src, 1.0),) for stem, src in _BOTH.items() for side in ("Left", "Right")},
    "browInnerUp": (("AU1", 1.0),),
    "mouthShrugLower": (("AU17", 1.0),),
    "mouthShrugUpper": (("AU17", 0.5),),
    "mouthRollLower": (("AU23", 0.5),),
    "mouthRollUpper": (("AU23", 0.5),),
    "jawOpen": (("AU26", 1.0), ("AU27", 1.0)),
    "eyeLookOutLeft": (("gaze_x+", 1.0),),
    "eyeLookInRight": (("gaze_x+", 1.0),),
    "eyeLookInLeft": (("gaze_x-", 1.0),),
    "eyeLookOutRight": (("gaze_x-", 1.0),),
}
LOST_CONTROLS = ("AU25",)  # rig controls no ARKit shape carries


def _source(values: dict[str, float], name: str) -> float:
    if name.endswith("+"):
        return max(0.0, float(values.get(name[:-1], 0.0)))
    if name.endswith("-"):
        return max(0.0, -float(values.get(name[:-1], 0.0)))
    return float(values.get(name, 0.0))


def to_arkit(values: dict[str, float]) -> dict[str, float]:
    """Rig values (`RIG_CONTROLS` dict) -> all 52 ARKit blendshapes in [0, 1], ARKit order."""
    out = {}
    for name in ARKIT_NAMES:
        sources = ARKIT_MAPPING.get(name, ())
        v = max((_source(values, s) * w for s, w in sources), default=0.0)
        out[name] = min(1.0, max(0.0, v))
    return out
