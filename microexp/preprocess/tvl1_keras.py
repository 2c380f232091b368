"""TV-L1 optical flow in ``keras.ops``, batched over frame pairs of one size: one implementation
that runs on every Keras backend (TensorFlow, JAX, PyTorch; CPU or GPU).

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

The whole solver is compiled once per frame size and parameters by
:func:`microexp.backend.compile_function`: ``tf.function`` on TensorFlow (XLA when ``jit``),
traced once for any batch size (one graph: TensorFlow's graph optimiser rewrites a graph of a
fixed batch size by its shapes, which changes float32 rounding, and then a pair's flow would
depend on its batch); ``jax.jit`` on JAX (each new batch size traces and compiles again: group
calls by batch size); eager on PyTorch (the loops run in Python, each stopping test reads one
value back from the device).

Importing this module imports Keras, and with it the framework of its backend (never another);
:mod:`microexp.preprocess` imports it only when a Keras flow backend (``tf``, ``jax``,
``torch``) is chosen.
"""

from __future__ import annotations

import numpy as np
from keras import ops

from .tvl1_params import TVL1Params

TAB = 32  # cv2.remap's sub-pixel table: coordinates are rounded to 1/32 px
CUBIC_A = -0.75
#: float32's largest value and its machine epsilon, as Python floats (exact in float32)
FLT_MAX = float(np.finfo(np.float32).max)
FLT_EPS = float(np.finfo(np.float32).eps)


def _f32(x: float) -> float:
    """``x`` rounded to float32, as a Python float (a scalar every backend reads exactly)."""
    return float(np.float32(x))


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
    s = np.floor(f).astype(np.int32)
    t = (f - s).astype(np.float32)
    t[s < 0] = 0.0
    s[s < 0] = 0
    last = s >= src - 1
    t[last] = 0.0
    s[last] = src - 1
    return s, np.minimum(s + 1, src - 1), t


def resize_linear(x, size: tuple[int, int], scale: tuple[float, float] | None = None):
    """(N, H, W) -> (N, h, w) bilinear as ``cv2.resize(INTER_LINEAR)``: source coordinate
    (d + 0.5) * scale - 0.5, clamped at the edges; ``scale`` (source per destination pixel)
    defaults to the size ratio, as when OpenCV is given a destination size."""
    h, w = size
    sy, sx = scale or (x.shape[1] / h, x.shape[2] / w)
    y0, y1, ty = _linear_taps(int(x.shape[1]), h, sy)
    x0, x1, tx = _linear_taps(int(x.shape[2]), w, sx)
    ty = ops.convert_to_tensor(ty[None, :, None])
    tx = ops.convert_to_tensor(tx[None, None, :])
    rows = ops.take(x, y0, axis=1) * (1 - ty) + ops.take(x, y1, axis=1) * ty
    return ops.take(rows, x0, axis=2) * (1 - tx) + ops.take(rows, x1, axis=2) * tx


def _cubic_weights(t) -> list:
    """Keys' cubic convolution weights (a = -0.75, OpenCV's) of the 4 taps at -1, 0, 1, 2."""
    a = CUBIC_A
    t1 = t + 1
    w0 = ((a * t1 - 5 * a) * t1 + 8 * a) * t1 - 4 * a
    w1 = ((a + 2) * t - (a + 3)) * t * t + 1
    s = 1 - t
    w2 = ((a + 2) * s - (a + 3)) * s * s + 1
    return [w0, w1, w2, 1 - w0 - w1 - w2]


def remap_cubic(images: list, u, v) -> list:
    """(N, H, W) images (a list, sampled alike) at (x + u, y + v) like
    ``cv2.remap(INTER_CUBIC)`` with its default constant border 0: coordinates rounded to
    1/32 px, 4 x 4 taps, taps outside the image read 0. Each tap is one batched gather of
    every image; the taps are summed in OpenCV's order (row by row)."""
    h, w = (int(d) for d in images[0].shape[1:])
    ys, xs = np.meshgrid(
        np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), indexing="ij"
    )
    qx = ops.cast(ops.round((ops.convert_to_tensor(xs) + u) * TAB), "int32")
    qy = ops.cast(ops.round((ops.convert_to_tensor(ys) + v) * TAB), "int32")
    ix, iy = ops.floor_divide(qx, TAB), ops.floor_divide(qy, TAB)
    wx = _cubic_weights(ops.cast(qx - ix * TAB, "float32") / TAB)
    wy = _cubic_weights(ops.cast(qy - iy * TAB, "float32") / TAB)
    c = len(images)
    flat = ops.reshape(ops.stack(images, axis=1), (-1, c, h * w))  # (N, C, H x W)
    out = [ops.zeros_like(images[0]) for _ in range(c)]
    for j in range(4):
        yy = iy + (j - 1)
        y_ok = ops.logical_and(yy >= 0, yy < h)
        for i in range(4):
            xx = ix + (i - 1)
            ok = ops.logical_and(y_ok, ops.logical_and(xx >= 0, xx < w))
            idx = ops.reshape(ops.where(ok, yy * w + xx, 0), (-1, 1, h * w))
            taps = ops.reshape(ops.take_along_axis(flat, idx, axis=2), (-1, c, h, w))
            weight = ops.where(ok, wy[j] * wx[i], 0.0)
            out = [out[k] + taps[:, k] * weight for k in range(c)]
    return out


def _pad_edge(x, n: int):
    """(N, H, W) padded by ``n`` on both sides of H and W, repeating the edge pixels."""
    x = ops.concatenate([x[:, :1]] * n + [x] + [x[:, -1:]] * n, axis=1)
    return ops.concatenate([x[:, :, :1]] * n + [x] + [x[:, :, -1:]] * n, axis=2)


def centered_gradient(x):
    """Half the central differences, one-sided at the border (OpenCV's centeredGradient)."""
    p = _pad_edge(x, 1)
    dx = 0.5 * (p[:, 1:-1, 2:] - p[:, 1:-1, :-2])
    dy = 0.5 * (p[:, 2:, 1:-1] - p[:, :-2, 1:-1])
    return dx, dy


def forward_gradient(x):
    """Forward differences, 0 on the last column (x) and the last row (y)."""
    dx = ops.pad(x[:, :, 1:] - x[:, :, :-1], [[0, 0], [0, 0], [0, 1]])
    dy = ops.pad(x[:, 1:] - x[:, :-1], [[0, 0], [0, 1], [0, 0]])
    return dx, dy


def divergence(p1, p2):
    """Backward differences with zeros before the first row and column (the adjoint of
    :func:`forward_gradient`, OpenCV's divergence)."""
    d1 = p1 - ops.pad(p1[:, :, :-1], [[0, 0], [0, 0], [1, 0]])
    d2 = p2 - ops.pad(p2[:, :-1], [[0, 0], [1, 0], [0, 0]])
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


def median_filter(x, size: int):
    """``size`` x ``size`` median with replicated borders (``cv2.medianBlur`` on float), by a
    min/max sorting network over the window's shifted copies (exact; XLA fuses it)."""
    r = size // 2
    p = _pad_edge(x, r)
    h, w = int(x.shape[1]), int(x.shape[2])
    wires = [p[:, i : i + h, j : j + w] for i in range(size) for j in range(size)]
    for a, b in _median_network(len(wires)):
        wires[a], wires[b] = ops.minimum(wires[a], wires[b]), ops.maximum(wires[a], wires[b])
    return wires[len(wires) // 2]


def _while(cond, body, loop_vars):
    """``keras.ops.while_loop`` with an int32 counter in front of ``loop_vars``: ``cond`` and
    ``body`` take (i, *loop_vars); returns the final ``loop_vars``."""
    i = ops.convert_to_tensor(0, "int32")
    return ops.while_loop(cond, lambda i, *v: (i + 1, *body(i, *v)), (i, *loop_vars))[1:]


class _Level:
    """One pyramid level's fixed tensors and its TV-L1 solver."""

    def __init__(self, p: TVL1Params, i0, i1) -> None:
        self.p = p
        self.i0, self.i1 = i0, i1
        self.i1x, self.i1y = centered_gradient(i1)
        h, w = int(i0.shape[1]), int(i0.shape[2])
        self.eps = _f32(p.epsilon * p.epsilon * h * w)
        self.l_t = _f32(p.lambda_ * p.theta)
        self.taut = _f32(p.tau / p.theta)
        self.theta = _f32(p.theta)
        self.gamma = _f32(p.gamma)

    def _threshold(self, u, wx, wy, grad, rho_c):
        """The thresholding step TH: v = u + d."""
        u1, u2, u3 = u
        rho = rho_c + wx * u1 + wy * u2 + (self.gamma * u3 if self.gamma else 0.0)
        lt = self.l_t
        low, high = rho < -lt * grad, rho > lt * grad
        fi = ops.where(grad > FLT_EPS, -rho / ops.maximum(grad, 1e-30), 0.0)
        scale = ops.where(low, lt, ops.where(high, -lt, fi))
        return [u1 + scale * wx, u2 + scale * wy, u3 + scale * self.gamma]

    def _inner(self, u, p, err, live, wx, wy, grad, rho_c):
        """One inner iteration for the pairs in ``live``; returns the new u, p and errors."""
        v = self._threshold(u, wx, wy, grad, rho_c)
        comps = 3 if self.gamma else 2
        new_u = [v[k] + self.theta * divergence(p[2 * k], p[2 * k + 1]) for k in range(comps)]
        if comps == 2:
            new_u.append(u[2])
        change = sum(ops.sum(ops.square(new_u[k] - u[k]), axis=(1, 2)) for k in range(comps))
        new_p = list(p)
        for k in range(comps):
            gx, gy = forward_gradient(new_u[k])
            norm = 1.0 + self.taut * ops.sqrt(gx * gx + gy * gy)
            new_p[2 * k] = (p[2 * k] + self.taut * gx) / norm
            new_p[2 * k + 1] = (p[2 * k + 1] + self.taut * gy) / norm
        keep = live[:, None, None]
        u = [ops.where(keep, a, b) for a, b in zip(new_u, u, strict=True)]
        p = [ops.where(keep, a, b) for a, b in zip(new_p, p, strict=True)]
        return u, p, ops.where(live, change, err)

    def _iterating(self, i, limit: int, err):
        """The loops' test: below ``limit`` iterations and some pair not yet converged."""
        return ops.logical_and(i < limit, ops.any(err > self.eps))

    def solve(self, u: list) -> list:
        """``warps`` warpings from the flow ``u`` = [u1, u2, u3], duals starting at zero (one
        loop per level: warps, then outer, then inner iterations)."""

        def warp(i, u, p):
            i1w, wx, wy = remap_cubic([self.i1, self.i1x, self.i1y], u[0], u[1])
            grad = wx * wx + wy * wy + (self.gamma * self.gamma if self.gamma else 0.0)
            rho_c = i1w - wx * u[0] - wy * u[1] - self.i0
            return self._warp(u, p, wx, wy, grad, rho_c)

        p = [ops.zeros_like(u[0]) for _ in range(6)]
        u, _ = _while(lambda i, u, p: i < self.p.warps, warp, (u, p))
        return u

    def _warp(self, u, p, wx, wy, grad, rho_c):
        def outer(i, u, p, err):
            if self.p.median_filtering > 1:
                keep = (err > self.eps)[:, None, None]
                u = [
                    ops.where(keep, median_filter(u[k], self.p.median_filtering), u[k])
                    for k in (0, 1)
                ] + [u[2]]
            return self._inner_loop(u, p, err, wx, wy, grad, rho_c)

        err = ops.zeros_like(u[0][:, 0, 0]) + FLT_MAX
        u, p, _ = _while(
            lambda i, u, p, err: self._iterating(i, self.p.outer_iterations, err),
            outer,
            (u, p, err),
        )
        return u, p

    def _inner_loop(self, u, p, err, wx, wy, grad, rho_c):
        def body(i, u, p, err):
            return self._inner(u, p, err, err > self.eps, wx, wy, grad, rho_c)

        return _while(
            lambda i, u, p, err: self._iterating(i, self.p.inner_iterations, err),
            body,
            (u, p, err),
        )


def _as_float(frames: np.ndarray) -> np.ndarray:
    """OpenCV's reading of the input: uint8 as is, float x 255."""
    frames = np.asarray(frames)
    if frames.dtype == np.uint8:
        return frames.astype(np.float32)
    return (frames.astype(np.float32) * 255.0).astype(np.float32)


def _solve(i0, i1, p: TVL1Params):
    sizes = pyramid_sizes(int(i0.shape[1]), int(i0.shape[2]), p)
    i0s, i1s = [i0], [i1]
    step = 1.0 / p.scale_step
    for size in sizes[1:]:
        i0s.append(resize_linear(i0s[-1], size, (step, step)))
        i1s.append(resize_linear(i1s[-1], size, (step, step)))
    u = [ops.zeros_like(i0s[-1]) for _ in range(3)]
    for level in range(len(sizes) - 1, -1, -1):
        u = _Level(p, i0s[level], i1s[level]).solve(u)
        if level:
            finer = sizes[level - 1]
            up = [resize_linear(c, finer) for c in u]
            u = [up[0] * _f32(step), up[1] * _f32(step), up[2]]
    return ops.stack([u[0], u[1]], axis=-1)


def tvl1_flow_batch(
    prev: np.ndarray, next: np.ndarray, params: TVL1Params | None = None, jit: bool | None = None
) -> np.ndarray:  # noqa: A002
    """TV-L1 flow of N pairs of one size on the active Keras backend: (N, H, W) prev and next
    frames (uint8, or float in [0, 1] as OpenCV reads float) -> float32 (N, H, W, 2), u then v,
    prev(x) ~ next(x + flow).

    ``jit``: on TensorFlow, compile with XLA (default: when the backend sees a GPU; on a CPU
    XLA's compile time outweighs its gain for a few batches). JAX always compiles (XLA);
    PyTorch runs eagerly."""
    from .. import backend

    if jit is None:
        jit = backend.gpu_count() > 0
    p = params or TVL1Params()
    a, b = _as_float(prev), _as_float(next)
    if a.shape != b.shape or a.ndim != 3:
        raise ValueError(f"expected two (N, H, W) stacks of one shape, got {a.shape} and {b.shape}")
    if min(a.shape[1:]) < 3:
        raise ValueError(f"frames of {a.shape[1:]} px are too small for TV-L1 (3 px at least)")
    solver = _compiled(a.shape[1], a.shape[2], p, bool(jit))
    return ops.convert_to_numpy(solver(ops.convert_to_tensor(a), ops.convert_to_tensor(b)))


_COMPILED: dict[tuple, object] = {}


def _compiled(height: int, width: int, p: TVL1Params, jit: bool):
    """The solver for N pairs of (height, width) as one compiled function, made once per frame
    size and parameters by :func:`microexp.backend.compile_function`; on TensorFlow traced at
    once for any N (one graph, so a pair's flow does not depend on its batch)."""
    from .. import backend

    key = (backend.name(), height, width, p, jit)
    if key not in _COMPILED:
        solver = backend.compile_function(lambda i0, i1: _solve(i0, i1, p), jit)
        _COMPILED[key] = backend.impl().for_any_batch(solver, (height, width), (height, width))
    return _COMPILED[key]
