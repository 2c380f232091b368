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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..datasets import Fold, Sample, group_of, split_folds
from ..errors import MicroexpError, is_int
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


def parse_shard(
    text: str | None, shards: int | None = None, environ: Mapping[str, str] | None = None
) -> tuple[int, int] | None:
    """``"i/n"`` (1-based) -> (i, n); ``"auto"``: this process's share from the scheduler
    (:func:`shard_from_environment`, ``shards`` the count where the scheduler gives none)."""
    if text is None:
        return None
    if text == "auto":
        return shard_from_environment(os.environ if environ is None else environ, shards)
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise MicroexpError(f"--shard {text!r}: expected i/n such as 1/4") from None
    if not 1 <= i <= n:
        raise MicroexpError(f"--shard {text!r}: expected 1 <= i <= n")
    return i, n


#: the environment variable giving a Kubernetes Indexed Job's shard count (its completions)
SHARDS_VARIABLE = "MICROEXP_SHARDS"


def _env_int(environ: Mapping[str, str], name: str) -> int | None:
    text = environ.get(name)
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise MicroexpError(f"--shard auto: {name}={text!r} is not an integer") from None


def shard_from_environment(
    environ: Mapping[str, str], shards: int | None = None
) -> tuple[int, int]:
    """(i, n), 1-based, from a Slurm job array or a Kubernetes Indexed Job.

    Slurm: ``SLURM_ARRAY_TASK_ID`` within ``SLURM_ARRAY_TASK_MIN``..``_MAX`` (step
    ``SLURM_ARRAY_TASK_STEP``, default 1), or with ``SLURM_ARRAY_TASK_COUNT`` (tasks from
    ``_MIN``, default 0); every value given must agree, and with ``shards`` (``--shards``).
    Kubernetes: ``JOB_COMPLETION_INDEX`` (0-based) of ``shards`` or ``MICROEXP_SHARDS``
    (set it to the Job's ``completions``). Anything missing or inconsistent is a one-line
    :class:`MicroexpError`."""
    task = _env_int(environ, "SLURM_ARRAY_TASK_ID")
    index = _env_int(environ, "JOB_COMPLETION_INDEX")
    if task is not None and index is not None:
        raise MicroexpError(
            "--shard auto: both SLURM_ARRAY_TASK_ID and JOB_COMPLETION_INDEX are set; "
            "expected one scheduler"
        )
    if task is not None:
        i, n = _slurm_shard(environ, task)
        if shards is not None and shards != n:
            raise MicroexpError(
                f"--shard auto: the Slurm array has {n} tasks but --shards is {shards}"
            )
        return i, n
    if index is not None:
        given = _env_int(environ, SHARDS_VARIABLE)
        if shards is not None and given is not None and shards != given:
            raise MicroexpError(f"--shard auto: --shards {shards} but {SHARDS_VARIABLE}={given}")
        n = shards if shards is not None else given
        if n is None:
            raise MicroexpError(
                "--shard auto: JOB_COMPLETION_INDEX is set but not the shard count; give "
                f"--shards N or {SHARDS_VARIABLE} (the Indexed Job's completions)"
            )
        if not 0 <= index < n:
            raise MicroexpError(f"--shard auto: JOB_COMPLETION_INDEX={index} is outside 0..{n - 1}")
        return index + 1, n
    raise MicroexpError(
        "--shard auto: no scheduler index found (expected SLURM_ARRAY_TASK_ID from a Slurm "
        "job array, or JOB_COMPLETION_INDEX from a Kubernetes Indexed Job)"
    )


def _slurm_shard(environ: Mapping[str, str], task: int) -> tuple[int, int]:
    low = _env_int(environ, "SLURM_ARRAY_TASK_MIN")
    high = _env_int(environ, "SLURM_ARRAY_TASK_MAX")
    count = _env_int(environ, "SLURM_ARRAY_TASK_COUNT")
    step = _env_int(environ, "SLURM_ARRAY_TASK_STEP") or 1
    if low is None and count is None:
        raise MicroexpError(
            "--shard auto: SLURM_ARRAY_TASK_ID is set without SLURM_ARRAY_TASK_MIN/_MAX or "
            "SLURM_ARRAY_TASK_COUNT (not a job array?)"
        )
    low = 0 if low is None else low
    if high is not None:
        n = (high - low) // step + 1
        if count is not None and count != n:
            raise MicroexpError(
                f"--shard auto: SLURM_ARRAY_TASK_COUNT={count} disagrees with "
                f"SLURM_ARRAY_TASK_MIN/_MAX/_STEP {low}/{high}/{step} ({n} tasks)"
            )
    else:
        n = count
    offset = task - low
    if offset < 0 or offset % step or offset // step >= n:
        raise MicroexpError(
            f"--shard auto: SLURM_ARRAY_TASK_ID={task} is not a task of the array "
            f"{low}-{low + (n - 1) * step}:{step}"
        )
    return offset // step + 1, n


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
        if not out:
            raise MicroexpError(f"--shard {i}/{n}: holds none of the {len(folds)} folds")
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


def _reusable(
    path: Path,
    chash: str,
    fold: Fold,
    test: list[str],
    n_classes: int | None,
    log: Callable[[str], None],
) -> dict | None:
    """The finished fold record at ``path`` when it belongs to this configuration and is
    ``fold``'s, of its ``test`` samples; a truncated, malformed or misplaced one (a
    half-copied shard) is named in the log and recomputed."""
    if not path.is_file():
        return None
    try:
        rec = read_json(path)
    except MicroexpError as exc:
        log(f"  {exc}; recomputing this fold")
        return None
    if rec.get("config_hash") != chash:
        return None
    if rec.get("samples") != test:
        problem = "made for other test samples than this fold's"
    elif rec.get("fold") != fold.index:
        problem = f"holds fold {rec.get('fold')!r}, not this file's fold {fold.index}"
    else:
        problem = record_problem(rec, chash, n_classes)
    if problem is not None:
        log(f"  {path}: {problem}; recomputing this fold")
        return None
    return rec


#: the keys every fold record has (``y_prob``, ``history``, ``extra``, ``seconds`` and
#: ``folds_total`` are optional: records of older versions lack some)
RECORD_KEYS = ("fold", "test_subject", "samples", "y_true", "y_pred", "config_hash")


def record_problem(rec: dict, chash: str, n_classes: int | None) -> str | None:
    """What is wrong with the fold record ``rec`` of the configuration hashed ``chash``
    (labels are class indices below ``n_classes``; any count >= 0 when None), in a few words;
    None when nothing is. Cannot tell whether its samples are its fold's: the caller can."""
    missing = [k for k in RECORD_KEYS if k not in rec]
    if missing:
        return f"no {', '.join(map(repr, missing))} (expected a fold record of microexp run)"
    if rec["config_hash"] != chash:
        return (
            f"made under another configuration (config_hash {rec['config_hash']!r}; this run's "
            f"config.json hashes to {chash!r})"
        )
    if not is_int(rec["fold"]) or rec["fold"] < 0:
        return f"'fold' is {rec['fold']!r}; expected a fold index (an integer >= 0)"
    total = rec.get("folds_total")
    if total is not None and (not is_int(total) or not rec["fold"] < total):
        return f"'folds_total' is {total!r}; expected an integer above its fold {rec['fold']}"
    if not isinstance(rec["test_subject"], str):
        return f"'test_subject' is {rec['test_subject']!r}; expected a subject name"
    samples = rec["samples"]
    if not isinstance(samples, list) or not all(isinstance(s, str) for s in samples):
        return "'samples' is not a list of sample ids"
    for key in ("y_true", "y_pred"):
        problem = _labels_problem(key, rec[key], len(samples), n_classes)
        if problem is not None:
            return problem
    return _prob_problem(rec.get("y_prob"), len(samples), n_classes) or _history_problem(
        rec.get("history", {})
    )


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _labels_problem(key: str, values: object, n: int, n_classes: int | None) -> str | None:
    if not isinstance(values, list):
        return f"'{key}' is not a list (expected one label per sample)"
    if len(values) != n:
        return f"'{key}' holds {len(values)} values for {n} samples; expected one per sample"
    top = f"0-{n_classes - 1} (the {n_classes} classes of config.json)" if n_classes else ">= 0"
    for i, v in enumerate(values):
        if not is_int(v) or v < 0 or (n_classes is not None and v >= n_classes):
            return f"{key}[{i}] is {v!r}; expected a class index {top}"
    return None


def _prob_problem(prob: object, n: int, n_classes: int | None) -> str | None:
    if prob is None:
        return None
    width = n_classes or 0
    if not isinstance(prob, list) or len(prob) != n:
        return f"'y_prob' is not a list of {n} rows (one per sample)"
    for i, row in enumerate(prob):
        if not isinstance(row, list) or not all(_is_number(v) for v in row):
            return f"y_prob[{i}] is not a list of numbers"
        if width and len(row) != width:
            return f"y_prob[{i}] holds {len(row)} probabilities; expected {width} (one per class)"
    return None


def _history_problem(history: object) -> str | None:
    """``history``: lists of numbers (one per epoch) by name."""
    if not isinstance(history, dict) or not all(
        isinstance(v, list) and all(_is_number(x) for x in v) for v in history.values()
    ):
        return "'history' is not an object of lists of numbers (per epoch)"
    return None


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
    classes = config.get("classes")
    n_classes = len(classes) if isinstance(classes, list) else None
    records = []
    spent: list[float] = []  # seconds of the folds computed in this call
    for n_done, fold in enumerate(todo, start=1):
        path = fold_path(run_dir, fold)
        test_ids = [samples[i].id for i in fold.test]
        rec = _reusable(path, chash, fold, test_ids, n_classes, log)
        if rec is not None:
            if rec.get("folds_total") != len(all_folds):  # written before it was recorded
                rec["folds_total"] = len(all_folds)
                write_text(path, json.dumps(rec) + "\n")
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
            "folds_total": len(all_folds),
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


def load_records(
    run_dirs: Sequence[str | os.PathLike] | str | os.PathLike,
) -> tuple[dict, list[dict]]:
    """Merge the fold records of one or more run directories (one may be given alone) of the
    same configuration (shards); returns (config, records sorted by fold). A record that is not a finished fold
    of that configuration, or a fold found twice (but for the same predictions in two shard
    directories), is a :class:`MicroexpError` naming its file; a missing fold is not (see
    :func:`coverage`)."""
    if isinstance(run_dirs, (str, os.PathLike)):
        run_dirs = [run_dirs]
    config, by_fold, found_in, totals = None, {}, {}, {}
    for d in map(Path, run_dirs):
        cfg, n_classes = _run_config(d)
        if config is None:
            config = cfg
        elif config_hash(cfg) != config_hash(config):
            raise MicroexpError(f"{d}: run directory from another configuration than {run_dirs[0]}")
        chash = config_hash(cfg)
        for p in sorted((d / "folds").glob("fold_*.json")):
            rec = _record(p, chash, n_classes)
            k = rec["fold"]
            if k in by_fold and not _same_fold(found_in[k], p, by_fold[k], rec):
                raise MicroexpError(
                    f"{p}: fold {k} again (also in {found_in[k]}); remove the one that "
                    "does not belong there"
                )
            by_fold[k], found_in[k] = rec, p
            totals.setdefault(rec.get("folds_total"), p)
    if config is None:
        raise MicroexpError("no run directory given")
    _check_totals(totals)
    return config, [by_fold[k] for k in sorted(by_fold)]


def _run_config(d: Path) -> tuple[dict, int | None]:
    """``d/config.json`` and its class count (None where it names no classes: the records'
    labels are then counts, as spotting's)."""
    path = d / "config.json"
    if not path.is_file():
        inside = sorted(p.parent.name for p in d.glob("runs/*/config.json"))
        hint = f"; its runs: {', '.join(inside)} (pass {d}/runs/NAME)" if inside else ""
        raise MicroexpError(
            f"{d}: not a run directory (no config.json; expected OUT/runs/NAME){hint}"
        )
    cfg = read_json(path)
    classes = cfg.get("classes")
    if classes is None:
        return cfg, None
    if not isinstance(classes, list) or not classes:
        raise MicroexpError(f"{path}: 'classes' is {classes!r}; expected the list of class names")
    return cfg, len(classes)


def _record(path: Path, chash: str, n_classes: int | None) -> dict:
    """The fold record at ``path``, checked (:func:`record_problem`)."""
    try:
        rec = read_json(path)
    except MicroexpError as exc:
        raise MicroexpError(f"{exc}; re-run the same command to recompute it") from None
    problem = record_problem(rec, chash, n_classes)
    if problem is not None:
        raise MicroexpError(
            f"{path}: {problem}; re-run the same `microexp run` command to recompute it"
        )
    return rec


def _same_fold(first: Path, second: Path, a: dict, b: dict) -> bool:
    """Whether a fold found twice is harmless: in two run directories (overlapping shards)
    with the same samples and predictions."""
    same = ("samples", "y_true", "y_pred")
    return first.parent != second.parent and all(a[k] == b[k] for k in same)


def _check_totals(totals: dict) -> None:
    """Every record of a run agrees on how many folds its split has (``totals``: each count
    found -> a file saying it; None: a record from before microexp recorded it)."""
    known = [(n, p) for n, p in totals.items() if n is not None]
    if len(known) > 1:
        (a, pa), (b, pb) = known[:2]
        raise MicroexpError(
            f"{pb}: made for a split of {b} folds, where {pa} says {a}; "
            "re-run the same `microexp run` command to recompute it"
        )


def coverage(records: Sequence[dict]) -> dict:
    """How much of its split ``records`` (checked, sorted by fold) cover: ``folds_total`` (None
    when they predate microexp recording it) and ``partial`` (None when unknown); when
    partial, the ``missing_folds`` (0-based, as ``--folds`` takes them) and the
    ``covered_subjects``."""
    totals = {r["folds_total"] for r in records if r.get("folds_total") is not None}
    total = max(totals) if totals else None
    if total is None:
        return {"folds_total": None, "partial": None}
    done = {r["fold"] for r in records}
    out = {"folds_total": total, "partial": len(done) < total}
    if out["partial"]:
        out["missing_folds"] = sorted(set(range(total)) - done)
        out["covered_subjects"] = [r.get("test_subject") for r in records]
    return out
