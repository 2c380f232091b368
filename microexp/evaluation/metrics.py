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

from ..errors import MicroexpError


def _key(v: object) -> object:
    """A label as a dictionary key: an integer (NumPy's too) as int, a name as str."""
    return v if isinstance(v, str) else int(v)


def _kinds(values: Sequence, what: str) -> str:
    kinds = {"names" if isinstance(v, str | np.str_) else "integers" for v in values}
    if len(kinds) > 1:
        raise MicroexpError(f"{what} mixes label names and class integers; use one kind")
    return kinds.pop() if kinds else "integers"


def confusion_matrix(
    y_true: Sequence, y_pred: Sequence, labels: Sequence | None = None
) -> np.ndarray:
    """(n, n) counts, rows = true class, columns = predicted class, in ``labels`` order.
    Labels are class integers or class names (``"negative"``), the same kind in ``y_true``,
    ``y_pred`` and ``labels``; names are ordered as ``labels`` gives them, else sorted."""
    t, p = list(y_true), list(y_pred)
    if len(t) != len(p):
        raise ValueError(f"y_true and y_pred differ in length: {len(t)} vs {len(p)}")
    kinds = {_kinds(t, "y_true"), _kinds(p, "y_pred")} - ({"integers"} if not p or not t else set())
    if labels is not None:
        kinds.add(_kinds(list(labels), "labels"))
    if len(kinds) > 1:
        raise MicroexpError(
            "y_true, y_pred and labels use different label kinds (names and integers); "
            "give them all as class names or all as class integers"
        )
    if labels is None:
        labs = sorted({_key(v) for v in [*t, *p]}, key=lambda v: (isinstance(v, str), v))
    else:
        labs = [_key(v) for v in labels]
    index = {c: i for i, c in enumerate(labs)}
    cm = np.zeros((len(labs), len(labs)), np.int64)
    for a, b in zip(t, p, strict=True):
        ka, kb = _key(a), _key(b)
        if ka in index and kb in index:
            cm[index[ka], index[kb]] += 1
    return cm


def accuracy(y_true: Sequence, y_pred: Sequence) -> float:
    """Pooled accuracy: correct predictions over all predictions."""
    if _kinds(list(y_true), "y_true") != _kinds(list(y_pred), "y_pred") and len(y_true):
        raise MicroexpError("y_true and y_pred use different label kinds (names and integers)")
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
