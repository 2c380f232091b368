"""Uncertainty over subjects: 95 % bootstrap intervals of a run's metrics, and paired
comparisons of two runs on the same samples (difference, its interval, a permutation p-value).

The unit of resampling is the subject: LOSO's samples of one subject are not independent, and
the field's metrics are computed over subjects' pooled predictions. scipy.stats does the
resampling (``bootstrap``, percentile intervals; ``permutation_test``, paired: within each
subject the two runs' predictions swap places).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .metrics import accuracy, subject_mean_accuracy, uar, uf1

#: metrics that get intervals; each is recomputed on every resample of subjects
INTERVAL_METRICS = ("subject_mean_accuracy", "pooled_accuracy", "pooled_uf1", "pooled_uar")


def _metric(name: str, y_true, y_pred, subjects, n_classes: int) -> float:
    """``name`` of pooled predictions; 2-D ``y_pred`` (seeds, samples): its mean over seeds."""
    if np.ndim(y_pred) == 2:
        return float(np.mean([_metric(name, y_true, p, subjects, n_classes) for p in y_pred]))
    labels = list(range(n_classes))
    if name == "subject_mean_accuracy":
        return subject_mean_accuracy(y_true, y_pred, subjects)
    if name == "pooled_accuracy":
        return accuracy(y_true, y_pred)
    if name == "pooled_uf1":
        return uf1(y_true, y_pred, labels)
    if name == "pooled_uar":
        return uar(y_true, y_pred, labels)
    raise ValueError(f"no interval for metric {name!r}; expected one of {INTERVAL_METRICS}")


class _BySubject:
    """Predictions grouped by subject, so a resample of subject indices (repeats allowed)
    becomes pooled predictions; a repeated subject counts as a new one. ``y_pred`` may be 2-D
    (seeds, samples): every seed's predictions of the same samples."""

    def __init__(self, y_true, y_pred, subjects) -> None:
        subjects = np.asarray(subjects)
        self.names = list(dict.fromkeys(subjects.tolist()))
        t, p = np.asarray(y_true), np.atleast_2d(y_pred)
        self.parts = [(t[subjects == s], p[:, subjects == s]) for s in self.names]

    def pooled(self, idx: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        idx = np.asarray(idx, int)
        t = np.concatenate([self.parts[i][0] for i in idx])
        p = np.concatenate([self.parts[i][1] for i in idx], axis=1)
        s = np.concatenate([np.full(len(self.parts[i][0]), k) for k, i in enumerate(idx)])
        return t, p, s


def bootstrap_ci(
    y_true,
    y_pred,
    subjects,
    n_classes: int,
    metrics: Sequence[str] = INTERVAL_METRICS,
    n_resamples: int = 2000,
    seed: int = 0,
) -> dict[str, list[float]]:
    """{metric: [low, high]}: 95 % percentile bootstrap over subjects (resample subjects with
    replacement, recompute the pooled metric; with 2-D ``y_pred``, its mean over seeds).
    Fewer than 2 subjects: [nan, nan]."""
    from scipy import stats

    groups = _BySubject(y_true, y_pred, subjects)
    if len(groups.names) < 2:
        return {m: [float("nan"), float("nan")] for m in metrics}

    def statistic(idx):
        t, p, s = groups.pooled(idx)
        return np.array([_metric(m, t, p, s, n_classes) for m in metrics])

    res = stats.bootstrap(
        (np.arange(len(groups.names)),),
        statistic,
        vectorized=False,
        n_resamples=n_resamples,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    low, high = (
        np.atleast_1d(res.confidence_interval.low),
        np.atleast_1d(res.confidence_interval.high),
    )
    return {m: [float(lo), float(hi)] for m, lo, hi in zip(metrics, low, high, strict=True)}


def paired_comparison(
    a: tuple, b: tuple, metric: str, n_classes: int, n_resamples: int = 2000, seed: int = 0
) -> dict[str, object]:
    """Run ``a`` minus run ``b`` on the same samples. ``a``/``b``: (y_true, y_pred, subjects)
    in the same sample order; ``y_pred`` may be 2-D (seeds, samples): the metric is then the
    mean over seeds (a run of one seed is repeated to match). Returns the difference of the pooled metric, its 95 % bootstrap
    interval over subjects, and the two-sided p-value of a paired permutation test (the two
    runs' predictions of a subject swap places; exact when 2^subjects <= ``n_resamples``)."""
    from scipy import stats

    if list(a[0]) != list(b[0]) or list(a[2]) != list(b[2]):
        raise ValueError("paired comparison needs the same samples in the same order")
    pa, pb = np.atleast_2d(a[1]), np.atleast_2d(b[1])
    rows = max(len(pa), len(pb))
    pa, pb = (np.repeat(p, rows, axis=0) if len(p) == 1 else p[:rows] for p in (pa, pb))
    if len(pa) != len(pb):
        rows = min(len(pa), len(pb))
        pa, pb = pa[:rows], pb[:rows]
    a, b = (a[0], pa, a[2]), (b[0], pb, b[2])
    ga, gb = _BySubject(*a), _BySubject(*b)
    n = len(ga.names)

    def value(groups, idx) -> float:
        t, p, s = groups.pooled(idx)
        return _metric(metric, t, p, s, n_classes)

    everyone = np.arange(n)
    difference = value(ga, everyone) - value(gb, everyone)
    out = {"metric": metric, "difference": float(difference)}
    if n < 2:
        return {**out, "ci95": [float("nan")] * 2, "p_value": float("nan")}
    boot = stats.bootstrap(
        (everyone,),
        lambda idx: value(ga, idx) - value(gb, idx),
        vectorized=False,
        n_resamples=n_resamples,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    both = _BySubject(
        np.concatenate([a[0], b[0]]),
        np.concatenate([a[1], b[1]], axis=1),
        np.concatenate([[f"a{s}" for s in a[2]], [f"b{s}" for s in b[2]]]),
    )  # subject i of a is group i, of b group n + i (names keep first-seen order)

    def swapped(x, y) -> float:
        return value(both, x) - value(both, y)

    perm = stats.permutation_test(
        (everyone, everyone + n),
        swapped,
        permutation_type="samples",
        vectorized=False,
        n_resamples=n_resamples,
        random_state=np.random.default_rng(seed),
    )
    ci = boot.confidence_interval
    return {**out, "ci95": [float(ci.low), float(ci.high)], "p_value": float(perm.pvalue)}
