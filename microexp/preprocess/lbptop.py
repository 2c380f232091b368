"""LBP-TOP (Zhao & Pietikainen 2007): local binary patterns on three orthogonal planes, the
handcrafted descriptor of the CASME II baseline (Yan et al. 2014).

For every pixel of every frame (away from the borders by the radii) a P-bit code compares P
neighbours on an ellipse with the centre, once in the XY plane (appearance), once in XT and once
in YT (horizontal and vertical motion). Codes are histogrammed per spatial block and plane and
concatenated; each histogram is normalised to sum 1.
"""

from __future__ import annotations

import numpy as np


def _sample(vol: np.ndarray, t: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Bilinear samples of a (T, H, W) volume at float coordinates (integer ones are exact)."""
    from scipy.ndimage import map_coordinates

    return map_coordinates(vol, [t, y, x], order=1, mode="nearest")


def lbp_top(
    volume: np.ndarray,
    blocks: tuple[int, int] = (5, 5),
    radii: tuple[float, float, float] = (1, 1, 4),
    points: int = 4,
) -> np.ndarray:
    """LBP-TOP histogram of a (T, H, W) grey volume: float32 (blocks_y * blocks_x * 3 * 2^points,).

    Args:
        blocks: spatial grid (rows, columns); CASME II's baseline used 5 x 5.
        radii: (Rx, Ry, Rt) in pixels and frames; CASME II's baseline used (1, 1, 4).
        points: neighbours per plane (4 gives 16-bin histograms).
    """
    vol = np.asarray(volume, dtype=np.float32)
    if vol.ndim != 3:
        raise ValueError(f"LBP-TOP needs a (T, H, W) volume, got shape {vol.shape}")
    rx, ry, rt = radii
    T, H, W = vol.shape
    it, iy, ix = int(np.ceil(rt)), int(np.ceil(ry)), int(np.ceil(rx))
    if T <= 2 * it or H <= 2 * iy or W <= 2 * ix:
        raise ValueError(f"volume {vol.shape} too small for radii {radii}")
    tt, yy, xx = np.meshgrid(
        np.arange(it, T - it), np.arange(iy, H - iy), np.arange(ix, W - ix), indexing="ij"
    )
    centre = vol[tt, yy, xx]
    angles = 2 * np.pi * np.arange(points) / points
    cos, sin = np.round(np.cos(angles), 12), np.round(np.sin(angles), 12)
    planes = {
        "xy": lambda c, s: (tt, yy - ry * s, xx + rx * c),
        "xt": lambda c, s: (tt - rt * s, yy, xx + rx * c),
        "yt": lambda c, s: (tt - rt * s, yy + ry * c, xx),
    }
    bins = 2**points
    by, bx = blocks
    # block index of every centre pixel
    row = np.minimum((yy - iy) * by // (H - 2 * iy), by - 1)
    col = np.minimum((xx - ix) * bx // (W - 2 * ix), bx - 1)
    block = (row * bx + col).ravel()
    feats = []
    for plane in ("xy", "xt", "yt"):
        code = np.zeros(centre.shape, np.int64)
        for p in range(points):
            t_, y_, x_ = planes[plane](cos[p], sin[p])
            neighbour = _sample(
                vol,
                t_.astype(np.float32).ravel(),
                y_.astype(np.float32).ravel(),
                x_.astype(np.float32).ravel(),
            )
            code |= (neighbour.reshape(centre.shape) >= centre).astype(np.int64) << p
        hist = np.bincount(block * bins + code.ravel(), minlength=by * bx * bins).reshape(
            by * bx, bins
        )
        feats.append(hist / np.maximum(hist.sum(axis=1, keepdims=True), 1))
    # (blocks, planes, bins) flattened block by block
    return np.stack(feats, axis=1).reshape(-1).astype(np.float32)
