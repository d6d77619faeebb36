"""deepexpr: facial expressions of people and stylized characters.

The top-level namespace stays light: heavy parts (torch models, mediapipe) are
imported on first use.
"""

from deepexpr.expressions import EXPRESSIONS, NUM_CLASSES
from deepexpr.version import __version__

__all__ = ["EXPRESSIONS", "NUM_CLASSES", "__version__", "predict_emotion"]


def predict_emotion(image, domain: str = "character", model: str | None = None, detail: bool = False):
    """Return the top expression label of one image (see `deepexpr.recognition`).

    Args:
        image: a path, a PIL image or an HxW[x3|4] uint8 array.
        domain: "character" (cartoon / 3D character) or "human" (photo; first face).
        model: model name or checkpoint path; the bundled default when None.
        detail: return a dict (label, probability, probs, low_confidence, reason, crop).

    Returns:
        str: one of `EXPRESSIONS` (a dict with `detail`). Characters: the whole image
        (`deepexpr.recognition.predict_emotion(..., crop_faces=True)` reads the first
        detected stylized face's crop).
    """
    from deepexpr.recognition import predict_emotion as _predict

    return _predict(image, domain=domain, model=model, detail=detail)
