"""Synthetic corpus: labelled synthetic, readable by the reader, expressions move the face."""

import json

import numpy as np

from deepexpr.data import synthetic_sequences as synth
from deepexpr.data.bu3dfe import read_sequences
from deepexpr.landmarks83 import group_slices


def test_corpus_round_trip(tmp_path):
    manifest = synth.make_corpus(tmp_path, synth.SynthConfig(subjects=2, fmt="bnd"),
                                 show_progress=False)
    assert manifest["synthetic"] is True
    assert "SYNTHETIC" in (tmp_path / "SYNTHETIC.txt").read_text()
    assert json.loads((tmp_path / "manifest.json").read_text())["subjects"] == 2
    corpus = read_sequences(tmp_path)
    assert len(corpus.sequences) == 12 and not corpus.skipped
    assert all(2 <= len(s.frames) <= 135 for s in corpus.sequences)


def test_expressions_move_the_right_parts():
    base = synth.base_landmarks()
    subject = synth.make_subject(np.random.default_rng(0), base)
    subject["head_amp"] = 0.0
    g = group_slices()

    def apex_change(expr, group, axis):
        seq = synth.make_sequence(subject, expr, noise_mm=0.0)
        centred = seq - seq[:, g["nose"]].mean(1, keepdims=True)  # remove head drift
        return (centred[len(seq) // 2, g[group], axis] - centred[0, g[group], axis]).mean()

    assert apex_change("surprise", "right_brow", 1) > 2.0  # brows go up
    assert apex_change("anger", "right_brow", 1) < -1.0  # brows go down
    assert apex_change("surprise", "contour", 1) < -1.0  # jaw drops


def _row(mediapipe_index):
    from deepexpr.landmarks83 import MEDIAPIPE_INDICES

    return int(np.nonzero(MEDIAPIPE_INDICES == mediapipe_index)[0][0])


def test_joy_widens_the_mouth_and_lifts_the_corners():
    subject = synth.make_subject(np.random.default_rng(3), synth.base_landmarks())
    subject["head_amp"] = 0.0
    seq = synth.make_sequence(subject, "joy", noise_mm=0.0)
    left, right = _row(291), _row(61)  # lip corners (subject's left, right)
    width = np.linalg.norm(seq[:, left] - seq[:, right], axis=1)
    apex = int(width.argmax())
    assert width[apex] - width[0] > 5.0  # AU12 pulls the corners outward...
    nose = seq[:, _row(4), 1]
    assert (seq[apex, right, 1] - nose[apex]) - (seq[0, right, 1] - nose[0]) > 2.0  # ...and up


def test_displacements_scale_with_face_size():
    base = synth.base_landmarks()
    small = synth.make_subject(np.random.default_rng(4), base)
    big = dict(small, neutral=small["neutral"] * 1.1, scale=small["scale"] * 1.1, head_amp=0.0)
    small["head_amp"] = 0.0
    moves = []
    for subject in (small, big):
        subject["rng"] = np.random.default_rng(5)  # same timing, intensity and noise draws
        seq = synth.make_sequence(subject, "surprise", noise_mm=0.0)
        moves.append(np.abs(seq - seq[:1]).max())
    assert 1.05 < moves[1] / moves[0] < 1.2
