"""Animate any face mesh with a generated expression: LSTM landmarks -> RBF warp -> files.

    >>> from deepexpr.animation.animate import AnimateConfig, animate
    >>> animate(AnimateConfig(expression="surprise", fmt="mp4", out="out/surprise"))

Conventions for a user mesh (`--mesh`): y up, z towards the viewer, any unit; its 83
landmarks (`--landmarks`) follow `landmarks83`'s order. The landmarks are scaled into the
model's frame by the outer-eye-corner distance, the generated displacements scaled back.
Output: OBJ sequence (frame_0000.obj ...), GLB (one mesh, one morph target per frame and an
animation of the morph weights, which Blender imports as shape keys with keyframes), or an
offscreen shaded preview (mp4/gif) plus a strip PNG of six frames.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepexpr.errors import InputError, check_settings, setting

EYE_ROWS = (0, 8)  # rows of the outer eye corners in the 83-point order (mediapipe 33, 263)


@dataclass
class AnimateConfig:
    expression: str = setting("surprise", "anger, disgust, fear, joy, sadness, surprise")
    mesh: str | None = setting(None, "OBJ/PLY/GLB mesh (default: the project's face, ~10k vertices)")
    landmarks: str | None = setting(None, "83 landmarks of --mesh: .txt/.bnd with 83 vertex indices "
                                    "or 83 'x y z' lines, or .npy")
    frames: int | None = setting(None, "frames to write (default: the generated length, 135)",
                                 min=1, max=10000)
    weights: str | None = setting(None, "a seq_<expr>.safetensors, a bundled name or a "
                                  "`train sequences` --out folder (default: bundled)")
    out: str = setting("animate", "output folder")
    fmt: str = setting("mp4", "output format", choices=("obj", "glb", "mp4", "gif"), flag="--format")
    falloff: bool = setting(True, "plain RBF (no boundary falloff, see rbf.py)", flag="--no-falloff")
    condition: str = setting("face", "neutral shown to the LSTM: the mesh's own landmarks or the "
                             "training mean shape", choices=("face", "mean"))
    size: int = setting(320, "preview video size in pixels (multiple of 16)", min=16, max=4096)
    fps: float = setting(25.0, "frames per second (BU-4DFE: 25)", above=0, max=240)
    show_progress: bool = True  # tqdm bars

    def __post_init__(self):
        check_settings(self)


def load_mesh(path: str | Path):
    """Read an OBJ/PLY/GLB/... with trimesh -> (vertices (V, 3), faces (F, 3))."""
    import trimesh

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: mesh file not found")
    try:
        mesh = trimesh.load(path, force="mesh", process=False)
    except Exception as err:  # trimesh raises many types for unreadable files
        raise InputError(f"{path}: not a readable mesh ({err})") from err
    faces = np.asarray(getattr(mesh, "faces", np.zeros((0, 3))))
    if len(faces) == 0:
        raise InputError(f"{path}: mesh has no faces; pass a triangle mesh")
    verts = np.asarray(mesh.vertices, dtype=np.float64)
    if not np.isfinite(verts).all():
        raise InputError(f"{path}: mesh has NaN or infinite vertex coordinates")
    return verts, faces.astype(np.int64)


def load_landmarks(path: str | Path, vertices: np.ndarray) -> np.ndarray:
    """83 landmarks from .npy / text: vertex indices (83,) or coordinates (83, 3)."""
    from deepexpr.landmarks83 import N_LANDMARKS

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: landmark file not found")
    try:
        arr = np.load(path) if path.suffix == ".npy" else np.loadtxt(path, delimiter=None, ndmin=2)
    except ValueError as err:
        raise InputError(f"{path}: not numbers ({err})") from err
    arr = np.asarray(arr)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if len(arr) != N_LANDMARKS:
        raise InputError(f"{path}: has {len(arr)} landmarks, expected {N_LANDMARKS}")
    if arr.ndim == 1:
        idx = arr.astype(np.int64)
        if (idx != arr).any() or idx.min() < 0 or idx.max() >= len(vertices):
            raise InputError(f"{path}: vertex indices must be integers in 0..{len(vertices) - 1}")
        return vertices[idx]
    if arr.shape[1] != 3 or not np.isfinite(arr).all():
        raise InputError(f"{path}: expected 83 indices or 83 finite 'x y z' rows")
    return arr.astype(np.float64)


def default_mesh():
    """(vertices, faces, landmarks) of the project's dense face (mm)."""
    from deepexpr.faces.facemesh import dense_mesh
    from deepexpr.landmarks83 import MEDIAPIPE_INDICES

    m = dense_mesh()
    return m.vertices, m.faces, m.vertices[MEDIAPIPE_INDICES]


def generate_landmarks(model, neutral: np.ndarray, steps: int = 135,
                       condition: str = "face") -> np.ndarray:
    """(steps, 83, 3) landmark positions generated from `neutral` (83, 3), in its units.

    Args:
        condition: what the network is shown as the neutral face. "face": `neutral` itself
            (scaled to the model's eye distance), the paper's set-up: the sequence adapts to
            the face (e.g. a larger face moves more). "mean": the training mean shape, one
            sequence for every face; on held-out faces this is worse than "face" (RESULTS).
            Either way the generated displacements are added to `neutral`.
    """
    import torch

    from deepexpr.data.sequences import from_block

    mean = model.shape_mean.double().numpy().reshape(-1, 3)
    ref = np.linalg.norm(mean[EYE_ROWS[0]] - mean[EYE_ROWS[1]])
    scale = np.linalg.norm(neutral[EYE_ROWS[0]] - neutral[EYE_ROWS[1]]) / ref
    if not np.isfinite(scale) or scale <= 0:
        raise InputError("landmarks: outer eye corners coincide; check the landmark order")
    if condition not in ("mean", "face"):
        raise InputError(f"condition: {condition!r} is not 'mean' or 'face'")
    shown = mean if condition == "mean" else neutral / scale
    n = torch.from_numpy(shown.astype(np.float32))[None]
    block = model.generate(n, steps=steps)[0].double().numpy() * scale
    return from_block(block, neutral)


def animate(config: AnimateConfig) -> list[Path]:
    """Generate, warp and write; returns the written paths."""
    from deepexpr.animation.rbf import RBFWarp
    from deepexpr.landmarks83 import STABLE_ROWS
    from deepexpr.models.seqlstm import load_generator

    if config.fmt not in ("obj", "glb", "mp4", "gif"):
        raise InputError(f"--format: {config.fmt!r} is not one of obj, glb, mp4, gif")
    if config.frames is not None and config.frames < 2:
        raise InputError("--frames: must be at least 2")
    if config.mesh:
        verts, faces = load_mesh(config.mesh)
        if not config.landmarks:
            raise InputError("--mesh needs --landmarks (83 vertex indices or coordinates)")
        rest = load_landmarks(config.landmarks, verts)
    else:
        verts, faces, rest = default_mesh()
        if config.landmarks:
            rest = load_landmarks(config.landmarks, verts)
    model, cfg = load_generator(config.expression, config.weights)
    landmarks = generate_landmarks(model, rest, config.frames or 135, config.condition)
    warp = RBFWarp(falloff=config.falloff, rigid_landmarks=STABLE_ROWS).fit(verts, rest)
    frames = warp.warp_sequence(landmarks)  # all frames in a few products (milliseconds)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    name = cfg.get("expression", config.expression)
    if config.fmt == "obj":
        return write_obj_sequence(frames, faces, out, config.show_progress)
    if config.fmt == "glb":
        return [write_glb(frames, faces, out / f"{name}.glb", config.fps)]
    return write_preview(frames, faces, out, name, config)


def write_obj_sequence(frames, faces, out: Path, show_progress: bool = True) -> list[Path]:
    """frame_0000.obj ... one OBJ per frame (trimesh export, written atomically)."""
    import trimesh

    from deepexpr.io import write_text
    from deepexpr.progress import progress

    paths = []
    for t, v in enumerate(progress(frames, total=len(frames), desc="obj",
                                   disable=None if show_progress else True)):
        path = out / f"frame_{t:04d}.obj"
        write_text(path, trimesh.exchange.obj.export_obj(
            trimesh.Trimesh(v, faces, process=False), include_normals=False))
        paths.append(path)
    return paths


# glTF constants: buffer-view targets and accessor component types
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963
FLOAT, UNSIGNED_INT = 5126, 5125


class _GlbBuffer:
    """The binary chunk of a GLB file, filled one accessor at a time (4-byte aligned)."""

    def __init__(self):
        self.chunks, self.views, self.accessors = [], [], []

    def add(self, arr: np.ndarray, target: int | None, component: int, kind: str,
            minmax: bool = False) -> int:
        """Append `arr` (count = its first dimension) as a buffer view + accessor; its index."""
        offset = sum(len(c) for c in self.chunks)
        data = np.ascontiguousarray(arr).tobytes()
        self.chunks.append(data + b"\0" * (-len(data) % 4))
        view = {"buffer": 0, "byteOffset": offset, "byteLength": len(data)}
        if target:
            view["target"] = target
        self.views.append(view)
        acc = {"bufferView": len(self.views) - 1, "componentType": component,
               "count": int(arr.shape[0]), "type": kind}
        if minmax:
            flat = arr.reshape(arr.shape[0], -1)
            acc["min"], acc["max"] = flat.min(0).tolist(), flat.max(0).tolist()
        self.accessors.append(acc)
        return len(self.accessors) - 1

    def binary(self) -> bytes:
        return b"".join(self.chunks)


def write_glb(frames: np.ndarray, faces: np.ndarray, path: Path, fps: float = 25.0) -> Path:
    """One mesh (frame 0) with a morph target per later frame and a weights animation.

    Keyframe k (at time k / fps) shows morph target k - 1 at weight 1 and every other at 0,
    so a viewer plays the frames back; Blender imports the targets as shape keys.

    Args:
        frames: (T, V, 3) vertex positions.
        faces: (F, 3) triangles.
        path: the .glb file to write (atomically).
        fps: frames per second of the animation.
    """
    deltas = (frames[1:] - frames[0]).astype(np.float32)
    t = len(deltas)
    buf = _GlbBuffer()
    pos = buf.add(frames[0].astype(np.float32), ARRAY_BUFFER, FLOAT, "VEC3", True)
    idx = buf.add(faces.astype(np.uint32).reshape(-1), ELEMENT_ARRAY_BUFFER, UNSIGNED_INT, "SCALAR")
    targets = [{"POSITION": buf.add(d, ARRAY_BUFFER, FLOAT, "VEC3", True)} for d in deltas]
    weights = np.zeros((t + 1, t), dtype=np.float32)
    weights[np.arange(1, t + 1), np.arange(t)] = 1.0  # keyframe k shows target k-1 only
    t_in = buf.add((np.arange(t + 1) / fps).astype(np.float32), None, FLOAT, "SCALAR", True)
    w_out = buf.add(weights.reshape(-1), None, FLOAT, "SCALAR")
    mesh = {"primitives": [{"attributes": {"POSITION": pos}, "indices": idx, "targets": targets}],
            "weights": [0.0] * t, "extras": {"targetNames": [f"frame_{k + 1:04d}" for k in range(t)]}}
    animation = {"name": "expression",
                 "samplers": [{"input": t_in, "output": w_out, "interpolation": "LINEAR"}],
                 "channels": [{"sampler": 0, "target": {"node": 0, "path": "weights"}}]}
    return _write_glb_file(path, mesh, animation, buf)


def _write_glb_file(path: Path, mesh: dict, animation: dict, buf: _GlbBuffer) -> Path:
    """The glTF JSON chunk (one node, one mesh, one animation) and the binary chunk, atomically."""
    from deepexpr.io import atomic_path

    binary = buf.binary()
    gltf = {
        "asset": {"version": "2.0", "generator": "deepexpr (synthetic-trained sequence LSTM)"},
        "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0, "name": "face"}],
        "meshes": [mesh], "animations": [animation], "buffers": [{"byteLength": len(binary)}],
        "bufferViews": buf.views, "accessors": buf.accessors,
    }
    js = json.dumps(gltf, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 4)
    total = 12 + 8 + len(js) + 8 + len(binary)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(struct.pack("<4sII", b"glTF", 2, total))
            fh.write(struct.pack("<I4s", len(js), b"JSON") + js)
            fh.write(struct.pack("<I4s", len(binary), b"BIN\0") + binary)
    return path


def write_preview(frames, faces, out: Path, name: str, config: AnimateConfig) -> list[Path]:
    """Shaded offscreen video (mp4/gif) and a six-frame strip PNG."""
    from deepexpr.animation.preview import PreviewConfig, render_sequence, strip, write_video
    from deepexpr.io import save_image

    images = render_sequence(frames, faces, PreviewConfig(size=config.size),
                             show_progress=config.show_progress)
    video = out / f"{name}.{config.fmt}"
    write_video(images, video, fps=config.fps)
    strip_path = out / f"{name}_strip.png"
    save_image(strip_path, strip(images, 6))
    return [video, strip_path]
