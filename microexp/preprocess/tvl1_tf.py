"""TV-L1 optical flow in TensorFlow, batched over frame pairs of one size (CPU or GPU).

The algorithm of ``cv2.optflow.DualTVL1OpticalFlow`` (Zach, Pock, Bischof 2007, with Wedel et
al. 2009's improvements; Sanchez, Meinhardt-Llopis, Facciolo 2013 explain it), step for step as
OpenCV computes it:

- a pyramid of ``nscales`` levels, each the previous one resized by ``scale_step`` (bilinear,
  OpenCV's pixel-centre mapping with the scale factor itself), stopping before a side < 16 px;
- per level, zero dual variables; ``warps`` times: warp the second frame and its centred
  gradients by the flow (bicubic, a = -0.75, coordinates rounded to 1/32 px and zero outside,
  as ``cv2.remap`` does), then up to ``outer_iterations`` x [5x5 median filter of the flow, up
  to ``inner_iterations`` x (thresholding step, divergence of the duals, flow update,
  forward gradients, dual update)], stopping when the squared flow change summed over the
  image falls to ``epsilon^2 x area``;
- the flow is resized to the next level (bilinear) and divided by ``scale_step``;
- ``gamma`` > 0 adds the illumination variable u3, as OpenCV does.

Each pair stops on its own (a pair that met the stopping test is left unchanged while the
others iterate). Images are read as OpenCV reads them: uint8 as is, float x 255. Sign
convention as OpenCV: prev(x) ~ next(x + (u, v)).

Importing this module imports TensorFlow; ``microexp.preprocess`` imports it only when the
``tf`` backend is chosen.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .flow import TVL1Params

TAB = 32  # cv2.remap's sub-pixel table: coordinates are rounded to 1/32 px
CUBIC_A = -0.75


def pyramid_sizes(height: int, width: int, p: TVL1Params) -> list[tuple[int, int]]:
    """The levels' (height, width), finest first, as OpenCV builds them."""
    sizes = [(height, width)]
    for _ in range(1, p.nscales):
        h, w = sizes[-1]
        nh, nw = int(np.rint(h * p.scale_step)), int(np.rint(w * p.scale_step))
        if nh < 16 or nw < 16:
            break
        sizes.append((nh, nw))
    return sizes


def _linear_taps(src: int, dst: int, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OpenCV's bilinear taps along one axis: indices i0, i1 and the weight of i1."""
    f = ((np.arange(dst) + 0.5) * scale - 0.5).astype(np.float32)
    s = np.floor(f).astype(np.int64)
    t = (f - s).astype(np.float32)
    t[s < 0] = 0.0
    s[s < 0] = 0
    last = s >= src - 1
    t[last] = 0.0
    s[last] = src - 1
    return s, np.minimum(s + 1, src - 1), t


def resize_linear(x: tf.Tensor, size: tuple[int, int], scale: tuple[float, float] | None = None):
    """(N, H, W) -> (N, h, w) bilinear as ``cv2.resize(INTER_LINEAR)``: source coordinate
    (d + 0.5) * scale - 0.5, clamped at the edges; ``scale`` (source per destination pixel)
    defaults to the size ratio, as when OpenCV is given a destination size."""
    h, w = size
    sy, sx = scale or (x.shape[1] / h, x.shape[2] / w)
    y0, y1, ty = _linear_taps(int(x.shape[1]), h, sy)
    x0, x1, tx = _linear_taps(int(x.shape[2]), w, sx)
    ty = tf.constant(ty[None, :, None])
    tx = tf.constant(tx[None, None, :])
    rows = tf.gather(x, y0, axis=1) * (1 - ty) + tf.gather(x, y1, axis=1) * ty
    return tf.gather(rows, x0, axis=2) * (1 - tx) + tf.gather(rows, x1, axis=2) * tx


def _cubic_weights(t: tf.Tensor) -> list[tf.Tensor]:
    """Keys' cubic convolution weights (a = -0.75, OpenCV's) of the 4 taps at -1, 0, 1, 2."""
    a = CUBIC_A
    t1 = t + 1
    w0 = ((a * t1 - 5 * a) * t1 + 8 * a) * t1 - 4 * a
    w1 = ((a + 2) * t - (a + 3)) * t * t + 1
    s = 1 - t
    w2 = ((a + 2) * s - (a + 3)) * s * s + 1
    return [w0, w1, w2, 1 - w0 - w1 - w2]


def remap_cubic(images: tf.Tensor, u: tf.Tensor, v: tf.Tensor) -> tf.Tensor:
    """(N, H, W, C) images sampled at (x + u, y + v) like ``cv2.remap(INTER_CUBIC)`` with its
    default constant border 0: coordinates rounded to 1/32 px, 4 x 4 taps, taps outside the
    image read 0."""
    h, w, c = (int(d) for d in images.shape[1:])
    n = tf.shape(images)[0]
    ys, xs = np.meshgrid(
        np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), indexing="ij"
    )
    qx = tf.cast(tf.round((xs + u) * TAB), tf.int32)
    qy = tf.cast(tf.round((ys + v) * TAB), tf.int32)
    ix, iy = tf.math.floordiv(qx, TAB), tf.math.floordiv(qy, TAB)
    wx = _cubic_weights(tf.cast(qx - ix * TAB, tf.float32) / TAB)
    wy = _cubic_weights(tf.cast(qy - iy * TAB, tf.float32) / TAB)
    flat = tf.reshape(images, (n, h * w, c))
    out = tf.zeros((n, h, w, c), images.dtype)
    for j in range(4):
        yy = iy + (j - 1)
        y_ok = (yy >= 0) & (yy < h)
        for i in range(4):
            xx = ix + (i - 1)
            ok = y_ok & (xx >= 0) & (xx < w)
            idx = tf.where(ok, yy * w + xx, 0)
            taps = tf.gather(flat, idx, batch_dims=1)
            weight = tf.where(ok, wy[j] * wx[i], 0.0)
            out += taps * weight[..., None]
    return out


def _pad_edge(x: tf.Tensor, n: int) -> tf.Tensor:
    """(N, H, W) padded by ``n`` on both sides of H and W, repeating the edge pixels."""
    x = tf.concat([tf.repeat(x[:, :1], n, 1), x, tf.repeat(x[:, -1:], n, 1)], axis=1)
    return tf.concat([tf.repeat(x[:, :, :1], n, 2), x, tf.repeat(x[:, :, -1:], n, 2)], axis=2)


def centered_gradient(x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Half the central differences, one-sided at the border (OpenCV's centeredGradient)."""
    p = _pad_edge(x, 1)
    dx = 0.5 * (p[:, 1:-1, 2:] - p[:, 1:-1, :-2])
    dy = 0.5 * (p[:, 2:, 1:-1] - p[:, :-2, 1:-1])
    return dx, dy


def forward_gradient(x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Forward differences, 0 on the last column (x) and the last row (y)."""
    dx = tf.pad(x[:, :, 1:] - x[:, :, :-1], [[0, 0], [0, 0], [0, 1]])
    dy = tf.pad(x[:, 1:] - x[:, :-1], [[0, 0], [0, 1], [0, 0]])
    return dx, dy


def divergence(p1: tf.Tensor, p2: tf.Tensor) -> tf.Tensor:
    """Backward differences with zeros before the first row and column (the adjoint of
    :func:`forward_gradient`, OpenCV's divergence)."""
    d1 = p1 - tf.pad(p1[:, :, :-1], [[0, 0], [0, 0], [1, 0]])
    d2 = p2 - tf.pad(p2[:, :-1], [[0, 0], [1, 0], [0, 0]])
    return d1 + d2


def _oddeven_merge_pairs(n: int) -> list[tuple[int, int]]:
    """Batcher's odd-even merge sorting network on ``n`` (a power of two) wires."""
    pairs, p = [], 1
    while p < n:
        k = p
        while k >= 1:
            for j in range(k % p, n - k, 2 * k):
                for i in range(min(k, n - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return pairs


def _median_network(count: int) -> list[tuple[int, int]]:
    """The comparators of a sorting network on ``count`` values (padded with +inf to a power
    of two) that the middle output depends on."""
    n = 1 << (count - 1).bit_length()
    pairs = [(a, b) for a, b in _oddeven_merge_pairs(n) if b < count]  # a padded +inf: no-op
    needed, kept = {count // 2}, []
    for a, b in reversed(pairs):
        if a in needed or b in needed:
            kept.append((a, b))
            needed |= {a, b}
    return kept[::-1]


def median_filter(x: tf.Tensor, size: int) -> tf.Tensor:
    """``size`` x ``size`` median with replicated borders (``cv2.medianBlur`` on float), by a
    min/max sorting network over the window's shifted copies (exact; XLA fuses it)."""
    r = size // 2
    p = _pad_edge(x, r)
    h, w = int(x.shape[1]), int(x.shape[2])
    wires = [p[:, i : i + h, j : j + w] for i in range(size) for j in range(size)]
    for a, b in _median_network(len(wires)):
        wires[a], wires[b] = tf.minimum(wires[a], wires[b]), tf.maximum(wires[a], wires[b])
    return wires[len(wires) // 2]


class _Level:
    """One pyramid level's fixed tensors and its TV-L1 solver."""

    def __init__(self, p: TVL1Params, i0: tf.Tensor, i1: tf.Tensor) -> None:
        self.p = p
        self.i0, self.i1 = i0, i1
        self.i1x, self.i1y = centered_gradient(i1)
        h, w = int(i0.shape[1]), int(i0.shape[2])
        self.eps = np.float32(p.epsilon * p.epsilon * h * w)
        self.l_t = np.float32(p.lambda_ * p.theta)
        self.taut = np.float32(p.tau / p.theta)
        self.theta = np.float32(p.theta)
        self.gamma = np.float32(p.gamma)

    def _threshold(self, u, wx, wy, grad, rho_c):
        """The thresholding step TH: v = u + d."""
        u1, u2, u3 = u
        rho = rho_c + wx * u1 + wy * u2 + (self.gamma * u3 if self.gamma else 0.0)
        lt = self.l_t
        low, high = rho < -lt * grad, rho > lt * grad
        fi = tf.where(grad > np.finfo(np.float32).eps, -rho / tf.maximum(grad, 1e-30), 0.0)
        scale = tf.where(low, lt, tf.where(high, -lt, fi))
        return [u1 + scale * wx, u2 + scale * wy, u3 + scale * self.gamma]

    def _inner(self, state, live, wx, wy, grad, rho_c):
        """One inner iteration for the pairs in ``live``; returns the new state and errors."""
        u, p, err = state
        v = self._threshold(u, wx, wy, grad, rho_c)
        comps = 3 if self.gamma else 2
        new_u = [v[k] + self.theta * divergence(p[2 * k], p[2 * k + 1]) for k in range(comps)]
        if comps == 2:
            new_u.append(u[2])
        change = sum(tf.reduce_sum(tf.square(new_u[k] - u[k]), axis=[1, 2]) for k in range(comps))
        new_p = list(p)
        for k in range(comps):
            gx, gy = forward_gradient(new_u[k])
            norm = 1.0 + self.taut * tf.sqrt(gx * gx + gy * gy)
            new_p[2 * k] = (p[2 * k] + self.taut * gx) / norm
            new_p[2 * k + 1] = (p[2 * k + 1] + self.taut * gy) / norm
        keep = live[:, None, None]
        u = [tf.where(keep, a, b) for a, b in zip(new_u, u, strict=True)]
        p = [tf.where(keep, a, b) for a, b in zip(new_p, p, strict=True)]
        return u, p, tf.where(live, change, err)

    def solve(self, u: list[tf.Tensor]) -> list[tf.Tensor]:
        """``warps`` warpings from the flow ``u`` = [u1, u2, u3], duals starting at zero (one
        graph loop per level: warps, then outer, then inner iterations)."""

        def warp(i, u, p):
            warped = remap_cubic(tf.stack([self.i1, self.i1x, self.i1y], -1), u[0], u[1])
            i1w, wx, wy = warped[..., 0], warped[..., 1], warped[..., 2]
            grad = wx * wx + wy * wy + (self.gamma * self.gamma if self.gamma else 0.0)
            rho_c = i1w - wx * u[0] - wy * u[1] - self.i0
            u, p = self._warp(u, p, wx, wy, grad, rho_c)
            return i + 1, u, p

        p = [tf.zeros_like(u[0]) for _ in range(6)]
        _, u, _ = tf.while_loop(lambda i, u, p: i < self.p.warps, warp, (tf.constant(0), u, p))
        return u

    def _warp(self, u, p, wx, wy, grad, rho_c):
        def outer(i, u, p, err):
            if self.p.median_filtering > 1:
                keep = (err > self.eps)[:, None, None]
                u = [
                    tf.where(keep, median_filter(u[k], self.p.median_filtering), u[k])
                    for k in (0, 1)
                ] + [u[2]]
            u, p, err = self._inner_loop(u, p, err, wx, wy, grad, rho_c)
            return i + 1, u, p, err

        err = tf.fill([tf.shape(u[0])[0]], np.float32(np.finfo(np.float32).max))
        _, u, p, _ = tf.while_loop(
            lambda i, u, p, err: (i < self.p.outer_iterations) & tf.reduce_any(err > self.eps),
            outer,
            (tf.constant(0), u, p, err),
        )
        return u, p

    def _inner_loop(self, u, p, err, wx, wy, grad, rho_c):
        def cond(i, u, p, err):
            return (i < self.p.inner_iterations) & tf.reduce_any(err > self.eps)

        def body(i, u, p, err):
            u, p, err = self._inner((u, p, err), err > self.eps, wx, wy, grad, rho_c)
            return i + 1, u, p, err

        _, u, p, err = tf.while_loop(cond, body, (tf.constant(0), u, p, err))
        return u, p, err


def _as_float(frames: np.ndarray) -> np.ndarray:
    """OpenCV's reading of the input: uint8 as is, float x 255."""
    frames = np.asarray(frames)
    if frames.dtype == np.uint8:
        return frames.astype(np.float32)
    return (frames.astype(np.float32) * 255.0).astype(np.float32)


def _solve(i0: tf.Tensor, i1: tf.Tensor, p: TVL1Params) -> tf.Tensor:
    sizes = pyramid_sizes(int(i0.shape[1]), int(i0.shape[2]), p)
    i0s, i1s = [i0], [i1]
    step = 1.0 / p.scale_step
    for size in sizes[1:]:
        i0s.append(resize_linear(i0s[-1], size, (step, step)))
        i1s.append(resize_linear(i1s[-1], size, (step, step)))
    u = [tf.zeros_like(i0s[-1]) for _ in range(3)]
    for level in range(len(sizes) - 1, -1, -1):
        u = _Level(p, i0s[level], i1s[level]).solve(u)
        if level:
            finer = sizes[level - 1]
            up = [resize_linear(c, finer) for c in u]
            u = [up[0] * step, up[1] * step, up[2]]
    return tf.stack([u[0], u[1]], axis=-1)


def tvl1_flow_batch(
    prev: np.ndarray, next: np.ndarray, params: TVL1Params | None = None, jit: bool | None = None
) -> np.ndarray:  # noqa: A002
    """TV-L1 flow of N pairs of one size: (N, H, W) prev and next frames (uint8, or float in
    [0, 1] as OpenCV reads float) -> float32 (N, H, W, 2), u then v, prev(x) ~ next(x + flow).

    ``jit``: compile with XLA (default: when a GPU is visible; on a CPU XLA's compile time
    outweighs its gain for a few batches)."""
    if jit is None:
        jit = bool(tf.config.list_logical_devices("GPU"))
    p = params or TVL1Params()
    a, b = _as_float(prev), _as_float(next)
    if a.shape != b.shape or a.ndim != 3:
        raise ValueError(f"expected two (N, H, W) stacks of one shape, got {a.shape} and {b.shape}")
    if min(a.shape[1:]) < 3:
        raise ValueError(f"frames of {a.shape[1:]} px are too small for TV-L1 (3 px at least)")
    return _compiled(a.shape[1], a.shape[2], p, jit)(tf.constant(a), tf.constant(b)).numpy()


_COMPILED: dict[tuple, object] = {}


def _compiled(height: int, width: int, p: TVL1Params, jit: bool):
    """The solver for (any N, height, width) pairs as one graph function (traced once per
    frame size and parameters), XLA-compiled when ``jit``."""
    key = (height, width, p, jit)
    if key not in _COMPILED:
        spec = tf.TensorSpec([None, height, width], tf.float32)
        _COMPILED[key] = tf.function(
            lambda i0, i1: _solve(i0, i1, p),
            input_signature=[spec, spec],
            jit_compile=jit,
            autograph=False,
        )
    return _COMPILED[key]
