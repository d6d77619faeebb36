"""Does a drawing carry the face's intensity? An independent rig judge and the agreement metric.

The judge is a small CNN (`cnn_small` as a regressor: 23 outputs) trained here on real
renders of the target characters with rigs drawn at random (another seed and another rig
sampler than HA-GAN's render pool: each AU on with probability 0.5 at U(0, 1), head and gaze
uniform), never on G's drawings. It reads the normalised rig (`deepexpr.data.hagan.rig_targets`
units) off a character image. On the held-out stand-in faces we compare the face's own AU
intensities with the judge's reading of G's drawing of that face, and with its reading of
the ideal drawing (the character rendered with the face's rig: the judge's own ceiling).

Two agreements, both Pearson r (`intensity_agreement`):
- per AU over all faces (mean over the AUs the faces use): includes *which* expression;
  a model that draws one picture per class already scores well on it;
- within expression: the per-class mean of both sides removed first, so only the variation
  of intensity among faces of the same expression counts (what a template cannot carry).
"""

from __future__ import annotations

import numpy as np
import torch

from deepexpr.progress import progress


def random_judge_rigs(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, len(RIG_CONTROLS)) raw rigs for the judge: each AU on with p 0.5 at U(0, 1),
    yaw, pitch and gaze uniform over their range, roll 0."""
    from deepexpr.characters.rig import AUS, LIMITS, RIG_CONTROLS

    rigs = np.zeros((n, len(RIG_CONTROLS)), np.float32)
    rigs[:, : len(AUS)] = rng.uniform(0, 1, (n, len(AUS))) * (rng.random((n, len(AUS))) < 0.5)
    for name in ("head_yaw", "head_pitch", "gaze_x", "gaze_y"):
        rigs[:, RIG_CONTROLS.index(name)] = rng.uniform(*LIMITS[name], n)
    return rigs


def posed_judge_rigs(styles, per_character: int, rng: np.random.Generator) -> np.ndarray:
    """(C * per_character, len(RIG_CONTROLS)) raw rigs, character-major, for the judge.

    Half: each character's own expression frames (`sample_poses`, seeds of the judge's own
    rng) with all AUs scaled by one factor U(0, 1.2), i.e. every expression at every
    intensity, as faces make them; half: sparse mixtures (each AU on with p 0.15 at U(0, 1)).
    Head yaw, pitch and gaze uniform over their range for all (so they do not tell the
    expression), roll 0.
    """
    from deepexpr.characters import sample_poses
    from deepexpr.characters.rig import AUS, RIG_CONTROLS
    from deepexpr.data.standin import rig_vector
    from deepexpr.expressions import EXPRESSIONS

    n_aus, out = len(AUS), []
    for style in styles:
        per_expr = -(-per_character // (2 * len(EXPRESSIONS)))
        posed = np.stack([rig_vector(r) for e in EXPRESSIONS
                          for r in sample_poses(style, e, per_expr, seed=int(rng.integers(1 << 30)))])
        posed[:, :n_aus] *= rng.uniform(0, 1.2, (len(posed), 1))
        mixed = random_judge_rigs(per_character - per_character // 2, rng)
        mixed[:, :n_aus] *= rng.random(mixed[:, :n_aus].shape) < 0.3  # p 0.5 x 0.3 = 0.15
        rigs = np.concatenate([posed[rng.permutation(len(posed))[: per_character // 2]], mixed])
        pose = random_judge_rigs(len(rigs), rng)[:, n_aus:]
        rigs[:, n_aus:] = pose
        rigs[:, :n_aus] = rigs[:, :n_aus].clip(0, 1)
        rigs[:, RIG_CONTROLS.index("head_roll")] = 0.0
        out.append(rigs)
    return np.concatenate(out).astype(np.float32)


def fit_rig_judge(styles, size: int, per_character: int = 500, steps: int = 1500, seed: int = 0,
                  quiet: bool = True, sampler: str = "uniform"):
    """Train the rig judge on fresh renders of `styles`; returns it in eval mode.

    Args:
        styles: the target CharacterStyles.
        size: image side S of the renders (the HA-GAN model's).
        sampler: "uniform" (`random_judge_rigs`: each AU on with p 0.5) or "posed"
            (`posed_judge_rigs`: the characters' expressions at every intensity + sparse mixtures).
    """
    from deepexpr.characters import render_face
    from deepexpr.data.hagan import rig_dict, rig_targets, to_tensor
    from deepexpr.models.registry import create_model

    rng = np.random.default_rng(seed + 99991)
    torch.manual_seed(seed)
    if sampler not in ("uniform", "posed"):
        raise ValueError(f"sampler {sampler!r}: expected uniform or posed")
    raw = (posed_judge_rigs(styles, per_character, rng) if sampler == "posed"
           else random_judge_rigs(per_character * len(styles), rng))
    rigs = rig_targets(raw)
    chars = np.repeat(np.arange(len(styles)), per_character)
    images = np.stack([render_face(styles[int(c)], rig_dict(r), size)[0] for r, c in zip(rigs, chars)])
    model = create_model("test_cnn_small" if size < 32 else "cnn_small", num_classes=rigs.shape[1],
                         input_size=size)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for _ in progress(range(steps), desc="rig judge", disable=True if quiet else None):
        i = rng.integers(0, len(images), size=32)
        loss = torch.nn.functional.mse_loss(model(to_tensor(images[i])), torch.from_numpy(rigs[i]))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


def read_rigs(judge, images: np.ndarray, batch: int = 128) -> np.ndarray:
    """(N, S, S, 3) uint8 character images -> (N, R) normalised rigs read by the judge."""
    from deepexpr.data.hagan import to_tensor

    with torch.inference_mode():
        outs = [judge(to_tensor(images[i : i + batch])) for i in range(0, len(images), batch)]
    return torch.cat(outs).numpy()


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two (N,) arrays (nan when either is constant, to rounding)."""
    a, b = np.asarray(a, np.float64) - np.mean(a), np.asarray(b, np.float64) - np.mean(b)
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 1e-9 else float("nan")  # rounding leaves ~1e-16


def intensity_agreement(face: np.ndarray, drawn: np.ndarray, labels: np.ndarray,
                        min_active: float = 0.05) -> dict:
    """Pearson r between the faces' AU intensities and the same AUs read on the drawings.

    Args:
        face: (N, R) the faces' normalised rigs (the truth); drawn: (N, R) read on drawings;
            labels: (N,) expression index of each face.
        min_active: an AU counts when more than this share of faces has it above 0.1.

    Returns:
        {"per_au": {AU: r}, "mean_r": mean of per_au, "within_per_au": {AU: r after removing
        each expression's mean on both sides}, "within_mean_r", "pose": {control: r} for head
        yaw, pitch and gaze}.
    """
    from deepexpr.characters.rig import AUS, RIG_CONTROLS

    labels = np.asarray(labels)
    centred = [np.array(x, np.float64, copy=True) for x in (face, drawn)]
    for e in np.unique(labels):
        for x in centred:
            x[labels == e] -= x[labels == e].mean(0)
    used = [j for j in range(len(AUS)) if (face[:, j] > 0.1).mean() > min_active]
    per_au = {AUS[j]: pearson(face[:, j], drawn[:, j]) for j in used}
    within = {AUS[j]: pearson(centred[0][:, j], centred[1][:, j]) for j in used}
    pose = {c: pearson(face[:, RIG_CONTROLS.index(c)], drawn[:, RIG_CONTROLS.index(c)])
            for c in ("head_yaw", "head_pitch", "gaze_x", "gaze_y")}
    return {"per_au": per_au, "mean_r": _mean(per_au.values()), "within_per_au": within,
            "within_mean_r": _mean(within.values()), "pose": pose}


def _mean(values) -> float:
    """Mean of the finite values (nan when there are none)."""
    v = np.array([x for x in values if np.isfinite(x)], np.float64)
    return float(v.mean()) if len(v) else float("nan")


def draw_true_rigs(generator, rigs: np.ndarray, n_characters: int) -> np.ndarray | None:
    """G's decoder driven by the faces' *true* rigs, not the ones its encoder reads.

    What the decoder can draw at best: if the judge cannot read these drawings, G's cannot
    be read either, however good the encoder.

    Args:
        generator: a HaganGenerator (None is returned unless it is a rig-code one).
        rigs: (N, len(RIG_CONTROLS)) the faces' raw rigs.
        n_characters: draw each face as characters 0 .. n_characters - 1.

    Returns:
        (n_characters * N, S, S, 3) uint8, character-major (as `HeldoutFaces.paired`), or None.
    """
    from deepexpr.data.hagan import rig_targets, to_uint8

    if not getattr(generator.cfg, "rig_code", False):
        return None
    target = torch.from_numpy(rig_targets(rigs))
    generator.eval()
    with torch.inference_mode():
        return np.concatenate([to_uint8(generator.draw(target, torch.full((len(target),), c)))
                               for c in range(n_characters)])
