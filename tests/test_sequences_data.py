"""Sequence reader on a fixture, displacement/target blocks, bad input."""

import numpy as np
import pytest

from deepexpr.data.bu3dfe import read_frame_file, read_sequences, write_sequence
from deepexpr.data.sequences import (
    from_block,
    input_target,
    normalise_length,
    to_block,
)
from deepexpr.errors import InputError


def _frames(t, seed=0):
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.normal(size=(t, 83, 3)), axis=0)


@pytest.fixture
def corpus_dir(tmp_path):
    write_sequence(tmp_path, "F001", "Happy", _frames(5), fmt="bnd")
    write_sequence(tmp_path, "F001", "surprise", _frames(4, 1), fmt="npy")
    write_sequence(tmp_path, "M002", "Angry", _frames(3, 2), fmt="bnd")
    (tmp_path / "M002" / "Contempt").mkdir()
    bad = tmp_path / "M003" / "Sad"
    bad.mkdir(parents=True)
    (bad / "000.bnd").write_text("1 2 3\n" * 82)
    return tmp_path


def test_reader_fixture(corpus_dir):
    corpus = read_sequences(corpus_dir)
    got = {(s.subject, s.expression): s.frames.shape for s in corpus.sequences}
    assert got == {("F001", "joy"): (5, 83, 3), ("F001", "surprise"): (4, 83, 3),
                   ("M002", "anger"): (3, 83, 3)}
    joy = corpus.by_expression("joy")[0]
    np.testing.assert_allclose(joy.frames, _frames(5), atol=1e-4)
    assert any("Contempt" in s for s in corpus.skipped)
    assert any("82 landmarks" in s for s in corpus.skipped)


def test_frame_file_with_index_column_and_natural_order(tmp_path):
    pts = _frames(1)[0]
    f = tmp_path / "a.bnd"
    f.write_text("# comment\n" + "".join(f"{i} {x},{y},{z}\n" for i, (x, y, z) in enumerate(pts)))
    np.testing.assert_allclose(read_frame_file(f), pts)
    seq = tmp_path / "S" / "fear"
    seq.mkdir(parents=True)
    for t in (10, 2, 1):
        (seq / f"f{t}.bnd").write_text("".join(f"{t} {t} {t}\n" for _ in range(83)))
    corpus = read_sequences(tmp_path)
    assert corpus.sequences[0].frames[:, 0, 0].tolist() == [1, 2, 10]


def test_reader_bad_input(tmp_path):
    with pytest.raises(InputError, match="not a folder"):
        read_sequences(tmp_path / "missing")
    f = tmp_path / "x.bnd"
    f.write_text("1 2 nan\n" * 83)
    with pytest.raises(InputError, match="NaN"):
        read_frame_file(f)
    (tmp_path / "S").mkdir()
    with pytest.raises(InputError, match="no readable"):
        read_sequences(tmp_path)


def test_blocks():
    frames = _frames(6)
    block = to_block(frames, length=8)
    assert block.shape == (8, 249)
    assert not block[0].any() and not block[6:].any()
    np.testing.assert_allclose(block[1].reshape(83, 3), frames[1] - frames[0])
    x, y = input_target(block)
    np.testing.assert_array_equal(y[:-1], x[1:])
    assert not y[-1].any()
    np.testing.assert_allclose(from_block(block, frames[0])[:6], frames)
    cut = to_block(frames, length=3)
    np.testing.assert_allclose(from_block(cut, frames[0]), frames[:3])
    assert normalise_length(np.ones((2, 4)), 5).sum() == 8
