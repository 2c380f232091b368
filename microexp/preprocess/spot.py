"""Spotting the apex of an unannotated clip, for prediction on a new video.

Method (our choice; neither paper spots): the onset is the first frame; the face box comes from
dlib's landmarks on it (paper A's landmark box); every frame's face window, resized to ``size``
px, is compared with the onset's by TV-L1. The frame's score is the mean flow magnitude over
the face after removing the window's median flow (rigid drift of the whole face), with the eyes
masked out (blinks are large motions that are not expressions); the apex is the frame of
largest score. Large head rotations still count as motion: trim such clips or give the frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .face import Box, crop, landmark_box, landmarks_or_exclude
from .flow import TVL1Params, tvl1_flow
from .frames import to_float_gray

#: a fast TV-L1 (the magnitudes only rank frames)
SPOT_TVL1 = TVL1Params(epsilon=0.05, nscales=3, warps=3)


@dataclass
class Spot:
    """Onset and apex as 0-based indices into the clip, and every frame's score: the mean
    magnitude (px of the ``size`` grid) of its drift-removed flow from the onset."""

    onset: int
    apex: int
    magnitude: list[float]


def _eye_mask(landmarks: np.ndarray, box: Box, size: int, pad: float = 0.5) -> np.ndarray:
    """True outside both eyes (landmarks 36-41 and 42-47, boxes grown by ``pad`` of their size)
    on the ``size`` x ``size`` grid of ``box``."""
    keep = np.ones((size, size), bool)
    sx, sy = size / box.width, size / box.height
    for eye in (landmarks[36:42], landmarks[42:48]):
        (x0, y0), (x1, y1) = eye.min(axis=0), eye.max(axis=0)
        dx, dy = pad * (x1 - x0), pad * (y1 - y0) + 2
        c0, c1 = int((x0 - dx - box.x0) * sx), int(np.ceil((x1 + dx - box.x0) * sx))
        r0, r1 = int((y0 - dy - box.y0) * sy), int(np.ceil((y1 + dy - box.y0) * sy))
        keep[max(r0, 0) : max(r1, 0), max(c0, 0) : max(c1, 0)] = False
    return keep


def spot_apex(
    frames: np.ndarray,
    onset: int = 0,
    face: str = "dlib",
    size: int = 64,
    tvl1: TVL1Params = SPOT_TVL1,
    remove_drift: bool = True,
    mask_eyes: bool = True,
    what: str = "frame 0",
) -> Spot:
    """Apex = argmax over frames t >= onset of the mean |flow(onset -> t) - median flow| on
    the face window, eyes masked (``face="dlib"`` only).

    ``frames``: (T, H, W[, C]). ``face="precropped"`` uses the whole frame as the face.
    Raises :class:`SampleExcluded` when dlib finds no face in the onset frame.
    """
    import cv2

    gray = to_float_gray(frames)
    keep = np.ones((size, size), bool)
    if face == "dlib":
        landmarks = landmarks_or_exclude(gray[onset], what)
        box = landmark_box(landmarks)
        gray = crop(gray, box)
        if mask_eyes:
            keep = _eye_mask(landmarks, box, size)
    win = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in gray])
    scores = [0.0] * len(win)
    for t in range(onset + 1, len(win)):
        flow = tvl1_flow(win[onset], win[t], tvl1)[keep]
        if remove_drift:
            flow = flow - np.median(flow, axis=0)
        scores[t] = float(np.linalg.norm(flow, axis=-1).mean())
    return Spot(onset, int(np.argmax(scores)), [round(m, 5) for m in scores])
