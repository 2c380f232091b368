"""Protocols: which samples a paper uses and under which class names, read from manifests.

A protocol is a JSON file in ``data_manifests/protocols/``::

    {"name": ..., "paper": ..., "classes": [...],
     "datasets": {"casme2": {"map": {"disgust": "negative", ...}, "drop": ["fear", ...],
                             "ids": "megc2019_ids.csv"}},
     "exclude": [{"sample": "casme2/sub04/EP12_01f", "reason": "..."}]}

For each dataset: a label in ``map`` is renamed, a label in ``drop`` excludes the sample with
that reason, any other label is an error (a new label in a user's file must not pass silently).
With ``ids`` only the listed samples are kept, and the list's label (one of ``classes``) is the
ground truth; a relative ``ids`` path is looked up beside the protocol file, then among the
shipped manifests.
``multi_label`` says what a combined label (4DME's ``surprise+negative``) becomes: ``exclude``
(listed with its reason) or ``first`` (the first-named emotion, then mapped as usual).

``classes`` is a non-empty list of unique names, each reached by some ``map`` or ``ids`` label;
a file not of this form is a one-line error naming the file and the field.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MicroexpError, unknown_name
from .base import Exclusion, LoadResult
from .manifests import manifest_dir, manifest_path


@dataclass(frozen=True)
class DatasetRule:
    map: dict[str, str]
    drop: tuple[str, ...] = ()
    ids: str | None = None  # a shipped manifest's name, or a file's absolute path
    multi_label: str | None = None  # "exclude" or "first"; None: a "+" label is unknown


@dataclass(frozen=True)
class Protocol:
    """A paper's sample selection and label mapping over one or more datasets."""

    name: str
    description: str
    classes: tuple[str, ...]
    datasets: dict[str, DatasetRule]
    exclude: dict[str, str] = field(default_factory=dict)
    expected: dict = field(default_factory=dict)  # counts on a full copy, as published

    @property
    def is_composite(self) -> bool:
        return len(self.datasets) > 1


def protocol_names() -> list[str]:
    """The protocols shipped in ``data_manifests/protocols/``.

    Raises:
        MicroexpError: the installed package carries none (a broken install).
    """
    folder = manifest_dir() / "protocols"
    names = sorted(p.stem for p in folder.glob("*.json"))
    if not names:
        raise MicroexpError(f"{folder}: no protocol files; microexp is installed without its data")
    return names


def describe_protocol(proto: Protocol) -> dict[str, object]:
    """A protocol as plain data: name, description, classes, datasets, excluded sample count."""
    return {
        "name": proto.name,
        "description": proto.description,
        "classes": list(proto.classes),
        "datasets": list(proto.datasets),
        "excluded_samples": len(proto.exclude),
    }


def get_protocol(name: str) -> Protocol:
    """Load protocol ``name`` from ``data_manifests/protocols/NAME.json``, or from a JSON file
    of the same form when ``name`` is the path of one (your own protocol).

    Raises:
        MicroexpError: no such protocol or file, or the file is not of the form described in
            this module (one line naming the file and the field).
    """
    path = _protocol_file(name)
    raw = _read_object(path)
    classes = _classes(raw.get("classes"), path)
    datasets = _need(raw, "datasets", dict, path, "an object {dataset: rule}")
    if not datasets:
        raise MicroexpError(f"{path}: datasets is empty; expected at least one dataset's rule")
    rules = {
        ds: _rule(r, f"{path}: datasets.{ds}", path.parent, classes) for ds, r in datasets.items()
    }
    _check_reached(classes, rules, path)
    return Protocol(
        name=_need(raw, "name", str, path, "the protocol's name"),
        description=_need(raw, "description", str, path, "a text", ""),
        classes=classes,
        datasets=rules,
        exclude=_exclusions(raw.get("exclude", []), path),
        expected=_need(raw, "expected", dict, path, "an object of published counts", {}),
    )


def _protocol_file(name: str) -> Path:
    """The file protocol ``name`` is read from: the user's own when ``name`` looks like a path
    (ends in ``.json`` or holds a folder separator), else the shipped one."""
    if name.endswith(".json") or "/" in name or os.sep in name:
        path = Path(name).expanduser()
        if path.is_file():
            return path
        shipped = (manifest_dir() / "protocols" / path.name).is_file()
        hint = f" (the shipped protocol is named {path.stem!r}, without .json)" if shipped else ""
        what = "is not a file" if path.exists() else "does not exist"
        raise MicroexpError(f"{path}: protocol file {what}{hint}")
    names = protocol_names()
    if name not in names:
        raise unknown_name("protocol", name, names)
    return manifest_path(f"protocols/{name}.json")


def _read_object(path: Path) -> dict:
    """The JSON object in ``path``: bad JSON, unreadable text or another JSON value is a
    one-line error."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise MicroexpError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MicroexpError(f"{path}: unreadable protocol file ({exc})") from None
    if not isinstance(raw, dict):
        raise MicroexpError(
            f'{path}: expected a JSON object {{"name": ..., "classes": [...], "datasets": '
            f"{{...}}}}, got {_shown(raw)}"
        )
    return raw


_MISSING = object()


def _need(
    raw: dict, key: str, kind: type, where: str | Path, what: str, default: Any = _MISSING
) -> Any:
    """``raw[key]`` when it is a ``kind`` (``default`` when absent or null, if there is one);
    else a one-line error saying ``what`` was expected."""
    value = raw.get(key)
    if value is None and default is not _MISSING:
        return default
    if value is None:
        raise MicroexpError(f"{where}: missing {key!r}; expected {what}")
    if not isinstance(value, kind):
        raise MicroexpError(f"{where}: {key} is {_shown(value)}; expected {what}")
    return value


def _shown(value: object) -> str:
    """A JSON value for a message: its kind and, shortened, its text."""
    kinds = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    kind = "null" if value is None else kinds.get(type(value), "a number")
    text = json.dumps(value)
    return f"{kind} {text if len(text) <= 40 else text[:37] + '...'}"


def _names(value: object, where: str, what: str) -> tuple[str, ...]:
    """A JSON list of unique non-empty strings, else a one-line error about ``what``."""
    ok = isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)
    if not ok:
        raise MicroexpError(f"{where} is {_shown(value)}; expected a list of {what}")
    twice = sorted({v for v in value if value.count(v) > 1})
    if twice:
        raise MicroexpError(f"{where} lists {', '.join(map(repr, twice))} more than once")
    return tuple(value)


def _classes(value: object, path: Path) -> tuple[str, ...]:
    """``classes``: a non-empty list of unique non-empty names (a repeat would add a class
    that never occurs)."""
    if value is None:
        raise MicroexpError(f"{path}: missing 'classes'; expected a list of class names")
    classes = _names(value, f"{path}: classes", "unique non-empty class names")
    if not classes:
        raise MicroexpError(f"{path}: classes is empty; expected at least one class name")
    return classes


def _rule(raw: object, where: str, folder: Path, classes: tuple[str, ...]) -> DatasetRule:
    """One dataset's rule: a non-empty ``map`` {label: class}, optional ``drop`` labels,
    ``ids`` list and ``multi_label`` rule."""
    if not isinstance(raw, dict):
        raise MicroexpError(f"{where} is {_shown(raw)}; expected an object with map and drop")
    mapping = _need(raw, "map", dict, where, "an object {dataset label: class}")
    if not mapping:
        raise MicroexpError(f"{where}: map is empty; expected {{dataset label: class}}")
    bad = sorted(str(c) for c in mapping.values() if c not in classes)
    if bad:
        raise MicroexpError(f"{where} maps to {bad}, which are not in classes")
    drop = _names(raw.get("drop", []), f"{where}.drop", "unique dataset labels")
    both = sorted(set(mapping) & set(drop))
    if both:
        raise MicroexpError(f"{where}: {', '.join(map(repr, both))} both mapped and dropped")
    multi = raw.get("multi_label")
    if multi not in (None, "exclude", "first"):
        raise MicroexpError(f"{where} multi_label {multi!r}; expected exclude or first")
    ids = _need(raw, "ids", str, where, "the path of a CSV dataset,subject,clip,label", None)
    return DatasetRule(
        dict(mapping), drop, None if ids is None else _ids_file(ids, folder, where), multi
    )


def _ids_file(ids: str, folder: Path, where: str) -> str:
    """Where ``ids`` is: a relative path is looked up beside the protocol file first (its
    absolute path returned), then among the shipped manifests (its name returned)."""
    name = ids.strip()
    if not name:
        raise MicroexpError(f"{where}: ids is empty; expected the path of a CSV file")
    beside = (folder / Path(name).expanduser()).absolute()
    if beside.is_file():
        return str(beside)
    if manifest_path(name).is_file():
        return name
    raise MicroexpError(
        f"{where}: ids file {ids!r} is neither beside the protocol ({beside}) nor among "
        "microexp's manifests"
    )


def _check_reached(classes: tuple[str, ...], rules: dict[str, DatasetRule], path: Path) -> None:
    """Every class is some dataset's mapped class or some id list's label: a class no sample
    can have would be an output that never occurs."""
    reached = {c for r in rules.values() for c in r.map.values()}
    for r in rules.values():
        reached |= set(read_ids(r.ids, classes).values()) if r.ids else set()
    never = [c for c in classes if c not in reached]
    if never:
        raise MicroexpError(
            f"{path}: no dataset's map or ids file gives class {', '.join(map(repr, never))}; "
            "expected every class to have samples"
        )


def _exclusions(raw: object, path: Path) -> dict[str, str]:
    """``exclude``: a list of {"sample": id, "reason": text}."""
    ok = isinstance(raw, list) and all(
        isinstance(e, dict)
        and isinstance(e.get("sample"), str)
        and isinstance(e.get("reason"), str)
        for e in raw
    )
    if not ok:
        raise MicroexpError(
            f'{path}: exclude is {_shown(raw)}; expected a list of {{"sample": ID, "reason": TEXT}}'
        )
    return {e["sample"]: e["reason"] for e in raw}


ID_COLUMNS = ("dataset", "subject", "clip", "label")


def read_ids(name: str, classes: Sequence[str] | None = None) -> dict[str, str]:
    """A published sample list (``dataset,subject,clip,label``) -> {sample id: label}.

    ``name`` is a file among the shipped manifests or the path of one (absolute, or relative
    to the working folder); with ``classes``, a label outside them is an error.

    Raises:
        MicroexpError: the file is missing or unreadable, lacks a column, has an empty cell,
            lists a sample twice or has a label not in ``classes`` (naming the line).
    """
    path = _ids_path(name)
    if not path.is_file():
        raise MicroexpError(f"{path}: id list does not exist")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:  # -sig: a spreadsheet's BOM
            return _id_rows(csv.DictReader(fh), path, classes)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise MicroexpError(f"{path}: unreadable id list ({exc})") from None


def _ids_path(name: str) -> Path:
    """An absolute path as it is; a relative one among the shipped manifests first."""
    path = Path(name).expanduser()
    if path.is_absolute():
        return path
    shipped = manifest_path(name)
    return shipped if shipped.is_file() or not path.is_file() else path


def _id_rows(reader: csv.DictReader, path: Path, classes: Sequence[str] | None) -> dict[str, str]:
    """The rows of an id list, checked one by one (see :func:`read_ids`)."""
    missing = [c for c in ID_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise MicroexpError(
            f"{path}: missing column {', '.join(missing)}; expected the header "
            f"{','.join(ID_COLUMNS)}"
        )
    ids: dict[str, str] = {}
    for row in reader:
        where = f"{path} line {reader.line_num}"
        cells = [(row[c] or "").strip() for c in ID_COLUMNS]
        if not all(cells):
            raise MicroexpError(f"{where}: expected a {', '.join(ID_COLUMNS)} in every row")
        sid, label = "/".join(cells[:3]), cells[3]
        if classes is not None and label not in classes:
            raise MicroexpError(
                f"{where}: label {label!r} is not a class of the protocol "
                f"(expected one of: {', '.join(classes)})"
            )
        if sid in ids:
            raise MicroexpError(f"{where}: sample {sid} is listed twice")
        ids[sid] = label
    return ids


def apply_protocol(result: LoadResult, protocol: Protocol) -> LoadResult:
    """The samples of ``result`` that ``protocol`` keeps, relabelled; the rest become exclusions.

    Raises:
        MicroexpError: the dataset is not part of the protocol, or a sample carries a label the
            protocol neither maps nor drops (named with the sample, so the user finds the row).
    """
    rule = protocol.datasets.get(result.dataset)
    if rule is None:
        raise MicroexpError(
            f"protocol {protocol.name!r} does not use dataset {result.dataset!r}; "
            f"it uses {', '.join(protocol.datasets)}"
        )
    ids = read_ids(rule.ids, protocol.classes) if rule.ids else None
    out = LoadResult(
        result.dataset,
        result.root,
        excluded=list(result.excluded),
        ignored=list(result.ignored),
        notes=list(result.notes),
        synthetic=result.synthetic,
    )
    seen: set[str] = set()
    for s in result.samples:
        if "+" in s.label and rule.multi_label == "exclude":
            out.excluded.append(
                Exclusion(s.id, f"multi-label emotion {s.label!r} ({protocol.name}: single only)")
            )
            continue
        if "+" in s.label and rule.multi_label == "first":
            s = s.replace(label=s.label.split("+")[0])
        if s.label not in rule.map and s.label not in rule.drop:
            known = ", ".join(sorted(set(rule.map) | set(rule.drop))) or "(none: empty map)"
            raise MicroexpError(
                f"{result.root}: sample {s.id} has unknown emotion label {s.label!r}; "
                f"protocol {protocol.name!r} expects one of: {known}"
            )
        if s.id in protocol.exclude:
            out.excluded.append(Exclusion(s.id, protocol.exclude[s.id]))
            continue
        if ids is not None:
            if s.id not in ids:
                out.excluded.append(Exclusion(s.id, f"not in the published list {rule.ids}"))
                continue
            seen.add(s.id)
            label = ids[s.id]
            if s.label in rule.drop or rule.map[s.label] != label:
                out.notes.append(
                    Exclusion(
                        s.id, f"{rule.ids} labels it {label!r}; the coding file says {s.label!r}"
                    )
                )
            out.samples.append(s.replace(label=label))
            continue
        if s.label in rule.drop:
            out.excluded.append(Exclusion(s.id, f"label {s.label!r} not used by {protocol.name}"))
            continue
        out.samples.append(s.replace(label=rule.map[s.label]))
    if ids is not None:
        accounted = {s.id for s in result.samples} | {e.sample for e in out.excluded}
        for sid in sorted(k for k in ids if k.startswith(result.dataset + "/")):
            if sid not in accounted:
                out.excluded.append(
                    Exclusion(sid, f"listed in {rule.ids} but not found under {result.root}")
                )
    return out
