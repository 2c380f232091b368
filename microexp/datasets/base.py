"""What every dataset loader shares: the load result, frame indexing, file finding, spreadsheets.

Pure Python + pandas: nothing here imports TensorFlow.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path

from ..errors import MicroexpError
from .sample import Sample

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
SYNTHETIC_MARKER = "MICROEXP_SYNTHETIC.json"
_NUMBERED = re.compile(r"^(.*?)(\d+)(\.[A-Za-z]+)$")


@dataclass(frozen=True)
class Exclusion:
    """A sample, or a folder, left out, and why."""

    sample: str
    reason: str


@dataclass
class LoadResult:
    """What a loader found under ``root``.

    Attributes:
        samples: the usable samples.
        excluded: annotated rows that were left out (frames missing, label dropped...), with reasons.
        ignored: folders on disk without an annotation row (or unlabelled CK+ sequences).
        notes: annotation quirks that were handled without excluding anything (corrections applied,
            apex outside the onset-offset range...).
        synthetic: the tree was written by microexp's synthetic generator, not by the owner.
    """

    dataset: str
    root: str
    samples: list[Sample] = field(default_factory=list)
    excluded: list[Exclusion] = field(default_factory=list)
    ignored: list[Exclusion] = field(default_factory=list)
    notes: list[Exclusion] = field(default_factory=list)
    synthetic: bool = False


def require_root(root: str | os.PathLike, dataset: str) -> Path:
    """``root`` as a Path, or a one-line error when it is not a folder."""
    path = Path(root).expanduser()
    if not path.exists():
        raise MicroexpError(f"{path}: {dataset} root does not exist")
    if not path.is_dir():
        raise MicroexpError(f"{path}: {dataset} root is not a folder")
    return path


def is_synthetic(root: Path) -> bool:
    """Whether microexp's synthetic generator wrote this tree (it leaves a marker file)."""
    return any((p / SYNTHETIC_MARKER).is_file() for p in (root, *root.parents[:2]))


def synthetic_fps(root: Path) -> float | None:
    """The frame rate a synthetic tree's marker states (None: not synthetic, or no rate)."""
    import json

    marker = root / SYNTHETIC_MARKER
    try:
        fps = json.loads(marker.read_text()).get("fps") if marker.is_file() else None
    except (OSError, ValueError):
        return None
    return float(fps) if isinstance(fps, int | float) else None


def walk_dirs(root: Path, max_depth: int) -> Iterable[Path]:
    """Folders under ``root`` (root included), breadth first, down to ``max_depth`` levels."""
    level = [root]
    for depth in range(max_depth + 1):
        nxt: list[Path] = []
        for d in sorted(level):
            yield d
            if depth < max_depth:
                try:
                    nxt.extend(c for c in d.iterdir() if c.is_dir() and not c.name.startswith("."))
                except OSError:
                    continue
        level = nxt


def find_dir(
    root: Path,
    names: Sequence[str],
    max_depth: int = 3,
    accept: Callable[[Path], bool] | None = None,
) -> Path | None:
    """The first folder under ``root`` whose name is one of ``names`` (case-insensitive), in the
    order of ``names``, and that ``accept`` (if given) agrees to."""
    wanted = [n.lower() for n in names]
    found: dict[str, Path] = {}
    for d in walk_dirs(root, max_depth):
        key = d.name.lower()
        if key in wanted and key not in found and (accept is None or accept(d)):
            found[key] = d
    for n in wanted:
        if n in found:
            return found[n]
    return None


def find_files(root: Path, patterns: Sequence[str], max_depth: int = 3) -> list[Path]:
    """Files under ``root`` matching any glob pattern (case-insensitive), in pattern order."""
    out: list[Path] = []
    for pattern in patterns:
        rx = re.compile(_glob_to_regex(pattern), re.IGNORECASE)
        for d in walk_dirs(root, max_depth):
            try:
                files = sorted(f for f in d.iterdir() if f.is_file())
            except OSError:
                continue
            out.extend(f for f in files if rx.fullmatch(f.name) and f not in out)
    return out


def _glob_to_regex(pattern: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)


@dataclass(frozen=True)
class FrameIndex:
    """The numbered image files of one clip folder."""

    folder: Path
    pattern: str
    numbers: tuple[int, ...]

    @property
    def first(self) -> int:
        return self.numbers[0]

    @property
    def last(self) -> int:
        return self.numbers[-1]

    def has(self, *numbers: int | None) -> bool:
        present = set(self.numbers)
        return all(n is None or n in present for n in numbers)


def index_frames(folder: Path) -> FrameIndex | None:
    """Number the image files of ``folder`` by the last integer in their names.

    Returns ``None`` when the folder has no numbered image. The pattern is inferred from the
    files: a zero-padded width (``{:05d}``) when some number has a leading zero, the shortest
    width (longer numbers then have none: CAS(ME)^2's ``img099``, ``img100``, ``img1000``), else
    ``{:d}``. When several prefixes are present (``img`` and ``reg_img``), the most common one
    wins.
    """
    groups: dict[tuple[str, str], list[str]] = {}
    try:
        names = [f.name for f in folder.iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS]
    except OSError:
        return None
    for name in names:
        m = _NUMBERED.match(name)
        if m:
            groups.setdefault((m.group(1), m.group(3)), []).append(m.group(2))
    if not groups:
        return None
    (prefix, suffix), digits = max(groups.items(), key=lambda kv: (len(kv[1]), kv[0]))
    width = min(len(d) for d in digits)
    padded = any(d.startswith("0") for d in digits) and all(
        len(d) == width or not d.startswith("0") for d in digits
    )
    number = f"{{:0{width}d}}" if padded else "{:d}"
    pattern = prefix.replace("{", "{{").replace("}", "}}") + number + suffix
    return FrameIndex(folder, pattern, tuple(sorted(int(d) for d in digits)))


# ---------------------------------------------------------------------------- spreadsheets


def _norm_header(value: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(value).lower())


@dataclass(frozen=True)
class Table:
    """A spreadsheet's rows below its detected header, keyed by canonical column names."""

    path: Path
    sheet: str
    header_row: int
    rows: list[dict[str, object]]

    def where(self, row_index: int) -> str:
        """Human reference of a data row: spreadsheet row number (1-based, as Excel shows it)."""
        return f"{self.path} [{self.sheet}] row {self.header_row + 2 + row_index}"


def read_table(
    path: Path,
    columns: dict[str, Sequence[str]],
    required: Sequence[str],
    preferred_sheet: str | None = None,
) -> Table:
    """Read an annotation spreadsheet (.xlsx, .xls, .csv) whose header may sit below note rows.

    Args:
        path: the file.
        columns: canonical name -> accepted header spellings (compared lower-case, without
            spaces or punctuation, so ``Onset Frame`` == ``OnsetFrame``).
        required: canonical names that must be present.
        preferred_sheet: tried first; the other sheets follow.

    The header row is the first row, in the first sheet that has one, holding every required
    column: SAMM's 13 note rows above the header need no fixed offset.
    """
    import pandas as pd

    try:
        if path.suffix.lower() == ".csv":
            sheets = {"csv": pd.read_csv(path, header=None, dtype=object)}
        else:
            engine = "xlrd" if path.suffix.lower() == ".xls" else "openpyxl"
            sheets = pd.read_excel(path, sheet_name=None, header=None, dtype=object, engine=engine)
    except Exception as exc:  # noqa: BLE001 - any reader failure is the user's file
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MicroexpError(f"{path}: unreadable spreadsheet ({first})") from None
    order = sorted(sheets, key=lambda s: (s != preferred_sheet,))
    aliases = {canon: {_norm_header(a) for a in names} for canon, names in columns.items()}
    for sheet in order:
        frame = sheets[sheet]
        for r in range(min(len(frame), 50)):
            cells = [_norm_header(v) for v in frame.iloc[r].tolist()]
            position: dict[str, int] = {}
            for canon, names in aliases.items():
                for c, cell in enumerate(cells):
                    if cell in names:
                        position[canon] = c
                        break
            if all(k in position for k in required):
                rows = []
                for _, values in frame.iloc[r + 1 :].iterrows():
                    vals = values.tolist()
                    row = {k: _clean(vals[c]) for k, c in position.items()}
                    if all(v is None for v in row.values()):
                        continue
                    rows.append(row)
                return Table(path, str(sheet), r, rows)
    wanted = ", ".join(columns[k][0] for k in required)
    sheet_names = ", ".join(repr(s) for s in order)
    raise MicroexpError(
        f"{path}: no header row with the columns {wanted} in sheet(s) {sheet_names}"
    )


def _clean(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, float) and value != value:  # NaN
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def known_label(value: object, labels: Sequence[str], where: str) -> str:
    """An emotion cell lower-cased (``Others`` -> ``others``); a label outside ``labels`` is
    a one-line error naming the file, sheet and row. A ``+`` combination (4DME) is checked part
    by part and kept whole."""
    parts = [p.strip().lower() for p in str(value or "").split("+")]
    if not all(p in labels for p in parts):
        raise MicroexpError(
            f"{where}: unknown emotion {value!r} (expected one of {', '.join(labels)})"
        )
    return "+".join(parts)


def frame_rate(dataset: str, fps: object) -> float:
    """A loader's ``fps=`` option as a float; anything but a positive finite number (text, a
    list, a boolean, 0, -30, NaN, infinity) is a one-line error."""
    rate = math.nan
    if isinstance(fps, Real) and not isinstance(fps, bool):
        try:
            rate = float(fps)
        except OverflowError:
            rate = math.inf
    if not (math.isfinite(rate) and rate > 0):
        shown = repr(fps) if len(repr(fps)) <= 40 else repr(fps)[:37] + "..."
        raise MicroexpError(
            f"{dataset}.fps={shown}: expected a positive finite number of frames per second"
        )
    return rate


def frame_rate_note(dataset: str, fps: float, source: str) -> Exclusion:
    """The note a load leaves when its frame rate comes from no file of the release."""
    return Exclusion(dataset, f"frame rate {fps:g} fps: {source}, stated in no file")


def as_int(value: object) -> int | None:
    """Spreadsheet cell -> int; ``None`` for blanks and non-numbers such as ``/`` or ``?``."""
    if value is None:
        return None
    try:
        f = float(str(value).strip())
    except ValueError:
        return None
    if f != f or f != int(f):
        return None
    return int(f)


def subject_number(value: object) -> int | None:
    """The integer in a subject cell: ``'01'``, ``1``, ``1.0``, ``'sub01'``, ``'006'`` -> 1/6."""
    if value is None:
        return None
    m = re.search(r"\d+", str(value).split(".")[0] if isinstance(value, float) else str(value))
    return int(m.group()) if m else None


# ---------------------------------------------------------------------------- corrections


@dataclass(frozen=True)
class Correction:
    """A known annotation error: ``field`` reads ``annotated`` in the owner's file but should read
    ``corrected``. Applied only when the annotation still holds the wrong value, so a fixed
    release of the coding file is left alone."""

    dataset: str
    subject: str
    clip: str
    field: str
    annotated: int
    corrected: int
    source: str


def add_clip(
    result: LoadResult,
    *,
    subject: str,
    clip: str,
    folder: Path | None,
    onset: int | None,
    apex: int | None,
    offset: int | None,
    label: str,
    fps: float,
    action_units: str = "",
    corrections: Sequence[Correction] = (),
    where: str = "",
    range_required: bool = True,
) -> Sample | None:
    """Validate one annotated clip against the frames on disk and add it, or exclude it.

    With ``range_required`` an onset or offset of ``None`` (a blank or non-numeric cell) excludes
    the clip; without it, ``None`` means the annotation has none and the first and last frames on
    disk are used. A missing apex stays ``None``. Corrections for this clip are applied first;
    then any onset, apex or offset frame that is not on disk excludes the clip with its reason.
    """
    dataset = result.dataset
    sid = f"{dataset}/{subject}/{clip}"
    if range_required and (onset is None or offset is None):
        result.excluded.append(Exclusion(sid, f"onset or offset is not a frame number ({where})"))
        return None
    if folder is None or not folder.is_dir():
        shown = folder if folder is not None else f"a folder for {clip!r}"
        result.excluded.append(Exclusion(sid, f"frames missing: {shown} not found ({where})"))
        return None
    frames = index_frames(folder)
    if frames is None:
        result.excluded.append(Exclusion(sid, f"frames missing: no numbered images in {folder}"))
        return None
    values = {"onset": onset, "apex": apex, "offset": offset}
    for c in corrections:
        if (c.dataset, c.subject, c.clip) == (dataset, subject, clip) and values.get(
            c.field
        ) == c.annotated:
            values[c.field] = c.corrected
            result.notes.append(
                Exclusion(sid, f"{c.field} {c.annotated} corrected to {c.corrected} ({c.source})")
            )
    onset = values["onset"] if values["onset"] is not None else frames.first
    offset = values["offset"] if values["offset"] is not None else frames.last
    apex = values["apex"]
    missing = [
        f"{name} {n}"
        for name, n in (("onset", onset), ("apex", apex), ("offset", offset))
        if n is not None and not frames.has(n)
    ]
    if missing:
        result.excluded.append(
            Exclusion(
                sid,
                f"frames missing: {', '.join(missing)} not in {folder} "
                f"(on disk {frames.first}-{frames.last})",
            )
        )
        return None
    if offset < onset:
        result.excluded.append(Exclusion(sid, f"offset {offset} before onset {onset} ({where})"))
        return None
    if apex is not None and not onset <= apex <= offset:
        result.notes.append(
            Exclusion(sid, f"apex {apex} outside onset-offset {onset}-{offset}; kept as annotated")
        )
    sample = Sample(
        dataset=dataset,
        subject=subject,
        clip=clip,
        frames_dir=str(folder),
        frame_pattern=frames.pattern,
        onset=onset,
        apex=apex,
        offset=offset,
        label=label,
        fps=fps,
        action_units=action_units,
    )
    return _add_once(result, sample, where)


#: the reason given for a clip that two annotation rows describe differently
CONFLICTING_ROWS = "two rows annotate this clip differently, all left out"


def _add_once(result: LoadResult, sample: Sample, where: str) -> Sample | None:
    """Add ``sample`` unless an earlier annotation row named the same clip: a repeated row
    is excluded (the first kept); rows that disagree exclude the clip, with every later row
    of it, since none can be trusted over the others."""
    if any(
        e.sample == sample.id and e.reason.startswith(CONFLICTING_ROWS) for e in result.excluded
    ):
        result.excluded.append(Exclusion(sample.id, f"{CONFLICTING_ROWS} ({where})"))
        return None
    first = next((s for s in result.samples if s.id == sample.id), None)
    if first is None:
        result.samples.append(sample)
        return sample
    if first == sample:
        result.excluded.append(Exclusion(sample.id, f"repeats an earlier row ({where})"))
        return None
    result.samples.remove(first)
    result.excluded.append(Exclusion(sample.id, f"{CONFLICTING_ROWS} ({where})"))
    return None


def list_unannotated(result: LoadResult, subject_dirs: dict[str, Path], known: set[str]) -> None:
    """Record clip folders on disk that no annotation row names (``subject/clip`` in ``known``)."""
    for subject, sdir in sorted(subject_dirs.items()):
        for d in sorted(p for p in sdir.iterdir() if p.is_dir()):
            if f"{subject}/{d.name}" not in known:
                result.ignored.append(
                    Exclusion(f"{result.dataset}/{subject}/{d.name}", f"no annotation row ({d})")
                )


def add_coded_rows(
    result: LoadResult,
    table: Table,
    subject_dirs: dict[str, Path],
    subject_id: Callable[[int], str],
    fps: float,
    corrections: Sequence[Correction],
    range_required: bool = True,
    label_aliases: dict[str, str] | None = None,
) -> None:
    """Turn a coding spreadsheet's rows into samples (CASME, CASME II and SAMM share this).

    Each row's ``subject`` cell (text or number) becomes ``subject_id(number)``, its clip folder
    is ``subject_dirs[subject] / Filename``, and its emotion is lower-cased (then renamed by
    ``label_aliases``, e.g. CASME's ``comtempt``). Folders without a row are listed as ignored.
    """
    known: set[str] = set()
    aliases = label_aliases or {}
    for i, row in enumerate(table.rows):
        number = subject_number(row["subject"])
        clip = str(row["clip"]).strip() if row["clip"] is not None else ""
        if number is None or not clip:
            raise MicroexpError(f"{table.where(i)}: expected a subject number and a Filename")
        if clip.endswith(".0") and clip[:-2].isdigit():
            clip = clip[:-2]
        subject = subject_id(number)
        known.add(f"{subject}/{clip}")
        label = str(row["emotion"] or "").strip().lower()
        if not label:
            raise MicroexpError(f"{table.where(i)}: empty emotion cell")
        sdir = subject_dirs.get(subject)
        add_clip(
            result,
            subject=subject,
            clip=clip,
            folder=sdir / clip if sdir is not None else None,
            onset=as_int(row.get("onset")),
            apex=as_int(row.get("apex")),
            offset=as_int(row.get("offset")),
            label=aliases.get(label, label),
            fps=fps,
            action_units=str(row.get("aus") or ""),
            corrections=corrections,
            where=table.where(i),
            range_required=range_required,
        )
    list_unannotated(result, subject_dirs, known)


def coding_file(
    root: Path, given: str | os.PathLike | None, patterns: Sequence[str], what: str
) -> Path:
    """The annotation file: ``given`` if set (it must exist), else the first match under root."""
    if given is not None:
        path = Path(given)
        if not path.is_file():
            raise MicroexpError(f"{path}: {what} does not exist")
        return path
    found = find_files(root, patterns, max_depth=3)
    if not found:
        raise MicroexpError(f"{root}: no {what} (expected {patterns[0]})")
    return found[0]
