"""How far apart the ground-truth generators draw the rig's AUs (the evidence for issue 17).

Each AU alone at intensity 1, frontal, otherwise neutral, on a few stand-in people (drawn,
`characters.standin_humans`) and rendered identities (`animation.render_truth`: the AU model
`data.synthetic_sequences.AU_FIELDS` on the astronaut's mesh). For each AU: the mean
displacement from the person's neutral in x and y (frontalised, eye-corner widths): of the
drawing's exact 49 landmarks (stand-ins), of the AU model's 468 vertices (renders), and of
the face pipeline's 468-point mesh of the image (both). Prints the largest point displacement per AU and, for the lip
AUs, the cosine to every other AU: a cosine near +-1 means the generator draws that AU as a
copy of another, which no estimator can then tell apart.

    python benchmarks/bench_retarget_au_directions.py --people 6 --renders 4
"""

from __future__ import annotations

import argparse

import numpy as np

from deepexpr.characters import neutral_rig, render_face, standin_humans
from deepexpr.characters.rig import AUS
from deepexpr.faces.rigface import find_rig_faces
from deepexpr.landmarks import fit_similarity
from deepexpr.models.rigmap import N_MESH, STABLE, normalise_reference

FOCUS = ("AU6", "AU15", "AU16", "AU17", "AU23", "AU24", "AU25", "AU26", "AU27")


def frontal_delta(mesh: np.ndarray, neutral: np.ndarray) -> np.ndarray:
    """(468 * 2,) `mesh` similarity-fitted onto `neutral` on the rigid points, minus it, in
    x and y (the mesh's depth of a drawing is a guess of the model, not seen)."""
    a, b = normalise_reference(mesh)[:N_MESH], normalise_reference(neutral)[:N_MESH]
    m = fit_similarity(a[list(STABLE)], b[list(STABLE)])
    return ((a @ m[:, :3].T + m[:, 3]) - b)[:, :2].reshape(-1)


def _mesh(image: np.ndarray) -> np.ndarray | None:
    faces = find_rig_faces(image, max_faces=1)
    return faces[0].mesh if faces else None


def standin_directions(people: int, seed: int) -> tuple[dict, dict]:
    """({AU: (n, 98)} drawn 49-landmark displacements (exact, eye-corner widths), {AU: (n, 936)}
    the face mesh's) on drawn stand-ins."""
    drawn: dict[str, list] = {a: [] for a in AUS}
    seen: dict[str, list] = {a: [] for a in AUS}
    for style in standin_humans(people, seed):
        image, rest = render_face(style, neutral_rig(), 256)
        neutral, eye = _mesh(image), float(np.linalg.norm(rest[19] - rest[28]))
        for a in AUS:
            rig = neutral_rig()
            rig[a] = 1.0
            image, points = render_face(style, rig, 256)
            drawn[a].append(((points - rest) / eye).reshape(-1))
            mesh = _mesh(image)
            if mesh is not None and neutral is not None:
                seen[a].append(frontal_delta(mesh, neutral))
    return {a: np.array(v) for a, v in drawn.items()}, {a: np.array(v) for a, v in seen.items() if v}


def render_directions(identities: int, seed: int, base: str = "photo") -> tuple[dict, dict]:
    """({AU: (n, 1404)} true vertex displacements, {AU: (n, 1404)} pipeline mesh ones) on renders
    (`base`: the identities' neutral, `render_truth.BASES`)."""
    from deepexpr.animation.render_truth import RENDERED_AUS, _look, base_vertices, deform, render
    from deepexpr.data.synthetic_sequences import make_subject
    from deepexpr.landmarks83 import MEDIAPIPE_INDICES

    verts = base_vertices(base)
    true: dict[str, list] = {a: [] for a in RENDERED_AUS}
    seen: dict[str, list] = {a: [] for a in RENDERED_AUS}
    for i in range(identities):
        rng = np.random.default_rng([seed, i, 7])
        subject, look = make_subject(rng, verts[MEDIAPIPE_INDICES]), _look(rng)
        rest = deform({}, subject, base)
        eye = float(np.linalg.norm(rest[33] - rest[263]))
        neutral = _mesh(render(rest, (0.0, 0.0, 0.0), 256, look))
        for a in RENDERED_AUS:
            moved = deform({a: 1.0}, subject, base)
            true[a].append(((moved - rest) / eye)[:, :2].reshape(-1))
            mesh = _mesh(render(moved, (0.0, 0.0, 0.0), 256, look))
            if neutral is not None and mesh is not None:
                seen[a].append(frontal_delta(mesh, neutral))
    return ({a: np.array(v) for a, v in true.items()}, {a: np.array(v) for a, v in seen.items() if len(v)})


def cosine_table(dirs: dict[str, np.ndarray], title: str) -> str:
    """Markdown: per focus AU, its largest mean point shift and its most similar other AUs."""
    mean = {a: v.mean(0) for a, v in dirs.items()}
    unit = {a: m / max(np.linalg.norm(m), 1e-12) for a, m in mean.items()}
    lines = [f"**{title}**", "", "| AU | max shift (eye widths) | nearest AUs by abs(cosine) |", "|---|---|---|"]
    for a in [f for f in FOCUS if f in unit]:
        cos = sorted(((float(unit[a] @ unit[b]), b) for b in unit if b != a), key=lambda t: -abs(t[0]))
        shift = float(np.linalg.norm(mean[a].reshape(-1, 2), axis=1).max())
        near = ", ".join(f"{b} {c:+.2f}" for c, b in cos[:3])
        lines.append(f"| {a} | {shift:.3f} | {near} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=6, help="stand-in people (seed --seed)")
    ap.add_argument("--renders", type=int, default=4, help="rendered identities (seed --seed)")
    ap.add_argument("--seed", type=int, default=250, help="people seed (not a training or held-out seed)")
    ap.add_argument("--render-base", default="photo", choices=("photo", "neutral"),
                    help="the renders' neutral face (render_truth.BASES)")
    args = ap.parse_args(argv)
    if args.people > 0:
        drawn, seen = standin_directions(args.people, args.seed)
        print(cosine_table(drawn, "stand-ins: the drawing's 49 landmarks (exact)"))
        print(cosine_table(seen, "stand-ins, as the face mesh reads them"))
    if args.renders <= 0:
        return
    true, seen = render_directions(args.renders, args.seed, args.render_base)
    print(cosine_table(true, "renders: the AU model's vertices (true)"))
    print(cosine_table(seen, "renders, as the face mesh reads them"))


if __name__ == "__main__":
    main()
