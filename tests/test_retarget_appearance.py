"""Patch appearance for the rig map (`deepexpr.faces.appearance`, session 8): HOG and shading
of mesh-placed patches, their replay on cached ground truth, a map that reads them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deepexpr.errors import InputError
from rig_fakes import mesh_set


def test_hog_of_vertical_stripes_points_across_them():
    from deepexpr.faces.appearance import BINS, CELLS, PATCH, _hog

    x = np.arange(PATCH, dtype=np.float32)
    stripes = np.broadcast_to(0.5 + 0.4 * np.sin(x * 0.9)[None, :], (PATCH, PATCH))[None]
    h = _hog(np.ascontiguousarray(stripes))[0].reshape(CELLS * CELLS, BINS)
    # gradients along x only: orientation 0, split between the first and last bin
    across = h[:, [0, BINS - 1]].sum()
    assert across > 0.95 * h.sum()
    flat = _hog(np.full((1, PATCH, PATCH), 0.5, np.float32))[0]
    assert np.allclose(flat, 0.0)  # no gradient, no histogram


def _face_and_crop(seed: int = 3):
    """A drawn stand-in face and its pipeline crop (the face pipeline runs once)."""
    from deepexpr.data.rig_truth import TruthConfig, truth_items
    from deepexpr.faces.rigface import find_rig_faces

    item = next(iter(truth_items(TruthConfig(identities=1, per_identity=1, seed=seed))))
    return item.image, find_rig_faces(item.image, max_faces=1)[0]


def test_features_are_finite_lighting_invariant_and_made_like_the_pipeline():
    from deepexpr.faces.appearance import (
        N_APPEARANCE,
        appearance_features,
        appearance_of_face,
        appearance_of_photo,
    )

    image, face = _face_and_crop()
    a = appearance_of_face(face)
    assert a.shape == (N_APPEARANCE,) and np.isfinite(a).all()
    # the crop made from the mesh alone (training replay) is the pipeline's crop
    assert np.array_equal(appearance_of_photo(image, face.mesh), a)
    darker = (face.face.aligned.astype(np.float32) * 0.7).astype(np.uint8)
    b = appearance_features(darker, face.face.affine, face.mesh)
    assert np.abs(b - a).mean() < 0.15 * np.abs(a).mean()
    # another place on the face is another reading
    moved = face.mesh.copy()
    moved[:, 1] += 20
    assert np.abs(appearance_features(face.face.aligned, face.face.affine, moved) - a).mean() > 0.5 * np.abs(a).mean()
    assert appearance_of_face(face.mesh) is None  # a bare mesh has no crop


def test_replayed_appearance_matches_the_live_face_of_each_row(tmp_path):
    from deepexpr.data.rig_truth import TruthConfig, collect_meshes, truth_items, with_appearance
    from deepexpr.faces.appearance import appearance_of_face
    from deepexpr.faces.rigface import find_rig_faces

    cfg = TruthConfig(identities=1, per_identity=2, seed=4)
    ms = collect_meshes(cfg, cache_dir=tmp_path, quiet=True)
    got = with_appearance(ms, cfg, tmp_path, quiet=True)
    assert got.appearance.shape[0] == len(ms.meshes) and got.meshes is ms.meshes
    live = [appearance_of_face(f[0]) for f in (find_rig_faces(i.image, max_faces=1) for i in truth_items(cfg)) if f]
    assert np.allclose(got.appearance, np.stack(live), atol=1e-6)
    again = with_appearance(ms, cfg, tmp_path, quiet=True)  # from the cache
    assert np.array_equal(again.appearance, got.appearance)
    stale = type(ms)(ms.meshes, ms.rigs + 0.5, ms.identity, ms.expression, ms.calibration, ms.found)
    with pytest.raises(RuntimeError, match="matched"):
        with_appearance(stale, cfg, None, quiet=True)


def _with_fake_appearance(ms, seed: int = 0):
    """The fake set with patch features carrying AU23 (which its meshes also carry) plus a
    fixed per-person offset (its neutral's skin)."""
    from deepexpr.characters import RIG_CONTROLS
    from deepexpr.faces.appearance import N_APPEARANCE

    rng = np.random.default_rng(seed)
    people = {p: rng.normal(0, 1, N_APPEARANCE) for p in np.unique(ms.identity)}
    direction = rng.normal(0, 1, N_APPEARANCE)
    k = RIG_CONTROLS.index("AU23")
    app = np.stack([people[p] + r[k] * direction for p, r in zip(ms.identity, ms.rigs)]).astype(np.float32)
    return type(ms)(ms.meshes, ms.rigs, ms.identity, ms.expression, ms.calibration, ms.found, app)


def test_an_appearance_rig_map_round_trips_and_uses_the_neutral_skin(tmp_path):
    from deepexpr.faces.appearance import APPEARANCE_VERSION, N_APPEARANCE
    from deepexpr.models.rigmap import (
        BASE_INPUTS,
        FROM_POSE_MAP,
        NeutralFace,
        load_rigmap,
        save_rigmap,
    )
    from deepexpr.retarget import calibrate, estimate_rig
    from deepexpr.train.rigmap import RigMapTrainConfig, fit_rigmap

    ms = _with_fake_appearance(mesh_set())
    with pytest.raises(InputError, match="with_appearance"):
        fit_rigmap(mesh_set(), RigMapTrainConfig(hidden=8, epochs=1, appearance=True))
    model = fit_rigmap(ms, RigMapTrainConfig(hidden=8, epochs=2, batch_size=8, appearance=True))
    assert model.with_appearance and not model.with_geometry
    assert model.in_mean_.shape == (BASE_INPUTS + N_APPEARANCE,)
    path = save_rigmap(model, tmp_path / "rm.safetensors")
    assert json.loads(path.with_suffix(".json").read_text())["appearance_version"] == APPEARANCE_VERSION
    again = load_rigmap(path)
    feats, row = model.features(ms.meshes[1]), ms.appearance[1]
    assert again.predict(feats, None, row) == pytest.approx(model.predict(feats, None, row))
    # the head angles and gaze_x come from the mesh-only map: patches never move them
    assert again.pose_map_ is not None and not again.pose_map_.with_appearance
    assert feats.gaze is not None and set(FROM_POSE_MAP) >= {"head_yaw", "head_pitch", "head_roll", "gaze_x"}
    pose = again.pose_map_.predict(feats)
    other = again.predict(feats, None, row + 1.0)
    assert all(other[c] == pytest.approx(pose[c]) for c in FROM_POSE_MAP)
    assert any(other[c] != pytest.approx(again.predict(feats, None, row)[c]) for c in ("AU23", "AU1"))
    # the calibration carries its neutral's skin, also through slicing
    neutral = calibrate(ms.meshes[0], model, ms.appearance[0])
    assert isinstance(neutral, NeutralFace) and np.array_equal(neutral[:10].appearance, ms.appearance[0])
    own = estimate_rig(ms.meshes[1], neutral, model, row).values
    as_neutral = estimate_rig(ms.meshes[1], neutral, model, ms.appearance[0]).values
    assert own != as_neutral  # the patches are read, relative to the person's neutral
    bare = estimate_rig(ms.meshes[1], None, model)
    assert "no appearance" in bare.flags and all(np.isfinite(list(bare.values.values())))
    cfg = json.loads(path.with_suffix(".json").read_text())
    path.with_suffix(".json").write_text(json.dumps({**cfg, "appearance_version": APPEARANCE_VERSION + 1}))
    with pytest.raises(InputError, match="retrain"):
        load_rigmap(path)
