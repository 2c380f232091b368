"""Reading a sample's frames from disk, and the error raised when a sample cannot be used."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..datasets import Sample


class SampleExcluded(Exception):
    """A sample that pre-processing cannot use (no face, unreadable frame...); the message is
    the reason listed in the run's summary. The run goes on without it."""


def read_frames(
    sample: Sample, numbers: Sequence[int] | None = None, gray: bool = True
) -> np.ndarray:
    """Frames ``numbers`` (default onset..offset) of ``sample``: uint8 (T, H, W) or (T, H, W, 3) RGB."""
    import cv2

    numbers = list(numbers) if numbers is not None else sample.frame_numbers()
    out = []
    for n in numbers:
        path = sample.frame_path(n)
        img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR)
        if img is None:
            raise SampleExcluded(f"unreadable or missing frame {path}")
        out.append(img if gray else cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
    if len({f.shape for f in out}) > 1:
        raise SampleExcluded(f"frames of {sample.frames_dir} differ in size")
    return np.stack(out)


def to_float_gray(frames: np.ndarray) -> np.ndarray:
    """(T, H, W) or (T, H, W, C) uint8/float -> float32 (T, H, W) on the 0-255 scale.

    Float input whose maximum over the whole array is at most 1.05 is taken to be on the 0-1
    scale (the slack admits interpolation overshoot) and multiplied by 255.
    """
    a = np.asarray(frames)
    if a.ndim == 4:
        a = a[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    a = a.astype(np.float32)
    if np.issubdtype(np.asarray(frames).dtype, np.floating) and a.size and a.max() <= 1.05:
        a = a * 255.0
    return a
