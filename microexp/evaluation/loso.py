"""The LOSO runner: a loop over an injected ``fit_predict`` that owns folds, resumption,
sharding and the pooled predictions. ``split="lodo"`` leaves one dataset out instead.

``fit_predict(train, test, fold)`` receives the training samples and the held-out samples
separately; the runner checks that no held-out subject (or dataset, under LODO) is among the
training samples before it calls it. Whatever it does with ``train`` (fitting, early stopping, model selection,
normalisation) can therefore only use training subjects; ``test`` is for prediction only.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..datasets import Fold, Sample, group_of, split_folds
from ..errors import MicroexpError
from ..fileio import read_json, write_text


@dataclass
class FoldOutput:
    """What ``fit_predict`` returns for one fold."""

    y_pred: list[int]
    y_prob: list[list[float]] | None = None
    history: dict[str, list[float]] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


FitPredict = Callable[[Sequence[Sample], Sequence[Sample], Fold], FoldOutput]


#: config.json sections that never change a number (TensorBoard, verbosity, eager tracing,
#: the final model, paths; the run's name and the tables it feeds): outside the hash, so
#: changing them resumes a run instead of refusing it
UNHASHED = ("runtime", "meta")


def config_hash(config: dict) -> str:
    """Hash of what changes a number: every section of ``config`` except :data:`UNHASHED`."""
    hashed = {k: v for k, v in config.items() if k not in UNHASHED}
    return hashlib.sha256(json.dumps(hashed, sort_keys=True, default=str).encode()).hexdigest()[:16]


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"i/n"`` (1-based) -> (i, n)."""
    if text is None:
        return None
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise MicroexpError(f"--shard {text!r}: expected i/n such as 1/4") from None
    if not 1 <= i <= n:
        raise MicroexpError(f"--shard {text!r}: expected 1 <= i <= n")
    return i, n


def select_folds(
    folds: list[Fold], only: Sequence[int] | None = None, shard: tuple[int, int] | None = None
) -> list[Fold]:
    """Folds by index (``--folds``) and/or the i-th of n interleaved shards (``--shard i/n``)."""
    out = folds
    if only:
        bad = [i for i in only if not 0 <= i < len(folds)]
        if bad:
            raise MicroexpError(f"--folds {bad}: there are {len(folds)} folds (0-{len(folds) - 1})")
        out = [f for f in out if f.index in set(only)]
    if shard:
        i, n = shard
        out = [f for f in out if f.index % n == i - 1]
    return out


def fold_path(run_dir: Path, fold: Fold) -> Path:
    return run_dir / "folds" / f"fold_{fold.index:03d}_{fold.test_subject.replace('/', '-')}.json"


def ensure_run_dir(run_dir: Path, config: dict) -> None:
    """Create ``run_dir`` with ``config.json``; refuse one that holds another config."""
    path = run_dir / "config.json"
    if path.is_file():
        stored = read_json(path)
        if config_hash(stored) != config_hash(config):
            raise MicroexpError(
                f"{path}: run directory holds another configuration (differs in "
                f"{', '.join(_differences(stored, config)[:5])}); use another --out or remove it"
            )
        if stored == json.loads(json.dumps(config, default=str)):
            return
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(config, indent=2, sort_keys=True, default=str) + "\n")


def _differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    """Dotted names of the hashed settings where ``a`` and ``b`` differ (e.g. ``train.lr``)."""
    out = []
    for k in sorted(set(a) | set(b)):
        if not prefix and k in UNHASHED:
            continue
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _differences(va, vb, f"{prefix}{k}.")
        elif k not in a:  # a setting that microexp did not record when it wrote ``a``
            out.append(f"{prefix}{k} (not recorded there: written by an older microexp)")
        elif json.dumps(va, default=str) != json.dumps(vb, default=str):
            out.append(f"{prefix}{k}")
    return out


def _reusable(path: Path, chash: str, log: Callable[[str], None]) -> dict | None:
    """The finished fold record at ``path`` when it belongs to this configuration; a
    truncated or malformed one (a half-copied shard) is named in the log and recomputed."""
    if not path.is_file():
        return None
    try:
        rec = read_json(path)
    except MicroexpError as exc:
        log(f"  {exc}; recomputing this fold")
        return None
    return rec if rec.get("config_hash") == chash else None


def run_loso(
    samples: Sequence[Sample],
    labels: Sequence[int],
    fit_predict: FitPredict,
    run_dir: str | os.PathLike,
    config: dict,
    folds: Sequence[int] | None = None,
    shard: tuple[int, int] | None = None,
    log: Callable[[str], None] = print,
    split: str = "loso",
    describe: Callable[[list[int], list[int]], str] | None = None,
) -> list[dict]:
    """Run (or resume) LOSO (or ``split`` ``lodo``) over ``samples`` and return every finished
    fold's record.

    Each fold's predictions, history and config hash are written atomically to
    ``run_dir/folds/`` as soon as it finishes; a fold already there is not run again, so
    re-running the same command resumes and ends with the same numbers. ``describe(y_true,
    y_pred)`` words a finished fold in the log (default: ``k/n correct``).
    """
    run_dir = Path(run_dir)
    group = group_of(split)
    all_folds = split_folds(samples, split)
    todo = select_folds(all_folds, folds, shard)
    ensure_run_dir(run_dir, config)
    chash = config_hash(config)
    records = []
    spent: list[float] = []  # seconds of the folds computed in this call
    for n_done, fold in enumerate(todo, start=1):
        path = fold_path(run_dir, fold)
        rec = _reusable(path, chash, log)
        if rec is not None and rec.get("samples") != [samples[i].id for i in fold.test]:
            log(f"  {path}: made for other test samples than this fold's; recomputing it")
            rec = None
        if rec is not None:
            records.append(rec)
            log(
                f"[fold {fold.index + 1}/{len(all_folds)}] {fold.test_subject}: done before, reused"
            )
            continue
        train = [samples[i] for i in fold.train]
        test = [samples[i] for i in fold.test]
        held_out = {s.subject_key for s in test} | {group(s) for s in test}
        if any(s.subject_key in held_out or group(s) in held_out for s in train):
            raise AssertionError(
                f"fold {fold.index}: held-out {split} group among training samples"
            )
        t0 = time.time()
        out = fit_predict(train, test, fold)
        if len(out.y_pred) != len(test):
            raise RuntimeError(
                f"fold {fold.index}: {len(out.y_pred)} predictions for {len(test)} samples"
            )
        y_true = [int(labels[i]) for i in fold.test]
        rec = {
            "fold": fold.index,
            "test_subject": fold.test_subject,
            "samples": [s.id for s in test],
            "y_true": y_true,
            "y_pred": [int(v) for v in out.y_pred],
            "y_prob": out.y_prob,
            "history": out.history,
            "extra": out.extra,
            "seconds": round(time.time() - t0, 2),
            "config_hash": chash,
        }
        write_text(path, json.dumps(rec) + "\n")
        records.append(rec)
        correct = sum(a == b for a, b in zip(y_true, rec["y_pred"], strict=True))
        said = describe(y_true, rec["y_pred"]) if describe else f"{correct}/{len(test)} correct"
        spent.append(rec["seconds"])
        log(
            f"[fold {fold.index + 1}/{len(all_folds)}] {fold.test_subject}: "
            f"{said} ({rec['seconds']:.0f} s{_remaining(spent, len(todo) - n_done)})"
        )
    return records


def _remaining(spent: Sequence[float], left: int) -> str:
    """ "; about N min left": the mean time of the folds computed so far times the folds left
    (nothing when none is left)."""
    if not left or not spent:
        return ""
    seconds = left * sum(spent) / len(spent)
    return (
        f"; about {seconds / 60:.0f} min left" if seconds >= 90 else f"; about {seconds:.0f} s left"
    )


def sample_subjects(records: Sequence[dict]) -> list[str]:
    """Each predicted sample's subject key (``casme2/sub01``), from the records' sample ids
    (``dataset/subject/clip``): under LODO a fold holds many subjects."""
    return ["/".join(sid.split("/")[:2]) for r in records for sid in r["samples"]]


def load_records(run_dirs: Sequence[str | os.PathLike]) -> tuple[dict, list[dict]]:
    """Merge the fold records of one or more run directories of the same configuration
    (shards); returns (config, records sorted by fold)."""
    config, by_fold = None, {}
    for d in run_dirs:
        d = Path(d)
        cpath = d / "config.json"
        if not cpath.is_file():
            raise MicroexpError(f"{d}: not a run directory (no config.json)")
        cfg = read_json(cpath)
        if config is None:
            config = cfg
        elif config_hash(cfg) != config_hash(config):
            raise MicroexpError(f"{d}: run directory from another configuration than {run_dirs[0]}")
        for p in sorted((d / "folds").glob("fold_*.json")):
            try:
                rec = read_json(p)
            except MicroexpError as exc:
                raise MicroexpError(f"{exc}; re-run the same command to recompute it") from None
            by_fold[rec["fold"]] = rec
    if config is None:
        raise MicroexpError("no run directory given")
    return config, [by_fold[k] for k in sorted(by_fold)]
