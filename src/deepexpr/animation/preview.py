"""Offscreen shaded previews of mesh sequences: a small NumPy z-buffer rasteriser.

No OpenGL or display is needed. Projection is orthographic (the face is small and seen
from ~0.5 m, so perspective adds little), Gouraud shading with one key light plus ambient.
Fragments are generated per triangle bounding box, vectorised over triangles of similar
size, and resolved with a depth sort (nearest written last).

    >>> from deepexpr.animation.preview import PreviewCamera, render_mesh
    >>> cam = PreviewCamera.fit(vertices)                       # framing fixed for a sequence
    >>> image = render_mesh(vertices, faces, cam)               # (H, W, 3) uint8
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deepexpr.errors import InputError


@dataclass
class PreviewConfig:
    size: int = 320  # output width and height in pixels
    yaw_deg: float = 20.0  # turn of the view around the vertical axis (shows depth)
    pitch_deg: float = 5.0  # view from slightly above
    skin: tuple = (0.86, 0.68, 0.58)  # base colour (RGB 0..1)
    background: tuple = (22, 24, 30)  # RGB uint8 background (also seen through eye/mouth holes)
    ambient: float = 0.25  # light that reaches every face regardless of orientation
    margin: float = 0.08  # empty border around the rest-pose face, fraction of the size


@dataclass
class PreviewCamera:
    """View rotation plus the 2D scale/offset mapping rotated mm to pixels."""

    rotation: np.ndarray  # (3, 3) applied to vertices before projection
    scale: float  # pixels per mm
    offset: np.ndarray  # (2,) pixel position of the rotated origin
    config: PreviewConfig

    @classmethod
    def fit(cls, vertices: np.ndarray, config: PreviewConfig | None = None) -> PreviewCamera:
        """Frame `vertices` (usually the rest pose) with a margin; reuse it for every frame."""
        config = config or PreviewConfig()
        rot = _rotation(config.yaw_deg, config.pitch_deg)
        p = vertices @ rot.T
        lo, hi = p[:, :2].min(axis=0), p[:, :2].max(axis=0)
        usable = config.size * (1 - 2 * config.margin)
        scale = usable / max(hi - lo)
        centre = 0.5 * (lo + hi)
        offset = np.array([config.size / 2, config.size / 2]) - centre * scale
        return cls(rot, float(scale), offset, config)


def _rotation(yaw_deg: float, pitch_deg: float) -> np.ndarray:
    y, p = np.radians(yaw_deg), np.radians(pitch_deg)
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    return rx @ ry


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals (V, 3)."""
    tri = vertices[faces]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    vn = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(vn, faces[:, k], fn)
    return vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)


def render_mesh(vertices: np.ndarray, faces: np.ndarray, camera: PreviewCamera) -> np.ndarray:
    """Render one shaded frame.

    Args:
        vertices: (V, 3) positions (mm).
        faces: (F, 3) triangles.
        camera: framing from `PreviewCamera.fit`.

    Returns:
        (size, size, 3) uint8 RGB image.
    """
    if len(faces) == 0:
        raise InputError("mesh: has no faces; a preview needs triangles")
    cfg = camera.config
    p = vertices @ camera.rotation.T
    xy = p[:, :2] * camera.scale + camera.offset
    xy[:, 1] = cfg.size - xy[:, 1]  # image rows grow downwards
    depth = p[:, 2]
    light = np.array([0.35, 0.45, 0.82])
    light /= np.linalg.norm(light)
    n = vertex_normals(vertices, faces) @ camera.rotation.T
    shade = cfg.ambient + (1 - cfg.ambient) * np.clip(np.abs(n @ light), 0, 1)
    pix, z, s = _fragments(xy, depth, shade, faces, cfg.size)
    image = np.empty((cfg.size * cfg.size, 3), dtype=np.uint8)
    image[:] = cfg.background
    order = np.argsort(z, kind="stable")  # far first, nearest last: last write wins
    colour = np.clip(np.outer(s, cfg.skin) * 255, 0, 255).astype(np.uint8)
    image[pix[order]] = colour[order]
    return image.reshape(cfg.size, cfg.size, 3)


def _fragments(xy, depth, shade, faces, size):
    """Covered pixels of every triangle: flat pixel index, depth, interpolated shade."""
    tri = xy[faces]  # (F, 3, 2)
    lo = np.floor(tri.min(axis=1)).astype(int)
    hi = np.ceil(tri.max(axis=1)).astype(int)
    extent = (hi - lo).max(axis=1) + 1
    out_pix, out_z, out_s = [], [], []
    k = 2
    remaining = np.ones(len(faces), dtype=bool)
    while remaining.any():  # buckets of triangles whose box fits in k x k pixels
        sel = remaining & (extent <= k)
        remaining &= ~sel
        idx = np.nonzero(sel)[0]
        if len(idx):
            for chunk in np.array_split(idx, max(1, len(idx) * k * k // 400_000 + 1)):
                _raster_bucket(chunk, k, tri, lo, depth, shade, faces, size,
                               out_pix, out_z, out_s)
        k *= 2
    if not out_pix:
        return np.zeros(0, int), np.zeros(0), np.zeros(0)
    return np.concatenate(out_pix), np.concatenate(out_z), np.concatenate(out_s)


def _raster_bucket(idx, k, tri, lo, depth, shade, faces, size, out_pix, out_z, out_s):
    oy, ox = np.mgrid[0:k, 0:k]
    px = lo[idx, 0:1] + ox.ravel()[None] + 0.5  # pixel centres (n, k*k)
    py = lo[idx, 1:2] + oy.ravel()[None] + 0.5
    a, b, c = tri[idx, 0], tri[idx, 1], tri[idx, 2]
    det = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1])
    ok = np.abs(det) > 1e-12
    det = np.where(ok, det, 1.0)[:, None]
    w1 = ((px - a[:, 0:1]) * (c[:, 1:2] - a[:, 1:2]) - (c[:, 0:1] - a[:, 0:1]) * (py - a[:, 1:2])) / det
    w2 = ((b[:, 0:1] - a[:, 0:1]) * (py - a[:, 1:2]) - (px - a[:, 0:1]) * (b[:, 1:2] - a[:, 1:2])) / det
    w0 = 1 - w1 - w2
    eps = -1e-6
    inside = (w0 >= eps) & (w1 >= eps) & (w2 >= eps) & ok[:, None]
    inside &= (px >= 0) & (px < size) & (py >= 0) & (py < size)
    f = faces[idx]
    z = w0 * depth[f[:, 0:1]] + w1 * depth[f[:, 1:2]] + w2 * depth[f[:, 2:3]]
    s = w0 * shade[f[:, 0:1]] + w1 * shade[f[:, 1:2]] + w2 * shade[f[:, 2:3]]
    pix = py.astype(int) * size + px.astype(int)
    out_pix.append(pix[inside])
    out_z.append(z[inside])
    out_s.append(s[inside])


def render_sequence(frames: np.ndarray, faces: np.ndarray, config: PreviewConfig | None = None,
                    show_progress: bool = True) -> list[np.ndarray]:
    """Render (T, V, 3) vertex frames with one camera fitted to frame 0."""
    from deepexpr.progress import progress

    camera = PreviewCamera.fit(frames[0], config)
    it = progress(frames, total=len(frames), desc="render", disable=None if show_progress else True)
    return [render_mesh(v, faces, camera) for v in it]


def write_video(images: list[np.ndarray], path, fps: float = 25.0) -> None:
    """Write frames to .mp4 (H.264 via imageio-ffmpeg) or .gif, atomically."""
    from pathlib import Path

    import imageio.v2 as imageio

    from deepexpr.io import atomic_path

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".mp4", ".gif"):
        raise InputError(f"{path}: unsupported video format; use .mp4 or .gif")
    with atomic_path(path) as tmp:
        if suffix == ".mp4":
            with imageio.get_writer(tmp, format="FFMPEG", fps=fps, codec="libx264",
                                    quality=7, macro_block_size=16,
                                    ffmpeg_log_level="error") as writer:
                for im in images:
                    writer.append_data(im)
        else:
            imageio.mimsave(tmp, images, format="GIF", duration=1000.0 / fps, loop=0)


def strip(images: list[np.ndarray], count: int = 6) -> np.ndarray:
    """A horizontal strip of `count` frames evenly spread over the sequence."""
    pick = np.linspace(0, len(images) - 1, count).round().astype(int)
    return np.concatenate([images[i] for i in pick], axis=1)
