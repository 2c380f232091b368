"""``microexp report``: tables (Markdown and CSV) with our numbers beside the papers', a
confusion-matrix figure per run, and training curves shaped like paper A's Fig. 5."""

from __future__ import annotations

import csv
import io
import json
import os
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import MicroexpError, is_int
from ..evaluation import all_metrics, confusion_matrix, load_records, sample_subjects
from ..evaluation.baselines import BASELINES
from ..evaluation.intervals import bootstrap_ci, paired_comparison
from ..evaluation.loso import _differences, config_hash, coverage
from ..evaluation.megc import per_dataset_scores
from ..fileio import atomic_path, read_json, write_text
from .tables import Column, TableSpec, registered_tables


@dataclass(frozen=True)
class RunResult:
    """One run (its shards merged): what its config.json says, its fold records, its metrics."""

    name: str
    dirs: tuple[Path, ...]
    config: dict
    records: list[dict]
    metrics: dict
    baselines: dict = field(default_factory=dict)  # name -> (records, metrics)
    seed_records: list = field(default_factory=list)  # every seed's records (first = records)
    notes: list = field(default_factory=list)  # what the report left out of this run, and why

    @property
    def meta(self) -> dict:
        return self.config.get("meta") or {"name": self.name, "tables": []}

    def label(self, field: str) -> str:
        value = self.meta.get(field)
        if value is None:
            raise MicroexpError(
                f"{self.dirs[0] / 'config.json'}: run metadata has no {field!r}; "
                "re-run it with this version of microexp"
            )
        return str(value)


def _run_dirs(outs: Sequence[Path]) -> list[Path]:
    """Every run folder under ``OUT/runs/`` of the output folders, each once (an output
    folder given twice, or under two names, is read once)."""
    dirs: dict[Path, Path] = {}
    for out in outs:
        runs = out / "runs"
        if not runs.is_dir():
            raise MicroexpError(f"{out}: not a run output folder (no runs/)")
        for p in sorted(p for p in runs.iterdir() if (p / "config.json").is_file()):
            dirs.setdefault(p.resolve(), p)
    if not dirs:
        raise MicroexpError(f"{outs[0]}: no finished run to report")
    return list(dirs.values())


def collect_runs(outs: Sequence[Path]) -> list[RunResult]:
    """Every run under ``OUT/runs/`` of each output folder, shards of one run merged by the
    name in their metadata (so a renamed run directory still merges and lands in its tables),
    the seeds of one run gathered, sorted by name; runs without a finished fold are left out.
    Seeds of one run must share every other setting and their data (else MicroexpError); a
    seed that shares no finished fold with the lower seeds is left out with a note."""
    by_name: dict[str, dict[int, list[Path]]] = {}
    for d in _run_dirs(outs):
        config = read_json(d / "config.json")
        name = str((config.get("meta") or {}).get("name", d.name))
        by_name.setdefault(name, {}).setdefault(_checked_seed(d, config), []).append(d)
    results = [_collect_run(name, by_name[name]) for name in sorted(by_name)]
    return [r for r in results if r is not None]


def _collect_run(name: str, seeds: dict[int, list[Path]]) -> RunResult | None:
    """One run from its seeds' folders (seed -> shard folders); None without a finished fold."""
    loaded = {k: load_records(seeds[k]) for k in sorted(seeds)}
    loaded = {k: v for k, v in loaded.items() if v[1]}
    if not loaded:
        return None
    paths = {k: seeds[k][0] / "config.json" for k in loaded}
    _check_same_settings(name, {k: loaded[k][0] for k in loaded}, paths)
    kept, notes = _overlapping({k: loaded[k][1] for k in loaded})
    _check_same_samples(name, kept, paths)
    first = min(kept)
    cfg, recs = loaded[first]
    every = list(kept.values())
    metrics = run_metrics(cfg, every, list(kept))
    dirs = tuple(d for k in kept for d in seeds[k])
    baselines, more = _baselines(seeds[first], _aligned(every)[0])
    return RunResult(name, dirs, cfg, recs, metrics, baselines, every, notes + more)


def _seedless(config: dict) -> dict:
    """``config`` without its training seed: what the seeds of one run share."""
    return {k: v for k, v in config.items() if k != "seed"}


def _check_same_settings(name: str, configs: dict[int, dict], paths: dict[int, Path]) -> None:
    """Refuse seeds of run ``name`` whose hashed settings or data differ but for the seed
    (seed -> config, and its config.json)."""
    first = min(configs)
    ref = _seedless(configs[first])
    for k, cfg in configs.items():
        if config_hash(_seedless(cfg)) == config_hash(ref):
            continue
        setting = next(iter(_differences(ref, _seedless(cfg))), "a hashed setting")
        raise MicroexpError(
            f"{paths[first]} and {paths[k]}: seeds {first} and {k} of run {name!r} differ in "
            f"{setting}, not only in the seed (expected the same data and settings, as "
            "`--seeds` in one --out gives); report them separately"
        )


def _overlapping(seed_records: dict[int, list[dict]]) -> tuple[dict[int, list[dict]], list[str]]:
    """The seeds (lowest first) that share at least one finished fold with the lower seeds
    kept, and a note per seed left out."""
    kept: dict[int, list[dict]] = {}
    common: set[int] = set()
    notes = []
    for k in sorted(seed_records):
        folds = {r["fold"] for r in seed_records[k]}
        if kept and not common & folds:
            notes.append(
                f"seed {k} left out: it finished fold(s) {_fold_list(sorted(folds))}, none of "
                f"the fold(s) {_fold_list(sorted(common))} of seed(s) "
                f"{', '.join(map(str, kept))}; run the same folds for every seed "
                "(`microexp run --folds`) to average them"
            )
            continue
        common = folds if not kept else common & folds
        kept[k] = seed_records[k]
    return kept, notes


def _check_same_samples(name: str, seed_records: dict[int, list[dict]], paths: dict) -> None:
    """Refuse seeds of run ``name`` that predict other samples in a fold they share."""
    seeds = list(seed_records)
    found = _other_samples(_aligned(list(seed_records.values())))
    if found is not None:
        i, fold = found
        a, b = seeds[0], seeds[i]
        raise MicroexpError(
            f"{paths[a]} and {paths[b]}: seeds {a} and {b} of run {name!r} predict other "
            f"samples in fold {fold} (expected the same data); report them separately"
        )


def _other_samples(aligned: list[list[dict]]) -> tuple[int, int] | None:
    """(seed position, fold) of the first aligned record whose samples are not the first
    seed's in that fold; None when every seed predicts the same samples."""
    for i, recs in enumerate(aligned[1:], start=1):
        for mine, ref in zip(recs, aligned[0], strict=True):
            if mine["samples"] != ref["samples"]:
                return i, mine["fold"]
    return None


def _checked_seed(d: Path, config: dict) -> int:
    """The run's seed, once its config.json is known to name its classes (the labels index
    them: the report needs them)."""
    seed, classes = config.get("seed", 0), config.get("classes")
    if not is_int(seed):
        raise MicroexpError(f"{d / 'config.json'}: 'seed' is {seed!r}; expected an integer")
    if not isinstance(classes, list) or not classes:
        raise MicroexpError(
            f"{d / 'config.json'}: 'classes' is {classes!r}; expected the list of class names"
        )
    return seed


def _baselines(dirs: Sequence[Path], reported: list[dict]) -> tuple[dict, list[str]]:
    """The baselines run beside a run (``RUN_DIR/baselines/NAME/``), shards merged, on the
    ``reported`` folds of the run alone (name -> (records, metrics)); a baseline that lacks
    one of them, or predicts other samples there, is left out with a note saying so."""
    found: dict[str, list[Path]] = {}
    for d in dirs:
        for b in sorted((d / "baselines").glob("*/config.json")):
            found.setdefault(b.parent.name, []).append(b.parent)
    folds = {r["fold"]: r["samples"] for r in reported}
    out, notes = {}, []
    for name, bdirs in found.items():
        cfg, recs = load_records(bdirs)
        mine = [r for r in recs if r["fold"] in folds]
        problem = _not_beside(mine, folds)
        if problem:
            notes.append(f"baseline {name} left out: {problem} ({bdirs[0]})")
        elif mine:
            out[name] = (mine, run_metrics(cfg, [mine]))
    return out, notes


def _not_beside(records: list[dict], folds: dict[int, list[str]]) -> str | None:
    """Why a baseline's ``records`` cannot stand beside the run's ``folds`` (fold -> sample
    ids); None when they cover the same samples."""
    lacking = sorted(set(folds) - {r["fold"] for r in records})
    if lacking:
        return (
            f"it lacks fold(s) {_fold_list(lacking)} that the run has; resume the run with "
            "`microexp run` to compute them"
        )
    other = [r["fold"] for r in records if r["samples"] != folds[r["fold"]]]
    if other:
        return f"its fold(s) {_fold_list(other)} predict other samples than the run's"
    return None


def _fold_list(folds: Sequence[int]) -> str:
    """Fold indices (0-based, as ``--folds`` takes them) in runs: ``0-4, 7``."""
    spans: list[list[int]] = []
    for k in sorted(folds):
        if spans and k == spans[-1][1] + 1:
            spans[-1][1] = k
        else:
            spans.append([k, k])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def _aligned(seed_records: list[list[dict]]) -> list[list[dict]]:
    """Each seed's records of the folds every seed finished, in fold order; MicroexpError
    when the seeds share no finished fold."""
    common = set.intersection(*({r["fold"] for r in recs} for recs in seed_records))
    if not common:
        raise MicroexpError(
            "the seeds of a run share no finished fold; run the same folds for every seed"
        )
    return [[r for r in recs if r["fold"] in common] for recs in seed_records]


def predictions(seed_records: list[list[dict]]) -> dict:
    """y_true, y_pred (seeds, samples), subjects and sample ids of a run's aligned seeds."""
    aligned = _aligned(seed_records)
    other = _other_samples(aligned)
    if other is not None:
        raise MicroexpError(
            f"seed {other[0]} of a run predicts other samples in fold {other[1]} than its "
            "first seed; expected seeds of the same data"
        )
    first = aligned[0]
    return {
        "y_true": np.array([v for r in first for v in r["y_true"]]),
        "y_pred": np.array([[v for r in recs for v in r["y_pred"]] for recs in aligned]),
        "subjects": np.array(sample_subjects(first)),
        "samples": [s for r in first for s in r["samples"]],
    }


def run_metrics(config: dict, seed_records: list[list[dict]], seeds: list[int] | None = None):
    """Every metric of one run (the mean over seeds when there are several, with their s.d.),
    its 95 % interval over subjects, and paper A's Table 3 figures from the histories."""
    from ..training.fit import convergence_epoch

    n = len(config["classes"])
    pred = predictions(seed_records)
    t, s = pred["y_true"], pred["subjects"]
    per_seed = [all_metrics(t, p, s, n) for p in pred["y_pred"]]
    m = {k: float(np.mean([ps[k] for ps in per_seed])) for k in per_seed[0]}
    m["folds"] = len(_aligned(seed_records)[0])
    m.update(coverage(_aligned(seed_records)[0]))
    m["samples"] = len(t)
    if len(per_seed) > 1:
        m["seeds"] = seeds
        m["sd"] = {k: float(np.std([ps[k] for ps in per_seed], ddof=1)) for k in per_seed[0]}
    hists = [
        r["history"] for recs in seed_records for r in recs if r.get("history", {}).get("accuracy")
    ]
    if hists:
        m["mean_convergence_epoch"] = float(
            np.mean([convergence_epoch(h["accuracy"]) for h in hists])
        )
        m["mean_final_train_accuracy"] = float(np.mean([h["accuracy"][-1] for h in hists]))
        losses = [h["loss"][-1] for h in hists if h.get("loss")]
        if losses:
            m["mean_final_train_loss"] = float(np.mean(losses))
    m["confusion"] = confusion_matrix(t, pred["y_pred"][0], list(range(n))).tolist()
    m["ci95"] = bootstrap_ci(t, pred["y_pred"], s, n)
    by_dataset = per_dataset_scores(pred["samples"], t, pred["y_pred"])
    if by_dataset:
        m["per_dataset"] = by_dataset
    if config.get("selection") == "test-oracle":  # a labelled measurement, never a result
        from ..evaluation.oracle import mean_oracle, oracle_scores

        m["selection"] = "test-oracle"
        m["oracle"] = mean_oracle([oracle_scores(_aligned_one(recs), n) for recs in seed_records])
    return m


def _aligned_one(records: list[dict]) -> list[dict]:
    return sorted(records, key=lambda r: r["fold"])


def _table(header: list[str], rows: list[list]) -> tuple[str, str]:
    def cell(v):
        if isinstance(v, float):
            return "" if np.isnan(v) else f"{v:.2f}"
        return "" if v is None else str(v)

    md = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows([[cell(v) for v in r] for r in rows])
    return "\n".join(md), buf.getvalue()


def _ours(run: RunResult, col: Column) -> float:
    """``col``'s metric from the run's metrics, else from the model's size and cost recorded
    in its metadata (``meta.cost``, measured at the paper's input size)."""
    value = run.metrics.get(col.metric, run.meta.get("cost", {}).get(col.metric, np.nan))
    return col.scale * value


def _paper(spec: TableSpec, label: str) -> list[float | None]:
    values = spec.paper.get(label)
    return list(values) if values is not None else [None] * len(spec.paper_columns())


def build_table(spec: TableSpec, runs: Sequence[RunResult]) -> tuple[list[str], list[list]]:
    """The header and rows of ``spec`` over the runs that feed it (in name order)."""
    labels = [spec.row_format.format(r.label(spec.row)) for r in runs]
    if spec.transpose:
        paper_cols = spec.paper_columns()
        header = [spec.row_title, *(f"paper {lb}" for lb in labels)]
        header += [f"ours {lb}" for lb in labels]
        rows = []
        for col in spec.columns:
            i = paper_cols.index(col) if col in paper_cols else None
            paper = [None if i is None else _paper(spec, lb)[i] for lb in labels]
            rows.append([col.ours, *paper, *(_ours(r, col) for r in runs)])
        return header, rows
    if not spec.columns:  # a figure alone
        return [spec.row_title], [[lb] for lb in labels]
    first = spec.columns[0]
    seeded = any("sd" in r.metrics for r in runs)
    header = [spec.row_title, *(c.paper for c in spec.paper_columns())]
    header += [c.ours for c in spec.columns]
    header += [f"{first.ours} 95% CI", "majority", "linear probe"]
    header += [f"{first.ours} sd over seeds"] if seeded else []
    rows = []
    for k, v in spec.reference.items():
        values = list(v) if isinstance(v, tuple) else [v]
        rows.append([k, *values] + [None] * (len(header) - 1 - len(values)))
    for run, lb in zip(runs, labels, strict=True):
        ours = [_ours(run, c) for c in spec.columns]
        row = [lb, *_paper(spec, lb), *ours, *_beside(run, first)]
        if seeded:
            sd = run.metrics.get("sd", {}).get(first.metric)
            row.append(None if sd is None else first.scale * sd)
        rows.append(row)
    return header, rows


def _beside(run: RunResult, col: Column) -> list:
    """The interval of ``col``'s metric, then the majority and linear-probe baselines' value."""
    low, high = run.metrics.get("ci95", {}).get(col.metric, (np.nan, np.nan))
    ci = None if np.isnan(low) else f"[{col.scale * low:.2f}, {col.scale * high:.2f}]"
    base = [run.baselines.get(b, (None, {}))[1].get(col.metric, np.nan) for b in BASELINES]
    return [ci, *(col.scale * v for v in base)]


def compare_runs(a: str, ra: list, b: str, rb: list, metric: str, n: int) -> dict | None:
    """A paired comparison of two runs (lists of seeds' records, e.g.
    ``RunResult.seed_records``) on ``metric`` over the samples both predicted (``n``: the
    class count); None when they share no sample."""
    pa, pb = predictions(ra), predictions(rb)
    ia, ib = ({sid: i for i, sid in enumerate(p["samples"])} for p in (pa, pb))
    common = sorted(set(ia) & set(ib))
    if not common:
        return None
    ka, kb = [ia[sid] for sid in common], [ib[sid] for sid in common]
    runs = [(p["y_true"][k], p["y_pred"][:, k], p["subjects"][k]) for p, k in ((pa, ka), (pb, kb))]
    result = paired_comparison(runs[0], runs[1], metric, n)
    return {"a": a, "b": b, **result, "samples": len(common)}


def comparisons(runs: Sequence[RunResult]) -> list[dict]:
    """Each run against the run its metadata names (``compare_to``) and against its linear
    probe, on its headline metric."""
    by_name = {r.name: r for r in runs}
    out = []
    for r in runs:
        metric, n = r.meta.get("headline", "pooled_uf1"), len(r.config["classes"])
        pairs = []
        if r.meta.get("compare_to") in by_name:
            other = by_name[r.meta["compare_to"]]
            pairs.append((other.name, other.seed_records))
        if "linear_probe" in r.baselines:
            pairs.append((f"{r.name}:linear_probe", [r.baselines["linear_probe"][0]]))
        for b, records in pairs:
            found = compare_runs(r.name, r.seed_records, b, records, metric, n)
            if found is not None:
                out.append(found)
    return out


def _feeding(runs: Sequence[RunResult], tables: Sequence[TableSpec]) -> dict[str, list]:
    """table key -> the runs whose metadata says they feed it; a run naming a table that no
    declaration defines is an error naming its config.json (never silently dropped)."""
    known = {t.key for t in tables}
    feeding: dict[str, list] = {t.key: [] for t in tables}
    for run in runs:
        for key in run.meta.get("tables", []):
            if key not in known:
                raise MicroexpError(
                    f"{run.dirs[0] / 'config.json'}: feeds table {key!r}, which no declared "
                    "experiment defines (import the module that declares it)"
                )
            feeding[key].append(run)
    return feeding


def write_report(
    out: str | os.PathLike,
    more: Sequence[str | os.PathLike] = (),
    dest: str | os.PathLike | None = None,
    tables: Sequence[TableSpec] = (),
) -> Path:
    """Write ``report/`` for the output folder ``out`` (and shards ``more``): the registered
    tables (:func:`~microexp.reporting.tables.register_tables`) and ``tables`` of your own that
    its runs feed, every run's metrics, confusion matrices and figures."""
    tables = [*registered_tables(), *tables]
    outs = [Path(out), *map(Path, more)]
    dest = Path(dest) if dest else outs[0] / "report"
    dest.mkdir(parents=True, exist_ok=True)
    runs = collect_runs(outs)
    compared = comparisons(runs)
    document = {
        r.name: {
            **r.metrics,
            "headline": r.meta.get("headline", "pooled_uf1"),
            "baselines": {b: m for b, (_, m) in r.baselines.items()},
            **({"notes": r.notes} if r.notes else {}),
        }
        for r in runs
    }
    document["comparisons"] = compared
    write_text(dest / "metrics.json", json.dumps(document, indent=2) + "\n")
    sections = ["# microexp report", ""]
    if any(_is_synthetic(o) for o in outs):
        sections += [
            "**Synthetic data**: these numbers check that the chain works; they are not comparable to the papers'.",
            "",
        ]
    sections += _notices(runs, outs[0])
    images = []
    feeding = _feeding(runs, tables)
    for spec in tables:
        fed = feeding[spec.key]
        if len(fed) < spec.min_rows:
            continue
        header, rows = build_table(spec, fed)
        if spec.columns:  # a figure alone (paper A's Fig. 5) has no table
            md, csv_text = _table(header, rows)
            write_text(dest / f"{spec.key}.csv", csv_text)
            sections += [f"## {spec.key.replace('_', ' ')}", "", md, ""]
        if spec.figure is not None:
            _FIGURES[spec.figure](spec, header, rows, fed, dest / spec.figure_file)
            images.append(f"![{spec.caption or spec.key}]({spec.figure_file})")
    if compared:
        sections += _section(dest, "comparisons", _comparison_table(compared),
                             "paired comparisons (over subjects)")  # fmt: skip
    oracle = [r for r in runs if r.metrics.get("selection") == "test-oracle"]
    if oracle:
        sections += _section(
            dest,
            "test_oracle",
            _oracle_table(oracle),
            "test-oracle: what picking each fold's epoch on its own test subject reports",
            "**These runs used the held-out subject to choose epochs** (`--selection "
            "test-oracle`, a measurement of the field's practice). Their honest number, each "
            "fold at its fixed last epoch, is from the same run; the inflation is the oracle "
            "minus it. Never compare an oracle number with an honest one as if both were "
            "honest.",
        )
    composite = [r for r in runs if "per_dataset" in r.metrics]
    if composite:
        sections += _section(dest, "per_dataset", _per_dataset_table(composite),
                             "composite runs per dataset (pooled over each dataset's samples)")  # fmt: skip
    sections += ["## every run, every metric (baselines on the same folds)", ""]
    all_rows = []
    for r in runs:
        all_rows.append(_all_row(r.name, r.metrics))
        all_rows += [_all_row(f"{r.name} [{b}]", m) for b, (_, m) in r.baselines.items()]
    md, csv_text = _table(_ALL_HEADER, all_rows)
    write_text(dest / "all_runs.csv", csv_text)
    sections += [md, ""]
    for r in runs:
        png = dest / f"confusion_{r.name}.png"
        _confusion_png(np.array(r.metrics["confusion"]), r.config["classes"], _title(r), png)
        sections.append(f"![confusion matrix of {_title(r)}]({png.name})")
    write_text(dest / "report.md", "\n".join(sections + images) + "\n")
    return dest


def headline_lines(report_dir: str | os.PathLike) -> list[str]:
    """A line per run of the report in ``report_dir``: its headline metric with the 95 %
    interval over subjects, beside its majority-class and linear-probe baselines on the same
    folds (what ``run``, ``reproduce`` and ``report`` end with)."""
    from ..fileio import read_json

    doc = read_json(Path(report_dir) / "metrics.json")
    lines = []
    for name, m in doc.items():
        if not isinstance(m, dict) or "headline" not in m or m["headline"] not in m:
            continue
        key = m["headline"]
        lo, hi = m.get("ci95", {}).get(key, [float("nan")] * 2)
        base = [f"{b.replace('_', ' ')} {bm[key]:.3f}" for b, bm in m.get("baselines", {}).items()
                if key in bm]  # fmt: skip
        tag = " (test-oracle run: its honest number)" if m.get("selection") == "test-oracle" else ""
        lines.append(
            f"{name}: {key.replace('_', ' ')} {m[key]:.3f} [{lo:.3f}, {hi:.3f}]{tag}"
            + (f"; {', '.join(base)}" if base else "")
        )
    return lines


def missing_shards(out: str | os.PathLike, missing: Sequence[int]) -> str:
    """Where a submitted run's missing folds were to be trained: "shard 2/3 (Slurm task 12_1,
    logs DIR/12_1)", from ``out/submit.json`` (:mod:`microexp.experiments.submit`); "" for a
    run that was not submitted."""
    path = Path(out) / "submit.json"
    if not path.is_file():
        return ""
    try:
        sub = json.loads(path.read_text())
        n, tasks, logs = int(sub["shards"]), sub["tasks"], sub["logs"]
    except (ValueError, KeyError, TypeError):
        return ""
    shards = sorted({k % n + 1 for k in missing})
    named = [
        f"shard {i}/{n} (Slurm task {tasks.get(f'{i}/{n}', '?')}, logs "
        f"{logs}/{tasks.get(f'{i}/{n}', '?')})"
        for i in shards
    ]
    return "; ".join(named)


def _notices(runs: Sequence[RunResult], out: Path | None = None) -> list[str]:
    """report.md's lines on the runs that do not cover their whole split (or may not: records
    from before microexp recorded its fold count) and on what the report left out."""
    lines = []
    for r in runs:
        m = r.metrics
        if m.get("partial"):
            subjects = ", ".join(map(str, m["covered_subjects"]))
            shards = missing_shards(out, m["missing_folds"]) if out is not None else ""
            lines.append(
                f"- **Partial run** {r.name}: {m['folds']} of {m['folds_total']} folds "
                f"({subjects}); fold(s) {_fold_list(m['missing_folds'])} (0-based, as `--folds` "
                "takes them) are missing, so its numbers are not the protocol's. "
                + (f"They belong to {shards}. " if shards else "")
                + "Resume it with `microexp run` to finish it."
            )
        elif m.get("partial") is None:
            lines.append(
                f"- **Fold count not recorded** for {r.name} ({m['folds']} folds reported): its "
                "records predate microexp recording it, so whether the run is complete is "
                "unknown. Resuming it with `microexp run` records it."
            )
        lines += [f"- {r.name}: {note}" for note in r.notes]
    return [*lines, ""] if lines else []


def _per_dataset_table(runs: Sequence[RunResult]) -> tuple[list[str], list[list]]:
    header = ["run", "dataset", "samples", "pooled UF1", "pooled UAR"]
    rows = []
    for r in runs:
        overall = ["all", r.metrics["samples"], r.metrics["pooled_uf1"], r.metrics["pooled_uar"]]
        rows.append([r.name, *overall])
        for d, v in r.metrics["per_dataset"].items():
            rows.append([r.name, d, v["samples"], v["pooled_uf1"], v["pooled_uar"]])
    return header, rows


_ALL_HEADER = [
    "run",
    "folds",
    "of folds",
    "samples",
    "subject-mean acc",
    "95% CI",
    "pooled acc",
    "95% CI",
    "pooled UF1",
    "95% CI",
    "pooled UAR",
    "95% CI",
    "fold-mean UF1",
    "fold-mean UAR",
    "final train acc",
]
_ALL_KEYS = (
    "folds",
    "samples",
    "subject_mean_accuracy",
    "pooled_accuracy",
    "pooled_uf1",
    "pooled_uar",
    "fold_mean_uf1",
    "fold_mean_uar",
)


def _all_row(name: str, metrics: dict) -> list:
    """A run's metrics (its folds done, then the protocol's folds when recorded), and the mean
    over folds of its final training accuracy (optimisation health: a model that stays near
    chance on its own training set has not learnt)."""
    from ..evaluation.intervals import INTERVAL_METRICS

    row = [name, metrics.get("folds_total")]
    for k in _ALL_KEYS:
        row.append(metrics[k])
        if k in INTERVAL_METRICS:  # every metric with an interval gets it beside
            low, high = metrics.get("ci95", {}).get(k, (np.nan, np.nan))
            row.append(None if np.isnan(low) else f"[{low:.2f}, {high:.2f}]")
    row.insert(1, row.pop(2))  # folds, then of folds
    return [*row, metrics.get("mean_final_train_accuracy")]


def _section(dest: Path, name: str, table: tuple, title: str, intro: str = "") -> list[str]:
    """A report section: ``table`` (header, rows) as markdown under ``## title`` (after
    ``intro``), and as ``dest/NAME.csv``."""
    md, csv_text = _table(*table)
    write_text(dest / f"{name}.csv", csv_text)
    return [f"## {title}", "", *([intro, ""] if intro else []), md, ""]


def _oracle_table(runs: Sequence[RunResult]) -> tuple[list[str], list[list]]:
    header = ["run (test-oracle)", "epochs", "honest pooled UF1", "oracle pooled UF1",
              "inflation UF1", "95% CI (paired, subjects)", "honest pooled UAR",
              "oracle pooled UAR", "inflation UAR", "mean of subjects' best UF1"]  # fmt: skip
    rows = []
    for r in runs:
        o = r.metrics["oracle"]
        h, b, d = o["honest"], o["fold_best_epoch"], o["inflation"]
        lo, hi = o.get("inflation_ci95", {}).get("pooled_uf1", [float("nan")] * 2)
        rows.append([r.name, o["epochs"], h["pooled_uf1"], b["pooled_uf1"], d["pooled_uf1"],
                     f"[{lo:.2f}, {hi:.2f}]", h["pooled_uar"], b["pooled_uar"], d["pooled_uar"],
                     o["subject_best_uf1_mean"]])  # fmt: skip
    return header, rows


def _comparison_table(compared: list[dict]) -> tuple[list[str], list[list]]:
    header = ["a", "b", "metric", "a - b", "95% CI", "paired permutation p", "samples"]
    rows = [
        [c["a"], c["b"], c["metric"], c["difference"], "[{:.2f}, {:.2f}]".format(*c["ci95"]),
         c["p_value"], c["samples"]]
        for c in compared
    ]  # fmt: skip
    return header, rows


def _is_synthetic(out: Path) -> bool:
    """Did the run read synthetic data? From ``out/data.json`` (written by reproduce, wherever
    the data lives), else from generator markers under ``out/data``."""
    from ..datasets.base import SYNTHETIC_MARKER

    info = out / "data.json"
    if info.is_file():
        datasets = read_json(info).values()
        if not all(isinstance(d, dict) for d in datasets):
            raise MicroexpError(f"{info}: expected an object per dataset (with 'synthetic')")
        return any(d.get("synthetic") for d in datasets)
    return any((out / "data").glob(f"*/{SYNTHETIC_MARKER}"))


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


def _title(r: RunResult) -> str:
    """A run's name on its figures; a test-oracle run's says which of its numbers is drawn."""
    if r.metrics.get("selection") == "test-oracle":
        return f"{r.name} (its honest last epoch; the run's oracle numbers used the test subject)"
    return r.name


def _confusion_png(cm: np.ndarray, classes: list[str], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(classes), 1 + 0.8 * len(classes)))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    for (i, j), v in np.ndenumerate(cm):
        ax.text(
            j, i, str(v), ha="center", va="center", color="white" if v > cm.max() / 2 else "black"
        )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(textwrap.fill(title, 36), fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def _curves(
    spec: TableSpec, header: list, rows: list, runs: Sequence[RunResult], path: Path
) -> None:
    """Paper A's Fig. 5: training accuracy per epoch of two folds (its 6 and 16, 1-based) for
    each run that feeds ``spec``; the last two folds when there are fewer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folds = (6, 16)
    n = min(len(r.records) for r in runs)
    chosen = [f - 1 for f in folds if f <= n] or list(range(max(0, n - 2), n))
    fig, axes = plt.subplots(1, len(chosen), figsize=(5 * len(chosen), 3.5), squeeze=False)
    for ax, k in zip(axes[0], chosen, strict=True):
        for run in runs:
            acc = run.records[k]["history"].get("accuracy", [])
            ax.plot(range(1, len(acc) + 1), acc, label=run.label(spec.row))
        ax.set_title(f"fold {k + 1} ({runs[-1].records[k]['test_subject']})")
        ax.set_xlabel("epoch")
        ax.set_ylabel("training accuracy")
        ax.legend()
    fig.tight_layout()
    _save(fig, path)


def _bars(spec: TableSpec, header: list, rows: list, runs: Sequence[RunResult], path: Path) -> None:
    """The table's first metric per row: the paper's bar beside ours, ours with its 95 %
    bootstrap interval over subjects as an error bar, and the row's majority-class and
    linear-probe levels as lines (paper A's Fig. 4, paper B's Tables 3 and 4)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    col = spec.columns[0]
    ours_at = 1 + len(spec.paper_columns())
    ours = np.array([r[ours_at] for r in rows], float)
    ci = np.array([r.metrics["ci95"].get(col.metric, (np.nan, np.nan)) for r in runs]) * col.scale
    err = np.nan_to_num(np.abs(ci.T - ours))
    fig, ax = plt.subplots(figsize=(3.4 + 1.1 * len(rows), 3.5))  # the legend at the right
    x = np.arange(len(rows))
    if col.paper is not None:
        paper = [np.nan if r[1] is None else r[1] for r in rows]
        ax.bar_label(ax.bar(x - 0.2, paper, 0.4, label=header[1]), fmt="%.2f", fontsize=7)
    bars = ax.bar(x + 0.2, ours, 0.4, yerr=err, capsize=3, label=f"{header[ours_at]} (95% CI)")
    ax.bar_label(bars, fmt="%.2f", fontsize=7)
    styles = {"majority": ("k", ":"), "linear_probe": ("tab:red", "--")}
    for name, (colour, style) in styles.items():  # each row's own baseline, as a level
        levels = [
            r.baselines[name][1].get(col.metric, np.nan) * col.scale
            if name in r.baselines else np.nan
            for r in runs
        ]  # fmt: skip
        if not np.all(np.isnan(levels)):
            ax.hlines(levels, x - 0.45, x + 0.45, colors=colour, linestyles=style, lw=1.2,
                      label=name.replace("_", " "))  # fmt: skip
    ax.set_xticks(x, [r[0] for r in rows], rotation=30 if len(rows) > 3 else 0, ha="right")
    ax.set_ylabel(col.metric.replace("_", " "))
    ax.set_ylim(0, 100 if col.scale == 100 else 1)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    _save(fig, path)


#: TableSpec.figure -> the function drawing it
_FIGURES = {"curves": _curves, "bars": _bars}
