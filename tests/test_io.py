import numpy as np
import pytest
from PIL import Image

from deepexpr.errors import InputError
from deepexpr.io import as_rgb, atomic_path, read_image, write_json


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


def test_read_image_modes_and_exif(tmp_path):
    grey = np.tile(np.arange(40, dtype=np.uint8), (30, 1))
    Image.fromarray(grey).save(tmp_path / "g.png")
    assert read_image(tmp_path / "g.png").shape == (30, 40, 3)
    rgba = np.zeros((10, 12, 4), np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")  # fully transparent -> white
    assert (read_image(tmp_path / "a.png") == 255).all()
    Image.fromarray(grey.astype(np.uint16) * 256).save(tmp_path / "d.png")
    deep = read_image(tmp_path / "d.png")
    assert deep.dtype == np.uint8 and deep.shape == (30, 40, 3) and deep.max() > 200
    im = Image.fromarray(np.zeros((20, 50, 3), np.uint8))
    exif = im.getexif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees
    im.save(tmp_path / "r.jpg", exif=exif)
    assert read_image(tmp_path / "r.jpg").shape == (50, 20, 3)


def test_read_image_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_image(tmp_path / "missing.jpg")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(InputError, match="not a readable image"):
        read_image(tmp_path / "bad.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(InputError, match="empty.png: empty"):
        read_image(tmp_path / "empty.png")
    with pytest.raises(InputError, match="not a file"):
        read_image(tmp_path)


def test_read_image_pixel_cap_names_the_file(tmp_path):
    Image.new("RGB", (40, 30)).save(tmp_path / "big.png")
    assert read_image(tmp_path / "big.png", max_pixels=1200).shape == (30, 40, 3)
    with pytest.raises(InputError, match="big.png: 40x30 pixels is more than the 1,199-pixel limit"):
        read_image(tmp_path / "big.png", max_pixels=1199)


def test_read_image_turns_a_decompression_bomb_into_input_error(tmp_path, monkeypatch):
    Image.new("L", (64, 64)).save(tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # PIL raises above twice this
    with pytest.raises(InputError, match="bomb.png: too many pixels"):
        read_image(tmp_path / "bomb.png", max_pixels=None)


def test_as_rgb_takes_paths_and_arrays(tmp_path):
    Image.fromarray(np.full((4, 5), 9, np.uint8)).save(tmp_path / "g.png")
    assert (as_rgb(tmp_path / "g.png") == 9).all() and as_rgb(str(tmp_path / "g.png")).shape == (4, 5, 3)
    assert as_rgb(np.zeros((4, 5, 4), np.uint8)).shape == (4, 5, 3)  # transparent -> white
    with pytest.raises(InputError, match="HxW"):
        as_rgb(np.zeros((4, 5, 2), np.uint8))


def test_versions_stamp_names_the_package_and_the_asked_distributions():
    from deepexpr import __version__
    from deepexpr.io import versions

    stamp = versions(("numpy",))
    assert set(stamp) == {"deepexpr", "python", "numpy"} and stamp["deepexpr"] == __version__
    assert stamp["numpy"] == np.__version__
