"""Rig map inputs and training options added in session 5: the mouth/eye/brow distances
(`models.rigmap.geometry`), per-AU loss weights, agreement read by several human models."""

from __future__ import annotations

import numpy as np
import pytest

from deepexpr.characters import RIG_CONTROLS
from deepexpr.errors import InputError
from rig_fakes import mesh_set  # meshes = a person's base + a linear move per control


def test_geometry_matches_a_brute_force_reading():
    from deepexpr.models.rigmap import MEASURES, N_GEOMETRY, geometry

    p = np.random.default_rng(1).normal(0, 1, (478, 3))
    got = geometry(p)
    assert got.shape == (N_GEOMETRY,)
    for k, (kind, a, b) in enumerate(MEASURES):
        want = {"dx": p[a, 0] - p[b, 0], "dy": p[a, 1] - p[b, 1], "dz": p[a, 2] - p[b, 2],
                "d": np.sqrt(((p[a] - p[b]) ** 2).sum())}[kind]
        assert got[k] == pytest.approx(want)
    # the lower inner lip moving down by 0.1 opens the mouth by 0.1 and thins the lower lip
    moved = p.copy()
    moved[14, 1] -= 0.1
    diff = geometry(moved) - got
    assert diff[MEASURES.index(("dy", 13, 14))] == pytest.approx(0.1)
    assert diff[MEASURES.index(("dy", 14, 17))] == pytest.approx(-0.1)


def test_mlp_input_geometry_is_relative_to_the_neutral():
    from deepexpr.models.rigmap import BASE_INPUTS, N_GEOMETRY, MeshFeatures, mlp_input

    frontal = np.random.default_rng(2).normal(0, 1, (478, 3)).astype(np.float32)
    feats = MeshFeatures(frontal, np.zeros(3, np.float32), None)
    plain = mlp_input(feats, frontal[:468], frontal[:468])
    full = mlp_input(feats, frontal[:468], frontal[:468], with_geometry=True)
    assert plain.shape == (BASE_INPUTS,) and full.shape == (BASE_INPUTS + N_GEOMETRY,)
    assert np.array_equal(full[:BASE_INPUTS], plain)
    assert np.allclose(full[BASE_INPUTS:], 0.0)  # the neutral itself: no change anywhere


def test_a_geometry_rig_map_round_trips(tmp_path):
    from deepexpr.models.rigmap import BASE_INPUTS, N_GEOMETRY, load_rigmap, save_rigmap
    from deepexpr.train.rigmap import RigMapTrainConfig, fit_rigmap

    ms = mesh_set()
    model = fit_rigmap(ms, RigMapTrainConfig(hidden=8, epochs=2, batch_size=8, geometry=True))
    assert model.with_geometry and model.in_mean_.shape == (BASE_INPUTS + N_GEOMETRY,)
    again = load_rigmap(save_rigmap(model, tmp_path / "rm.safetensors"))
    assert again.with_geometry
    feats = model.features(ms.meshes[1])
    assert again.predict(feats) == pytest.approx(model.predict(feats))
    assert not fit_rigmap(ms, RigMapTrainConfig(hidden=8, epochs=1, batch_size=8)).with_geometry


def test_au_weights_are_parsed_used_and_checked():
    from deepexpr.train.rigmap import RigMapTrainConfig, fit_rigmap

    weights = RigMapTrainConfig(au_weight="AU16=3, AU24=2").loss_weights()
    assert weights[RIG_CONTROLS.index("AU16")] == 3.0 and weights[RIG_CONTROLS.index("AU24")] == 2.0
    assert weights.sum() == len(RIG_CONTROLS) - 2 + 5.0
    assert RigMapTrainConfig().loss_weights() is None
    for bad in ("AU99=2", "AU16", "AU16=x"):
        with pytest.raises(InputError, match="au-weight"):
            RigMapTrainConfig(au_weight=bad)
    ms = mesh_set()
    cfg = dict(hidden=8, epochs=2, batch_size=8)
    plain = fit_rigmap(ms, RigMapTrainConfig(**cfg))
    ones = fit_rigmap(ms, RigMapTrainConfig(**cfg, au_weight="AU16=1"))
    heavy = fit_rigmap(ms, RigMapTrainConfig(**cfg, au_weight="AU16=10"))
    assert np.allclose(plain.layers_[0][0], ones.layers_[0][0], atol=1e-6)  # weight 1 = unweighted
    assert not np.allclose(plain.layers_[0][0], heavy.layers_[0][0])


class _FakeHuman:
    """A human model that wants detected faces and always reads joy."""

    domain, takes_faces, classifier_weight = "human", True, None

    def probs(self, items):
        assert all(hasattr(f, "aligned") for f in items), "takes_faces models get Face objects"
        p = np.zeros((len(items), 7))
        p[:, 3] = 1.0  # joy
        return p


class _FakeCrops(_FakeHuman):
    takes_faces = False

    def probs(self, items):
        assert all(isinstance(f, np.ndarray) for f in items), "other models get aligned crops"
        p = np.zeros((len(items), 7))
        p[:, 4] = 1.0  # neutral
        return p


def test_agreement_is_read_by_every_human_model():
    from deepexpr.data.rig_truth import TruthConfig, truth_items
    from deepexpr.expressions import EXPRESSIONS
    from deepexpr.recognition import register_recognizer
    from deepexpr.retarget import load_default_rigmap
    from deepexpr.retarget.report import RetargetEvalConfig, _agreement

    register_recognizer("s5_fake_faces", lambda **_: _FakeHuman())
    register_recognizer("s5_fake_crops", lambda **_: _FakeCrops())
    cfg = RetargetEvalConfig(human=("s5_fake_crops", "s5_fake_faces"), agreement_items=4, sheet_items=0,
                             quiet=True)
    items = list(truth_items(TruthConfig(identities=1, per_identity=10, seed=31)))
    labels = [i.expression for i in items if not i.is_calibration and i.expression != "random"]
    got, _ = _agreement(cfg, load_default_rigmap(), iter(items), calibrated=False)
    assert got["items"] == min(4, len(labels)) > 0
    used = labels[:got["items"]]
    faces = got["by_human_model"]["s5_fake_faces"]
    assert faces["human_model_vs_true_label"] == pytest.approx(np.mean([x == "joy" for x in used]), abs=1e-4)
    crops = got["by_human_model"]["s5_fake_crops"]
    assert crops["human_model_vs_true_label"] == pytest.approx(np.mean([x == "neutral" for x in used]), abs=1e-4)
    assert got["character_vs_human_model"] == crops["character_vs_human_model"]  # the first is the headline
    assert set(EXPRESSIONS) >= set(used)


def test_forward_is_the_same_for_one_frame_and_a_batch():
    """A few rows go through einsum (no BLAS threads), many through matmul: same numbers."""
    from deepexpr.models.rigmap import SMALL_BATCH
    from deepexpr.retarget import load_default_rigmap

    model = load_default_rigmap()
    x = np.random.default_rng(3).normal(0, 1, (SMALL_BATCH + 12, len(model.in_mean_))) * model.in_std_ + model.in_mean_
    many = model.forward(x)
    for k in (0, 5, SMALL_BATCH + 11):
        assert np.allclose(model.forward(x[k:k + 1])[0], many[k], rtol=1e-4, atol=1e-4)


def test_train_rigmap_cli_with_render_seeds_and_geometry(tmp_path, private_cache):
    import json

    from deepexpr.cli import main
    from deepexpr.models.rigmap import load_rigmap

    out, export = tmp_path / "run", tmp_path / "weights"
    argv = ["train", "rigmap", "--identities", "2", "--per-identity", "2", "--seeds", "5",
            "--render-identities", "1", "--render-per-identity", "1", "--render-seeds", "7,8",
            "--epochs", "1", "--hidden", "8", "--geometry", "--au-weight", "AU17=2",
            "--out", str(out), "--export", str(export), "--quiet"]
    assert main(argv) == 0
    config = json.loads((export / "rigmap.json").read_text())
    assert [r["seed"] for r in config["renders"]] == [7, 8]
    assert config["train"]["geometry"] and config["train"]["au_weight"] == "AU17=2"
    # the generators' versions travel with the map: one trained on older drawings is told apart
    from deepexpr.characters.export import RENDERER_VERSION
    from deepexpr.characters.geometry import STANDIN_MOUTH_VERSION
    from deepexpr.data.rig_truth import CACHE_VERSION
    from deepexpr.data.synthetic_sequences import AU_MODEL_VERSION

    assert config["truth_versions"] == {"rig_truth": CACHE_VERSION, "au_model": AU_MODEL_VERSION,
                                        "renderer": RENDERER_VERSION, "standin_mouth": STANDIN_MOUTH_VERSION}
    assert load_rigmap(export / "rigmap.safetensors").with_geometry
    from deepexpr.data.rig_truth import RigMapData

    with pytest.raises(InputError, match="render-seeds"):
        RigMapData(render_seeds=())


def test_agreement_table_has_a_column_pair_per_human_model():
    from deepexpr.retarget.report import agreement_table

    def reading(items, char_true, models):
        return {"items": items, "character_vs_true_label": char_true,
                "by_human_model": {n: {"character_vs_human_model": a, "human_model_vs_true_label": b}
                                   for n, (a, b) in models.items()}}

    result = {"agreement": reading(10, 0.9, {"fer": (0.4, 0.3), "hagan": (0.7, 0.75)}),
              "agreement_renders": reading(5, 0.6, {"fer": (0.2, 0.2), "hagan": (0.1, 0.15)})}
    lines = agreement_table(result).strip().splitlines()
    assert lines[0].count("|") == 8 and "character vs hagan" in lines[0] and "fer vs true" in lines[0]
    assert lines[2] == "| stand-ins, population neutral | 10 | 40.0% | 30.0% | 70.0% | 75.0% | 90.0% |"
    assert lines[3].startswith("| renders, calibrated | 5 | 20.0% | 20.0% | 10.0% | 15.0% | 60.0% |")


def test_agreement_table_adds_the_true_rig_ceiling_when_measured():
    from deepexpr.retarget.report import agreement_table

    def reading(ideal_true, ideal_vs):
        return {"items": 4, "character_vs_true_label": 0.5, "ideal_character_vs_true_label": ideal_true,
                "by_human_model": {n: {"character_vs_human_model": 0.5, "human_model_vs_true_label": 0.5,
                                       "ideal_character_vs_human_model": v} for n, v in ideal_vs.items()}}

    result = {"agreement": reading(1.0, {"fer": 0.25, "standin": 0.75}),
              "agreement_renders": reading(0.5, {"fer": 0.0, "standin": 0.5})}
    text = agreement_table(result)
    assert "| stand-ins, population neutral | 25.0% | 75.0% | 100.0% |" in text
    assert "| renders, calibrated | 0.0% | 50.0% | 50.0% |" in text
    for key in result:  # a result made before the ceiling existed gives no ceiling table
        del result[key]["ideal_character_vs_true_label"]
    assert "true rig" not in agreement_table(result)


def test_bundled_rigmap_was_trained_on_the_current_ground_truth():
    """A bump of the stand-in drawing (rig-truth cache version) or of the AU model must come
    with a retrained bundled map (scripts/train_bundled_models.sh stage (e))."""
    import json

    from deepexpr.characters.geometry import STANDIN_MOUTH_VERSION
    from deepexpr.data.rig_truth import CACHE_VERSION
    from deepexpr.data.synthetic_sequences import AU_MODEL_VERSION
    from deepexpr.models.resolve import WEIGHTS_DIR

    made = json.loads((WEIGHTS_DIR / "rigmap.json").read_text()).get("truth_versions", {})
    assert (made.get("rig_truth"), made.get("au_model"), made.get("standin_mouth", 1)) == (
        CACHE_VERSION, AU_MODEL_VERSION, STANDIN_MOUTH_VERSION)
