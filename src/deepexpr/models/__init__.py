"""Model families, one file each, built by name from a small registry (timm style).

    >>> from deepexpr.models import create_model, list_models
    >>> net = create_model("test_minixception")

Importing this package registers every family; each family file calls
`register_model` on its variant builders.
"""

from deepexpr.models.registry import create_model, list_models, register_model

__all__ = ["create_model", "list_models", "register_model"]

# Family modules register themselves on import. A family that is missing (being built)
# must not break the others.
import importlib as _importlib

for _family in ("cnn", "xception", "hagan", "seqlstm"):
    try:
        _importlib.import_module(f"deepexpr.models.{_family}")
    except ModuleNotFoundError as _err:  # pragma: no cover - only while a family is absent
        if _err.name != f"deepexpr.models.{_family}":
            raise
