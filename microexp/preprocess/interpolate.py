"""Temporal interpolation model (Zhou, Zhao & Pietikainen 2011), resampling a clip to N frames.

The n frames are the nodes of a path graph. Its Laplacian's non-trivial eigenvectors give the
closed-form curve y_k(t) = sin(pi k t + pi (n - k) / (2 n)), k = 1..n-1, passing through the
frames at t = 1/n, 2/n, ..., 1. TIM learns the linear map from that curve to the (mean-removed,
PCA-projected) frames and samples the curve at N equally spaced t. Keeping every PCA component,
that map is ``pinv(Y) @ (X - mean)``: each new frame is a fixed linear combination of the input
frames. Only the n x (n-1) curve matrix is inverted, never the frames, so near-identical frames
(200 fps) cannot make the system singular (one public implementation asserts full rank there).
"""

from __future__ import annotations

import numpy as np


def _curve(n: int, t: np.ndarray) -> np.ndarray:
    k = np.arange(1, n)
    return np.sin(np.pi * np.outer(t, k) + np.pi * (n - k) / (2 * n))


def tim_weights(n: int, n_out: int) -> np.ndarray:
    """(n_out, n) weights: new frame j = sum_i w[j, i] * frame i (rows sum to 1)."""
    if n < 1 or n_out < 1:
        raise ValueError(f"TIM needs at least one input and one output frame (got {n}, {n_out})")
    if n == 1:
        return np.ones((n_out, 1))
    t_in = np.arange(1, n + 1) / n
    t_out = np.linspace(1 / n, 1, n_out)
    y_in, y_out = _curve(n, t_in), _curve(n, t_out)
    centring = np.eye(n) - 1.0 / n  # removes the mean frame
    return y_out @ np.linalg.pinv(y_in) @ centring + 1.0 / n


def interpolate(frames: np.ndarray, n: int = 11) -> np.ndarray:
    """Resample (T, ...) frames to (n, ...) float32 with TIM; paper A uses n = 11.

    The first and last frames are kept (t = 1/T and t = 1 are curve points), a smoothly moving
    sequence is reproduced, and T may be smaller or larger than n.
    """
    x = np.asarray(frames, dtype=np.float32)
    w = tim_weights(len(x), n).astype(np.float32)
    return np.tensordot(w, x, axes=(1, 0)).astype(np.float32)
