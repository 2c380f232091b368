"""Long videos for spotting (CAS(ME)^2, SAMM Long Videos): a video and its coded intervals.

A :class:`LongVideoResult` is a :class:`LoadResult` whose ``samples`` are the intervals as
:class:`Sample` rows (label ``macro`` or ``micro``, so ``microexp data summary`` counts them),
plus ``videos``: each video with every interval coded in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .base import Exclusion, FrameIndex, LoadResult
from .sample import Sample

KINDS = ("macro", "micro")


@dataclass(frozen=True)
class Interval:
    """One coded expression: frame numbers as in the file names (1-based on disk), inclusive.
    ``apex`` None: not annotated. ``label``: the sheet's class or emotion ("" when none)."""

    onset: int
    apex: int | None
    offset: int
    kind: str  # "macro" or "micro"
    label: str = ""
    action_units: str = ""

    @property
    def length(self) -> int:
        return self.offset - self.onset + 1


@dataclass(frozen=True)
class LongVideo:
    """One long video: its frames ``first..last`` in ``frames_dir`` and its intervals."""

    dataset: str
    subject: str
    video: str
    frames_dir: str
    frame_pattern: str
    first: int
    last: int
    fps: float
    intervals: tuple[Interval, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.dataset}/{self.subject}/{self.video}"

    @property
    def subject_key(self) -> str:
        return f"{self.dataset}/{self.subject}"

    @property
    def frames(self) -> int:
        return self.last - self.first + 1

    def frame_path(self, number: int) -> Path:
        return Path(self.frames_dir) / self.frame_pattern.format(number)

    def frame_paths(self) -> list[Path]:
        return [self.frame_path(n) for n in range(self.first, self.last + 1)]


@dataclass
class LongVideoResult(LoadResult):
    """A long-video dataset: ``videos`` with their intervals; ``samples`` one per interval."""

    videos: list[LongVideo] = field(default_factory=list)


def new_video(dataset: str, subject: str, video: str, frames: FrameIndex, fps: float) -> LongVideo:
    """A video over every numbered frame in its folder, with no interval yet."""
    return LongVideo(
        dataset, subject, video, str(frames.folder), frames.pattern, frames.first, frames.last, fps
    )


def checked_interval(
    result: LongVideoResult, video: LongVideo, interval: Interval, where: str
) -> Interval | None:
    """``interval`` clamped into the video (with a note) or excluded (with its reason)."""
    sid = f"{video.id}/{interval.onset}"
    onset, offset, apex = interval.onset, interval.offset, interval.apex
    if offset > video.last and onset <= video.last:
        result.notes.append(
            Exclusion(sid, f"offset {offset} past the last frame {video.last}; clipped ({where})")
        )
        offset = video.last
    if onset < video.first and offset >= video.first:
        result.notes.append(
            Exclusion(sid, f"onset {onset} before the first frame {video.first}; clipped ({where})")
        )
        onset = video.first
    if not video.first <= onset <= offset <= video.last:
        result.excluded.append(
            Exclusion(
                sid,
                f"onset-offset {interval.onset}-{interval.offset} outside the frames on disk "
                f"({video.first}-{video.last}) or reversed ({where})",
            )
        )
        return None
    if apex is not None and not onset <= apex <= offset:
        result.notes.append(Exclusion(sid, f"apex {apex} outside {onset}-{offset}; dropped"))
        apex = None
    return Interval(onset, apex, offset, interval.kind, interval.label, interval.action_units)


def add_video(result: LongVideoResult, video: LongVideo, intervals: list[Interval]) -> None:
    """Append ``video`` with its (already checked) intervals, sorted by onset, and one sample
    per interval (label: its kind)."""
    intervals = sorted(intervals, key=lambda i: (i.onset, i.offset))
    video = LongVideo(**{**video.__dict__, "intervals": tuple(intervals)})
    result.videos.append(video)
    for iv in intervals:
        result.samples.append(
            Sample(
                dataset=video.dataset,
                subject=video.subject,
                clip=f"{video.video}/{iv.onset}",
                frames_dir=video.frames_dir,
                frame_pattern=video.frame_pattern,
                onset=iv.onset,
                apex=iv.apex,
                offset=iv.offset,
                label=iv.kind,
                fps=video.fps,
                action_units=iv.action_units,
            )
        )


def mean_length(videos: list[LongVideo], kind: str) -> float | None:
    """Mean coded length (frames) of ``kind`` intervals in ``videos`` (None: there are none)."""
    lengths = [iv.length for v in videos for iv in v.intervals if iv.kind == kind]
    return sum(lengths) / len(lengths) if lengths else None


def half_length(mean: float) -> int:
    """MEGC's interval half-length from the mean duration N: k = int((N + 1) / 2)."""
    return max(int((mean + 1) / 2), 1)


__all__ = [
    "KINDS",
    "Interval",
    "LongVideo",
    "LongVideoResult",
    "add_video",
    "checked_interval",
    "half_length",
    "mean_length",
    "new_video",
]
