"""HTNet's input (Wang et al., Neurocomputing 2024): the onset->apex flow of the whole face at
28 x 28 (u, v, optical strain), and four 14 x 14 regions of it around facial landmarks, tiled
into one 28 x 28 image: [[left eye, right eye], [left mouth corner, right mouth corner]].

What the public code fixes (wangzhifengharrison/HTNet, ``main_HTNet.py``) and what we do:

- it places the regions with MTCNN's five landmarks on the 28 x 28 apex face, clipped to
  [7, 21] so that a 14 x 14 region stays inside; we use dlib's 68 (eye centres: the means of
  points 36-41 and 42-47; mouth corners: 48 and 54) found on the onset frame, carried into the
  aligned 28 x 28 face by paper B's eye alignment (:func:`~microexp.preprocess.face.eye_alignment`)
  and clipped alike;
- it tiles the regions it names l_eye, l_lips, r_eye, r_lips from MTCNN's points 0, 1, 3, 4,
  which are the left eye, the right eye and the two mouth corners: the tiling above;
- it cuts ``flow[x - 7 : x + 7, y - 7 : y + 7]``, the landmark's x as the row: regions centred
  at the transposed positions. We cut at row y, column x (the regions the paper describes);
  ``swap_axes=True`` cuts as the public code does;
- its flow images are u, v and strain each scaled to 0-255 (PNG); ``normalise="minmax"``
  scales each to [0, 1] (the same up to a factor that the first layer norm removes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import MicroexpError
from .face import align_eyes, eye_alignment, landmarks_or_exclude
from .frames import SampleExcluded, read_frames, to_float_gray
from .tvl1_params import TVL1Params


@dataclass(frozen=True)
class HTNetRecipe:
    """Output ``x``: float (2 * region, 2 * region, 3), channels u, v, strain."""

    name: str = field(default="htnet", init=False)
    size: int = 28
    region: int = 14
    margin: float = 1.1
    tvl1: TVL1Params = TVL1Params()
    normalise: str = "minmax"
    swap_axes: bool = False
    dtype: str = "float16"
    flow_backend: str = "cv2"

    def validate(self) -> None:
        from .flow import FLOW_BACKENDS
        from .recipes import DTYPES, _check

        _check(self.flow_backend, FLOW_BACKENDS, "flow backend")
        _check(self.normalise, ("standardise", "minmax", "none"), "normalisation")
        _check(self.dtype, DTYPES, "tensor dtype")
        if not (2 <= self.region <= self.size and 8 <= self.size <= 512 and self.margin > 0):
            raise MicroexpError(
                f"htnet recipe: size 8-512, region 2-size, margin > 0 (got size {self.size}, "
                f"region {self.region}, margin {self.margin})"
            )

    def tensors(self, sample) -> dict[str, np.ndarray]:
        """The sample's tensors; :class:`SampleExcluded` without an apex or a face."""
        if sample.apex is None:
            raise SampleExcluded("no apex frame annotated (HTNet needs onset and apex)")
        onset, apex = read_frames(sample, [sample.onset, sample.apex])
        return self.pair_tensors(onset, apex, str(sample.frame_path(sample.onset)))

    def pair_tensors(self, onset: np.ndarray, apex: np.ndarray, what: str) -> dict:
        """The tensors of one onset and apex frame (also what ``microexp predict`` uses)."""
        return {"x": htnet_input(onset, apex, self, what)}


def region_centres(landmarks: np.ndarray, size: int, margin: float) -> np.ndarray:
    """(4, 2) (x, y) of the left eye, right eye, left and right mouth corners in the aligned
    ``size`` x ``size`` face, from dlib's 68 landmarks of the unaligned frame."""
    m = eye_alignment(landmarks, size, margin)
    pts = np.c_[landmarks, np.ones(len(landmarks))] @ m.T
    return np.stack([pts[36:42].mean(axis=0), pts[42:48].mean(axis=0), pts[48], pts[54]])


def cut_regions(flow: np.ndarray, centres: np.ndarray, region: int, swap_axes: bool = False):
    """The four ``region`` x ``region`` cuts of ``flow`` (H, W, C) around ``centres`` (x, y),
    clipped into the image as the public code clips them, tiled 2 x 2."""
    half = region // 2
    size = flow.shape[0]
    c = np.clip(np.rint(centres).astype(int), half, size - (region - half))
    cuts = []
    for x, y in c:
        row, col = (x, y) if swap_axes else (y, x)
        cuts.append(flow[row - half : row - half + region, col - half : col - half + region])
    return np.concatenate([np.concatenate(cuts[:2], axis=1), np.concatenate(cuts[2:], axis=1)])


def htnet_input(onset: np.ndarray, apex: np.ndarray, recipe: HTNetRecipe, what: str) -> np.ndarray:
    """HTNet's (2 region, 2 region, 3) input from the onset and apex frames."""
    from .recipes import _normalise, window_flows

    pair = to_float_gray(np.stack([onset, apex]))
    lm = landmarks_or_exclude(pair[0], what)
    aligned = align_eyes(pair, lm, recipe.size, recipe.margin)
    flow = window_flows((aligned,), recipe.tvl1, recipe.flow_backend)[0][0]
    x = _normalise(flow, recipe.normalise)
    tiles = cut_regions(x, region_centres(lm, recipe.size, recipe.margin), recipe.region,
                        recipe.swap_axes)  # fmt: skip
    return tiles.astype(recipe.dtype)


__all__ = ["HTNetRecipe", "cut_regions", "htnet_input", "region_centres"]
