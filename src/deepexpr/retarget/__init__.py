"""Face -> character rig: estimate FACS AUs, head pose and gaze from a face, drive any
character with them, export rig curves (CSV/JSON, ARKit names) and stream them (VMC/OSC).

    >>> from deepexpr.faces.rigface import find_rig_faces
    >>> from deepexpr.retarget import estimate_rig, drive, retarget_stream
    >>> rig = estimate_rig(find_rig_faces(photo)[0])         # Rig: values, confidence, flags
    >>> image = drive("pip", rig, size=256)                  # the character making that face
    >>> for frame in retarget_stream(frames, "pip"): ...     # video / webcam (smoothed)

The map from mesh to rig is learned on SYNTHETIC ground truth (drawn stand-in humans with
known rigs; `deepexpr.data.rig_truth`); see benchmarks/RESULTS.md "Retarget".
"""

from deepexpr.retarget.arkit import ARKIT_MAPPING, ARKIT_NAMES, to_arkit
from deepexpr.retarget.drive import (
    CSV_COLUMNS,
    RigTrackers,
    StreamFrame,
    drive,
    retarget_stream,
    rig_row,
    write_rig_csv,
    write_rig_json,
)
from deepexpr.retarget.estimate import (
    OneEuroFilter,
    Rig,
    RigTracker,
    TrackerConfig,
    calibrate,
    estimate_rig,
    load_default_rigmap,
)

__all__ = [
    "ARKIT_MAPPING", "ARKIT_NAMES", "CSV_COLUMNS", "OneEuroFilter", "Rig", "RigTracker", "RigTrackers", "StreamFrame",
    "TrackerConfig", "calibrate", "drive", "estimate_rig", "load_default_rigmap", "retarget_stream",
    "rig_row", "to_arkit", "write_rig_csv", "write_rig_json",
]
