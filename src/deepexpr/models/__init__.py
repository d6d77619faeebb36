"""Model families, one file each, built by name from a small registry (timm style).

    >>> from deepexpr.models import create_model, list_models
    >>> net = create_model("test_minixception")

Importing this package registers every family; each family file calls
`register_model` on its variant builders, with the variant's default preprocessing.
"""

from deepexpr.models import cnn, hagan, seqlstm, stylized_face, xception  # noqa: F401  (register the families)
from deepexpr.models.registry import (
    Preprocess,
    create_model,
    default_preprocess,
    list_models,
    register_model,
)

__all__ = ["Preprocess", "create_model", "default_preprocess", "list_models", "register_model"]
