"""Eulerian video magnification, motion variant (Wu et al. 2012).

Each frame's Laplacian pyramid is band-passed over time, level by level, multiplied by alpha and
added back to the same frame's pyramid. Paper A applies it (alpha = 10) to every micro sample
and gives no other parameter; the band and pyramid defaults are the common MER ones.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .frames import to_float_gray


@dataclass(frozen=True)
class EVMParams:
    """Args:
    alpha: amplification. Paper A: 10.
    levels: Laplacian pyramid levels (fewer when the frame is too small; the coarsest is at
        least 4 px).
    band: ``iir`` (difference of two first-order low-passes with ``r1`` > ``r2``) or ``ideal``
        (FFT band ``f_lo``-``f_hi`` Hz, needs ``fps``).
    lambda_c: cut-off wavelength in px (Wu et al.): finer levels get
        alpha_l = min(alpha, lambda_l / (8 delta) - 1), delta = lambda_c / (8 (1 + alpha)), so
        high spatial frequencies are not over-amplified. 0 disables the attenuation.
    """

    alpha: float = 10.0
    levels: int = 6
    band: str = "iir"
    r1: float = 0.4
    r2: float = 0.05
    f_lo: float = 0.5
    f_hi: float = 10.0
    lambda_c: float = 16.0

    def as_dict(self) -> dict:
        return asdict(self)


def _pyramid(img: np.ndarray, levels: int) -> list[np.ndarray]:
    import cv2

    out, cur = [], img
    for _ in range(levels - 1):
        down = cv2.pyrDown(cur)
        up = cv2.pyrUp(down, dstsize=(cur.shape[1], cur.shape[0]))
        out.append(cur - up)
        cur = down
    out.append(cur)
    return out


def _collapse(pyr: list[np.ndarray]) -> np.ndarray:
    import cv2

    cur = pyr[-1]
    for lap in reversed(pyr[:-1]):
        cur = cv2.pyrUp(cur, dstsize=(lap.shape[1], lap.shape[0])) + lap
    return cur


def _levels_for(shape: tuple[int, int], wanted: int) -> int:
    n = 1
    while n < wanted and min(shape) / 2**n >= 4:
        n += 1
    return n


def magnify(
    frames: np.ndarray,
    alpha: float = 10.0,
    fps: float | None = None,
    params: EVMParams | None = None,
    **overrides,
) -> np.ndarray:
    """Motion-magnified frames, float32 (T, H, W) on the 0-255 scale (not clipped).

    Args:
        frames: (T, H, W) or (T, H, W, C) uint8 or float (colour is converted to grey).
        alpha: amplification (overrides ``params.alpha``).
        fps: frame rate, needed by the ``ideal`` band.
        params: the remaining parameters; ``overrides`` set single fields.

    Static frames come back unchanged: the band-pass of a constant signal is zero (the IIR
    filters start from the first frame).
    """
    p = params or EVMParams()
    p = EVMParams(**{**p.as_dict(), **overrides, "alpha": alpha})
    if p.band not in ("iir", "ideal"):
        raise ValueError(f"unknown EVM band {p.band!r}; expected iir or ideal")
    x = to_float_gray(frames)
    t, h, w = x.shape
    if t < 2 or p.alpha == 0:
        return x.copy()
    n_levels = _levels_for((h, w), p.levels)
    pyrs = [_pyramid(f, n_levels) for f in x]
    # per-level alpha (Wu et al. 2012, eq. 14-15): wavelength halves from the coarsest level down
    diag = float(np.hypot(h, w))
    alphas = []
    for level in range(n_levels):
        lam = diag / 3 / 2 ** (n_levels - 1 - level)
        if p.lambda_c > 0:
            delta = p.lambda_c / (8 * (1 + p.alpha))
            alphas.append(max(0.0, min(p.alpha, lam / (8 * delta) - 1)))
        else:
            alphas.append(p.alpha)
    out = np.empty_like(x)
    if p.band == "iir":
        low1 = [lvl.copy() for lvl in pyrs[0]]
        low2 = [lvl.copy() for lvl in pyrs[0]]
        for i, pyr in enumerate(pyrs):
            mag = []
            for level, lvl in enumerate(pyr):
                if i > 0:
                    low1[level] = (1 - p.r1) * low1[level] + p.r1 * lvl
                    low2[level] = (1 - p.r2) * low2[level] + p.r2 * lvl
                mag.append(lvl + alphas[level] * (low1[level] - low2[level]))
            out[i] = _collapse(mag)
    else:
        if fps is None:
            raise ValueError("the ideal EVM band needs fps")
        freqs = np.fft.rfftfreq(t, d=1.0 / fps)
        keep = ((freqs >= p.f_lo) & (freqs <= p.f_hi)).astype(np.float32)
        for level in range(n_levels):
            stack = np.stack([pyr[level] for pyr in pyrs])
            band = np.fft.irfft(np.fft.rfft(stack, axis=0) * keep[:, None, None], n=t, axis=0)
            for i in range(t):
                pyrs[i][level] = pyrs[i][level] + alphas[level] * band[i].astype(np.float32)
        for i in range(t):
            out[i] = _collapse(pyrs[i])
    return out
