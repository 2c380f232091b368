"""Simple baselines run beside every model, on the same LOSO folds and the same cached tensors.

- ``majority``: the training folds' most frequent class (ties: the lowest class index).
- ``linear_probe``: a scikit-learn logistic regression on a fixed pooling of the recipe's
  tensor (:func:`pooled_features`), standardised on the training subjects only, with a fixed
  ``C``; nothing is chosen on the held-out subject.

They say how hard a task is for a simple method, so a deep model's number can be read against
them (and the synthetic data's difficulty is calibrated on the linear probe alone).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: the baselines every LOSO run reports beside its model
BASELINES = ("majority", "linear_probe")

#: the linear probe's fixed settings (documented in docs/reproducing.md)
PROBE_GRID = 8  # spatial average pooling to PROBE_GRID x PROBE_GRID cells
PROBE_C = 1.0  # inverse L2 regularisation of the logistic regression


def pooled_features(x: np.ndarray, grid: int = PROBE_GRID) -> np.ndarray:
    """One example's tensor -> a fixed-length vector.

    (H, W, T, C) flow volumes (paper A): the time mean of each channel over the first half of
    the flows and over the second half (T // 2 and the rest), and of its magnitude over all;
    (H, W, C) flow images (paper B): each channel and its magnitude; both then averaged over a
    ``grid`` x ``grid`` spatial grid (cells of ``H // grid`` px; a remainder at the edge is
    dropped). 1-D features (LBP-TOP) are used as they are.

    The halves: an expression rises and returns within a clip, so a signed mean over all its
    flows cancels to about zero; the halves keep the direction of the rise and of the return.
    """
    x = np.asarray(x, np.float32)
    if x.ndim == 1:
        return x
    if x.ndim == 4:
        half = max(x.shape[2] // 2, 1)
        x = np.concatenate(
            [x[:, :, :half].mean(axis=2), x[:, :, half:].mean(axis=2), np.abs(x).mean(axis=2)],
            axis=-1,
        )
    elif x.ndim == 3:
        x = np.concatenate([x, np.abs(x)], axis=-1)
    else:
        raise ValueError(f"expected a 1-D, (H, W, C) or (H, W, T, C) tensor. Received: {x.shape}")
    h, w, c = x.shape
    g = min(grid, h, w)
    cells = x[: h // g * g, : w // g * g].reshape(g, h // g, g, w // g, c)
    return cells.mean(axis=(1, 3)).ravel()


def majority_fit_predict(y_train: Sequence[int], n_test: int) -> list[int]:
    """The training labels' most frequent class, for every test sample."""
    counts = np.bincount(np.asarray(y_train, int))
    return [int(np.argmax(counts))] * n_test


def linear_probe_fit_predict(
    x_train: np.ndarray, y_train: Sequence[int], x_test: np.ndarray, c: float = PROBE_C
) -> list[int]:
    """Fit the probe on the training subjects' pooled features; predict the held-out ones."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y_train = np.asarray(y_train, int)
    if len(np.unique(y_train)) == 1:  # nothing to separate: the only class seen
        return majority_fit_predict(y_train, len(x_test))
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    probe.fit(x_train, y_train)
    return [int(v) for v in probe.predict(x_test)]
