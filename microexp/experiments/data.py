"""A run's data: the user's folders or the synthetic default, a protocol's samples and labels,
and their cached tensors."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import datasets as ds
from ..errors import MicroexpError
from ..features import FlowCache, build_cache
from ..fileio import files_fingerprint, write_text


def datasets_of(protocols: Sequence[str]) -> list[str]:
    """The datasets the protocols read, in order of first use."""
    names: list[str] = []
    for p in protocols:
        names += [n for n in ds.get_protocol(p).datasets if n not in names]
    return names


def resolve_data(
    data: str, data_root: Path, data_preset: str, seed: int, needed: Sequence[str], log
) -> dict[str, Path]:
    """``synthetic`` -> generate the needed synthetic datasets under ``data_root``; else
    ``name=DIR,name=DIR`` roots of the user's real datasets."""
    if data == "synthetic":
        from .. import synthetic

        unwritten = [
            n for n in needed if n not in synthetic.SPECS and n not in synthetic.LONG_SPECS
        ]
        if unwritten:
            n = unwritten[0]
            raise MicroexpError(
                f"dataset {n!r} has no synthetic writer, so the default data='synthetic' cannot "
                f"make it: pass its folder (--data {n}=DIR, or data='{n}=DIR')"
            )
        roots = {}
        for name in needed:
            t = time.time()
            roots[name] = synthetic.generate(name, data_root / name, data_preset, seed)
            log(f"[data] synthetic {name} ({data_preset}): {roots[name]} ({time.time() - t:.0f} s)")
        return roots
    roots = ds.parse_roots(data, "--data (synthetic or name=DIR,...)")
    missing = [n for n in needed if n not in roots]
    if missing:
        raise MicroexpError(f"--data needs {', '.join(f'{n}=DIR' for n in missing)}")
    return roots


def record_data(out: Path, roots: dict[str, Path]) -> None:
    """``out/data.json``: which folders the run read, and whether they are synthetic. Kept out
    of the hashed configuration, so shards on machines with other paths still merge."""
    from ..datasets.base import is_synthetic

    info = {name: {"root": str(r), "synthetic": is_synthetic(Path(r))} for name, r in roots.items()}
    write_text(out / "data.json", json.dumps(info, indent=2) + "\n")


@dataclass(frozen=True)
class Prepared:
    """A protocol's samples whose tensors are cached, their class indices, the class names,
    and the in-memory store of their tensors (float16, as cached)."""

    samples: list
    labels: list[int]
    classes: list[str]
    store: object  # microexp.data.TensorStore

    def indices(self, samples: Sequence) -> list[int]:
        index = {s.id: i for i, s in enumerate(self.samples)}
        return [index[s.id] for s in samples]


def prepare(
    protocol: str,
    roots: dict[str, Path],
    recipe,
    cache_root: Path,
    log: Callable,
    merged: ds.LoadResult | None = None,
) -> Prepared:
    """protocol -> samples -> cache (built or reused) -> tensors in memory. ``merged``: the
    protocol's samples when already read (:func:`protocol_samples`), else they are read here."""
    from ..data import TensorStore

    proto = ds.get_protocol(protocol)
    merged = protocol_samples(protocol, roots) if merged is None else merged
    index = {c: i for i, c in enumerate(proto.classes)}
    subjects = len({s.subject_key for s in merged.samples})
    log(f"[protocol] {protocol}: {len(merged.samples)} samples, {subjects} subjects")
    summary = build_cache(merged.samples, recipe, cache_root, progress=False)
    log(f"[flows] {recipe.name}: {summary.line()}")
    cache = FlowCache(cache_root, recipe)
    kept = [s for s in merged.samples if s.id in summary.usable]
    if not kept:
        raise MicroexpError(f"no sample of {protocol} could be pre-processed ({recipe.name})")
    labels = [index[s.label] for s in kept]
    store = TensorStore(cache, kept)
    if cache.repaired:
        more = f" and {len(cache.repaired) - 1} more" if len(cache.repaired) > 1 else ""
        log(f"[flows] unreadable cache entries built again: {cache.repaired[0]}{more}")
    return Prepared(kept, labels, list(proto.classes), store)


def protocol_samples(protocol: str, roots: dict[str, Path]):
    """The protocol's samples read from ``roots``, its datasets merged (a LoadResult)."""
    proto = ds.get_protocol(protocol)
    return ds.merge(ds.load_protocol(proto, {n: roots[n] for n in proto.datasets}), protocol)


def data_record(samples: Sequence) -> dict:
    """The hashed record of the data a run reads (a protocol's samples, from
    :func:`protocol_samples`): their count and :func:`data_fingerprint`. Stats the frames;
    computes no flow."""
    return {"samples": len(samples), "fingerprint": data_fingerprint(samples)}


def data_fingerprint(samples: Sequence) -> str:
    """What a run's numbers are made from, for its hashed configuration: every sample's id,
    label, onset, apex, offset and frame rate, and the name and size of each frame file it
    spans. File times and folders are left out, so copies of a dataset on other machines (the
    shards of one run) agree, while another version of a dataset, a re-generated synthetic
    tree or an edited coding sheet gives another fingerprint, and a run directory made from
    the old one is refused rather than mixed with it."""
    fields = [(s.id, s.label, s.onset, s.apex, s.offset, s.fps) for s in samples]
    paths = (s.frame_path(n) for s in samples for n in s.frame_numbers())
    return files_fingerprint(paths, *fields, times=False)
