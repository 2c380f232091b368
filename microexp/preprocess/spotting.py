"""Spotting expressions in long videos without training (the MEGC baseline's idea, on flow).

Steps (our choices; the MEGC baseline uses feature differences, MDMD main directional flow):
1. **Face track.** dlib looks for the face in every ``check_every``-th frame until it finds
   one; frames before it are not scored. It looks again every ``check_every`` frames: a lost
   face keeps the last box; a box that moved by more than a tenth of its width starts a new
   segment. Each frame is cut with its segment's box, resized to ``size`` px, grey.
2. **Motion score.** For a half-length k (frames), the displacement of frame t against its
   two neighbours k away is u(t) = (flow(t-k -> t) - flow(t -> t+k)) / 2: a transient
   expression that rises and falls within about 2k frames gives a large u at its apex, a rigid
   head shift half as much, and the median flow over the face is removed first (head
   translation), the eyes masked (blinks). S(t) = mean |u(t)| over the face, 0 where t-k, t
   or t+k lies outside the frames or in another face segment.
3. **Peaks.** T = mean(S) + p (max(S) - mean(S)) per video (MEGC's threshold); peaks of S
   above T, at least k apart (scipy.signal.find_peaks); each peak t gives the interval
   [t - k, t + k] clipped to the video.
Flows are Farneback's (OpenCV), which is fast enough for every frame of a long video; TV-L1
(``flow="tvl1"``) is available.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..landmarks import detect_landmarks
from .face import Box, landmark_box
from .flow import TVL1Params, tvl1_flow
from .frames import SampleExcluded
from .spot import _eye_mask

#: TV-L1 fast enough to rank frames (when ``flow="tvl1"``)
SPOT_TVL1 = TVL1Params(epsilon=0.05, nscales=3, warps=3)
FLOWS = ("farneback", "tvl1")


@dataclass
class FaceTrack:
    """Every frame's face window and segment (-1: before the face was found)."""

    windows: np.ndarray  # (T, size, size) uint8
    segments: np.ndarray  # (T,) int
    keep: list[np.ndarray]  # per segment: (size, size) bool, False on the eyes
    boxes: list[Box]  # per segment
    first_face: int  # index of the first frame with a face (in the video's own frames)
    step: int = 1  # the windows are frames 0, step, 2 step... of the video


def _moved(a: Box, b: Box, tolerance: float = 0.1) -> bool:
    dx = abs((a.x0 + a.x1) - (b.x0 + b.x1)) / 2
    dy = abs((a.y0 + a.y1) - (b.y0 + b.y1)) / 2
    return max(dx, dy, abs(a.width - b.width)) > tolerance * a.width


def _window(gray: np.ndarray, box: Box, size: int) -> np.ndarray:
    import cv2

    from .face import crop

    cut = crop(gray[None], box)[0]
    return cv2.resize(cut, (size, size), interpolation=cv2.INTER_AREA)


def track_face(
    read: Callable[[int], np.ndarray],
    n: int,
    size: int = 96,
    check_every: int = 30,
    mask_eyes: bool = True,
    what: str = "the video",
) -> FaceTrack:
    """Face windows of frames ``0..n-1`` (``read(i)``: uint8 grey (H, W)), see the module doc.

    Raises :class:`SampleExcluded` when no checked frame holds a face.
    """
    check_every = max(int(check_every), 1)
    windows = np.zeros((n, size, size), np.uint8)
    segments = np.full(n, -1, np.int32)
    boxes: list[Box] = []
    keep: list[np.ndarray] = []
    first = -1
    for i in range(n):
        gray = read(i)
        step = check_every if first >= 0 else max(check_every // 10, 1)  # denser until found
        if i % step == 0:
            pts = detect_landmarks(gray)
            if pts is not None:
                box = landmark_box(pts)
                if not boxes or _moved(boxes[-1], box):
                    boxes.append(box)
                    mask = _eye_mask(pts, box, size) if mask_eyes else np.ones((size, size), bool)
                    keep.append(mask)
                if first < 0:
                    first = i
        if boxes:
            windows[i] = _window(gray, boxes[-1], size)
            segments[i] = len(boxes) - 1
    if first < 0:
        raise SampleExcluded(
            f"no face found by dlib in {what} (checked every {check_every} frames)"
        )
    return FaceTrack(windows, segments, keep, boxes, first)


def _flow(a: np.ndarray, b: np.ndarray, method: str) -> np.ndarray:
    """(size, size, 2) flow from window ``a`` to ``b`` (a(x) ~ b(x + flow))."""
    if method == "tvl1":
        return tvl1_flow(a.astype(np.float32), b.astype(np.float32), SPOT_TVL1)
    import cv2

    return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 9, 3, 5, 1.1, 0)


def pair_flows(track: FaceTrack, k: int, flow: str = "farneback") -> list[np.ndarray | None]:
    """flow(t - k -> t) for every window t (None where t - k is outside the video or in
    another face segment)."""
    if flow not in FLOWS:
        raise ValueError(f"flow must be one of {FLOWS}. Received: flow={flow!r}")
    n, k = len(track.windows), int(k)
    seg = track.segments
    forward: list[np.ndarray | None] = [None] * n
    for t in range(k, n):
        if seg[t] >= 0 and seg[t] == seg[t - k]:
            forward[t] = _flow(track.windows[t - k], track.windows[t], flow)
    return forward


def flow_features(
    track: FaceTrack, k: int, size: int = 42, flow: str = "farneback"
) -> tuple[np.ndarray, np.ndarray]:
    """SOFTNet's input per window start i: the flow(i -> i + k) of the face with its median
    removed (head translation) and the eyes zeroed (blinks), its optical strain, resized to
    ``size`` px: float16 (T, size, size, 3) (u, v, strain), and (T,) bool: i has a flow."""
    import cv2

    from .flow import optical_strain

    forward = pair_flows(track, k, flow)
    n = len(forward)
    x = np.zeros((n, size, size, 3), np.float16)
    valid = np.zeros(n, bool)
    for i in range(n - int(k)):
        f = forward[i + int(k)]
        if f is None:
            continue
        keep = track.keep[track.segments[i]]
        f = (f - np.median(f[keep], axis=0)) * keep[..., None]
        uvs = np.dstack([f, optical_strain(f)])
        x[i] = cv2.resize(uvs, (size, size), interpolation=cv2.INTER_AREA)
        valid[i] = True
    return x, valid


def motion_scores(track: FaceTrack, k: int, flow: str = "farneback") -> np.ndarray:
    """S(t) for every frame (module doc, step 2); float32 (T,)."""
    n, k = len(track.windows), int(k)
    seg = track.segments
    forward = pair_flows(track, k, flow)
    scores = np.zeros(n, np.float32)
    for t in range(k, n - k):
        ahead = forward[t + k]  # flow(t -> t + k)
        if forward[t] is None or ahead is None or seg[t + k] != seg[t]:
            continue
        u = 0.5 * (forward[t] - ahead)[track.keep[seg[t]]]
        u = u - np.median(u, axis=0)
        scores[t] = float(np.linalg.norm(u, axis=-1).mean())
    return scores


def threshold(scores: np.ndarray, p: float) -> float:
    """MEGC's T = mean + p (max - mean) over the video's scores."""
    return float(scores.mean() + p * (scores.max() - scores.mean()))


def find_intervals(scores: np.ndarray, k: int, p: float) -> list[tuple[int, int, int]]:
    """(onset, peak, offset) 0-based: peaks of ``scores`` above :func:`threshold`, >= k apart,
    each widened to [peak - k, peak + k] within the video."""
    from scipy.signal import find_peaks

    if not len(scores) or scores.max() <= 0:
        return []
    peaks, _ = find_peaks(scores, height=threshold(scores, p), distance=max(int(k), 1))
    last = len(scores) - 1
    return [(max(int(t) - k, 0), int(t), min(int(t) + k, last)) for t in peaks]


@dataclass(frozen=True)
class SpotParams:
    """The spotter's settings. ``k``: half-length per kind (frames; MEGC: from the mean coded
    duration); ``p``: threshold fraction per kind; ``size``: face window px; ``check_every_s``:
    seconds between face checks."""

    k: dict
    p: dict
    size: int = 96
    flow: str = "farneback"
    check_every_s: float = 1.0
    mask_eyes: bool = True


def spot_intervals(
    scores: dict[str, np.ndarray], params: SpotParams, micro_outside_macro: bool = True
) -> list[tuple[int, int, int, str]]:
    """(onset, peak, offset, kind), 0-based, from each kind's scores; with
    ``micro_outside_macro`` a micro peak inside a spotted macro interval is dropped (a macro
    expression's fast rise also peaks at the micro scale)."""
    found = {kind: find_intervals(s, params.k[kind], params.p[kind]) for kind, s in scores.items()}
    macro = found.get("macro", [])
    out = [(*iv, "macro") for iv in macro]
    for iv in found.get("micro", []):
        inside = any(a <= iv[1] <= b for a, _, b in macro)
        if not (micro_outside_macro and inside):
            out.append((*iv, "micro"))
    return sorted(out)


def video_scores(
    read: Callable[[int], np.ndarray],
    n: int,
    fps: float,
    ks: dict[str, int],
    size: int = 96,
    flow: str = "farneback",
    check_every_s: float = 1.0,
    mask_eyes: bool = True,
    what: str = "the video",
    max_fps: float = 30.0,
) -> tuple[dict[str, np.ndarray], FaceTrack]:
    """Each kind's S(t) over one video (``ks``: kind -> k in the video's frames), from one
    face track. A video faster than ``max_fps`` is scored on every ``step``-th frame
    (step = round(fps / max_fps), k divided by it, as SOFTNet samples SAMM-LV's 200 fps every
    7th frame) and S is interpolated back to every frame."""
    track = sampled_track(read, n, fps, size, check_every_s, mask_eyes, what, max_fps)
    step = track.step
    frames = np.arange(0, n, step)
    scores = {}
    for kind, k in ks.items():
        sub = motion_scores(track, max(int(round(k / step)), 1), flow)
        scores[kind] = np.interp(np.arange(n), frames, sub).astype(np.float32)
    return scores, track


def sampling_step(fps: float, max_fps: float) -> int:
    """Every how many frames a video of ``fps`` is scored so as to stay near ``max_fps``
    (round(fps / max_fps), at least 1; ``max_fps`` 0: every frame)."""
    return max(int(round(fps / max_fps)), 1) if max_fps else 1


def sampled_track(
    read: Callable[[int], np.ndarray],
    n: int,
    fps: float,
    size: int = 96,
    check_every_s: float = 1.0,
    mask_eyes: bool = True,
    what: str = "the video",
    max_fps: float = 30.0,
) -> FaceTrack:
    """:func:`track_face` over frames 0, step, 2 step... with step = round(fps / max_fps)
    (``first_face`` in the video's own frames; ``step`` recorded)."""
    step = sampling_step(fps, max_fps)
    frames = np.arange(0, n, step)
    check = max(int(round(check_every_s * fps / step)), 1)
    track = track_face(lambda j: read(int(frames[j])), len(frames), size, check, mask_eyes, what)
    track.first_face, track.step = int(frames[track.first_face]), step
    return track


def image_reader(paths: Sequence) -> Callable[[int], np.ndarray]:
    """``read(i)`` of grey frame ``paths[i]``; an unreadable frame is SampleExcluded."""
    import cv2

    def read(i: int) -> np.ndarray:
        img = cv2.imread(str(paths[i]), cv2.IMREAD_GRAYSCALE)
        if img is None:
            raise SampleExcluded(f"unreadable or missing frame {paths[i]}")
        return img

    return read


__all__ = [
    "FLOWS",
    "FaceTrack",
    "SpotParams",
    "find_intervals",
    "image_reader",
    "flow_features",
    "motion_scores",
    "pair_flows",
    "sampled_track",
    "spot_intervals",
    "threshold",
    "track_face",
    "video_scores",
]
