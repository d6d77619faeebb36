"""Classification metrics as plain NumPy functions, and the recognition report.

Conventions: labels are integer class indices in `deepexpr.expressions.EXPRESSIONS` order;
`confusion_matrix[i, j]` counts samples whose TRUE class is i and PREDICTED class is j
(rows = truth, as scikit-learn). Per-class accuracy is recall: the diagonal over the row
sum, NaN for a class with no samples. Mean class accuracy ignores those NaN classes.

    >>> import numpy as np
    >>> accuracy(np.array([0, 1, 2]), np.array([0, 1, 1]))
    0.6666666666666666
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepexpr.expressions import EXPRESSIONS


def _check(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true).astype(np.int64).ravel()
    p = np.asarray(y_pred).astype(np.int64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length: {t.size} vs {p.size}")
    return t, p


def accuracy(y_true, y_pred) -> float:
    """Fraction of predictions equal to the truth (NaN when there are none)."""
    t, p = _check(y_true, y_pred)
    return float(np.mean(t == p)) if t.size else float("nan")


def confusion_matrix(y_true, y_pred, num_classes: int = len(EXPRESSIONS)) -> np.ndarray:
    """(num_classes, num_classes) int64 counts; row = true class, column = predicted class."""
    t, p = _check(y_true, y_pred)
    if t.size and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")
    return np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes)


def per_class_accuracy(cm: np.ndarray) -> np.ndarray:
    """Recall per true class from a confusion matrix; NaN where a class has no samples."""
    cm = np.asarray(cm, dtype=np.float64)
    rows = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(rows > 0, np.diag(cm) / np.where(rows > 0, rows, 1), np.nan)


def mean_class_accuracy(cm: np.ndarray) -> float:
    """Balanced accuracy: mean of the per-class accuracies of the classes present."""
    pca = per_class_accuracy(cm)
    return float(np.nanmean(pca)) if np.isfinite(pca).any() else float("nan")


def summarize(y_true, y_pred, classes=EXPRESSIONS) -> dict:
    """Accuracy, mean class accuracy, per-class accuracy (by name), confusion matrix, counts."""
    cm = confusion_matrix(y_true, y_pred, len(classes))
    pca = per_class_accuracy(cm)
    return {
        "n": int(cm.sum()),
        "accuracy": accuracy(y_true, y_pred),
        "mean_class_accuracy": mean_class_accuracy(cm),
        "per_class_accuracy": {c: (None if np.isnan(a) else float(a)) for c, a in zip(classes, pca)},
        "confusion_matrix": cm.tolist(),
        "classes": list(classes),
    }


def plot_confusion(cm, path: str | Path, classes=EXPRESSIONS, title: str = "") -> None:
    """Save a row-normalised confusion matrix picture (PNG), counts printed in each cell."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from deepexpr.io import atomic_path

    cm = np.asarray(cm)
    rows = cm.sum(axis=1, keepdims=True)
    norm = cm / np.maximum(rows, 1)
    fig, ax = plt.subplots(figsize=(5.2, 4.6), dpi=110)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f"{norm[i, j]:.2f}\n{cm[i, j]}", ha="center", va="center", fontsize=6,
                    color="white" if norm[i, j] > 0.6 else "black")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def markdown_report(summary: dict, title: str = "Recognition") -> str:
    """A Markdown page: overall accuracy, per-class accuracy table, confusion matrix table."""
    classes = summary["classes"]
    lines = [f"# {title}", "", f"- images: {summary['n']}",
             f"- accuracy: {_pct(summary['accuracy'])}",
             f"- mean class accuracy: {_pct(summary['mean_class_accuracy'])}", "",
             "| expression | accuracy | n |", "|---|---|---|"]
    cm = np.asarray(summary["confusion_matrix"])
    for i, c in enumerate(classes):
        lines.append(f"| {c} | {_pct(summary['per_class_accuracy'][c])} | {int(cm[i].sum())} |")
    lines += ["", "Confusion matrix (rows: true, columns: predicted)", "",
              "| true \\ pred | " + " | ".join(classes) + " |",
              "|---" * (len(classes) + 1) + "|"]
    for i, c in enumerate(classes):
        lines.append(f"| {c} | " + " | ".join(str(int(v)) for v in cm[i]) + " |")
    per_char = summary.get("per_character_accuracy")
    if per_char:
        lines += ["", "| character / subject | accuracy |", "|---|---|"]
        lines += [f"| {g} | {_pct(a)} |" for g, a in per_char.items()]
    return "\n".join(lines) + "\n"


def _pct(x) -> str:
    return "n/a" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{100 * x:.2f}%"


def write_report(summary: dict, out_dir: str | Path, title: str = "Recognition",
                 predictions: list[dict] | None = None) -> dict[str, Path]:
    """Write report.md, metrics.json, confusion.png (and predictions.csv) into `out_dir`."""
    import csv
    import io

    from deepexpr.io import write_json, write_text

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"markdown": out / "report.md", "json": out / "metrics.json",
             "confusion": out / "confusion.png"}
    write_text(files["markdown"], markdown_report(summary, title))
    write_json(files["json"], summary)
    plot_confusion(summary["confusion_matrix"], files["confusion"], summary["classes"], title)
    if predictions:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(predictions[0]))
        writer.writeheader()
        writer.writerows(predictions)
        files["csv"] = out / "predictions.csv"
        write_text(files["csv"], buf.getvalue())
    return files
