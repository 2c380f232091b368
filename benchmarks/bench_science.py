"""The mechanism study (issue 13, section 5): the papers' claims re-run on synthetic data above
the demo's scale, with several training seeds, each number with its 95 % interval over
subjects, the majority class and the linear probe beside it, and paired tests.

- paper A (``s3d``): transfer vs scratch for S3D, 2D and 3D CNNs; S3D vs 2D vs 3D (transfer);
- paper B (``atscnn``): Table 4's ablations vs the full ATSCNN; Table 3's comparison networks
  (STSTNet, Dual-Inception) vs ATSCNN;
- every deep run vs its linear probe.

Every run goes through the library's runner (resumable: re-running the same command continues
after the last finished fold); this script only chooses the runs, then summarises them into a
JSON and a docs page. Run on 2026-11-29 at 6 subjects x 10 samples: paper A with 3 seeds
and paper B with seed 0 took 57 min in the runner on 2 cores (docs/science.md). Full study:

    .venv/bin/python benchmarks/bench_science.py --work /tmp/science --subjects 6 --samples-per-subject 10 \
        --out benchmarks/results/science.json --docs docs/science.md

Smoke test: add ``--preset tiny --subjects 3 --samples-per-subject 3 --seeds 0,1``.
``--only-report`` rebuilds the JSON and the page from the finished runs under ``--work``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from microexp import synthetic
from microexp.datasets.base import SYNTHETIC_MARKER
from microexp.errors import MicroexpError
from microexp.evaluation.baselines import BASELINES
from microexp.experiments import RunOptions, datasets_needed, get_paper
from microexp.experiments.runner import run_all
from microexp.experiments.spec import PRESET_NAMES, Experiment, get_preset
from microexp.fileio import read_json, write_text
from microexp.reporting.report import RunResult, collect_runs, compare_runs, run_metrics

HAND_WRITTEN = "## What it shows"
PLACEHOLDER = "(written by hand after the run; see the tables)"
METRIC_NAMES = {
    "subject_mean_accuracy": "subject-mean accuracy",
    "pooled_uf1": "pooled UF1",
    "pooled_uar": "pooled UAR",
}


@dataclass(frozen=True)
class Study:
    """One paper's part of the study: its deep runs, the metrics reported (the headline
    first), what its declared ``compare_to`` pairs are, and pairs it does not declare."""

    paper: str
    key: str
    title: str
    metrics: tuple[str, ...]
    declared: str
    extra: tuple[tuple[str, str, str], ...]  # (a, b, kind): a - b

    def experiments(self) -> list[Experiment]:
        """The paper's deep-model experiments (the handcrafted LBP-TOP baseline left out)."""
        return [e for e in get_paper(self.paper).experiments if e.trainer == "keras"]

    def pairs(self) -> list[tuple[str, str, str]]:
        """(a, b, kind) of every run-vs-run comparison: declared, then extra."""
        declared = [(e.name, e.compare_to, self.declared) for e in self.experiments()]
        return [p for p in declared if p[1]] + list(self.extra)


STUDIES = {
    "s3d": Study(
        paper="s3d",
        key="paper_a",
        title="Paper A: S3D CNN, CK+ pre-training, CASME II 5-class",
        metrics=("subject_mean_accuracy",),
        declared="transfer vs scratch",
        extra=(
            ("s3d-transfer", "cnn2d-transfer", "architecture (transfer)"),
            ("s3d-transfer", "cnn3d-transfer", "architecture (transfer)"),
            ("cnn3d-transfer", "cnn2d-transfer", "architecture (transfer)"),
        ),
    ),
    "atscnn": Study(
        paper="atscnn",
        key="paper_b",
        title="Paper B: ATSCNN on the CASME + CASME II + SAMM 3-class composite",
        metrics=("pooled_uf1", "pooled_uar"),
        declared="ablation vs full",
        extra=(
            ("ststnet-128", "atscnn", "comparison network"),
            ("dual_inception-128", "atscnn", "comparison network"),
        ),
    ),
}


# ------------------------------------------------------------------------------- running


def make_data(work: Path, papers: Sequence[str], data_preset: str, subjects: int, per: int):
    """Every dataset the papers read, generated once under ``WORK/data/NAME`` (data seed 0;
    an existing tree of the same arguments is reused)."""
    needed = dict.fromkeys(d for p in papers for d in datasets_needed(p))
    try:
        return {
            name: synthetic.generate(name, work / "data" / name, data_preset, 0, subjects, per)
            for name in needed
        }
    except MicroexpError as exc:
        raise MicroexpError(
            f"{exc} (the generator, --subjects, --samples-per-subject or --preset differ from "
            "the data this --work was started with: use a new --work)"
        ) from None


def train(study: Study, work: Path, roots: dict, preset: str, seeds: tuple[int, ...], log) -> float:
    """Run (or resume) the study's experiments into ``WORK/runs/PAPER``; returns seconds."""
    t0 = time.time()
    opts = RunOptions(
        data=",".join(f"{name}={root}" for name, root in roots.items()),
        preset=preset,
        seeds=seeds,
        cache=work / "cache",
        final_model=False,
        log=log,
    )
    run_all(work / "runs" / study.paper, study.experiments(), opts, study.paper)
    return time.time() - t0


def seconds_spent(work: Path) -> dict[str, float]:
    """Seconds in the runner per paper, summed over every call that trained (resumed too)."""
    path = work / "seconds.json"
    return read_json(path) if path.is_file() else {}


def add_seconds(work: Path, paper: str, seconds: float) -> dict[str, float]:
    spent = seconds_spent(work)
    spent[paper] = spent.get(paper, 0.0) + seconds
    write_text(work / "seconds.json", json.dumps(spent, indent=2) + "\n")
    return spent


def logger(path: Path) -> Callable[[str], None]:
    """Print each line and append it, time-stamped, to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)

    def log(message: str) -> None:
        print(message, flush=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")

    return log


# ----------------------------------------------------------------------------- summarising


def run_entry(run: RunResult, metrics: Sequence[str]) -> dict:
    """One run: per metric its mean and s.d. over seeds, 95 % interval, and the baselines'
    value on the same folds; and its optimisation health (final training accuracy)."""
    m, meta = run.metrics, run.meta
    base = {b: run.baselines[b][1] for b in BASELINES if b in run.baselines}
    return {
        "model": meta.get("model"),
        "mode": meta.get("mode"),
        "variant": meta.get("variant"),
        "seeds": m.get("seeds", [run.config.get("seed", 0)]),
        "folds": m["folds"],
        "samples": m["samples"],
        "final_train_accuracy": m.get("mean_final_train_accuracy"),
        "convergence_epoch": m.get("mean_convergence_epoch"),
        "metrics": {
            k: {
                "mean": m[k],
                "sd": m.get("sd", {}).get(k),
                "ci95": m["ci95"].get(k),
                **{b: v.get(k) for b, v in base.items()},
            }
            for k in metrics
        },
    }


def _classes(run: RunResult) -> int:
    return len(run.config["classes"])


def compare_pairs(study: Study, runs: dict[str, RunResult]) -> list[dict]:
    """Every pair of the study whose two runs finished, then every run vs its linear probe,
    on each of the study's metrics (paired over subjects, every seed)."""
    out = []
    for a, b, kind in study.pairs():
        if a in runs and b in runs:
            ra, rb = runs[a], runs[b]
            out += _each_metric(study, kind, a, ra.seed_records, b, rb.seed_records, _classes(ra))
    for name, run in runs.items():
        if "linear_probe" in run.baselines:
            probe = [run.baselines["linear_probe"][0]]
            b = f"{name}:linear_probe"
            out += _each_metric(
                study, "vs linear probe", name, run.seed_records, b, probe, _classes(run)
            )
    return out


def _each_metric(study: Study, kind: str, a: str, ra: list, b: str, rb: list, n: int) -> list:
    found = (compare_runs(a, ra, b, rb, metric, n) for metric in study.metrics)
    return [{"kind": kind, **c} for c in found if c is not None]


def finished_seeds(run: RunResult, folds: int) -> tuple[RunResult | None, list[str]]:
    """``run`` restricted to the seeds that finished all ``folds`` folds (the report would
    otherwise cut every seed to the folds all of them finished), and a line per seed left out.
    None when no seed finished."""
    seeds = run.metrics.get("seeds", [run.config.get("seed", 0)])
    keep, dropped = [], []
    for k, r in zip(seeds, run.seed_records, strict=True):
        if len(r) == folds:
            keep.append((k, r))
        else:
            dropped.append(f"{run.name} seed {k} ({len(r)} of {folds} folds)")
    if not dropped:
        return run, []
    if not keep:
        return None, dropped
    records = [r for _, r in keep]
    metrics = run_metrics(run.config, records, [k for k, _ in keep])
    return replace(run, records=records[0], seed_records=records, metrics=metrics), dropped


def summarise(study: Study, work: Path) -> dict:
    """The study's finished runs (the runner's report data) and its comparisons; a seed that
    has not finished every fold is left out and listed."""
    wanted = [e.name for e in study.experiments()]
    found = {r.name: r for r in collect_runs([work / "runs" / study.paper])}
    folds = max((len(r) for run in found.values() for r in run.seed_records), default=0)
    runs, unfinished = {}, []
    for name in (n for n in wanted if n in found):
        run, dropped = finished_seeds(found[name], folds)
        unfinished += dropped
        if run is not None:
            runs[name] = run
    return {
        "title": study.title,
        "metrics": list(study.metrics),
        "missing": [name for name in wanted if name not in runs],
        "unfinished_seeds": unfinished,
        "runs": {name: run_entry(r, study.metrics) for name, r in runs.items()},
        "comparisons": compare_pairs(study, runs),
        "presets": sorted({str(r.meta.get("preset")) for r in runs.values()}),
    }


def data_info(work: Path) -> dict:
    """What the generator markers of ``WORK/data`` say (the data actually read)."""
    markers = sorted((work / "data").glob(f"*/{SYNTHETIC_MARKER}"))
    info = {m.parent.name: read_json(m) for m in markers}

    def one(key: str):
        """The datasets' common value of ``key``, or every value when they differ."""
        values = sorted({v.get(key) for v in info.values()}, key=str)
        return values[0] if len(values) == 1 else values

    return {
        "datasets": sorted(info),
        "subjects": one("subjects"),
        "samples_per_subject": one("samples_per_subject"),
        "data_seed": one("seed"),
        "data_preset": one("preset"),
        "generator_version": one("version"),
    }


def _clean(value):
    """Floats rounded to 4 decimals, NaN as null, tuples as lists (JSON as written)."""
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 4)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item"):  # numpy scalar
        return _clean(value.item())
    return value


def results_of(studies: Iterable[Study], work: Path, seconds: dict, t0: float) -> dict:
    """science.json: machine, training seconds (``seconds``: per paper, summed over calls),
    this call's seconds (since ``t0``), scale (read back from the data and the runs), papers."""
    parts = {s.key: summarise(s, work) for s in studies}
    data = data_info(work)
    seeds = sorted({k for p in parts.values() for r in p["runs"].values() for k in r["seeds"]})
    presets = sorted({k for p in parts.values() for k in p.pop("presets")})
    return _clean(
        {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}",
            "seconds": sum(seconds.values()),
            "seconds_by_paper": seconds,
            "seconds_this_call": time.time() - t0,
            "scale": {
                "subjects": data["subjects"],
                "samples_per_subject": data["samples_per_subject"],
                "seeds": seeds,
                "preset": presets[0] if len(presets) == 1 else presets,
                "data_seed": data["data_seed"],
                "datasets": data["datasets"],
            },
            "generator_version": data["generator_version"],
            **parts,
        }
    )


# ------------------------------------------------------------------------------ docs page


def _num(v, digits: int = 3) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def _ci(ci) -> str:
    return "–" if not ci or None in ci else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def _md_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(map(str, r)) + " |" for r in rows] + [""]


def _metric_table(part: dict, metric: str) -> list[str]:
    rows = []
    for name, run in part["runs"].items():
        v = run["metrics"][metric]
        sd = "" if v["sd"] is None else f" ± {v['sd']:.3f}"
        mean = f"{_num(v['mean'])}{sd}"
        rows.append(
            [name, mean, _ci(v["ci95"]), _num(v.get("majority")), _num(v.get("linear_probe"))]
        )
    header = ["run", "mean ± sd over seeds", "95% CI", "majority", "linear probe"]
    return [f"### {METRIC_NAMES.get(metric, metric)}", "", *_md_table(header, rows)]


def _training_table(part: dict) -> list[str]:
    rows = [
        [name, ",".join(map(str, r["seeds"])), r["folds"], r["samples"],
         _num(r["final_train_accuracy"]), _num(r["convergence_epoch"], 1)]
        for name, r in part["runs"].items()
    ]  # fmt: skip
    header = ["run", "seeds", "folds", "samples", "final train acc", "convergence epoch"]
    return ["### training (mean over folds and seeds)", "", *_md_table(header, rows)]


def _comparison_table(part: dict) -> list[str]:
    rows = [
        [c["kind"], c["a"], c["b"], METRIC_NAMES.get(c["metric"], c["metric"]),
         f"{c['difference']:+.3f}", _ci(c["ci95"]), _num(c["p_value"]), c["samples"]]
        for c in part["comparisons"]
    ]  # fmt: skip
    header = ["comparison", "a", "b", "metric", "a − b", "95% CI", "permutation p", "samples"]
    return ["### paired comparisons (over subjects)", "", *_md_table(header, rows)]


def _paper_section(part: dict) -> list[str]:
    lines = [f"## {part['title']}", ""]
    if part["missing"]:
        lines += [f"Not finished (left out): {', '.join(part['missing'])}.", ""]
    if part.get("unfinished_seeds"):
        lines += [f"Seeds not finished (left out): {'; '.join(part['unfinished_seeds'])}.", ""]
    for metric in part["metrics"]:
        lines += _metric_table(part, metric)
    return lines + _training_table(part) + _comparison_table(part)


def _hand_written(path: Path) -> str:
    """The existing page's hand-written section (kept when the page is rebuilt)."""
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        if HAND_WRITTEN in text:
            return text.split(HAND_WRITTEN, 1)[1].strip()
    return PLACEHOLDER


def write_docs(results: dict, path: str | os.PathLike) -> None:
    """The study's Markdown page from ``results`` (science.json); a hand-written
    "What it shows" section already in ``path`` is kept."""
    path = Path(path)
    scale = results["scale"]
    lines = [
        "# The mechanism study",
        "",
        "Generated by `benchmarks/bench_science.py` (issue 13, section 5); only the section",
        f'"{HAND_WRITTEN[3:]}" is written by hand. **Synthetic data** (generator version '
        f"{results['generator_version']}): these numbers test mechanisms in the synthetic "
        "world, not the papers' claims on real data.",
        "",
        f"Scale: per dataset {scale['subjects']} subjects x {scale['samples_per_subject']} "
        f"samples (data seed {scale['data_seed']}), preset `{scale['preset']}`, "
        f"training seeds {', '.join(map(str, scale['seeds']))}. Machine: {results['machine']}; "
        "time in the runner (flows, training, baselines, reports) "
        f"{results['seconds'] / 60:.1f} min.",
        "",
        "Each mean is over seeds (± their s.d.); intervals are 95 % bootstrap intervals over "
        "subjects; majority and linear probe run on the same folds and cached tensors; "
        "comparisons are paired over subjects (difference a − b of the metric averaged over "
        "seeds, its bootstrap interval, a paired permutation test).",
        "",
    ]
    for study in STUDIES.values():
        if study.key in results:
            lines += _paper_section(results[study.key])
    lines += [HAND_WRITTEN, "", _hand_written(path), ""]
    write_text(path, "\n".join(lines))


# ---------------------------------------------------------------------------------- main


def _print_summary(results: dict) -> None:
    """The headline metric of every run and comparison, one line each."""
    for study in STUDIES.values():
        part = results.get(study.key, {"runs": {}, "comparisons": []})
        metric = study.metrics[0]
        for name, run in part["runs"].items():
            v = run["metrics"][metric]
            probe = _num(v.get("linear_probe"))
            print(f"{name}: {metric} {_num(v['mean'])} {_ci(v['ci95'])} probe {probe}")
        for c in (c for c in part["comparisons"] if c["metric"] == metric):
            diff, ci, p = f"{c['difference']:+.3f}", _ci(c["ci95"]), _num(c["p_value"])
            print(f"  {c['a']} - {c['b']}: {diff} {ci} p {p}")


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(","))


def _names(text: str) -> list[str]:
    names = text.split(",")
    bad = [n for n in names if n not in STUDIES]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown paper {bad[0]!r}; expected {sorted(STUDIES)}")
    return names


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--work", required=True, help="work folder (data, caches, runs); resumable")
    ap.add_argument("--out", default="benchmarks/results/science.json", help="results JSON")
    ap.add_argument("--docs", default="docs/science.md", help="Markdown page written from it")
    ap.add_argument("--subjects", type=int, default=8, help="per dataset (the demo: 6)")
    ap.add_argument("--samples-per-subject", type=int, default=8)
    ap.add_argument("--seeds", type=_ints, default=(0, 1, 2), help="training seeds, e.g. 0,1,2")
    ap.add_argument("--papers", type=_names, default=list(STUDIES), help="s3d,atscnn")
    ap.add_argument("--preset", default="demo", choices=PRESET_NAMES, help="tiny: a smoke test")
    ap.add_argument("--only-report", action="store_true", help="no training: summarise only")
    args = ap.parse_args()
    work = Path(args.work)
    studies = [STUDIES[p] for p in args.papers]
    t0 = time.time()
    spent = seconds_spent(work)
    if not args.only_report:
        log = logger(work / "science.log")
        data_preset = get_preset(args.preset).data_preset
        roots = make_data(work, args.papers, data_preset, args.subjects, args.samples_per_subject)
        for study in studies:
            seconds = train(study, work, roots, args.preset, args.seeds, log)
            spent = add_seconds(work, study.paper, seconds)
    spent = {s.paper: spent.get(s.paper, 0.0) for s in studies}
    results = results_of(studies, work, spent, t0)
    write_text(Path(args.out), json.dumps(results, indent=2) + "\n")
    write_docs(results, args.docs)
    _print_summary(results)
    print(f"wrote {args.out} and {args.docs}")


if __name__ == "__main__":
    main()
