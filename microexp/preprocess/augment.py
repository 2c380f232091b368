"""Paper A's augmentation: 8 shifts of the face window (x9 with the original) and quarter turns.

Shifting happens on frames (a shifted crop is a different window of the same video); the
cheaper route computes the flow once on a window holding every shifted crop and cuts the nine
crops out of it (see :func:`cut_shifts`). Rotation happens on flow tensors (:func:`rotate_flow`),
turning the vectors with the grid.
"""

from __future__ import annotations

import numpy as np

from .flow import rotate_flow


def shifts(step: int = 10) -> list[tuple[int, int]]:
    """The 9 (dx, dy) offsets: the original first, then up, down, left, right and the diagonals.

    Index 0 is the unshifted crop (paper A's test set); 1..8 are the shifted ones (its training
    pool)."""
    s = step
    return [(0, 0), (0, -s), (0, s), (-s, 0), (s, 0), (-s, -s), (s, -s), (-s, s), (s, s)]


def cut_shifts(window: np.ndarray, height: int, width: int, step: int = 10) -> np.ndarray:
    """Cut the 9 shifted ``height`` x ``width`` crops from a (..., H + 2 step, W + 2 step, C)
    window whose centre crop is the unshifted one: (9, ..., height, width, C)."""
    out = []
    for dx, dy in shifts(step):
        y0, x0 = step + dy, step + dx
        out.append(window[..., y0 : y0 + height, x0 : x0 + width, :])
    return np.stack(out)


def rotate_sample(x: np.ndarray, k: int, flow_channels: tuple[int, int] = (0, 1)) -> np.ndarray:
    """Rotate a (H, W, T, C) or (H, W, C) flow tensor k x 90 degrees counter-clockwise: the grid
    turns and the (u, v) channels turn with it; other channels (strain) only move."""
    k %= 4
    if k == 0:
        return x
    spatial = np.rot90(x, k, axes=(0, 1))
    u, v = flow_channels
    uv = np.stack([x[..., u], x[..., v]], axis=-1)
    moved = np.moveaxis(uv, (0, 1), (-3, -2)) if x.ndim == 4 else uv
    turned = rotate_flow(moved, k)
    if x.ndim == 4:
        turned = np.moveaxis(turned, (-3, -2), (0, 1))
    out = spatial.copy()
    out[..., u], out[..., v] = turned[..., 0], turned[..., 1]
    return out


def standardise(
    x: np.ndarray, axes: tuple[int, ...] | None = None, eps: float = 1e-6
) -> np.ndarray:
    """Per-sample standardisation: (x - mean) / std per channel (last axis), statistics over
    every other axis of this one sample (paper A: "standardise"; it names no statistics). Uses
    nothing but the sample itself, so it cannot leak a LOSO test subject into training."""
    axes = axes if axes is not None else tuple(range(x.ndim - 1))
    mean = x.mean(axis=axes, keepdims=True)
    std = x.std(axis=axes, keepdims=True)
    return ((x - mean) / (std + eps)).astype(np.float32)


def minmax(x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Per-sample, per-channel min-max scaling to [0, 1] (MEAN/MEB-style peer code)."""
    axes = tuple(range(x.ndim - 1))
    lo, hi = x.min(axis=axes, keepdims=True), x.max(axis=axes, keepdims=True)
    return ((x - lo) / (hi - lo + eps)).astype(np.float32)
