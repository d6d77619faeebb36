import json

import numpy as np

from deepexpr.evaluation.classification import (
    accuracy,
    confusion_matrix,
    mean_class_accuracy,
    per_class_accuracy,
    summarize,
    write_report,
)


def _brute_cm(t, p, k):
    cm = np.zeros((k, k), int)
    for a, b in zip(t, p):
        cm[a, b] += 1
    return cm


def test_metrics_match_brute_force():
    rng = np.random.default_rng(1)
    for _ in range(20):
        n = int(rng.integers(1, 60))
        t = rng.integers(0, 7, n)
        p = np.where(rng.random(n) < 0.6, t, rng.integers(0, 7, n))
        cm = confusion_matrix(t, p)
        assert (cm == _brute_cm(t, p, 7)).all()
        assert accuracy(t, p) == sum(a == b for a, b in zip(t, p)) / n
        pca = per_class_accuracy(cm)
        for c in range(7):
            idx = [i for i in range(n) if t[i] == c]
            if idx:
                assert pca[c] == sum(p[i] == c for i in idx) / len(idx)
            else:
                assert np.isnan(pca[c])
        assert np.isclose(mean_class_accuracy(cm), np.nanmean(pca))


def test_summary_and_report(tmp_path):
    t = np.array([0, 0, 3, 3, 6])
    p = np.array([0, 1, 3, 3, 6])
    s = summarize(t, p)
    assert s["accuracy"] == 0.8 and s["per_class_accuracy"]["anger"] == 0.5
    assert s["per_class_accuracy"]["fear"] is None
    files = write_report(s, tmp_path, predictions=[{"path": "a", "label": "anger"}])
    assert json.loads(files["json"].read_text())["n"] == 5
    assert "| anger | 50.00% | 2 |" in files["markdown"].read_text()
    assert files["confusion"].stat().st_size > 1000 and files["csv"].is_file()


def test_length_mismatch():
    import pytest

    with pytest.raises(ValueError, match="differ"):
        accuracy([0, 1], [0])
