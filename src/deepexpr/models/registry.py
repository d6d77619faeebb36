"""Name -> builder registry for every architecture (timm's `create_model` pattern)."""

from __future__ import annotations

from collections.abc import Callable

_REGISTRY: dict[str, Callable] = {}


def register_model(fn: Callable) -> Callable:
    """Decorator: register a builder `fn(**overrides) -> nn.Module` under its own name."""
    if fn.__name__ in _REGISTRY:
        raise ValueError(f"model {fn.__name__!r} registered twice")
    _REGISTRY[fn.__name__] = fn
    return fn


def create_model(name: str, **overrides):
    """Build a registered model.

    Args:
        name: a registered variant, e.g. "minixception", "deepexpr_human", "test_cnn".
        **overrides: fields of the family's config dataclass to change.

    Raises:
        ValueError: unknown name (the message lists the known ones).
    """
    import deepexpr.models  # noqa: F401  (registers the families)

    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](**overrides)


def list_models(prefix: str = "") -> list[str]:
    """Registered model names starting with `prefix`, sorted."""
    import deepexpr.models  # noqa: F401

    return sorted(n for n in _REGISTRY if n.startswith(prefix))
