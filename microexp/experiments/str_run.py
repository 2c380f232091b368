"""``microexp str``: spot-then-recognise on long videos under LOSO, scored as MEGC's STR track.

For each held-out subject (every choice made on the other subjects only):

1. the spotter of ``microexp spot`` finds intervals in the subject's videos (k and p from the
   training subjects; the training-free flow spotter, or SOFTNet trained per fold);
2. a recognition model (any registered network, its recipe's tensors) is trained on the
   training subjects' coded micro-expressions, read from the same long videos' annotations,
   with the dataset's STR classes (``data_manifests/protocols/str/DATASET.json``);
3. each spotted micro interval (onset, the score's peak as apex, offset) is classified.

The pooled predictions are scored by :func:`microexp.evaluation.strs` (MEGC's evaluator's
definition); intervals are a bootstrap over subjects. Baselines: the same spotted intervals
labelled with the fold's majority training class, and the chance spotter (as many intervals
of the same lengths, placed at random) with that label. Fold records, flows and spotting
scores are cached under ``OUT``: a re-run resumes; ``shard`` runs a part of the folds.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..datasets import LONG_VIDEO_DATASETS, Exclusion, LongVideo, Sample, get_protocol, load
from ..datasets.manifests import manifest_dir
from ..errors import MicroexpError, unknown_name
from ..evaluation.loso import FoldOutput, load_records, run_loso, split_folds
from ..evaluation.strs import strs
from ..fileio import write_text
from .spotting import (
    FlowScorer,
    SoftnetScorer,
    SpotOptions,
    _check_subjects,
    _safe,
    _timeline_figure,
    spot_fold,
    videos_fingerprint,
)

#: datasets STR runs on; CAS(ME)^2 is not a challenge dataset (its own classes, no reported row)
STR_DATASETS = ("samm_lv", "casme_sq", "casme3_lv")
PRESETS = ("tiny", "demo", "paper")

#: published STR scores: the MEGC 2025 baseline (arXiv 2506.15298) on the challenge's unseen
#: test set (spotting F1, analysis F1, STRS), not a LOSO over the dataset
REPORTED = {
    "samm_lv": {"MEGC 2025 baseline, challenge test set": (0.0278, 0.2222, 0.0062)},
    "casme3_lv": {"MEGC 2025 baseline, challenge test set": (0.0387, 0.2222, 0.0086)},
}
HEADLINES = ("strs", "spotting_f1", "analysis_f1")


@dataclass(frozen=True)
class StrOptions:
    """``model``: the registered recognition network; ``spot``: the spotter's settings
    (:class:`~microexp.experiments.spotting.SpotOptions`); ``iou``: MEGC's 0.5;
    ``resamples``: bootstrap draws over subjects for the intervals; ``chance_draws``: draws
    of the chance spotter; ``seed``: the recogniser's and the bootstraps'."""

    model: str = "atscnn"
    preset: str = "demo"
    spot: SpotOptions = field(default_factory=SpotOptions)
    iou: float = 0.5
    resamples: int = 1000
    chance_draws: int = 200
    seed: int = 0

    def __post_init__(self) -> None:
        from ..models import get_spec

        get_spec(self.model)
        if self.preset not in PRESETS:
            raise unknown_name("preset", self.preset, PRESETS)
        if not 0 < self.iou <= 1:
            raise MicroexpError(f"iou {self.iou}: expected a value in (0, 1]")
        if self.resamples < 1 or self.chance_draws < 1:
            raise MicroexpError("resamples and chance_draws: expected at least 1")


def str_protocol(dataset: str):
    """The dataset's STR label protocol (``data_manifests/protocols/str/DATASET.json``)."""
    if dataset not in STR_DATASETS:
        raise unknown_name("spot-then-recognise dataset", dataset, STR_DATASETS)
    return get_protocol(str(manifest_dir() / "protocols" / "str" / f"{dataset}.json"))


def analysis_label(rule, raw: str, where: str) -> str | None:
    """A coded interval's STR class: the protocol's ``map``; None for a dropped label (spotted,
    not analysed) or no label; another label is a one-line error naming the interval."""
    if raw in rule.map:
        return rule.map[raw]
    if raw in rule.drop or raw == "":
        return None
    known = ", ".join(sorted([*rule.map, *rule.drop]))
    raise MicroexpError(f"{where}: emotion {raw!r} is not one of {known}")


def _truth_label(rule, iv, video: LongVideo) -> str:
    """The label a coded micro interval carries in the truth: its class, else its own label
    in parentheses (never a class, so never analysed), ``(none)`` when it has none."""
    cls = analysis_label(rule, iv.label, f"{video.id} interval {iv.onset}-{iv.offset}")
    return cls if cls is not None else f"({iv.label or 'none'})"


def truth_rows(videos: list[LongVideo], rule) -> list[tuple]:
    """Every coded micro-expression as (subject, video, onset, offset, label)."""
    return [
        (v.subject_key, v.id, iv.onset, iv.offset, _truth_label(rule, iv, v))
        for v in videos
        for iv in v.intervals
        if iv.kind == "micro"
    ]


def recognition_samples(videos: list[LongVideo], rule) -> list[Sample]:
    """The coded micro-expressions with an analysis class, as samples of that class."""
    out = []
    for v in videos:
        for iv in v.intervals:
            cls = iv.kind == "micro" and analysis_label(rule, iv.label, f"{v.id} {iv.onset}")
            if cls:
                out.append(_sample(v, iv.onset, iv.apex, iv.offset, cls, f"{iv.onset}"))
    return out


def _sample(v: LongVideo, onset: int, apex, offset: int, label: str, tag: str) -> Sample:
    return Sample(
        dataset=v.dataset,
        subject=v.subject,
        clip=f"{v.video}/{tag}",
        frames_dir=v.frames_dir,
        frame_pattern=v.frame_pattern,
        onset=onset,
        apex=apex,
        offset=offset,
        label=label,
        fps=v.fps,
    )


class Recogniser:
    """The fold's recognition model: trained on the training subjects' coded micro samples,
    it labels spotted intervals (tensors built into the same cache as the training ones)."""

    def __init__(self, opts: StrOptions, classes: list[str], samples, out: Path, log) -> None:
        from .data import Prepared
        from .runner import experiment_for, recipe_of

        self.opts, self.classes, self.log = opts, classes, log
        self.exp = experiment_for("str", opts.model)
        self.recipe = recipe_of(self.exp, opts.preset)
        self.cache_root = out / "cache"
        from ..data import TensorStore
        from ..features import FlowCache, build_cache

        summary = build_cache(samples, self.recipe, self.cache_root, progress=False)
        log(f"[flows] {self.recipe.name}: {summary.line()}")
        self.excluded = [Exclusion(sid, why) for sid, why in summary.excluded]
        kept = [s for s in samples if s.id in summary.usable]
        if not kept:
            raise MicroexpError(
                "no coded micro-expression with an analysis class could be pre-processed "
                f"({self.recipe.name}); STR needs some to train the recogniser"
            )
        index = {c: i for i, c in enumerate(classes)}
        self.cache = FlowCache(self.cache_root, self.recipe)
        store = TensorStore(self.cache, kept)
        self.data = Prepared(kept, [index[s.label] for s in kept], classes, store)
        self._trainer = None

    def trainer(self):
        from ..models import build_model, get_spec
        from .defaults import model_inputs
        from .runner import _example_shape
        from .trainer import FitSetting, KerasTrainer

        if self._trainer is None:
            stage, preset = self.exp.train, self.opts.preset
            inputs = model_inputs(self.recipe, _example_shape(self.exp, self.data))
            n = len(self.classes)
            setting = FitSetting.for_stage(
                stage,
                preset,
                make=lambda: build_model(self.opts.model, num_classes=n, **inputs),
                seed=self.opts.seed,
                log_dir=self.cache_root.parent / "logs",
                log=self.log,
                input_key=get_spec(self.opts.model).input_key(),
            )
            self._trainer = KerasTrainer(setting, self.data)
        return self._trainer

    def training(self, subjects: set[str]) -> list[Sample]:
        return [s for s in self.data.samples if s.subject_key in subjects]

    def classify(self, model, spotted: list[Sample]) -> list[tuple[int, list[float]] | str]:
        """Per spotted sample: (class index, probabilities), or the reason it has none."""
        from ..data import TensorStore, plain_items, to_arrays
        from ..features import build_cache
        from ..models import get_spec
        from ..training.fit import predict_fixed

        if not spotted:
            return []
        summary = build_cache(spotted, self.recipe, self.cache_root, progress=False)
        why = dict(summary.excluded)
        usable = [s for s in spotted if s.id in summary.usable]
        out: dict[str, tuple[int, list[float]]] = {}
        if usable:
            store = TensorStore(self.cache, usable)
            crop = self.exp.train.sampling.test_crop
            items = plain_items(range(len(usable)), [0] * len(usable), crop)
            x, _ = to_arrays(store, items, get_spec(self.opts.model).input_key())
            prob = predict_fixed(model, x, self.trainer().s.schedule.batch_size)
            for s, p in zip(usable, prob, strict=True):
                out[s.id] = (int(p.argmax()), [round(float(v), 5) for v in p])
        return [out.get(s.id, why.get(s.id, "no tensors")) for s in spotted]


def _majority(labels: list[str], classes: list[str]) -> str:
    """The most frequent training class (ties: the first in ``classes``)."""
    counts = Counter(labels)
    return max(classes, key=lambda c: (counts[c], -classes.index(c)))


def spot_then_recognise_dataset(
    dataset: str,
    root: str | os.PathLike,
    out: str | os.PathLike,
    opts: StrOptions = StrOptions(),
    log=print,
    shard: tuple[int, int] | None = None,
    emotions: str | os.PathLike | None = None,
) -> Path:
    """Run STR on ``dataset`` read from ``root`` under LOSO; writes the fold records, then,
    once every fold is done, ``predictions.csv`` (the evaluator's columns), ``metrics.json``,
    ``report.md`` and ``timelines/``. Returns the report's path (the fold folder while a
    sharded run still misses folds). ``emotions``: SAMM-LV's emotion sheet (a SAMM folder)."""
    proto = str_protocol(dataset)
    rule, classes = proto.datasets[dataset], list(proto.classes)
    out = Path(out)
    result = load(dataset, root, **({"emotions": emotions} if emotions is not None else {}))
    videos, excluded = list(result.videos), list(result.excluded)
    _check_subjects(root, videos, excluded)
    truth_all = truth_rows(videos, rule)  # an unknown emotion fails here, before any work
    config = {
        "task": "spot-then-recognise",
        "dataset": dataset,
        "protocol": proto.name,
        "analysis_classes": classes,  # not "classes": fold records hold interval counts
        "str": {**asdict(opts), "spot": asdict(opts.spot)},
        "data": videos_fingerprint(videos),
        "runtime": {"root": str(root), "out": str(out)},
    }
    from ..evaluation.loso import ensure_run_dir

    ensure_run_dir(out, config)
    samples = recognition_samples(videos, rule)
    if not samples:
        hint = " (SAMM-LV codes none: pass SAMM's coding sheet, --emotions DIR)" if (
            dataset == "samm_lv") else ""  # fmt: skip
        raise MicroexpError(
            f"{root}: no coded micro-expression has an emotion of the analysis classes "
            f"{', '.join(classes)}{hint}; the recogniser has nothing to learn"
        )
    rec = Recogniser(opts, classes, samples, out, log)
    scorer = (FlowScorer if opts.spot.method == "flow" else SoftnetScorer)(out, opts.spot, log)
    from .spotting import _half_lengths

    subjects = sorted({v.subject_key for v in videos})
    plan = {s: [v for v in videos if v.subject_key != s] for s in subjects}
    usable = scorer.prepare(videos, {s: (t, _half_lengths(t)) for s, t in plan.items()}, excluded)
    _check_subjects(root, usable, excluded)

    def fit_predict(train, test, fold) -> FoldOutput:
        spots = spot_fold(scorer, train, test, opts.spot)
        train_subjects = {v.subject_key for v in train}
        assert not train_subjects & {v.subject_key for v in test}  # run_loso checks it too
        rec_train = rec.training(train_subjects)
        majority = _majority([s.label for s in rec_train], classes)
        micro = [
            (v, row) for v, found in zip(test, spots.found, strict=True) for row in found
            if row[-1] == "micro"
        ]  # fmt: skip
        spotted = [_sample(v, a, peak, b, classes[0], f"spot-{a}-{b}") for v, (_, a, peak, b, _)
                   in micro]  # fmt: skip
        if rec_train and spotted:
            model = rec.trainer().fit(rec_train, fold.index, f"fold {fold.index:03d}")[0]
            results = rec.classify(model, spotted)
        else:
            why = "no training micro-expression" if not rec_train else ""
            results = [why] * len(spotted)
        rows = []
        for (v, (_, a, peak, b, _)), r in zip(micro, results, strict=True):
            row = {"subject": v.subject_key, "video": v.id, "onset": a, "apex": peak,
                   "offset": b, "majority": majority}  # fmt: skip
            if isinstance(r, tuple):
                row.update(label=classes[r[0]], prob=r[1])
            else:  # not classifiable (no face...): the majority class, and why
                row.update(label=majority, unclassified=r)
            rows.append(row)
        for v, found in zip(test, spots.found, strict=True):
            labels = [_label_of(rows, v.id, row) for row in found]
            coded = [_coded_label(rule, iv, v) for iv in v.intervals]
            folder = out / "timelines"
            _timeline_figure(v, spots.scores[v.id], spots.p, found, folder, labels, coded)
        macro = [
            {"video": v.id, "onset": a, "offset": b}
            for v, found in zip(test, spots.found, strict=True)
            for (_, a, _, b, kind) in found
            if kind == "macro"
        ]
        extra = {"k": spots.k, "p": spots.p, "spotted": rows, "macro": macro,
                 "train_micro": len(rec_train), "majority": majority}  # fmt: skip
        return FoldOutput([sum(r["video"] == v.id for r in rows) for v in test], extra=extra)

    codes = [sum(iv.kind == "micro" for iv in v.intervals) for v in usable]
    records = run_loso(
        usable, codes, fit_predict, out, config, shard=shard, log=log,
        describe=lambda coded, spotted: f"{sum(spotted)} micro spotted and labelled, "
        f"{sum(coded)} coded",
    )  # fmt: skip
    total = len(split_folds(usable, "loso"))
    if shard is not None:  # the other shards' folds, as far as they are done
        records = load_records([out])[1]
    if len(records) < total:
        log(f"[str] {len(records)} of {total} folds done; run again without --shard to score")
        return out / "folds"
    metrics = score(dataset, usable, records, truth_rows(usable, rule), classes, opts)
    metrics.update(
        synthetic=result.synthetic,
        model=opts.model,
        spotter=opts.spot.method,
        excluded=[{"item": e.sample, "reason": e.reason} for e in [*excluded, *rec.excluded]],
        notes=[{"item": e.sample, "reason": e.reason} for e in result.notes],
        truth_all=len(truth_all),
    )
    write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    write_text(out / "predictions.csv", _csv(_rows(records)))
    write_text(out / "truth.csv", _csv(truth_rows(usable, rule)))
    report = out / "report.md"
    write_text(report, str_report(metrics))
    return report


def _coded_label(rule, iv, video: LongVideo) -> str:
    """A coded interval's label on the timeline: a micro one's class (its emotion beside it
    when they differ), a macro one's emotion."""
    if iv.kind != "micro":
        return iv.label
    cls = _truth_label(rule, iv, video)
    return cls if cls == iv.label or not iv.label else f"{iv.label}: {cls}"


def _label_of(rows: list[dict], video: str, found: tuple) -> str:
    _, a, _, b, kind = found
    if kind != "micro":
        return ""
    return next((r["label"] for r in rows if r["video"] == video and r["onset"] == a
                 and r["offset"] == b), "")  # fmt: skip


def _rows(records: list[dict], label: str = "label") -> list[tuple]:
    return [
        (r["subject"], r["video"], r["onset"], r["offset"], r[label])
        for rec in records
        for r in rec["extra"]["spotted"]
    ]


def _headline(s: dict) -> dict[str, float]:
    return {
        "strs": s["strs"],
        "spotting_f1": s["spotting"]["f1"],
        "analysis_f1": s["analysis"]["f1"],
    }


def subject_interval(pred: list[tuple], truth: list[tuple], classes, iou: float, n: int, seed: int):
    """{headline: [low, high]}: 95 % percentile bootstrap over subjects (subjects drawn with
    replacement, each copy's videos kept apart, every score recomputed from the pooled rows);
    [nan, nan] with fewer than 2 subjects."""
    subjects = sorted({t[0] for t in truth})
    if len(subjects) < 2:
        return {k: [float("nan")] * 2 for k in HEADLINES}
    by_p = {s: [p for p in pred if p[0] == s] for s in subjects}
    by_t = {s: [t for t in truth if t[0] == s] for s in subjects}
    rng = np.random.default_rng(seed)
    values = {k: [] for k in HEADLINES}
    for _ in range(n):
        draw = rng.integers(0, len(subjects), len(subjects))
        p2, t2 = [], []
        for copy, i in enumerate(draw):
            s = subjects[i]
            p2 += [(f"{s}#{copy}", *p[1:]) for p in by_p[s]]
            t2 += [(f"{s}#{copy}", *t[1:]) for t in by_t[s]]
        for k, v in _headline(strs(p2, t2, classes, iou)).items():
            values[k].append(v)
    return {k: [round(float(np.percentile(v, 2.5)), 4), round(float(np.percentile(v, 97.5)), 4)]
            for k, v in values.items()}  # fmt: skip


def chance_str(pred, truth, frames: dict[str, tuple[int, int]], classes, iou, draws: int, seed):
    """The chance spotter with the majority label: in each video as many intervals, of the
    same lengths, as ``pred`` has, placed uniformly at random (``frames``: video -> (first,
    last)); mean of each headline over ``draws``."""
    rng = np.random.default_rng(seed)
    values = {k: [] for k in HEADLINES}
    for _ in range(draws):
        drawn = []
        for subject, video, onset, offset, label in pred:
            first, last = frames[video]
            length = min(offset - onset, last - first)
            start = int(rng.integers(first, last - length + 1))
            drawn.append((subject, video, start, start + length, label))
        for k, v in _headline(strs(drawn, truth, classes, iou)).items():
            values[k].append(v)
    return {k: round(float(np.mean(v)), 4) for k, v in values.items()}


def score(dataset, videos, records, truth, classes, opts: StrOptions) -> dict:
    """metrics.json's scores: ours, the majority recogniser on our intervals and the chance
    spotter (majority label), each headline with its interval, and the reported rows."""
    pred, majority = _rows(records), _rows(records, "majority")
    ours = strs(pred, truth, classes, opts.iou)
    frames = {v.id: (v.first, v.last) for v in videos}
    ci = subject_interval(pred, truth, classes, opts.iou, opts.resamples, opts.seed)
    maj = strs(majority, truth, classes, opts.iou)
    return {
        "dataset": dataset,
        "classes": classes,
        "protocol": f"MEGC STR (the public evaluator's definition): IoU >= {opts.iou:.2f}, "
        "predictions matched in order, analysis over spotted TPs; LOSO",
        "videos": len(videos),
        "subjects": len({v.subject_key for v in videos}),
        "truths": len(truth),
        "analysed_truths": sum(t[4] in classes for t in truth),
        "scores": ours,
        "headline": _headline(ours),
        "ci95": ci,
        "baselines": {
            "majority class on our intervals": {
                **_headline(maj),
                "ci95": subject_interval(
                    majority, truth, classes, opts.iou, opts.resamples, opts.seed
                ),
            },  # fmt: skip
            "chance spotter, majority class": chance_str(
                majority, truth, frames, classes, opts.iou, opts.chance_draws, opts.seed
            ),
        },
        "reported": {
            k: dict(zip(HEADLINES, _order(v), strict=True))
            for k, v in REPORTED.get(dataset, {}).items()
        },  # fmt: skip
        "unclassified": sum(
            "unclassified" in r for rec in records for r in rec["extra"]["spotted"]
        ),
        "folds": [
            {
                "subject": rec["test_subject"],
                "k": rec["extra"]["k"],
                "p": rec["extra"]["p"],
                "spotted_micro": len(rec["extra"]["spotted"]),
                "train_micro": rec["extra"]["train_micro"],
                "majority": rec["extra"]["majority"],
            }
            for rec in records
        ],  # fmt: skip
        "first_timeline": f"{_safe(videos[0].id)}.png" if videos else None,
    }


def _order(v: tuple[float, float, float]) -> tuple[float, float, float]:
    """REPORTED's (spotting F1, analysis F1, STRS) in :data:`HEADLINES`' order."""
    spot_f1, analysis_f1, strs_ = v
    return strs_, spot_f1, analysis_f1


def _csv(rows: list[tuple]) -> str:
    """STR rows in the evaluator's columns (``microexp strs`` and the public evaluator read
    them)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["subject", "video", "onset", "offset", "emotion"])
    w.writerows(rows)
    return buf.getvalue()


def str_report(m: dict) -> str:
    """report.md: STRS, spotting F1 and analysis F1 with intervals, beside the baselines and
    the reported numbers."""

    def cell(v, ci=None):
        return f"{v:.4f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")

    lines = ["# microexp spot-then-recognise report", ""]
    if m["synthetic"]:
        lines += ["**Synthetic data**: these numbers check that the chain works; they are not "
                  "comparable to the reported ones.", ""]  # fmt: skip
    s = m["scores"]
    lines += [
        f"{m['dataset']}: {m['videos']} videos, {m['subjects']} subjects, {m['truths']} coded "
        f"micro-expressions ({m['analysed_truths']} in the analysis classes "
        f"{', '.join(m['classes'])}). {m['protocol']}. Spotter: {m['spotter']}; recogniser: "
        f"{m['model']}.",
        "",
        "| | STRS | spotting F1 | analysis F1 |",
        "|---|---|---|---|",
        f"| ours | {cell(m['headline']['strs'], m['ci95']['strs'])} | "
        f"{cell(m['headline']['spotting_f1'], m['ci95']['spotting_f1'])} | "
        f"{cell(m['headline']['analysis_f1'], m['ci95']['analysis_f1'])} |",
    ]
    for name, b in m["baselines"].items():
        ci = b.get("ci95", {})
        lines.append(f"| {name} | " + " | ".join(cell(b[k], ci.get(k)) for k in HEADLINES) + " |")
    for name, r in m["reported"].items():
        lines.append(f"| {name} (reported) | " + " | ".join(cell(r[k]) for k in HEADLINES) + " |")
    a = s["analysis"]
    lines += [
        "",
        "Brackets: 95 % bootstrap interval over subjects. The chance row is a mean of random "
        "placements. Reported rows ran on the challenge's own test videos, not under LOSO.",
        "",
        f"Spotting (evaluator, in-order matching): TP {s['spotting']['tp']}, FP "
        f"{s['spotting']['fp']}, FN {s['spotting']['fn']}; one-to-one matching: F1 "
        f"{s['spotting_bipartite']['f1']:.4f}. Analysis over {a['tp'] + a['fp']} spotted "
        f"micro-expressions of the analysis classes: precision {a['precision']:.4f}, recall "
        f"{a['recall']:.4f}, UF1 {a['uf1']:.4f}, UAR {a['uar']:.4f} (the evaluator's 'UAR', "
        f"mean precision: {a['uar_evaluator']:.4f}).",
    ]
    if not s["predictions"]:
        lines += ["", "No micro-expression was spotted in any video: an empty prediction set is "
                  "valid and scores 0 on every measure."]  # fmt: skip
    if m["unclassified"]:
        lines += ["", f"{m['unclassified']} spotted interval(s) could not be classified (listed "
                  "in the fold records) and carry the fold's majority class."]  # fmt: skip
    if m.get("first_timeline"):
        lines += ["", f"![timeline of the first video](timelines/{m['first_timeline']})"]
    lines += ["", "Per fold (k, p and the recogniser from the other subjects only):", ""]
    lines += [
        f"- {f['subject']}: k {f['k']}, p {f['p']}, {f['spotted_micro']} micro spotted, "
        f"recogniser trained on {f['train_micro']} (majority {f['majority']})"
        for f in m["folds"]
    ]
    if m["excluded"]:
        lines += ["", "Excluded:"] + [f"- {e['item']}: {e['reason']}" for e in m["excluded"]]
    return "\n".join(lines) + "\n"


def spot_then_recognise(
    dataset: str,
    out: str | os.PathLike,
    root: str | os.PathLike | None = None,
    model: str = "atscnn",
    preset: str = "demo",
    seed: int = 0,
    log=print,
    shard: tuple[int, int] | None = None,
    emotions: str | os.PathLike | None = None,
    **spot_options: object,
) -> Path:
    """STR on ``dataset`` (``samm_lv``, ``casme_sq`` or ``casme3_lv``) read from ``root``, or
    on synthetic long videos written to ``OUT/data/NAME`` when ``root`` is None.
    ``spot_options``: the fields of :class:`~microexp.experiments.spotting.SpotOptions`;
    ``preset``: ``tiny``, ``demo`` or ``paper`` (the recogniser's recipe and schedule, the
    synthetic data's size). Returns the report's path."""
    if dataset not in STR_DATASETS:
        raise unknown_name("spot-then-recognise dataset", dataset, STR_DATASETS)
    assert set(STR_DATASETS) <= set(LONG_VIDEO_DATASETS)
    names = set(SpotOptions.__dataclass_fields__)
    bad = sorted(set(spot_options) - names)
    if bad:
        raise TypeError(f"unknown option {bad[0]!r}; expected one of {', '.join(sorted(names))}")
    if spot_options.get("method") == "softnet" and "epochs" not in spot_options:
        from .spotting import SOFTNET_EPOCHS

        spot_options["epochs"] = SOFTNET_EPOCHS.get(preset, SOFTNET_EPOCHS["demo"])
    opts = StrOptions(model=model, preset=preset, spot=SpotOptions(**spot_options), seed=seed)
    if root is None:
        from ..synthetic import generate_long

        data_preset = "demo" if preset == "paper" else preset
        root = generate_long(dataset, Path(out) / "data" / dataset, data_preset, seed)
    return spot_then_recognise_dataset(dataset, root, out, opts, log, shard, emotions)


__all__ = [
    "REPORTED",
    "STR_DATASETS",
    "StrOptions",
    "spot_then_recognise",
    "spot_then_recognise_dataset",
    "str_protocol",
    "str_report",
]
