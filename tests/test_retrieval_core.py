"""JS divergence, distributions, geometric features, index files and ranking."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

from deepexpr.errors import InputError
from deepexpr.expressions import EXPRESSIONS
from deepexpr.retrieval import distributions as D
from deepexpr.retrieval.embed import embed_character_image, load_embedding
from deepexpr.retrieval.geometry import FEATURE_NAMES, geometric_distance, geometric_features
from deepexpr.retrieval.index import (
    ImageRecord,
    build_index,
    load_index,
    save_index,
    scan_images,
)
from deepexpr.retrieval.js import (
    JSIndexTerms,
    js_distance,
    js_distance_matrix,
    js_divergence,
    js_divergence_matrix,
)
from deepexpr.retrieval.search import SearchConfig, index_row_as_query, rank, search
from retrieval_fakes import TEMPLATE, FakeRecognizer, make_ferg_tree


def brute_js(p, q):
    p, q = np.asarray(p, float) / np.sum(p), np.asarray(q, float) / np.sum(q)
    m = (p + q) / 2
    kl = lambda a, b: sum(x * np.log(x / y) for x, y in zip(a, b) if x > 0)  # noqa: E731
    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def test_js_matches_brute_force_and_scipy():
    rng = np.random.default_rng(1)
    P, Q = rng.random((4, 9)), rng.random((50, 9))
    P[0, :4] = 0  # zeros in the support
    Q[3, 2:] = 0
    dm = js_divergence_matrix(P, Q, chunk=16)
    for i, p in enumerate(P):
        for j, q in enumerate(Q):
            assert dm[i, j] == pytest.approx(brute_js(p, q), abs=1e-5)
            assert js_distance(p, q) == pytest.approx(jensenshannon(p, q), abs=1e-9)
    assert np.allclose(js_distance_matrix(P, JSIndexTerms.from_distributions(Q)),
                       [[jensenshannon(p, q) for q in Q] for p in P], atol=1e-4)
    assert js_divergence([1, 0], [0, 1], base=2) == pytest.approx(1.0)
    assert js_divergence([1, 2, 3], [1, 2, 3]) == pytest.approx(0.0, abs=1e-12)
    single = js_distance_matrix(P[0], Q)
    assert single.shape == (50,) and np.allclose(single, js_distance_matrix(P, Q)[0])
    rows = np.array([5, 1, 7])
    assert np.allclose(js_distance_matrix(P, Q, rows=rows), js_distance_matrix(P, Q)[:, rows])


def test_js_rejects_bad_input():
    with pytest.raises(ValueError):
        js_divergence([1, -1], [1, 1])
    with pytest.raises(ValueError):
        js_divergence_matrix(np.ones(3), np.ones((2, 4)))


def test_distributions_follow_their_formulas():
    rng = np.random.default_rng(2)
    f, W = rng.normal(size=(3, 5)), rng.normal(size=(7, 5))
    pi = D.softmax(rng.normal(size=(3, 7)))
    ev = D.to_distribution(f, pi, W, "evidence")
    ref = np.einsum("nc,ncd->nd", pi, np.maximum(f[:, None] * W[None], 0))
    assert np.allclose(ev, ref / ref.sum(1, keepdims=True), atol=1e-5)
    wt = D.to_distribution(f, pi, W, "weighted")
    ref = np.maximum(f, 0) * np.abs(W[pi.argmax(1)])
    assert np.allclose(wt, ref / ref.sum(1, keepdims=True), atol=1e-5)
    assert np.allclose(D.to_distribution(None, pi, None, "softmax"), pi, atol=1e-5)
    for m in D.METHODS:
        d = D.to_distribution(f, pi, W, m)
        assert np.allclose(d.sum(1), 1, atol=1e-5) and (d >= 0).all()
    with pytest.raises(ValueError):
        D.to_distribution(f, pi, None, "evidence")
    with pytest.raises(ValueError):
        D.to_distribution(f, pi, W, "nonsense")


def test_geometry_on_hand_made_landmarks():
    g = geometric_features(TEMPLATE)  # box: x 20..80 (w 60), y 26..80 (h 54)
    w, h = 60.0, 54.0
    expect = {
        "right_brow_height": (np.mean(TEMPLATE[19:25, 1]) - 26) / h,
        "left_brow_height": (np.mean(TEMPLATE[25:31, 1]) - 26) / h,
        "right_eyelid_height": (42 - 37) / h, "left_eyelid_height": (42 - 37) / h,
        "nose_width": (58 - 42) / w, "mouth_width": (65 - 35) / w, "mouth_opening": 2 / h,
        "right_lip_corner_height": (72 - 42) / h, "left_lip_corner_height": (72 - 42) / h,
    }
    for name, value in zip(FEATURE_NAMES, g):
        assert value == pytest.approx(expect[name], abs=1e-5), name
    # invariant to translation, scale and in-plane rotation
    t = np.deg2rad(20)
    R = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    moved = (TEMPLATE @ R.T) * 3 + 40
    assert np.allclose(geometric_features(moved), g, atol=0.02)
    # opening the mouth moves only mouth opening
    opened = TEMPLATE.copy()
    opened[46:49, 1] += 5
    diff = geometric_features(opened) - g
    assert diff[FEATURE_NAMES.index("mouth_opening")] > 0.05
    batch = geometric_features(np.stack([TEMPLATE, opened]))
    assert batch.shape == (2, 9)
    with pytest.raises(ValueError):
        geometric_features(np.zeros((48, 2)))
    d = geometric_distance(g, np.stack([g, g + 1, np.full(9, np.nan)]))
    assert d[0] == 0 and d[1] == pytest.approx(3.0) and np.isinf(d[2])


@pytest.fixture()
def tree(tmp_path):
    lms = make_ferg_tree(tmp_path / "chars")
    return tmp_path / "chars", lms


def _records(root, lms):
    recs = scan_images(root)
    return [ImageRecord(r.path, r.label, r.character, lms[r.path]) for r in recs]


def test_scan_build_save_load_and_incremental(tree, tmp_path):
    root, lms = tree
    recs = _records(root, lms)
    assert len(recs) == 3 * 7 * 3 and {r.character for r in recs} == {"aia", "bob", "cy"}
    assert all(r.label >= 0 for r in recs)
    rec = FakeRecognizer()
    index, report = build_index(root, rec, records=recs, batch_size=8, show_progress=False)
    assert report.embedded == len(recs) and not report.failed
    assert np.isfinite(index.geometry).all()
    out = tmp_path / "chars.idx.safetensors"
    save_index(index, out)
    back = load_index(out, expect_model=index.model)
    assert back.paths == index.paths and np.allclose(back.features, index.features)
    assert back.model["sha256"] == index.model["sha256"] and back.data["images"] == len(recs)
    # another model: clear error
    other = build_index(root, FakeRecognizer(seed=5), records=recs[:3], show_progress=False)[0]
    with pytest.raises(InputError, match="built with model"):
        load_index(out, expect_model=other.model)
    # incremental: add one image, only it is embedded
    from PIL import Image

    new = root / "aia" / "aia_joy" / "aia_joy_99.png"
    Image.fromarray(np.full((32, 32, 3), (240, 200, 40), np.uint8)).save(new)
    rec2 = FakeRecognizer()
    index2, report2 = build_index(root, rec2, previous=back, show_progress=False)
    assert report2.embedded == 1 and report2.reused == len(recs) and rec2.calls == 1
    assert len(index2) == len(recs) + 1


def test_bad_index_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_index(tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    with pytest.raises(InputError, match="not a readable index"):
        load_index(junk)


def test_ranking_js_then_geometry(tree):
    root, lms = tree
    recs = _records(root, lms)
    index, _ = build_index(root, FakeRecognizer(), records=recs, show_progress=False)
    for method in D.METHODS:
        q = index_row_as_query(index, 4)
        order, info = rank(q, index, SearchConfig(method=method, order_by="js"))
        assert (index.labels[order[:9]] == index.labels[4]).all(), method
    q = index_row_as_query(index, 10)
    res = search(q, index, SearchConfig(top=2, per_character=True))
    assert set(res.by_character) == {"aia", "bob", "cy"}
    assert all(len(v) == 2 for v in res.by_character.values())
    assert all(m.label == res.matched_label for v in res.by_character.values() for m in v)
    # within the matched label, geometry decides the order: the query itself comes first
    assert res.matches[0].row == 10 and res.matches[0].geometry == pytest.approx(0.0)
    geo_order, _ = rank(q, index, SearchConfig(order_by="geometry"))
    assert geo_order[0] == 10
    d = res.to_dict()
    assert d["matched_label"] == res.matched_label and len(d["by_character"]["aia"]) == 2


def test_character_image_and_embedding_file_queries(tree, tmp_path):
    root, lms = tree
    rec = FakeRecognizer()
    index, _ = build_index(root, rec, records=_records(root, lms), show_progress=False)
    path = index.absolute_path(7)
    q = embed_character_image(path, rec, landmarks=lms[path])
    res = search(q, index, SearchConfig(top=3))
    assert res.matches[0].label == res.matched_label == EXPRESSIONS[index.labels[7]]
    npz = tmp_path / "q.npz"
    np.savez(npz, features=q.features, probs=q.probs, geometry=q.geometry,
             classifier_weight=rec.classifier_weight)
    q2 = load_embedding(npz)
    assert search(q2, index, SearchConfig(top=3)).matches[0].row == res.matches[0].row
    bad = tmp_path / "bad.json"
    bad.write_text('{"features": [1, 2]}')
    with pytest.raises(InputError, match="probs"):
        load_embedding(bad)
    with pytest.raises(InputError, match="not a readable image"):
        (tmp_path / "x.png").write_text("nope")
        embed_character_image(tmp_path / "x.png", rec)


def test_js_large_support_path_matches_scipy():
    rng = np.random.default_rng(4)
    P, Q = rng.random((3, 40)), rng.random((30, 40))
    P[1, :30] = 0  # sparse query: exact support path
    Q[0, :20] = 0
    ref = [[jensenshannon(p, q) for q in Q] for p in P]
    assert np.allclose(js_distance_matrix(P, Q, chunk=7), ref, atol=1e-4)
    assert np.allclose(js_distance_matrix(P, Q, rows=np.array([2, 0])), np.array(ref)[:, [2, 0]], atol=1e-4)


def test_depth_limits_the_reordered_rows(tree):
    root, lms = tree
    index, _ = build_index(root, FakeRecognizer(), records=_records(root, lms), show_progress=False)
    q = index_row_as_query(index, 10)
    order_all, _ = rank(q, index, SearchConfig())
    order_d, info = rank(q, index, SearchConfig(depth=3))
    assert set(order_d[:3]) <= set(np.argsort(info["js"], kind="stable")[:3]) | set(order_all[:3])
    assert sorted(order_d) == list(range(len(index)))
