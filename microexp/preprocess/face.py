"""Face localisation on the first (paper A) or onset (paper B) frame with dlib's 68 landmarks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..landmarks import detect_landmarks
from .frames import SampleExcluded


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixels: columns ``x0:x1``, rows ``y0:y1``."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def grow(self, margin: int) -> Box:
        return Box(self.x0 - margin, self.y0 - margin, self.x1 + margin, self.y1 + margin)

    def shift(self, dx: int, dy: int) -> Box:
        return Box(self.x0 + dx, self.y0 + dy, self.x1 + dx, self.y1 + dy)


def landmarks_or_exclude(frame: np.ndarray, what: str, upsample: int = 1) -> np.ndarray:
    """dlib's 68 landmarks of ``frame`` ((H, W) uint8), or :class:`SampleExcluded` naming ``what``."""
    pts = frame_landmarks(frame, upsample)
    if pts is None:
        raise SampleExcluded(f"no face found by dlib in {what}")
    return pts


def face_search(n: int, start: int = 0, step: int = 1, dense: int = 5, stop: int | None = None):
    """The frame indices :func:`find_face` looks at: ``dense`` frames one by one from ``start``
    (a video's first decoded frames are often the worst), then every ``step`` up to ``stop``
    (exclusive; default the end)."""
    stop = n if stop is None else min(stop, n)
    first = list(range(start, min(start + dense, stop)))
    later = range(first[-1] + max(int(step), 1), stop, max(int(step), 1)) if first else ()
    return [*first, *later]


def find_face(frames: np.ndarray, indices: list[int]) -> tuple[int, np.ndarray] | None:
    """The first frame of ``frames`` ((T, H, W[, C])) in which dlib finds a face, with its 68
    landmarks, looking at ``indices`` in order; when one is found after a skip, the skipped
    frames are looked at too, so that it is the first. None when none of them has one."""
    for k, i in enumerate(indices):
        found = frame_landmarks(frames[i])
        if found is not None:
            for j in range(indices[k - 1] + 1, i) if k else ():
                earlier = frame_landmarks(frames[j])
                if earlier is not None:
                    return j, earlier
            return int(i), found
    return None


def frame_landmarks(frame: np.ndarray, upsample: int = 1) -> np.ndarray | None:
    """dlib's 68 landmarks of ``frame`` ((H, W) or (H, W, C), any number type), None without a
    face."""
    gray = frame if frame.ndim == 2 else frame.mean(axis=-1)
    return detect_landmarks(np.clip(gray, 0, 255).astype(np.uint8), upsample=upsample)


def landmark_box(landmarks: np.ndarray) -> Box:
    """Paper A's face rectangle: spanned by the left-most, top-most, right-most and bottom-most
    of the 68 landmarks (so it runs from the brows to the chin)."""
    x0, y0 = np.floor(landmarks.min(axis=0)).astype(int)
    x1, y1 = np.ceil(landmarks.max(axis=0)).astype(int) + 1
    return Box(int(x0), int(y0), int(x1), int(y1))


def crop(frames: np.ndarray, box: Box) -> np.ndarray:
    """Cut ``box`` from (T, H, W[, C]) frames; parts outside the image are filled by edge
    replication (a shifted window may leave the image on small frames)."""
    t, h, w = frames.shape[:3]
    pad = max(0, -box.x0, -box.y0, box.x1 - w, box.y1 - h)
    if pad:
        widths = [(0, 0), (pad, pad), (pad, pad)] + [(0, 0)] * (frames.ndim - 3)
        frames = np.pad(frames, widths, mode="edge")
        box = box.shift(pad, pad)
    return frames[:, box.y0 : box.y1, box.x0 : box.x1]


def eye_alignment(landmarks: np.ndarray, size: int = 128, margin: float = 1.1) -> np.ndarray:
    """The (2, 3) affine of :func:`align_eyes`: rotate so that the eye centres are level, then
    map a square of ``margin`` x the rotated landmarks' larger side, centred on their box, onto
    [0, size]. ``np.c_[landmarks, 1] @ m.T`` gives the landmarks in the aligned image."""
    import cv2

    left = landmarks[36:42].mean(axis=0)
    right = landmarks[42:48].mean(axis=0)
    angle = float(np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0])))
    centre = (float((left[0] + right[0]) / 2), float((left[1] + right[1]) / 2))
    rot = cv2.getRotationMatrix2D(centre, angle, 1.0)
    pts = np.c_[landmarks, np.ones(len(landmarks))] @ rot.T
    (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
    side = margin * max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    scale = size / side
    m = rot * scale
    m[:, 2] += -np.array([cx - side / 2, cy - side / 2]) * scale
    return m


def align_eyes(
    frames: np.ndarray, landmarks: np.ndarray, size: int = 128, margin: float = 1.1
) -> np.ndarray:
    """Paper B's alignment: rotate so that the eye centres are level, then cut a square around
    the landmarks and resize it to ``size`` x ``size``.

    The square's side is ``margin`` x the larger side of the rotated landmarks' box, centred on
    that box (paper B gives only "dlib 68-landmark alignment, 128x128"; margin is our choice).
    """
    import cv2

    m = eye_alignment(landmarks, size, margin)
    scale = float(np.hypot(m[0, 0], m[0, 1]))
    return np.stack(
        [
            cv2.warpAffine(
                f,
                m,
                (size, size),
                flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
            for f in frames
        ]
    )
