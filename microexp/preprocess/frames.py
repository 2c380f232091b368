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
    """Frames ``numbers`` (default onset..offset) of ``sample``: uint8 (T, H, W) or (T, H, W, 3) RGB.

    16-bit frames (CAS(ME)^3's depth PNGs) are scaled to 0-255 together, by the minimum and
    maximum over all the frames read, so that every frame of a clip keeps one scale (a flow
    between them stays meaningful); OpenCV alone would divide them by 256."""
    import cv2

    numbers = list(numbers) if numbers is not None else sample.frame_numbers()
    flags = cv2.IMREAD_ANYDEPTH | (cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR)
    out = []
    for n in numbers:
        path = sample.frame_path(n)
        img = cv2.imread(str(path), flags)
        if img is None:
            raise SampleExcluded(f"unreadable or missing frame {path}")
        if not gray:  # RGB; a one-channel (depth) image repeated
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB) if img.ndim == 3 else np.dstack([img] * 3)
        out.append(img)
    if len({f.shape for f in out}) > 1:
        raise SampleExcluded(f"frames of {sample.frames_dir} differ in size")
    frames = np.stack(out)
    if frames.dtype != np.uint8:
        lo, hi = float(frames.min()), float(frames.max())
        frames = np.round((frames - lo) * (255.0 / max(hi - lo, 1.0))).astype(np.uint8)
    return frames


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


#: file suffixes read as video (anything else in a folder is read as a frame image)
VIDEO_SUFFIXES = (".avi", ".mp4", ".mov", ".mkv", ".m4v", ".wmv", ".mpg", ".mpeg")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


def _number_key(path) -> tuple:
    """Natural order: img2.jpg before img10.jpg (frame names are rarely zero-padded)."""
    import re

    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name))


def read_clip(path, fps: float | None = None) -> tuple[np.ndarray, float | None, list[str]]:
    """A video file or a folder of frame images -> (uint8 (T, H, W) grey frames, fps, names).

    Frames of a folder are taken in natural order of their file names; ``fps`` is the video's
    own rate unless given (a folder has none unless given). ``names`` label each frame (file
    names, or ``frame N`` for a video).

    Raises:
        MicroexpError: missing path, unreadable video, no frame, frames of different sizes, a
        given ``fps`` not above 0.
    """
    from pathlib import Path

    import cv2

    from ..errors import MicroexpError

    if fps is not None and not fps > 0:
        raise MicroexpError(f"fps {fps:g}: expected a frame rate above 0")
    path = Path(path)
    if path.is_dir():
        files = sorted(
            (p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_number_key
        )
        if len(files) < 2:
            raise MicroexpError(
                f"{path}: expected at least 2 frame images ({', '.join(IMAGE_SUFFIXES)}), found {len(files)}"
            )
        frames = []
        for f in files:
            img = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
            if img is None:
                raise MicroexpError(f"{f}: unreadable image")
            frames.append(img)
        if len({f.shape for f in frames}) > 1:
            raise MicroexpError(f"{path}: frames differ in size")
        return np.stack(frames), fps, [f.name for f in files]
    if not path.is_file():
        raise MicroexpError(f"{path}: no such video file or frame folder")
    cap = cv2.VideoCapture(str(path))
    frames = []
    try:
        own_fps = cap.get(cv2.CAP_PROP_FPS) if cap.isOpened() else 0.0
        while cap.isOpened():
            ok, img = cap.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
    finally:
        cap.release()
    if len(frames) < 2:
        raise MicroexpError(
            f"{path}: could not read at least 2 frames (expected a video such as {', '.join(VIDEO_SUFFIXES[:3])})"
        )
    return (
        np.stack(frames),
        fps or (own_fps if own_fps > 0 else None),
        [f"frame {i}" for i in range(len(frames))],
    )
