import pytest

from deepexpr.io import atomic_path, write_json


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_write_json_roundtrip(tmp_path):
    import json

    import numpy as np

    write_json(tmp_path / "a.json", {"x": np.float32(1.5), "y": np.arange(3)})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 1.5, "y": [0, 1, 2]}


def test_outputs_get_the_usual_file_mode(tmp_path):
    import os

    write_json(tmp_path / "b.json", {})
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "b.json").stat().st_mode & 0o777 == 0o666 & ~mask
