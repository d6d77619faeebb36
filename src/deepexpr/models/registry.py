"""Name -> builder registry for every architecture, with its default preprocessing (timm's
`create_model` and `default_cfg` pattern).

Every image model registers how its input is made (`Preprocess`: input size, grey or
colour, mean/std, centre crop) next to its builder; `deepexpr.models.preprocess` reads it
from here (`PreprocessConfig.for_model`), so there is one table: this registry. A
checkpoint's JSON records the preprocessing it was trained with, which wins over these
defaults when the checkpoint is loaded.

    @register_model(preprocess=Preprocess(size=64, grayscale=True, mean=(0.5,), std=(0.5,)))
    def minixception(**overrides): ...

The model interface every classifier family offers (timm's, with one difference:
`forward_features` returns the pooled (N, num_features) vector that retrieval embeds):
    forward_features(x) -> (N, num_features); forward_head(h, pre_logits=False) -> logits;
    features_and_logits(x) -> both in one pass; get_classifier(); reset_classifier(n);
    num_features.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

_REGISTRY: dict[str, Callable] = {}
_PREPROCESS: dict[str, Preprocess] = {}


@dataclass(frozen=True)
class Preprocess:
    """How an architecture's input images are made by default.

    Attributes:
        size: square input side in pixels.
        grayscale: one luminance channel instead of RGB.
        mean, std: per channel, in [0, 1] units (one value per input channel).
        crop: centre-crop fraction: the image is resized to size / crop and its centre
            `size` pixels kept (the paper's 227 of 256); 1.0 resizes the whole image.
    """

    size: int = 64
    grayscale: bool = False
    mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    std: tuple[float, ...] = (0.5, 0.5, 0.5)
    crop: float = 1.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d


def register_model(fn: Callable | None = None, *, preprocess: Preprocess | None = None):
    """Decorator: register a builder `fn(**overrides) -> nn.Module` under its own name.

    Use bare (`@register_model`) for models that take no images (sequence models), or with
    the architecture's default input (`@register_model(preprocess=Preprocess(...))`).
    """

    def add(f: Callable) -> Callable:
        if f.__name__ in _REGISTRY:
            raise ValueError(f"model {f.__name__!r} registered twice")
        _REGISTRY[f.__name__] = f
        if preprocess is not None:
            _PREPROCESS[f.__name__] = preprocess
        return f

    return add(fn) if fn is not None else add


def _known(name: str) -> None:
    # No import of the families here: importing this module runs deepexpr.models/__init__
    # first (the parent package), which registers them.
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(_REGISTRY))}")


def create_model(name: str, **overrides):
    """Build a registered model.

    Args:
        name: a registered variant, e.g. "minixception", "deepexpr_human", "test_cnn".
        **overrides: fields of the family's config dataclass to change.

    Raises:
        ValueError: unknown name (the message lists the known ones).
    """
    _known(name)
    return _REGISTRY[name](**overrides)


def default_preprocess(name: str) -> Preprocess | None:
    """The registered default input of architecture `name` (None: it takes no images).

    Raises:
        ValueError: unknown name.
    """
    _known(name)
    return _PREPROCESS.get(name)


def list_models(prefix: str = "") -> list[str]:
    """Registered model names starting with `prefix`, sorted."""
    return sorted(n for n in _REGISTRY if n.startswith(prefix))
