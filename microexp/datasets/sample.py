"""The typed sample record shared by every dataset, protocol and later stage, with CSV I/O."""

from __future__ import annotations

import csv
import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import MicroexpError
from ..fileio import atomic_path


@dataclass(frozen=True)
class Sample:
    """One expression clip.

    Attributes:
        dataset: dataset name (``ckplus``, ``casme``, ``casme2``, ``samm``, ``smic``).
        subject: normalised subject id (``S005``, ``sub01``, ``006``, ``s01``).
        clip: the clip's id as the annotation names it (``EP02_01f``, ``006_1_2``, ``001``).
        frames_dir: the folder holding the clip's frame images.
        frame_pattern: ``str.format`` pattern of a frame file name from its number, e.g.
            ``img{:d}.jpg`` or ``006_{:05d}.jpg``; inferred from the files on disk.
        onset, apex, offset: frame numbers as used in file names (not 0-based indices).
            ``apex`` is ``None`` where the annotation has none (CASME II's ``/``).
        label: the emotion label, lower-cased (the dataset's own, or a protocol's class).
        fps: the dataset's frame rate in frames per second.
        action_units: the annotation's AU string, verbatim ("" when absent).
    """

    dataset: str
    subject: str
    clip: str
    frames_dir: str
    frame_pattern: str
    onset: int
    apex: int | None
    offset: int
    label: str
    fps: float
    action_units: str = field(default="")

    @property
    def id(self) -> str:
        """Globally unique id ``dataset/subject/clip``."""
        return f"{self.dataset}/{self.subject}/{self.clip}"

    @property
    def subject_key(self) -> str:
        """Subject id qualified by dataset: ``samm/006`` is never ``casme2/sub06``."""
        return f"{self.dataset}/{self.subject}"

    def frame_path(self, number: int) -> Path:
        """Path of frame ``number`` (a file-name number, not an index)."""
        return Path(self.frames_dir) / self.frame_pattern.format(number)

    def frame_numbers(self) -> list[int]:
        """Onset to offset inclusive."""
        return list(range(self.onset, self.offset + 1))

    def replace(self, **changes: object) -> Sample:
        return dataclasses.replace(self, **changes)


FIELDS = [f.name for f in dataclasses.fields(Sample)]


def write_samples_csv(samples: list[Sample], path: str | os.PathLike) -> None:
    """Write samples to ``path`` atomically (temporary file in the same folder, then rename)."""
    with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        for s in samples:
            row = dataclasses.asdict(s)
            row["apex"] = "" if s.apex is None else s.apex
            writer.writerow(row)


def read_samples_csv(path: str | os.PathLike) -> list[Sample]:
    """Read a file written by :func:`write_samples_csv`."""
    path = Path(path)
    if not path.is_file():
        raise MicroexpError(f"{path}: no such sample file")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [f for f in FIELDS if f not in (reader.fieldnames or []) and f != "action_units"]
        if missing:
            raise MicroexpError(f"{path}: not a sample CSV; missing columns {', '.join(missing)}")
        out = []
        for lineno, row in enumerate(reader, start=2):
            try:
                out.append(
                    Sample(
                        dataset=row["dataset"],
                        subject=row["subject"],
                        clip=row["clip"],
                        frames_dir=row["frames_dir"],
                        frame_pattern=row["frame_pattern"],
                        onset=int(row["onset"]),
                        apex=int(row["apex"]) if row["apex"] not in ("", None) else None,
                        offset=int(row["offset"]),
                        label=row["label"],
                        fps=float(row["fps"]),
                        action_units=row.get("action_units") or "",
                    )
                )
            except (TypeError, ValueError) as exc:
                raise MicroexpError(f"{path}, line {lineno}: bad sample row ({exc})") from None
        return out
