"""Mesh IO round trips (OBJ, PLY, GLB morph targets) and bad mesh/landmark input."""

import json
import struct

import numpy as np
import pytest
import trimesh

from deepexpr.animation.animate import load_landmarks, load_mesh, write_glb, write_obj_sequence
from deepexpr.errors import InputError


@pytest.fixture
def box():
    m = trimesh.creation.icosphere(subdivisions=1)
    return np.asarray(m.vertices), np.asarray(m.faces)


@pytest.mark.parametrize("suffix", [".obj", ".ply", ".glb"])
def test_round_trip(tmp_path, box, suffix):
    v, f = box
    path = tmp_path / f"m{suffix}"
    trimesh.Trimesh(v, f, process=False).export(path)
    v2, f2 = load_mesh(path)
    assert f2.shape == f.shape
    np.testing.assert_allclose(np.sort(v2, axis=0), np.sort(v, axis=0), atol=1e-5)


def test_obj_sequence_and_glb(tmp_path, box):
    v, f = box
    frames = np.stack([v, v * 1.1, v * 1.2])
    paths = write_obj_sequence(frames, f, tmp_path, show_progress=False)
    v2, _ = load_mesh(paths[2])
    np.testing.assert_allclose(v2, frames[2], atol=1e-5)
    glb = write_glb(frames, f, tmp_path / "a.glb")
    data = glb.read_bytes()
    magic, version, total = struct.unpack("<4sII", data[:12])
    assert magic == b"glTF" and version == 2 and total == len(data)
    n = struct.unpack("<I", data[12:16])[0]
    gltf = json.loads(data[20:20 + n])
    assert len(gltf["meshes"][0]["primitives"][0]["targets"]) == 2
    assert gltf["animations"][0]["channels"][0]["target"]["path"] == "weights"
    scene = trimesh.load(glb)
    assert len(scene.geometry) == 1


def _accessor(gltf: dict, binary: bytes, index: int) -> np.ndarray:
    """Decode one float32/uint32 accessor of a GLB's binary chunk."""
    acc = gltf["accessors"][index]
    view = gltf["bufferViews"][acc["bufferView"]]
    dtype = {5126: np.float32, 5125: np.uint32}[acc["componentType"]]
    width = {"SCALAR": 1, "VEC3": 3}[acc["type"]]
    raw = binary[view["byteOffset"]:view["byteOffset"] + view["byteLength"]]
    return np.frombuffer(raw, dtype).reshape(acc["count"], width)


def test_glb_morph_targets_decode_to_the_frames(tmp_path, box):
    v, f = box
    rng = np.random.default_rng(0)
    frames = v[None] + 0.05 * rng.normal(size=(4, len(v), 3))
    data = write_glb(frames, f, tmp_path / "m.glb", fps=10.0).read_bytes()
    n = struct.unpack("<I", data[12:16])[0]
    gltf, binary = json.loads(data[20:20 + n]), data[20 + n + 8:]
    prim = gltf["meshes"][0]["primitives"][0]
    np.testing.assert_allclose(_accessor(gltf, binary, prim["attributes"]["POSITION"]), frames[0], atol=1e-6)
    np.testing.assert_array_equal(_accessor(gltf, binary, prim["indices"]).reshape(-1, 3), f)
    for k, target in enumerate(prim["targets"], start=1):
        delta = _accessor(gltf, binary, target["POSITION"])
        np.testing.assert_allclose(frames[0] + delta, frames[k], atol=1e-5)
    sampler = gltf["animations"][0]["samplers"][0]
    np.testing.assert_allclose(_accessor(gltf, binary, sampler["input"]).ravel(), np.arange(4) / 10.0)
    weights = _accessor(gltf, binary, sampler["output"]).reshape(4, 3)  # keyframe x target
    np.testing.assert_array_equal(weights, np.eye(4, 3, k=-1))  # keyframe k shows frame k only


def test_bad_mesh_and_landmarks(tmp_path, box):
    v, _ = box
    pc = tmp_path / "points.ply"
    trimesh.PointCloud(v).export(pc)
    with pytest.raises(InputError, match="no faces"):
        load_mesh(pc)
    with pytest.raises(InputError, match="not found"):
        load_mesh(tmp_path / "nope.obj")
    lm = tmp_path / "lm.txt"
    lm.write_text("\n".join(str(i) for i in range(82)))
    with pytest.raises(InputError, match="82 landmarks"):
        load_landmarks(lm, v)
    lm.write_text("\n".join(str(i % 40) for i in range(83)))
    assert load_landmarks(lm, v).shape == (83, 3)
    lm.write_text("1 2 nan\n" * 83)
    with pytest.raises(InputError, match="finite"):
        load_landmarks(lm, v)
