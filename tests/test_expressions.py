import pytest

from deepexpr.expressions import EXPRESSIONS, canonical, to_index


def test_order_is_ferg():
    assert EXPRESSIONS == ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")


@pytest.mark.parametrize(
    "value,scheme,expected",
    [(0, "fer2013", "anger"), (3, "fer2013", "joy"), (4, "fer2013", "sadness"),
     (6, "fer2013", "neutral"), ("HA", "kdef", "joy"), ("af", "kdef", "fear"),
     (5, "ckplus", "joy"), (1, "rafdb", "surprise"), (6, "affectnet", "anger"),
     ("Happy", None, "joy"), ("sad", None, "sadness")],
)
def test_aliases(value, scheme, expected):
    assert EXPRESSIONS[to_index(value, scheme)] == expected


def test_contempt_has_no_class():
    assert to_index(2, "ckplus") is None
    assert to_index(7, "affectnet") is None


def test_unknown_names_raise():
    with pytest.raises(ValueError, match="unknown expression"):
        canonical("bored")
    with pytest.raises(ValueError, match="out of range"):
        to_index(9, "fer2013")
