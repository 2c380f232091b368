"""Writers for the datasets' on-disk layouts (folders, frame names, coding files).

The synthetic generator and the tests both write through these, so a synthetic tree is laid out
exactly as DATASETS.md describes the owners' releases and is read by the unchanged loaders.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..datasets.base import SYNTHETIC_MARKER
from ..fileio import atomic_path, write_text


@dataclass
class Clip:
    """One clip to write.

    ``frames`` is (T, H, W) or (T, H, W, 3) uint8 for frame numbers ``first .. first+T-1``.
    ``apex`` may be any cell value (``"/"`` reproduces CASME II's quirk). ``annotated=False``
    writes the folder without a coding row; ``frames=None`` writes the row without a folder
    (``count`` then gives the number of frames a streaming writer already saved).
    """

    subject: int
    name: str
    label: str
    frames: np.ndarray | None
    first: int = 1
    onset: int | str | None = None
    apex: int | str | None = None
    offset: int | str | None = None
    action_units: str = ""
    annotated: bool = True
    extra: dict = field(default_factory=dict)
    count: int = 0  # number of frames when ``frames`` is None (already written)

    def numbers(self) -> range:
        n = self.count if self.frames is None else len(self.frames)
        return range(self.first, self.first + n)


def save_frames(folder: Path, pattern: str, numbers: Sequence[int], frames: np.ndarray) -> None:
    """Write ``frames[i]`` as ``folder / pattern.format(numbers[i])`` (format from the suffix)."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    for n, img in zip(numbers, frames, strict=True):
        path = folder / pattern.format(n)
        if img.ndim == 3:
            img = img[..., ::-1]  # RGB -> BGR for OpenCV
        if not cv2.imwrite(str(path), np.ascontiguousarray(img)):
            raise OSError(f"{path}: could not write image")


def write_sheet(
    path: Path,
    sheet: str,
    header: Sequence[str | None],
    rows: Sequence[Sequence[object]],
    notes: Sequence[str] = (),
    text_columns: Sequence[int] = (),
    empty_sheets: Sequence[str] = (),
) -> None:
    """An .xlsx with ``notes`` rows above ``header``; ``text_columns`` are stored as text cells
    (ids like ``'01'`` that a spreadsheet shows with leading zeros, or CAS(ME)^3's frame
    numbers); ``empty_sheets`` follow the data sheet."""
    table = [[note] for note in notes] + [list(header)] + [list(r) for r in rows]
    body = len(notes) + 1
    write_workbook(
        path, [(sheet, table, text_columns, body), *((n, [], (), 0) for n in empty_sheets)]
    )


def write_workbook(
    path: Path, sheets: Sequence[tuple[str, Sequence[Sequence[object]], Sequence[int], int]]
) -> None:
    """An .xlsx of several sheets, each ``(name, rows, text_columns, first_text_row)``: the
    ``text_columns`` of rows from ``first_text_row`` on are stored as text cells. Byte-
    reproducible (fixed timestamps)."""
    from openpyxl import Workbook

    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook()
    for k, (name, rows, text_columns, first) in enumerate(sheets):
        ws = wb.active if k == 0 else wb.create_sheet(name)
        ws.title = name
        for r, row in enumerate(rows):
            text = text_columns if r >= first else ()
            ws.append([str(v) if i in text and v is not None else v for i, v in enumerate(row)])
            for c in text:
                cell = ws.cell(row=ws.max_row, column=c + 1)
                cell.data_type = "s"
                cell.number_format = "@"
    with atomic_path(path) as tmp:
        wb.save(tmp)
        _freeze_zip(tmp)


def _freeze_zip(path: Path) -> None:
    """Make an .xlsx byte-reproducible: fixed member timestamps and document dates."""
    import re
    import zipfile

    with zipfile.ZipFile(path) as zin:
        members = [(i.filename, zin.read(i.filename)) for i in zin.infolist()]
    fixed = b"2000-01-01T00:00:00Z"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in members:
            if name == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + fixed, data
                )
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(info, data)


#: the most subjects, and clips (or videos) per subject, a synthetic tree may hold
MAX_SUBJECTS, MAX_PER_SUBJECT = 500, 200


def check_request(seed: object, subjects: object, per_subject: object, per: str) -> None:
    """Refuse a seed that is not an integer >= 0, and counts outside 1..MAX (a typo such as
    ``--subjects 100000`` would write gigabytes)."""
    from ..errors import check_int

    check_int(seed, "--seed")
    check_int(subjects, "--subjects", 1, MAX_SUBJECTS)
    check_int(per_subject, per, 1, MAX_PER_SUBJECT)


def begin_tree(out: Path, info: dict, dataset: str) -> Path | None:
    """Start writing a synthetic tree: None when ``out`` already holds one made with ``info``
    (reuse it), else an empty sibling folder to build in (:func:`end_tree` renames it). Any
    other non-empty ``out`` is an error, so a user's folder is never overwritten."""
    import shutil

    from ..errors import MicroexpError

    marker = out / SYNTHETIC_MARKER
    if marker.is_file():
        try:
            if json.loads(marker.read_text()) == json.loads(json.dumps(info)):
                return None
        except json.JSONDecodeError:
            pass
    if out.exists() and any(out.iterdir()):
        raise MicroexpError(
            f"{out}: folder is not empty and holds no synthetic {dataset} tree with these settings"
        )
    import os
    import uuid

    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in out.parent.glob(f".{out.name}.partial-*"):  # left by a killed process
        pid = stale.name.rsplit("-", 2)[-2]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    # one folder per process: shards started at once each build their own, the first to
    # finish wins (end_tree)
    tmp = out.with_name(f".{out.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tmp.mkdir(parents=True)
    return tmp


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def end_tree(tmp: Path, out: Path, info: dict, truth: Sequence[dict]) -> None:
    """Write ``synthetic_truth.csv`` (``truth``: one dict per row, same keys), mark ``tmp``
    synthetic and rename it to ``out``: an interrupted run leaves no half tree."""
    import csv
    import os

    with (tmp / "synthetic_truth.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(truth[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(truth)
    import shutil

    mark_synthetic(tmp, info)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        if out.exists():
            out.rmdir()  # empty (begin_tree checked); a tree finished meanwhile stays
        os.replace(tmp, out)
    except OSError:
        if (out / SYNTHETIC_MARKER).is_file():  # another process finished the same tree first
            shutil.rmtree(tmp, ignore_errors=True)
            return
        raise


def mark_synthetic(root: Path, info: dict) -> None:
    """Leave the marker that makes every loader report ``synthetic: true``."""
    root.mkdir(parents=True, exist_ok=True)
    write_text(root / SYNTHETIC_MARKER, json.dumps(info, indent=2, sort_keys=True) + "\n")


def _row_values(c: Clip) -> tuple[object, object, object]:
    numbers = c.numbers()
    onset = c.onset if c.onset is not None else numbers.start
    offset = c.offset if c.offset is not None else numbers.stop - 1
    apex = (
        c.apex if c.apex is not None else (onset + offset) // 2 if isinstance(onset, int) else None
    )
    return onset, apex, offset


def write_casme2(root: Path, clips: Sequence[Clip], frames_kind: str = "raw_selected") -> Path:
    """CASME II: ``CASME2_RAW_selected/sub01/EP02_01f/img46.jpg`` (``Cropped/.../reg_img46.jpg``)
    and ``CASME2-coding-20140508.xlsx`` (Sheet1, header on the first row, two blank columns)."""
    folder = {"raw_selected": "CASME2_RAW_selected", "raw": "CASME2-RAW", "cropped": "Cropped"}[
        frames_kind
    ]
    prefix = "reg_img" if frames_kind == "cropped" else "img"
    rows = []
    for c in clips:
        if c.frames is not None:
            save_frames(
                root / folder / f"sub{c.subject:02d}" / c.name,
                prefix + "{:d}.jpg",
                c.numbers(),
                c.frames,
            )
        if c.annotated:
            onset, apex, offset = _row_values(c)
            rows.append(
                [
                    f"{c.subject:02d}",
                    c.name,
                    None,
                    onset,
                    apex,
                    offset,
                    None,
                    c.action_units,
                    c.label,
                ]
            )
    header = [
        "Subject",
        "Filename",
        None,
        "OnsetFrame",
        "ApexFrame",
        "OffsetFrame",
        None,
        "Action Units",
        "Estimated Emotion",
    ]
    path = root / "CASME2-coding-20140508.xlsx"
    write_sheet(path, "Sheet1", header, rows, text_columns=(0,))
    return path


SAMM_NOTES = (
    "SAMM: Spontaneous Micro-Facial Movement Dataset",
    "Micro-movements only (MICRO_ONLY)",
    "Frame numbers refer to the image file names",
    "Action Units follow FACS; 'or' marks uncertain codes",
    "Estimated Emotion is the coders' estimate",
    "Objective Classes follow Davison et al. 2018",
    "Inducement Code identifies the stimulus video",
    "Duration is in frames",
    "Micro is 1 for micro-movements",
    "Notes carries the coders' remarks",
    "Subjects are numbered 006-037",
    "Images are 960x650 grayscale",
    "Recorded at 200 fps",
)


def write_samm(root: Path, clips: Sequence[Clip], note_rows: int = 13) -> Path:
    """SAMM: ``SAMM/006/006_1_2/006_05562.jpg`` and ``SAMM_Micro_FACS_Codes_v2.xlsx``
    (sheet MICRO_ONLY, ``note_rows`` note rows above the header)."""
    rows = []
    for c in clips:
        if c.frames is not None:
            save_frames(
                root / "SAMM" / f"{c.subject:03d}" / c.name,
                f"{c.subject:03d}_" + "{:05d}.jpg",
                c.numbers(),
                c.frames,
            )
        if c.annotated:
            onset, apex, offset = _row_values(c)
            duration = (
                offset - onset + 1 if isinstance(onset, int) and isinstance(offset, int) else None
            )
            rows.append(
                [
                    f"{c.subject:03d}",
                    c.name,
                    c.extra.get("inducement", "1"),
                    onset,
                    apex,
                    offset,
                    duration,
                    1,
                    c.action_units,
                    c.label.capitalize(),
                    c.extra.get("objective", ""),
                    "",
                ]
            )
    header = [
        "Subject",
        "Filename",
        "Inducement Code",
        "Onset Frame",
        "Apex Frame",
        "Offset Frame",
        "Duration",
        "Micro",
        "Action Units",
        "Estimated Emotion",
        "Objective Classes",
        "Notes",
    ]
    path = root / "SAMM_Micro_FACS_Codes_v2.xlsx"
    write_sheet(path, "MICRO_ONLY", header, rows, notes=SAMM_NOTES[:note_rows], text_columns=(0,))
    return path


def write_casme(root: Path, clips: Sequence[Clip]) -> list[Path]:
    """CASME: ``CASME_A/Section A/sub01/EP01_5/EP01_5-1.jpg`` (subjects 1-7), ``CASME_B/Section
    B/sub08/...`` (8-19) and one coding sheet per section (``Section A.xlsx``...)."""
    sections: dict[str, list] = {"A": [], "B": []}
    for c in clips:
        sec = "A" if c.subject <= 7 else "B"
        if c.frames is not None:
            folder = root / f"CASME_{sec}" / f"Section {sec}" / f"sub{c.subject:02d}" / c.name
            save_frames(folder, f"{c.name}-" + "{:d}.jpg", c.numbers(), c.frames)
        if c.annotated:
            onset, apex, offset = _row_values(c)
            sections[sec].append(
                [c.subject, c.name, onset, apex, None, offset, c.action_units, c.label]
            )
    header = ["Subject", "Filename", "OnsetF", "ApexF1", "ApexF2", "OffsetF", "AU", "Emotion"]
    paths = []
    for sec, rows in sections.items():
        if rows:
            path = root / f"Section {sec}.xlsx"
            write_sheet(path, "Sheet1", header, rows)
            paths.append(path)
    return paths


def write_ckplus(root: Path, clips: Sequence[Clip]) -> None:
    """CK+: ``cohn-kanade-images/S005/001/S005_001_00000001.png`` and
    ``Emotion/S005/001/S005_001_000000NN_emotion.txt`` (code 1-7 as ``   3.0000000e+00``).
    ``label`` is the CK+ code as text; an unannotated clip gets no emotion file."""
    for c in clips:
        subj, seq = f"S{c.subject:03d}", c.name
        stem = f"{subj}_{seq}_" + "{:08d}"
        if c.frames is not None:
            save_frames(
                root / "cohn-kanade-images" / subj / seq, stem + ".png", c.numbers(), c.frames
            )
        if c.annotated:
            folder = root / "Emotion" / subj / seq
            folder.mkdir(parents=True, exist_ok=True)
            last = c.numbers().stop - 1
            (folder / (stem.format(last) + "_emotion.txt")).write_text(f"   {float(c.label):.7e}\n")


def write_smic(root: Path, clips: Sequence[Clip]) -> None:
    """SMIC-HS: ``HS/s1/micro/negative/s1_ne_01/image000001.bmp`` (label from the folder)."""
    for c in clips:
        if c.frames is not None:
            folder = root / "HS" / f"s{c.subject}" / "micro" / c.label / c.name
            save_frames(folder, "image{:06d}.bmp", c.numbers(), c.frames)


def write_casme3(root: Path, clips: Sequence[Clip]) -> Path:
    """CAS(ME)^3 Part A: ``part_A/data/spNO.1/a/color/{n}.jpg`` (two MEs share a video folder,
    their frame numbers apart) and ``annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx``
    (sheet ``label`` then a blank ``Sheet1`` and an empty ``Sheet3``; every cell text; subject
    1's "others" written ``Others``, as three v2 rows are)."""
    rows = []
    for c in clips:
        if c.frames is not None:
            folder = root / "part_A" / "data" / f"spNO.{c.subject}" / c.name / "color"
            save_frames(folder, "{:d}.jpg", c.numbers(), c.frames)
        if c.annotated:
            onset, apex, offset = _row_values(c)
            label = "Others" if c.label == "others" and c.subject == 1 else c.label
            rows.append([f"spNO.{c.subject}", c.name, onset, apex, offset, c.action_units, "1",
                         label])  # fmt: skip
    header = ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion"]
    path = root / "annotation" / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"
    write_sheet(
        path, "label", header, rows, text_columns=range(8), empty_sheets=("Sheet1", "Sheet3")
    )
    return path


#: MMEW's emotion folders and the emotion index in its clip names
MMEW_EMOTIONS = ("happiness", "anger", "surprise", "disgust", "fear", "sadness", "others")


def write_mmew(root: Path, clips: Sequence[Clip]) -> Path:
    """MMEW, emotion-first with no subject level: ``Micro_Expression/{emotion}/{Filename}/{n}.jpg``
    and ``MMEW_Micro_Exp.xlsx`` (subjects as numbers, emotions lower-case)."""
    rows = []
    for c in clips:
        if c.frames is not None:
            folder = root / "Micro_Expression" / c.label / c.name
            save_frames(folder, "{:d}.jpg", c.numbers(), c.frames)
        if c.annotated:
            onset, apex, offset = _row_values(c)
            rows.append([c.subject, c.name, onset, apex, offset, c.action_units, c.label, None])
    header = ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units",
              "Estimated Emotion", "remarks"]  # fmt: skip
    path = root / "MMEW_Micro_Exp.xlsx"
    write_sheet(path, "Sheet1", header, rows)
    return path


def write_4dme(root: Path, clips: Sequence[Clip]) -> Path:
    """4DME's grey frames ``gray_micro/{sub_ID}/{fold_name}/{n}.jpg`` and
    ``4DME_Labelling_Micro_release v1.xlsx`` (a space in the name; emotions capitalised,
    multi-labels joined with ``+``; the first clip's AUs carry a ``(k)`` mark)."""
    rows = []
    for c in clips:
        sub = f"S{c.subject:02d}"
        if c.frames is not None:
            save_frames(root / "gray_micro" / sub / c.name, "{:d}.jpg", c.numbers(), c.frames)
        if c.annotated:
            onset, apex, offset = _row_values(c)
            aus = c.action_units + ("(k)" if not rows else "")
            emotion = "+".join(p.capitalize() for p in c.label.split("+"))
            rows.append([sub, c.name, onset, apex, offset, aus, emotion])
    header = ["sub_ID", "fold_name", "Onset", "Apex", "Offset", "AUs", "Emotion"]
    path = root / "4DME_Labelling_Micro_release v1.xlsx"
    write_sheet(path, "Sheet1", header, rows)
    return path


# ------------------------------------------------------------------------------ long videos


@dataclass
class LongVideo:
    """One synthetic long video to write: ``frames`` (T, H, W[, 3]) uint8 numbered from 1
    (None: already written, ``count`` frames) and its ``events`` (dicts with kind, label, aus,
    onset, apex, offset as 0-based indices)."""

    subject: int  # 1-based
    video: int  # 1-based within the subject
    frames: np.ndarray | None
    events: list[dict]
    count: int = 0

    @property
    def n(self) -> int:
        return self.count if self.frames is None else len(self.frames)


#: CAS(ME)^2: subject i -> folder (naming rule1) and video codes -> names (naming rule2)
CASME_SQ_FOLDERS = (15, 16, *range(19, 28), *range(29, 39), 40)
CASME_SQ_CODES = (
    ("0101", "disgust1"), ("0102", "disgust2"), ("0401", "anger1"), ("0402", "anger2"),
    ("0502", "happy1"), ("0503", "happy2"), ("0505", "happy3"), ("0507", "happy4"),
    ("0508", "happy5"),
)  # fmt: skip
_CASME_SQ_WORD = {"negative": "disgust", "positive": "happy", "surprise": "surprise"}


def long_video_name(dataset: str, v: LongVideo) -> str:
    """The video's folder name in ``dataset``'s layout."""
    if dataset == "casme_sq":
        code, name = CASME_SQ_CODES[(v.video - 1) % len(CASME_SQ_CODES)]
        desc = "disgustingteeth" if code == "0101" else name
        return f"{CASME_SQ_FOLDERS[v.subject - 1]}_{code}{desc}"
    if dataset == "casme3_lv":
        return f"spNO.{v.subject}/{CASME3_VIDEOS[(v.video - 1) % len(CASME3_VIDEOS)]}"
    return f"{v.subject + 5:03d}_{v.video}"


#: CAS(ME)^3 Part A's video letters
CASME3_VIDEOS = "abcdefghijklm"


def _aus(event: dict) -> str:
    return "+".join(a[2:] for a in event["aus"])


def write_casme_sq(root: Path, videos: Sequence[LongVideo]) -> Path:
    """CAS(ME)^2: ``rawpic/s15/15_0101disgustingteeth/img001.jpg`` and
    ``CAS(ME)^2code_final.xlsx`` (headerless data sheet, naming rule1, naming rule2); the
    second coded row has offset 0 (not coded), as 44 real rows do."""
    rows = []
    for v in videos:
        folder = f"s{CASME_SQ_FOLDERS[v.subject - 1]}"
        if v.frames is not None:
            save_frames(root / "rawpic" / folder / long_video_name("casme_sq", v), "img{:03d}.jpg",
                        range(1, v.n + 1), v.frames)  # fmt: skip
        name = CASME_SQ_CODES[(v.video - 1) % len(CASME_SQ_CODES)][1]
        for k, e in enumerate(v.events, start=1):
            offset = 0 if len(rows) == 1 else e["offset"] + 1
            kind = f"{e['kind']}-expression"
            word = _CASME_SQ_WORD.get(e["label"], "other")
            rows.append([v.subject, f"{name}_{k}", e["onset"] + 1, e["apex"] + 1, offset,
                         _aus(e), e["label"], kind, word])  # fmt: skip
    path = root / "CAS(ME)^2code_final.xlsx"
    if rows:
        subjects = sorted({v.subject for v in videos})
        rule1 = [[CASME_SQ_FOLDERS[s - 1], s] for s in subjects]
        rule2 = [[code, name] for code, name in CASME_SQ_CODES]
        write_workbook(
            path,
            [("CASFEcode_final", rows, (), 0), ("naming rule1", rule1, (), 0),
             ("naming rule2", rule2, (0,), 0)],
        )  # fmt: skip
    return path


SAMM_LV_TITLE = (
    "SAMM Long Videos",
    "FACS coded movements (macro and micro)",
    "Frame numbers refer to the image file names",
    "Apex -1: not annotated",
    "Type: Macro, or Micro - 1/2",
    "Duration is in frames",
    "Action Units follow FACS",
    "Recorded at 200 fps",
    "Key: see the release notes",
)


def write_samm_lv(root: Path, videos: Sequence[LongVideo]) -> Path:
    """SAMM Long Videos: ``SAMM_longvideos/006_1/006_1_00001.jpg`` (5-digit padding, 4 for
    even subjects) and ``SAMM_LongVideos_V3_Release.xlsx`` (sheet FACS_Movement_Only, nine
    title rows above the header); the first row's onset is fractional (x.4) and the second
    row's apex is -1, as in the release."""
    rows = []
    for v in videos:
        name = long_video_name("samm_lv", v)
        if v.frames is not None:
            digits = 4 if v.subject % 2 == 0 else 5
            save_frames(root / "SAMM_longvideos" / name, f"{name}_{{:0{digits}d}}.jpg",
                        range(1, v.n + 1), v.frames)  # fmt: skip
        for k, e in enumerate(v.events, start=1):
            onset: float = e["onset"] + 1 + (0.4 if not rows else 0)
            apex = -1 if len(rows) == 1 else e["apex"] + 1
            kind = "Macro" if e["kind"] == "macro" else "Micro - 1/2"
            rows.append([f"{v.subject + 5:03d}", f"{name}_{k}", "1", onset, apex,
                         e["offset"] + 1, e["offset"] - e["onset"] + 1, kind, _aus(e), ""])  # fmt: skip
    header = ["Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration",
              "Type", "Action Units", "Notes"]  # fmt: skip
    path = root / "SAMM_LongVideos_V3_Release.xlsx"
    if rows:
        write_sheet(path, "FACS_Movement_Only", header, rows, SAMM_LV_TITLE, text_columns=(0,))
        _write_samm_emotions(root, videos)
    return path


def _write_samm_emotions(root: Path, videos: Sequence[LongVideo]) -> Path:
    """SAMM's micro coding sheet for the micro-expressions (``SAMM_Micro_FACS_Codes_v2.xlsx``,
    sheet MICRO_ONLY, with the ``Estimated Emotion`` the long-video sheet lacks), beside the
    long videos. In the real releases it ships with SAMM, not SAMM-LV: pass its folder as
    ``emotions``."""
    rows = []
    for v in videos:
        name = long_video_name("samm_lv", v)
        for k, e in enumerate(v.events, start=1):
            if e["kind"] == "micro":
                rows.append([f"{v.subject + 5:03d}", f"{name}_{k}", "1", e["onset"] + 1,
                             e["apex"] + 1, e["offset"] + 1, e["offset"] - e["onset"] + 1,
                             _aus(e), e["label"]])  # fmt: skip
    header = ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame",
              "Offset Frame", "Duration", "Action Units", "Estimated Emotion"]  # fmt: skip
    path = root / "SAMM_Micro_FACS_Codes_v2.xlsx"
    write_sheet(path, "MICRO_ONLY", header, rows, text_columns=(0,))
    return path


def write_casme3_lv(root: Path, videos: Sequence[LongVideo]) -> Path:
    """CAS(ME)^3 Part A's long videos: ``part_A/data/spNO.1/a/color/{n}.jpg``, the micro rows in
    ``annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx`` (sheet ``label``, every cell text)
    and the macro rows in ``annotation/cas(me)3_part_A_MaE_label_JpgIndex_v2_emotion.xlsx``
    (sheet ``Sheet1``: sub, seq, onset, apex, offset, AU, emotion)."""
    micro, macro = [], []
    for v in videos:
        name = long_video_name("casme3_lv", v)
        subject, letter = name.split("/")
        if v.frames is not None:
            folder = root / "part_A" / "data" / subject / letter / "color"
            save_frames(folder, "{:d}.jpg", range(1, v.n + 1), v.frames)
        for e in v.events:
            onset, apex, offset = e["onset"] + 1, e["apex"] + 1, e["offset"] + 1
            if e["kind"] == "micro":
                micro.append([subject, letter, str(onset), str(apex), str(offset), _aus(e), "1",
                              e["label"]])  # fmt: skip
            else:
                macro.append([subject, letter, onset, apex, offset, _aus(e), e["label"]])
    path = root / "annotation" / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"
    if micro or macro:
        header = ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class",
                  "emotion"]  # fmt: skip
        write_sheet(path, "label", header, micro, text_columns=range(8),
                    empty_sheets=("Sheet1", "Sheet3"))  # fmt: skip
        header = ["sub", "seq", "onset", "apex", "offset", "AU", "emotion"]
        write_sheet(path.parent / "cas(me)3_part_A_MaE_label_JpgIndex_v2_emotion.xlsx", "Sheet1",
                    header, macro)  # fmt: skip
    return path


def write_long(dataset: str, root: Path, videos: Sequence[LongVideo]) -> Path:
    """Frames of the videos that hold them; the annotation file when any has events."""
    writer = {"casme_sq": write_casme_sq, "samm_lv": write_samm_lv, "casme3_lv": write_casme3_lv}
    writer = writer[dataset]
    return writer(root, videos)
