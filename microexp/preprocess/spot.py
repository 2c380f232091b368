"""Spotting the apex of an unannotated clip, for prediction on a new video.

Method (our choice; neither paper spots): the onset is the first frame; the face box comes from
dlib's landmarks on it (paper A's landmark box); every frame's face window, resized to ``size``
px, is compared with the onset's by TV-L1, and the apex is the frame whose flow has the largest
mean magnitude over the face. Rigid head motion counts as motion too, so clips with head
movement should be trimmed or given explicit frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .face import crop, landmark_box, landmarks_or_exclude
from .flow import TVL1Params, tvl1_flow
from .frames import to_float_gray

#: a fast TV-L1 (the magnitudes only rank frames)
SPOT_TVL1 = TVL1Params(epsilon=0.05, nscales=3, warps=3)


@dataclass
class Spot:
    """Onset and apex as 0-based indices into the clip, and the mean flow magnitude (px of the
    ``size`` grid) of every frame against the onset."""

    onset: int
    apex: int
    magnitude: list[float]


def spot_apex(
    frames: np.ndarray,
    onset: int = 0,
    face: str = "dlib",
    size: int = 64,
    tvl1: TVL1Params = SPOT_TVL1,
    what: str = "frame 0",
) -> Spot:
    """Apex = argmax over frames t >= onset of mean |flow(onset -> t)| on the face window.

    ``frames``: (T, H, W[, C]). ``face="precropped"`` uses the whole frame as the face.
    Raises :class:`SampleExcluded` when dlib finds no face in the onset frame.
    """
    import cv2

    gray = to_float_gray(frames)
    if face == "dlib":
        gray = crop(gray, landmark_box(landmarks_or_exclude(gray[onset], what)))
    win = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in gray])
    mags = [0.0] * len(win)
    for t in range(onset + 1, len(win)):
        mags[t] = float(np.linalg.norm(tvl1_flow(win[onset], win[t], tvl1), axis=-1).mean())
    return Spot(onset, int(np.argmax(mags)), [round(m, 5) for m in mags])
