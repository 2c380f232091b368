"""TV-L1 optical flow (Zach, Pock & Bischof 2007) through OpenCV or microexp's ``keras.ops``
version, and optical strain.

Pre-processing is NumPy/OpenCV only: nothing here imports a deep-learning framework unless a
Keras flow backend (``tf``, ``jax``, ``torch``) is asked for.
"""

from __future__ import annotations

import numpy as np

from ..errors import MicroexpError, unknown_name
from .frames import to_float_gray
from .tvl1_params import TVL1Params  # here too: `from microexp.preprocess.flow import TVL1Params`

#: the flow backend that runs microexp's TV-L1 (:mod:`.tvl1_keras`) on each Keras backend
KERAS_FLOW_BACKENDS = {"tensorflow": "tf", "jax": "jax", "torch": "torch"}
#: TV-L1 implementations: OpenCV's (the reference, default) and microexp's on each Keras backend
FLOW_BACKENDS = ("cv2", *KERAS_FLOW_BACKENDS.values())


def keras_flow_backend() -> str:
    """The flow backend of the Keras backend in use (``tf``, ``jax`` or ``torch``); imports
    Keras."""
    from .. import backend

    return KERAS_FLOW_BACKENDS[backend.name()]


def uses_keras(flow_backend: str) -> bool:
    """False for ``cv2``; True for a Keras flow backend, after checking that it is the one
    Keras runs on (imports Keras), else the one-line error naming both."""
    if flow_backend == "cv2":
        return False
    if flow_backend not in KERAS_FLOW_BACKENDS.values():
        raise unknown_name("flow backend", flow_backend, FLOW_BACKENDS)
    from .. import backend

    active = backend.name()
    if KERAS_FLOW_BACKENDS.get(active) != flow_backend:
        keras_name = next(k for k, v in KERAS_FLOW_BACKENDS.items() if v == flow_backend)
        raise MicroexpError(
            f"flow backend {flow_backend!r} needs KERAS_BACKEND={keras_name} "
            f"(Keras runs on {active})"
        )
    return True


_ENGINES: dict[TVL1Params, object] = {}


def _engine(p: TVL1Params):
    import cv2

    if p not in _ENGINES:
        _ENGINES[p] = cv2.optflow.DualTVL1OpticalFlow_create(
            tau=p.tau,
            lambda_=p.lambda_,
            theta=p.theta,
            nscales=p.nscales,
            warps=p.warps,
            epsilon=p.epsilon,
            innnerIterations=p.inner_iterations,
            outerIterations=p.outer_iterations,
            scaleStep=p.scale_step,
            gamma=p.gamma,
            medianFiltering=p.median_filtering,
        )
    return _ENGINES[p]


def tvl1_flow(
    prev: np.ndarray,
    next: np.ndarray,  # noqa: A002
    params: TVL1Params | None = None,
    backend: str = "cv2",
    **overrides,
) -> np.ndarray:
    """Dense TV-L1 flow from ``prev`` to ``next``: float32 (H, W, 2), u then v, in pixels.

    Follows OpenCV's convention: ``prev(x) ~ next(x + flow(x))``, so content moving right has
    positive u. Colour frames are converted to grey; float frames are read on the 0-255 scale
    unless both are within [0, 1.05] (then [0, 1]); ``overrides`` set single TVL1Params fields.
    ``backend``: ``cv2`` (OpenCV, the reference), or ``tf``, ``jax``, ``torch``: microexp's
    ``keras.ops`` version of the same algorithm (:mod:`.tvl1_keras`) on that Keras backend,
    which must be the one Keras runs on.
    """
    p = params or TVL1Params()
    if overrides:
        p = TVL1Params(**{**p.as_dict(), **overrides})
    if np.shape(prev) != np.shape(next):
        raise ValueError(f"frames differ in size: {np.shape(prev)} vs {np.shape(next)}")
    if backend != "cv2":
        return tvl1_flows(np.asarray(prev)[None], np.asarray(next)[None], p, backend)[0]
    a, b = to_float_gray(np.stack([prev, next]))  # one scale decision for both frames
    # OpenCV scales float input by 255 (it expects [0, 1]); uint8 input by 1
    flow = _engine(p).calc(a / 255.0, b / 255.0, None)
    return np.asarray(flow, dtype=np.float32)


def tvl1_flows(
    prev: np.ndarray, next: np.ndarray, params: TVL1Params | None = None, backend: str = "cv2"
) -> np.ndarray:  # noqa: A002
    """TV-L1 of N pairs of one size ((N, H, W) frames, read as :func:`tvl1_flow` reads them):
    float32 (N, H, W, 2). ``backend`` ``cv2``: OpenCV, pair by pair; ``tf``, ``jax``,
    ``torch``: microexp's ``keras.ops`` implementation of the same algorithm on that Keras
    backend (Keras is imported only then; a name other than the active backend's is a one-line
    error), all pairs in one batched call."""
    if not uses_keras(backend):
        return np.stack([tvl1_flow(a, b, params) for a, b in zip(prev, next, strict=True)])
    from .tvl1_keras import tvl1_flow_batch

    pairs = to_float_gray(np.concatenate([np.asarray(prev), np.asarray(next)]))
    n = len(pairs) // 2
    return tvl1_flow_batch(pairs[:n] / 255.0, pairs[n:] / 255.0, params or TVL1Params())


def optical_strain(flow: np.ndarray) -> np.ndarray:
    """Optical strain magnitude, float32 (H, W), from a (H, W, 2) flow.

    Both papers' formula (A eq. 5-7, B eq. 2-4): eps = 1/2 [grad u + (grad u)^T], i.e.
    eps_xx = du/dx, eps_yy = dv/dy, eps_xy = eps_yx = 1/2 (du/dy + dv/dx), and
    |eps| = sqrt(eps_xx^2 + eps_yy^2 + eps_xy^2 + eps_yx^2). Derivatives are central differences
    (one-sided at the border), per pixel. Peer code differs (forward differences and a 1/2 on the
    shear term in ELRCN/MEAN, Sobel in MEB); this is the papers' definition.
    """
    u = flow[..., 0].astype(np.float64)
    v = flow[..., 1].astype(np.float64)
    u_y, u_x = np.gradient(u)
    v_y, v_x = np.gradient(v)
    exy = 0.5 * (u_y + v_x)
    return np.sqrt(u_x**2 + v_y**2 + 2.0 * exy**2).astype(np.float32)


def rotate_flow(flow: np.ndarray, k: int) -> np.ndarray:
    """The flow field rotated ``k`` x 90 degrees counter-clockwise, vectors included.

    The grid turns as ``np.rot90`` turns an image; each vector (u, v) (image axes, y down) turns
    with it: one counter-clockwise quarter turn maps (u, v) to (v, -u). Works on (..., H, W, 2)
    with the two last spatial axes at -3 and -2.
    """
    k %= 4
    out = np.rot90(flow, k, axes=(-3, -2))
    u, v = out[..., 0], out[..., 1]
    if k == 1:
        u, v = v, -u
    elif k == 2:
        u, v = -u, -v
    elif k == 3:
        u, v = -v, u
    return np.stack([u, v], axis=-1).astype(flow.dtype, copy=False)
