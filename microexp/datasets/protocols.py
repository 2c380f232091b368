"""Protocols: which samples a paper uses and under which class names, read from manifests.

A protocol is a JSON file in ``data_manifests/protocols/``::

    {"name": ..., "paper": ..., "classes": [...],
     "datasets": {"casme2": {"map": {"disgust": "negative", ...}, "drop": ["fear", ...],
                             "ids": "megc2019_ids.csv"}},
     "exclude": [{"sample": "casme2/sub04/EP12_01f", "reason": "..."}]}

For each dataset: a label in ``map`` is renamed, a label in ``drop`` excludes the sample with
that reason, any other label is an error (a new label in a user's file must not pass silently).
With ``ids`` only the listed samples are kept, and the list's label is the ground truth.
``multi_label`` says what a combined label (4DME's ``surprise+negative``) becomes: ``exclude``
(listed with its reason) or ``first`` (the first-named emotion, then mapped as usual).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import MicroexpError, unknown_name
from .base import Exclusion, LoadResult
from .manifests import load_json, manifest_dir, manifest_path


@dataclass(frozen=True)
class DatasetRule:
    map: dict[str, str]
    drop: tuple[str, ...] = ()
    ids: str | None = None
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
    of the same form when ``name`` is the path of one (your own protocol)."""
    if name.endswith(".json") and Path(name).is_file():
        path = Path(name)
        try:
            raw = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise MicroexpError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    else:
        names = protocol_names()
        if name not in names:
            raise unknown_name("protocol", name, names)
        raw = load_json(f"protocols/{name}.json")
        path = manifest_path(f"protocols/{name}.json")
    try:
        rules = {
            ds: DatasetRule(
                map=dict(r["map"]),
                drop=tuple(r.get("drop", ())),
                ids=r.get("ids"),
                multi_label=r.get("multi_label"),
            )
            for ds, r in raw["datasets"].items()
        }
        proto = Protocol(
            name=raw["name"],
            description=raw.get("description", ""),
            classes=tuple(raw["classes"]),
            datasets=rules,
            exclude={e["sample"]: e["reason"] for e in raw.get("exclude", [])},
            expected=dict(raw.get("expected", {})),
        )
    except (KeyError, TypeError) as exc:
        raise MicroexpError(f"{path}: malformed protocol (missing {exc})") from None
    for ds, rule in rules.items():
        if rule.multi_label not in (None, "exclude", "first"):
            raise MicroexpError(
                f"{path}: {ds} multi_label {rule.multi_label!r}; expected exclude or first"
            )
        bad = sorted(set(rule.map.values()) - set(proto.classes))
        if bad:
            raise MicroexpError(f"{path}: {ds} maps to {bad}, which are not in classes")
    return proto


def read_ids(name: str) -> dict[str, str]:
    """A published sample list (``dataset,subject,clip,label``) -> {sample id: label}."""
    path = manifest_path(name)
    with path.open(newline="", encoding="utf-8") as fh:
        return {
            f"{r['dataset']}/{r['subject']}/{r['clip']}": r["label"] for r in csv.DictReader(fh)
        }


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
    ids = read_ids(rule.ids) if rule.ids else None
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
            known = sorted(set(rule.map) | set(rule.drop))
            raise MicroexpError(
                f"{result.root}: sample {s.id} has unknown emotion label {s.label!r}; "
                f"protocol {protocol.name!r} expects one of: {', '.join(known)}"
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
