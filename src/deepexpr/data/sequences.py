"""Landmark sequences as the LSTM sees them (paper 003, Fig. 3).

A sequence of T frames of L 3D landmarks (T, L, 3) becomes frame-to-frame displacements
d_t = p_{t+1} - p_t (head motion kept: nothing is registered away). The network works on
blocks of `length` (135 in the paper) steps of L*3 numbers:

    block[0]    = 0                  (the first input frame is zero)
    block[1:T]  = d_0 .. d_{T-2}     (cut to `length`, or zero padded)
    input       = block
    target[t]   = block[t + 1]       (the input shifted left)
    target[-1]  = 0                  (the last target is zero)

Positions come back by a cumulative sum from a neutral face: p_t = neutral + sum_{s<=t} block[s].

    >>> x, y = input_target(to_block(frames))     # (135, 249) each
    >>> again = from_block(x, frames[0])          # (135, 83, 3), equal to frames where T <= 135
"""

from __future__ import annotations

import numpy as np

from deepexpr.errors import InputError

SEQUENCE_LENGTH = 135  # frames per block (paper: 135, the longest BU-4DFE sequence kept)


def check_frames(frames, name: str = "sequence", landmarks: int | None = None) -> np.ndarray:
    """(T, L, 3) finite float array with T >= 2, or InputError."""
    arr = np.asarray(frames, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[2] != 3 or len(arr) < 2:
        raise InputError(f"{name}: expected (frames >= 2, landmarks, 3), got shape {arr.shape}")
    if landmarks is not None and arr.shape[1] != landmarks:
        raise InputError(f"{name}: has {arr.shape[1]} landmarks per frame, expected {landmarks}")
    if not np.isfinite(arr).all():
        raise InputError(f"{name}: contains NaN or infinite coordinates; fix the landmark file")
    return arr


def displacements(frames) -> np.ndarray:
    """(T, L, 3) positions -> (T-1, L, 3) frame-to-frame offsets p_{t+1} - p_t."""
    frames = check_frames(frames)
    return np.diff(frames, axis=0)


def normalise_length(steps: np.ndarray, length: int = SEQUENCE_LENGTH) -> np.ndarray:
    """Cut (keep the first `length`) or zero-pad (at the end) along the first axis."""
    if len(steps) >= length:
        return steps[:length].copy()
    pad = np.zeros((length - len(steps), *steps.shape[1:]), dtype=steps.dtype)
    return np.concatenate([steps, pad])


def to_block(frames, length: int = SEQUENCE_LENGTH) -> np.ndarray:
    """(T, L, 3) positions -> (length, L*3) block: a zero first step, then the displacements."""
    d = displacements(frames)
    steps = np.concatenate([np.zeros((1, *d.shape[1:])), d])
    return normalise_length(steps, length).reshape(length, -1)


def input_target(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(S, D) block -> (input, target), both (S, D): target = input shifted left, last zero."""
    target = np.zeros_like(block)
    target[:-1] = block[1:]
    return block.copy(), target


def from_block(block: np.ndarray, neutral) -> np.ndarray:
    """(S, L*3) displacement block + (L, 3) neutral -> (S, L, 3) positions (cumulative sum)."""
    neutral = np.asarray(neutral, dtype=np.float64)
    steps = np.asarray(block, dtype=np.float64).reshape(len(block), *neutral.shape)
    return neutral[None] + np.cumsum(steps, axis=0)
