"""CAS(ME)^2 (Qu et al. 2018) long videos for spotting: 22 subjects, 30 fps.

On disk: ``rawpic/s15/15_0101disgustingteeth/img001.jpg`` and ``CAS(ME)^2code_final.xlsx``:
- sheet ``CASFEcode_final`` has **no header row**: subject number, video name and index
  (``anger1_1``), onset, apex, offset (0 = not coded: the apex is used), AUs, class, type
  (``macro-expression`` / ``micro-expression``), emotion word. The type and class columns are
  found by their content.
- ``naming rule1``: subject number -> folder (1 -> ``s15``); ``naming rule2``: code -> video
  name (``0101`` -> ``disgust1``). The video folder is the one whose name holds ``_{code}``.
Where a naming sheet is missing, the mapping DATASETS.md documents is used, with a note.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import MicroexpError
from .base import (
    Exclusion,
    as_int,
    coding_file,
    find_dir,
    index_frames,
    is_synthetic,
    require_root,
)
from .longvideo import Interval, LongVideoResult, add_video, checked_interval, new_video

FPS = 30.0
CODING_FILES = ("CAS(ME)^2code_final*.xls*", "CAS(ME)*code*.xls*", "*code_final*.xls*")
DATA_SHEET = "CASFEcode_final"
#: naming rule1 as documented: subject number i -> folder SUBJECT_FOLDERS[i - 1]
SUBJECT_FOLDERS = tuple(
    f"s{n}" for n in (15, 16, *range(19, 28), *range(29, 39), 40)
)  # fmt: skip
#: naming rule2 as documented: code -> video name
VIDEO_CODES = {
    "0101": "disgust1",
    "0102": "disgust2",
    "0401": "anger1",
    "0402": "anger2",
    "0502": "happy1",
    "0503": "happy2",
    "0505": "happy3",
    "0507": "happy4",
    "0508": "happy5",
}
CLASSES = ("negative", "positive", "surprise", "others")


def _sheets(path: Path) -> dict:
    import pandas as pd

    engine = "xlrd" if path.suffix.lower() == ".xls" else "openpyxl"
    try:
        return pd.read_excel(path, sheet_name=None, header=None, dtype=object, engine=engine)
    except Exception as exc:  # noqa: BLE001 - any reader failure is the user's file
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MicroexpError(f"{path}: unreadable spreadsheet ({first})") from None


def _cells(frame) -> list[list[object]]:
    rows = []
    for values in frame.itertuples(index=False):
        row = [None if (isinstance(v, float) and v != v) else v for v in values]
        row = [v.strip() if isinstance(v, str) else v for v in row]
        if any(v not in (None, "") for v in row):
            rows.append(row)
    return rows


def _sheet(sheets: dict, name: str):
    for key in sheets:
        if str(key).strip().lower() == name.lower():
            return sheets[key]
    return None


def _subject_folders(sheets: dict, path: Path, result: LongVideoResult) -> dict[int, str]:
    """naming rule1 -> {subject number: folder}; the number column is the one holding 1..N."""
    frame = _sheet(sheets, "naming rule1")
    pairs = (
        [(as_int(r[0]), r[1]) for r in _cells(frame) if len(r) >= 2] if frame is not None else []
    )
    pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
    if not pairs:
        result.notes.append(
            Exclusion("casme_sq", f"{path}: no 'naming rule1' sheet; the documented map used")
        )
        return {i + 1: f for i, f in enumerate(SUBJECT_FOLDERS)}
    firsts = sorted(a for a, _ in pairs)
    seconds = [as_int(b) for _, b in pairs]
    if firsts != list(range(1, len(pairs) + 1)) and sorted(s or 0 for s in seconds) == list(
        range(1, len(pairs) + 1)
    ):
        pairs = [(as_int(b), a) for a, b in pairs]  # the sheet lists folder, then number
    out = {}
    for number, folder in pairs:
        text = str(folder).strip()
        out[int(number)] = text if text.lower().startswith("s") else f"s{as_int(text) or text}"
    return out


def _video_names(sheets: dict, path: Path, result: LongVideoResult) -> dict[str, str]:
    """naming rule2 -> {video name: 4-digit code}."""
    frame = _sheet(sheets, "naming rule2")
    codes: dict[str, str] = {}
    for row in _cells(frame) if frame is not None else []:
        cells = [c for c in row if c is not None]
        number = next((as_int(c) for c in cells if as_int(c) is not None), None)
        name = next((str(c) for c in cells if isinstance(c, str) and as_int(c) is None), None)
        if number is not None and name:
            codes[name.strip().lower()] = f"{number:04d}"
    if not codes:
        result.notes.append(
            Exclusion("casme_sq", f"{path}: no 'naming rule2' sheet; the documented map used")
        )
        codes = {name: code for code, name in VIDEO_CODES.items()}
    return codes


def _column(rows: list[list[object]], test) -> int | None:
    """The column where most non-empty cells pass ``test``."""
    width = max(len(r) for r in rows)
    scores = [
        sum(1 for r in rows if c < len(r) and r[c] is not None and test(r[c])) for c in range(width)
    ]
    best = max(range(width), key=lambda c: scores[c])
    return best if scores[best] > len(rows) // 2 else None


def _kind(value: object) -> str | None:
    text = str(value).lower()
    return "macro" if text.startswith("macro") else "micro" if text.startswith("micro") else None


def load(root: str | os.PathLike, coding: str | os.PathLike | None = None) -> LongVideoResult:
    """Read CAS(ME)^2 as its owners ship it; subjects are the folder names (``s15``)."""
    root = require_root(root, "casme_sq")
    path = coding_file(root, coding, CODING_FILES, "CAS(ME)^2 coding file")
    frames_root = find_dir(root, ("rawpic", "cropped", "selectedpic"), max_depth=2)
    if frames_root is None:
        raise MicroexpError(f"{root}: no rawpic folder (expected rawpic/s15/15_0101.../img001.jpg)")
    sheets = _sheets(path)
    data = _sheet(sheets, DATA_SHEET)
    if data is None:
        data = next(iter(sheets.values()))
    rows = _cells(data)
    if rows and as_int(rows[0][0]) is None:
        rows = rows[1:]  # a header row someone added
    if not rows or min(len(r) for r in rows) < 5:
        raise MicroexpError(
            f"{path} [{DATA_SHEET}]: expected headerless rows of subject, video, onset, apex, "
            "offset, AUs, class, type"
        )
    result = LongVideoResult("casme_sq", str(root), synthetic=is_synthetic(root))
    type_col = _column(rows, lambda v: _kind(v) is not None)
    if type_col is None:
        raise MicroexpError(
            f"{path} [{DATA_SHEET}]: no column of 'macro-expression' / 'micro-expression' types"
        )
    class_col = _column(rows, lambda v: str(v).lower() in CLASSES)
    au_col = 5 if type_col != 5 and class_col != 5 else None
    folders = _subject_folders(sheets, path, result)
    codes = _video_names(sheets, path, result)
    per_video: dict[tuple[str, str], list[Interval]] = {}
    videos = {}
    for i, row in enumerate(rows):
        where = f"{path} [{DATA_SHEET}] row {i + 1}"
        number, name = as_int(row[0]), str(row[1] or "").strip()
        kind = _kind(row[type_col]) if type_col < len(row) else None
        if number is None or not name or kind is None:
            raise MicroexpError(
                f"{where}: expected a subject number, a video name (anger1_1) and a type "
                f"(macro-expression or micro-expression), got {row[:2] + [row[type_col]]!r}"
            )
        video_name = re.sub(r"_\d+$", "", name).lower()
        folder = folders.get(number)
        code = codes.get(video_name)
        sid = f"casme_sq/{folder or number}/{name}"
        if folder is None or code is None:
            what = f"subject {number}" if folder is None else f"video name {video_name!r}"
            result.excluded.append(Exclusion(sid, f"{what} not in the naming sheets ({where})"))
            continue
        key = (folder, code)
        if key not in videos:
            videos[key] = _find_video(frames_root / folder, code)
        found = videos[key]
        if found is None:
            result.excluded.append(
                Exclusion(sid, f"frames missing: no folder *_{code}* in {frames_root / folder}")
            )
            continue
        onset, apex, offset = (as_int(v) for v in row[2:5])
        if offset == 0 and apex:
            result.notes.append(Exclusion(sid, f"offset 0 (not coded): the apex {apex} used"))
            offset = apex
        label = str(row[class_col]).lower() if class_col is not None else ""
        aus = str(row[au_col] or "") if au_col is not None and au_col < len(row) else ""
        if not onset or not offset:
            result.excluded.append(Exclusion(sid, f"onset or offset not a frame number ({where})"))
            continue
        interval = Interval(onset, apex or None, offset, kind, label, aus)
        checked = checked_interval(result, found, interval, where)
        if checked is not None:
            per_video.setdefault(key, []).append(checked)
    for key, video in sorted(videos.items()):
        if video is not None:
            add_video(result, video, per_video.get(key, []))
    return result


def _find_video(subject_dir: Path, code: str):
    if not subject_dir.is_dir():
        return None
    for d in sorted(subject_dir.iterdir()):
        if d.is_dir() and re.search(rf"(^|_){code}", d.name):
            frames = index_frames(d)
            if frames is None:
                return None
            return new_video("casme_sq", subject_dir.name, d.name, frames, FPS)
    return None
