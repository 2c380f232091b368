"""Metrics, pure NumPy, each under its exact name.

- ``subject_mean_accuracy``: paper A's eq. 8, the mean over subjects of each subject's accuracy.
- ``accuracy``: pooled accuracy over all predictions (not paper A's number).
- ``uf1`` and ``uar``: paper B's eq. 11-17 on predictions pooled over every LOSO fold: per-class
  TP, FP and FN summed over subjects, then F1 (and recall) per class, averaged over classes.
- ``fold_mean_uf1`` / ``fold_mean_uar``: the same computed per fold and averaged over folds, a
  different (and usually much lower) number that some papers report.

Classes: ``labels`` fixes the class set (default: every class in ``y_true`` or ``y_pred``). A
class with no true and no predicted sample has an undefined F1 and recall; it is left out of
the average, explicitly (``absent="skip"``), or counted as 0 (``absent="zero"``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _labels(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[int] | None) -> np.ndarray:
    return np.asarray(labels) if labels is not None else np.union1d(y_true, y_pred)


def confusion_matrix(
    y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[int] | None = None
) -> np.ndarray:
    """(n, n) counts, rows = true class, columns = predicted class, in ``labels`` order."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length: {t.shape} vs {p.shape}")
    labs = _labels(t, p, labels)
    index = {int(c): i for i, c in enumerate(labs)}
    cm = np.zeros((len(labs), len(labs)), np.int64)
    for a, b in zip(t, p, strict=True):
        if int(a) in index and int(b) in index:
            cm[index[int(a)], index[int(b)]] += 1
    return cm


def accuracy(y_true: Sequence[int], y_pred: Sequence[int]) -> float:
    """Pooled accuracy: correct predictions over all predictions."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.size == 0:
        raise ValueError("no predictions")
    return float((t == p).mean())


def _per_class(cm: np.ndarray, absent: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-class F1 and recall of a (..., K, K) confusion matrix (rows true, columns predicted);
    a class with no sample in either role has no F1 (no true sample: no recall) -> nan."""
    tp = np.diagonal(cm, axis1=-2, axis2=-1).astype(float)
    fp = cm.sum(axis=-2) - tp
    fn = cm.sum(axis=-1) - tp
    f1_den = 2 * tp + fp + fn
    rec_den = tp + fn
    if absent not in ("skip", "zero"):
        raise ValueError(f"absent must be 'skip' or 'zero', got {absent!r}")
    f1 = np.where(f1_den > 0, 2 * tp / np.where(f1_den > 0, f1_den, 1), np.nan)
    rec = np.where(rec_den > 0, tp / np.where(rec_den > 0, rec_den, 1), np.nan)
    if absent == "zero":
        f1, rec = np.nan_to_num(f1), np.nan_to_num(rec)
    return f1, rec


def uf1(
    y_true: Sequence[int],
    y_pred: Sequence[int],
    labels: Sequence[int] | None = None,
    absent: str = "skip",
) -> float:
    """Unweighted F1 (macro F1) of pooled predictions: mean over classes of 2TP / (2TP+FP+FN)."""
    f1, _ = _per_class(confusion_matrix(y_true, y_pred, labels), absent)
    return float(np.nanmean(f1)) if np.any(~np.isnan(f1)) else float("nan")


def uar(
    y_true: Sequence[int],
    y_pred: Sequence[int],
    labels: Sequence[int] | None = None,
    absent: str = "skip",
) -> float:
    """Unweighted average recall of pooled predictions: mean over classes of TP / (TP+FN).
    Classes with no true sample have no recall and are skipped (sklearn's balanced accuracy)."""
    _, rec = _per_class(confusion_matrix(y_true, y_pred, labels), absent)
    return float(np.nanmean(rec)) if np.any(~np.isnan(rec)) else float("nan")


def subject_mean_accuracy(
    y_true: Sequence[int], y_pred: Sequence[int], subjects: Sequence[str]
) -> float:
    """Paper A's eq. 8: mean over subjects of (correct / total) for that subject's samples."""
    t, p, s = np.asarray(y_true), np.asarray(y_pred), np.asarray(subjects)
    if not (t.shape == p.shape == s.shape):
        raise ValueError("y_true, y_pred and subjects must have the same length")
    return float(np.mean([(t[s == k] == p[s == k]).mean() for k in np.unique(s)]))


def _fold_mean(metric, y_true, y_pred, folds, labels, absent) -> float:
    t, p, f = np.asarray(y_true), np.asarray(y_pred), np.asarray(folds)
    values = [
        metric(t[f == k], p[f == k], None if labels is None else labels, absent)
        for k in np.unique(f)
    ]
    return float(np.nanmean(values))


def fold_mean_uf1(
    y_true, y_pred, folds, labels: Sequence[int] | None = None, absent: str = "skip"
) -> float:
    """UF1 computed inside each fold (classes absent from that fold skipped), averaged over
    folds. Not paper B's number: that pools predictions first (:func:`uf1`)."""
    return _fold_mean(uf1, y_true, y_pred, folds, labels, absent)


def fold_mean_uar(
    y_true, y_pred, folds, labels: Sequence[int] | None = None, absent: str = "skip"
) -> float:
    """UAR computed inside each fold, averaged over folds (not paper B's pooled :func:`uar`)."""
    return _fold_mean(uar, y_true, y_pred, folds, labels, absent)


def all_metrics(y_true, y_pred, subjects, n_classes: int) -> dict[str, float]:
    """Every metric, each under its own name, on one run's pooled LOSO predictions."""
    labels = list(range(n_classes))
    return {
        "subject_mean_accuracy": subject_mean_accuracy(y_true, y_pred, subjects),
        "pooled_accuracy": accuracy(y_true, y_pred),
        "pooled_uf1": uf1(y_true, y_pred, labels),
        "pooled_uar": uar(y_true, y_pred, labels),
        "fold_mean_uf1": fold_mean_uf1(y_true, y_pred, subjects),
        "fold_mean_uar": fold_mean_uar(y_true, y_pred, subjects),
    }
