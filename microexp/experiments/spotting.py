"""``microexp spot``: the training-free spotter on a long-video dataset, scored as MEGC does.

No test subject informs its own spotting (leave one subject out): for each held-out subject,
k per kind comes from the other subjects' mean coded duration (k = int((N + 1) / 2)) and the
threshold fraction p per kind is the one of ``P_GRID`` with the best F1 on the other subjects'
videos (ties: the larger p), unless ``p`` is given; so fewer than two subjects with usable
videos (after exclusions) is an error, and a fold whose training subjects code no interval of
a kind does not spot that kind (the report says so). Scores are cached per video and k
(``OUT/scores``), so an interrupted run resumes. Frames are 1-based in every output.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..datasets import LONG_VIDEO_DATASETS, Exclusion, LongVideo, half_length, load, mean_length
from ..errors import MicroexpError, unknown_name
from ..evaluation.loso import FoldOutput, ensure_run_dir, run_loso
from ..evaluation.spotting import KINDS, chance_scores, f1_interval, spot_scores, subject_counts
from ..fileio import read_json, write_text
from ..preprocess.frames import SampleExcluded

METHODS = ("flow", "softnet")
#: SOFTNet's epochs per preset (its paper: 20)
SOFTNET_EPOCHS = {"tiny": 2, "demo": 10, "paper": 20}
P_GRID = tuple(round(float(v), 2) for v in np.arange(0.05, 1.0, 0.05))

#: published F1 (macro, micro, overall), DATASETS.md "The MEGC spotting protocol"
PUBLISHED = {
    "casme_sq": {
        "MDMD (MEGC baseline)": (0.1196, 0.0082, 0.0376),
        "SOFTNet": (0.2410, 0.1173, 0.2022),
        "LSSNet": (0.3770, 0.0420, 0.3250),
        "MTSN": (0.4104, 0.0808, 0.3620),
    },
    "samm_lv": {
        "MDMD (MEGC baseline)": (0.0629, 0.0364, 0.0445),
        "SOFTNet": (0.2169, 0.1520, 0.1881),
        "LSSNet": (0.2810, 0.1310, 0.2380),
        "MTSN": (0.3459, 0.0878, 0.2867),
    },
}


@dataclass(frozen=True)
class SpotOptions:
    """``p``: a fixed threshold fraction (None: chosen per fold on the training subjects);
    ``size``: face window px; ``flow``: ``farneback`` or ``tvl1``; ``check_every_s``: seconds
    between face checks; ``iou``: MEGC's 0.5; ``micro_outside_macro``: drop micro peaks inside
    a spotted macro interval; ``max_fps``: faster videos are scored on every round(fps /
    max_fps)-th frame (0: every frame). ``method``: ``flow`` (training-free) or ``softnet``
    (SOFTNet's network on ``feature_size`` px flows, trained per fold and kind for ``epochs``
    with batch ``batch_size``, Adam at ``lr``, mean squared error, as its paper; ``seed``)."""

    p: float | None = None
    size: int = 96
    flow: str = "farneback"
    check_every_s: float = 1.0
    iou: float = 0.5
    micro_outside_macro: bool = True
    max_fps: float = 30.0
    method: str = "flow"
    feature_size: int = 42
    epochs: int = 10
    batch_size: int = 48
    lr: float = 5e-4
    seed: int = 0

    def __post_init__(self) -> None:
        from ..preprocess.spotting import FLOWS

        if self.method not in METHODS:
            raise unknown_name("spotting method", self.method, METHODS)
        if self.epochs < 1 or self.batch_size < 1:
            raise MicroexpError(f"--epochs {self.epochs}, batch {self.batch_size}: expected >= 1")
        if self.p is not None and not 0 <= self.p <= 1:
            raise MicroexpError(f"--p {self.p}: expected a fraction in [0, 1]")
        if self.flow not in FLOWS:
            raise unknown_name("flow", self.flow, FLOWS)
        if self.size < 16:
            raise MicroexpError(f"--size {self.size}: expected at least 16 px")
        if not 0 < self.iou <= 1:
            raise MicroexpError(f"iou {self.iou}: expected a value in (0, 1]")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def videos_fingerprint(videos: Sequence[LongVideo]) -> dict:
    """The hashed record of the videos a spotting run reads: each one's id, frame range, frame
    rate and coded intervals, and the name and size of every frame file (no file times or
    folders, so a copy elsewhere resumes the run; other videos are refused, not mixed)."""
    from ..fileio import files_fingerprint

    fields = [(v.id, v.first, v.last, v.fps, [repr(i) for i in v.intervals]) for v in videos]
    paths = (p for v in videos for p in v.frame_paths())
    return {"videos": len(videos), "fingerprint": files_fingerprint(paths, *fields, times=False)}


class ScoreCache:
    """Each video's S(t) per k (the score does not depend on the kind), as ``.npy`` under
    ``root``, written atomically; a file that is truncated, or not one float per frame of the
    video, is computed again."""

    suffix = ".npy"

    def __init__(self, root: Path, opts: SpotOptions) -> None:
        self.root = root
        self.opts = opts
        self._sources: dict[str, str] = {}

    def source(self, video: LongVideo) -> str:
        """The video's frames' fingerprint, part of every file name: scores of other frames
        under the same video id (another copy, a re-generated tree) are never reused."""
        from ..fileio import files_fingerprint

        if video.id not in self._sources:
            self._sources[video.id] = files_fingerprint(video.frame_paths(), video.fps)
        return self._sources[video.id]

    def tag(self, k: int) -> str:
        """What the file holds, before the frames' fingerprint in its name."""
        return f"{self.opts.flow}-s{self.opts.size}-f{self.opts.max_fps:g}-k{k}"

    def path(self, video: LongVideo, k: int) -> Path:
        return self.root / _safe(video.id) / f"{self.tag(k)}-{self.source(video)}{self.suffix}"

    def store(self, video: LongVideo, k: int, save: Callable) -> None:
        """Write the entry atomically (``save(file object)``), then remove the same entry made
        from other frames of this video (two copies of one dataset with other file times,
        sharing one OUT, would evict each other's entries: recomputed, never wrong)."""
        from ..fileio import atomic_path

        path = self.path(video, k)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                save(fh)
        for old in path.parent.glob(f"{self.tag(k)}-*{self.suffix}"):
            if old != path:
                old.unlink(missing_ok=True)

    def cached_scores(self, video: LongVideo, k: int) -> np.ndarray | None:
        """The stored S(t) of ``video`` for ``k``; None when missing, unreadable, or not one
        float per frame of the video (as :func:`~microexp.preprocess.spotting.video_scores`
        gives)."""
        a = _load(self.path(video, k))
        ok = isinstance(a, np.ndarray) and a.shape == (video.frames,) and a.dtype.kind == "f"
        return a if ok else None

    def scores(self, video: LongVideo, ks: set[int]) -> dict[int, np.ndarray]:
        """S(t) per k in ``ks``: read back, or computed (one face track) and stored."""
        from ..preprocess.spotting import image_reader, video_scores

        out = {k: a for k in sorted(ks) if (a := self.cached_scores(video, k)) is not None}
        todo = {f"k{k}": k for k in ks if k not in out}
        if todo:
            paths = video.frame_paths()
            computed, _ = video_scores(
                image_reader(paths),
                len(paths),
                video.fps,
                todo,
                self.opts.size,
                self.opts.flow,
                self.opts.check_every_s,
                what=video.id,
                max_fps=self.opts.max_fps,
            )
            for name, k in todo.items():
                self.store(video, k, lambda fh, a=computed[name]: np.save(fh, a))
                out[k] = computed[name]
        return out


def _load(path: Path) -> object | None:
    """``np.load(path)``; None when the file is missing, truncated or not numpy's."""
    import zipfile

    try:
        return np.load(path)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None


class FeatureCache(ScoreCache):
    """Each video's SOFTNet input per k (:func:`microexp.preprocess.spotting.flow_features`
    on the sampled face track), as ``.npz`` (x, valid, step) under ``root``; a file that is
    truncated, or of other shapes than the video's, is computed again."""

    suffix = ".npz"

    def tag(self, k: int) -> str:
        o = self.opts
        return f"softnet-{o.flow}-s{o.size}-x{o.feature_size}-f{o.max_fps:g}-k{k}"

    def step(self, video: LongVideo) -> int:
        """Every how many frames the video is sampled (as
        :func:`~microexp.preprocess.spotting.sampled_track`)."""
        from ..preprocess.spotting import sampling_step

        return sampling_step(video.fps, self.opts.max_fps)

    def cached_features(
        self, video: LongVideo, k: int
    ) -> tuple[np.ndarray, np.ndarray, int] | None:
        """The stored (x, valid, step); None when missing, unreadable, or of other shapes
        than the video's sampled frames and ``feature_size`` give."""
        import zipfile

        z = _load(self.path(video, k))
        if not isinstance(z, np.lib.npyio.NpzFile):
            return None
        with z:
            try:
                x, valid, step = z["x"], z["valid"], z["step"]
            except (KeyError, OSError, ValueError, EOFError, zipfile.BadZipFile):
                return None
        n = -(-video.frames // self.step(video))  # frames 0, step, 2 step...
        size = self.opts.feature_size
        ok = (
            x.shape == (n, size, size, 3)
            and x.dtype.kind == "f"
            and valid.shape == (n,)
            and valid.dtype == bool
            and step.shape == ()
            and int(step) == self.step(video)
        )
        return (x, valid, int(step)) if ok else None

    def features(self, video: LongVideo, k: int) -> tuple[np.ndarray, np.ndarray, int]:
        """(x, valid, step) of ``video`` for ``k``: read back, or computed and stored."""
        from ..preprocess.spotting import flow_features, image_reader, sampled_track

        cached = self.cached_features(video, k)
        if cached is not None:
            return cached
        paths = video.frame_paths()
        o = self.opts
        track = sampled_track(
            image_reader(paths), len(paths), video.fps, o.size, o.check_every_s, True,
            video.id, o.max_fps,
        )  # fmt: skip
        x, valid = flow_features(track, max(int(round(k / track.step)), 1), o.feature_size, o.flow)
        self.store(video, k, lambda fh: np.savez(fh, x=x, valid=valid, step=track.step))
        return x, valid, track.step


METHOD_NAMES = {
    "flow": "training-free flow spotter",
    "softnet": "SOFTNet-style network, trained per fold",
}


class FlowScorer:
    """The training-free spotter's scores: computed once per video and k, then read."""

    def __init__(self, out: Path, opts: SpotOptions, log) -> None:
        self.opts, self.log = opts, log
        self.cache = ScoreCache(out / "scores", opts)
        self.scores: dict[str, dict[int, np.ndarray]] = {}

    def _needed(self, videos, plan) -> dict[str, set[int]]:
        """Every k a video needs: its own fold's, and each fold's where it trains."""
        needed: dict[str, set[int]] = {}
        for s, (train, ks) in plan.items():
            for v in videos:
                if v.subject_key == s or v in train:
                    needed.setdefault(v.id, set()).update(ks.values())
        return needed

    def _compute(self, video: LongVideo, ks: set[int]) -> None:
        self.scores[video.id] = self.cache.scores(video, ks)

    def prepare(self, videos, plan, excluded: list) -> list[LongVideo]:
        """Compute (or read) what every fold needs; videos without a face are excluded."""
        needed = self._needed(videos, plan)
        usable = []
        for i, v in enumerate(videos, start=1):
            try:
                self._compute(v, needed.get(v.id, set()))
            except SampleExcluded as e:
                excluded.append(Exclusion(v.id, str(e)))
                self.log(f"[video {i}/{len(videos)}] {v.id}: excluded ({e})")
                continue
            usable.append(v)
            self.log(f"[video {i}/{len(videos)}] {v.id}: {v.frames} frames prepared")
        return usable

    def fold(self, subject: str, train, test, ks: dict[str, int]) -> dict[str, dict]:
        for v in (*train, *test):  # a k that prepare did not foresee (a video excluded)
            missing = set(ks.values()) - set(self.scores.get(v.id, {}))
            if missing:
                self.scores.setdefault(v.id, {}).update(self.cache.scores(v, missing))
        return {
            v.id: {kind: self.scores[v.id][k] for kind, k in ks.items()} for v in (*train, *test)
        }


class SoftnetScorer(FlowScorer):
    """SOFTNet's scores: per fold and kind a network trained on the training subjects' flows
    with pseudo-labels (1 where the window [i, i + k] overlaps a coded interval of the kind,
    as SOFTNet labels), its output put at the window's centre, interpolated to every frame and
    smoothed over k frames."""

    def __init__(self, out: Path, opts: SpotOptions, log) -> None:
        super().__init__(out, opts, log)
        self.cache = FeatureCache(out / "features", opts)

    def _compute(self, video: LongVideo, ks: set[int]) -> None:
        for k in sorted(ks):  # written to the cache; read back per fold (memory: one fold's)
            self.cache.features(video, k)

    def fold(self, subject: str, train, test, ks: dict[str, int]) -> dict[str, dict]:
        out: dict[str, dict] = {v.id: {} for v in (*train, *test)}
        for kind, k in ks.items():
            model = self._train(train, kind, k)
            for v in (*train, *test):
                out[v.id][kind] = self._scores(model, v, k)
        return out

    def _labels(self, video: LongVideo, kind: str, k: int, n: int, step: int) -> np.ndarray:
        starts = np.arange(n) * step  # window i covers frames [start, start + k] (0-based)
        y = np.zeros(n, np.float32)
        for iv in video.intervals:
            if iv.kind == kind:
                a, b = iv.onset - video.first, iv.offset - video.first
                y[(starts <= b) & (starts + k >= a)] = 1.0
        return y

    def _train(self, train, kind: str, k: int):
        import keras

        from ..models import build_softnet

        # one float16 array filled video by video (no second copy); Keras casts each batch
        size = self.opts.feature_size
        total = sum(int(self.cache.features(v, k)[1].sum()) for v in train)
        x, y, at = np.empty((total, size, size, 3), np.float16), np.empty(total, np.float32), 0
        for v in train:
            feats, valid, step = self.cache.features(v, k)
            n = int(valid.sum())
            x[at : at + n] = feats[valid]
            y[at : at + n] = self._labels(v, kind, k, len(feats), step)[valid]
            at += n
        keras.utils.set_random_seed(self.opts.seed)
        model = build_softnet(self.opts.feature_size)
        model.compile(keras.optimizers.Adam(self.opts.lr), "mse")
        model.fit(x, y, batch_size=self.opts.batch_size, epochs=self.opts.epochs, verbose=0)
        return model

    def _scores(self, model, video: LongVideo, k: int) -> np.ndarray:
        from scipy.ndimage import uniform_filter1d

        x, valid, step = self.cache.features(video, k)
        n = video.frames
        if not valid.any():
            return np.zeros(n, np.float32)
        pred = np.asarray(model(x[valid].astype(np.float32), training=False)).reshape(-1)
        centres = np.flatnonzero(valid) * step + k // 2
        full = np.interp(np.arange(n), centres, pred, left=0.0, right=0.0)
        return uniform_filter1d(full, size=max(k, 1)).astype(np.float32)


def _check_subjects(root, videos: list[LongVideo], excluded: list[Exclusion]) -> None:
    """Refuse fewer than two subjects with videos: k and p come from the other subjects."""
    subjects = len({v.subject_key for v in videos})
    if subjects >= 2:
        return
    why = f"{len(videos)} video(s) of {subjects} subject(s) to spot"
    if excluded:
        e = excluded[-1]  # the latest: what prepare excluded, when it did
        why += f" ({len(excluded)} exclusion(s), the last {e.sample}: {e.reason})"
    raise MicroexpError(
        f"{root}: {why}; spotting needs at least 2 subjects (each fold's k and p come from "
        "the other subjects)"
    )


def _half_lengths(train: list[LongVideo]) -> dict[str, int]:
    """MEGC's k per kind from ``train``'s mean coded durations (kinds they code)."""
    out = {}
    for kind in KINDS:
        m = mean_length(train, kind)
        if m:
            out[kind] = half_length(m)
    return out


def _truth(videos: list[LongVideo]) -> list[tuple]:
    return [(v.id, iv.onset, iv.offset, iv.kind) for v in videos for iv in v.intervals]


def _spotted(video: LongVideo, scores: dict[str, np.ndarray], ks, ps, opts) -> list[tuple]:
    """(video id, onset, peak, offset, kind) of each interval spotted in ``video`` (file-name
    frame numbers; the peak is the score's, the interval's apex estimate)."""
    from ..preprocess.spotting import SpotParams, spot_intervals

    params = SpotParams(k=ks, p=ps)
    found = spot_intervals(scores, params, opts.micro_outside_macro)
    f = video.first
    return [(video.id, a + f, peak + f, b + f, kind) for a, peak, b, kind in found]


@dataclass(frozen=True)
class FoldSpots:
    """One fold's spotting: k and p per kind (from the training subjects only), every video's
    S(t) per kind, and the intervals spotted in each test video (:func:`_spotted`'s rows)."""

    k: dict[str, int]
    p: dict[str, float]
    scores: dict[str, dict[str, np.ndarray]]
    found: list[list[tuple]]


def spot_fold(scorer, train: list[LongVideo], test: list[LongVideo], opts: SpotOptions):
    """Spot the test videos of one LOSO fold: k from the training subjects' coded durations,
    p (unless fixed) the grid value with the best F1 on the training subjects' videos."""
    ks = _half_lengths(train)
    scores_of = scorer.fold(test[0].subject_key if test else "", train, test, ks)
    ps = {}
    for kind in ks:
        mine = {v.id: scores_of[v.id][kind] for v in train}
        ps[kind] = opts.p if opts.p is not None else _best_p(train, mine, ks[kind], kind, opts)
    found = [_spotted(v, scores_of[v.id], ks, ps, opts) for v in test]
    return FoldSpots(ks, ps, scores_of, found)


def _best_p(videos, scores: dict[str, np.ndarray], k: int, kind: str, opts: SpotOptions) -> float:
    """The p of ``P_GRID`` with the best F1 of ``kind`` on ``videos`` (``scores``: video id ->
    its S(t) for this kind; ties: the larger p)."""
    from ..preprocess.spotting import find_intervals

    truth = [t for t in _truth(videos) if t[3] == kind]
    best, best_f1 = P_GRID[-1], -1.0
    for p in P_GRID:
        pred = []
        for v in videos:
            pred += [
                (v.id, a + v.first, b + v.first) for a, _, b in find_intervals(scores[v.id], k, p)
            ]
        f1 = spot_scores(pred, [t[:3] for t in truth], opts.iou)["overall"]["f1"]
        if f1 >= best_f1:
            best, best_f1 = p, f1
    return best


def spot_dataset(
    dataset: str,
    root: str | os.PathLike,
    out: str | os.PathLike,
    opts: SpotOptions = SpotOptions(),
    log=print,
) -> Path:
    """Spot every video of ``dataset`` under LOSO, write intervals, metrics and a report under
    ``out``; returns the report's path."""
    if dataset not in LONG_VIDEO_DATASETS:
        raise unknown_name("long-video dataset", dataset, LONG_VIDEO_DATASETS)
    result = load(dataset, root)
    out = Path(out)
    videos = list(result.videos)
    excluded = list(result.excluded)
    _check_subjects(root, videos, excluded)
    subjects = sorted({v.subject_key for v in videos})
    if excluded:
        e = excluded[0]
        more = f"; {len(excluded) - 1} more in report.md" if len(excluded) > 1 else ""
        log(f"[data] {dataset}: excluded {e.sample} ({e.reason}){more}")
    config = {
        "dataset": dataset,
        "spot": asdict(opts),
        "data": videos_fingerprint(videos),
        "runtime": {"root": str(root), "out": str(out)},
    }
    ensure_run_dir(out, config)  # other videos or settings: refused before any scoring
    plan = {s: [v for v in videos if v.subject_key != s] for s in subjects}
    scorer = (FlowScorer if opts.method == "flow" else SoftnetScorer)(out, opts, log)
    usable = scorer.prepare(videos, {s: (t, _half_lengths(t)) for s, t in plan.items()}, excluded)
    _check_subjects(root, usable, excluded)  # a subject whose every video was excluded

    def fit_predict(train, test, fold) -> FoldOutput:
        spots = spot_fold(scorer, train, test, opts)
        for v, found in zip(test, spots.found, strict=True):
            _timeline_figure(v, spots.scores[v.id], spots.p, found, out / "timelines")
        rows = [_row(item) for items in spots.found for item in items]
        extra = {"k": spots.k, "p": spots.p, "spotted": rows}
        return FoldOutput([len(f) for f in spots.found], extra=extra)

    records = run_loso(
        usable,
        [len(v.intervals) for v in usable],
        fit_predict,
        out,
        config,
        log=log,
        describe=lambda coded, spotted: f"{sum(spotted)} spotted, {sum(coded)} coded",
    )
    predicted = [
        (r["video"], r["onset"], r["offset"], r["kind"])
        for rec in records
        for r in rec["extra"]["spotted"]
    ]
    folds = [
        {"subject": rec["test_subject"], "k": rec["extra"]["k"], "p": rec["extra"]["p"],
         "spotted": len(rec["extra"]["spotted"]),
         "unspotted": [kind for kind in KINDS if kind not in rec["extra"]["k"]]}
        for rec in records
    ]  # fmt: skip
    truth = _truth(usable)
    scores = spot_scores(predicted, truth, opts.iou)
    counts = subject_counts(predicted, truth, {v.id: v.subject_key for v in usable}, opts.iou)
    for kind, c in counts.items():
        name = "overall" if kind == "all" else kind
        if name in scores:
            scores[name]["f1_ci95"] = f1_interval(c)
    chance = chance_scores(predicted, truth, {v.id: (v.first, v.last) for v in usable}, opts.iou)
    metrics = {
        "dataset": dataset,
        "synthetic": result.synthetic,
        "method": METHOD_NAMES[opts.method],
        "protocol": f"MEGC spotting: IoU >= {opts.iou:.2f}, counts pooled over videos; "
        "LOSO for k and p",
        "videos": len(usable),
        "subjects": len({v.subject_key for v in usable}),
        "truth": {k: sum(1 for t in truth if t[3] == k) for k in KINDS},
        "scores": scores,
        "chance_f1": chance,
        "first_timeline": f"{_safe(usable[0].id)}.png" if usable else None,
        "folds": folds,
        "excluded": [{"video": e.sample, "reason": e.reason} for e in excluded],
        "notes": [{"sample": e.sample, "reason": e.reason} for e in result.notes],
    }
    write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    write_text(out / "intervals.json", json.dumps([_row(p) for p in predicted], indent=2) + "\n")
    write_text(out / "intervals.csv", _csv([_row(p) for p in predicted]))
    report = out / "report.md"
    write_text(report, spot_report(metrics))
    return report


def spot(
    dataset: str,
    out: str | os.PathLike,
    root: str | os.PathLike | None = None,
    preset: str = "demo",
    seed: int = 0,
    log=print,
    **options: object,
) -> Path:
    """Spot ``dataset`` (``casme_sq`` or ``samm_lv``) read from ``root``, or from synthetic
    long videos written to ``OUT/data/NAME`` when ``root`` is None; ``options``: the fields
    of :class:`SpotOptions`; ``preset``: ``tiny``, ``demo`` or ``paper`` (SOFTNet's epochs, the
    synthetic data's size). Returns the report's path."""
    if dataset not in LONG_VIDEO_DATASETS:
        raise unknown_name("long-video dataset", dataset, LONG_VIDEO_DATASETS)
    names = set(SpotOptions.__dataclass_fields__)
    bad = sorted(set(options) - names)
    if bad:
        raise TypeError(f"unknown option {bad[0]!r}; expected one of {', '.join(sorted(names))}")
    if preset not in SOFTNET_EPOCHS:
        raise unknown_name("preset", preset, tuple(SOFTNET_EPOCHS))
    if options.get("method") == "softnet" and "epochs" not in options:
        options["epochs"] = SOFTNET_EPOCHS[preset]
    if root is None:
        from ..synthetic import generate_long

        data_preset = "demo" if preset == "paper" else preset
        root = generate_long(dataset, Path(out) / "data" / dataset, data_preset, seed)
    return spot_dataset(dataset, root, out, SpotOptions(**options), log)


def _timeline_figure(
    video: LongVideo,
    scores: dict,
    ps: dict,
    found: list,
    folder: Path,
    labels=None,
    truth_labels=None,
) -> None:
    """``found``: :func:`_spotted`'s rows; ``labels``: a class per row, written under its bar,
    and ``truth_labels`` one per coded interval, over it (spot-then-recognise), or None."""
    from ..preprocess.spotting import threshold
    from ..reporting.figures import spotting_timeline

    spotting_timeline(
        video.id,
        video.fps,
        video.first,
        scores,
        {kind: threshold(s, ps[kind]) for kind, s in scores.items()},
        [(iv.onset, iv.offset, iv.kind) for iv in video.intervals],
        [(a, b, kind) for _, a, _, b, kind in found],
        folder / f"{_safe(video.id)}.png",
        labels=labels,
        truth_labels=truth_labels,
    )


def timeline_figures(out: str | os.PathLike) -> list[Path]:
    """The timeline figure of every video of a spotting run, in video order."""
    return sorted((Path(out) / "timelines").glob("*.png"))


def _row(item: tuple) -> dict:
    """A spotted interval as stored: (video, onset, offset, kind), or :func:`_spotted`'s
    row with its peak (not stored)."""
    video, onset, *_, offset, kind = item
    return {"video": video, "onset": int(onset), "offset": int(offset), "kind": kind}


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(
        buf, fieldnames=["video", "onset", "offset", "kind"], lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def spot_report(metrics: dict) -> str:
    """report.md: our F1 with its interval beside the published methods'."""
    s = metrics["scores"]
    lines = ["# microexp spotting report", ""]
    if metrics["synthetic"]:
        lines += [
            "**Synthetic data**: these numbers check that the chain works; they are not "
            "comparable to the published ones.",
            "",
        ]
    lines += [
        f"{metrics['dataset']}: {metrics['videos']} videos, {metrics['subjects']} subjects; "
        f"coded intervals: {metrics['truth']['macro']} macro, {metrics['truth']['micro']} micro. "
        f"{metrics['protocol']}.",
        "",
        "| method | macro F1 | micro F1 | overall F1 |",
        "|---|---|---|---|",
    ]
    cells = []
    for kind in ("macro", "micro", "overall"):
        if kind in s:
            lo, hi = s[kind].get("f1_ci95", [float("nan")] * 2)
            cells.append(f"{s[kind]['f1']:.4f} [{lo:.2f}, {hi:.2f}]")
        else:
            cells.append("-")
    lines.append(f"| ours ({metrics['method']}) | " + " | ".join(cells) + " |")
    chance = metrics.get("chance_f1", {})
    lines.append(
        "| chance (same intervals, placed at random) | "
        + " | ".join(
            f"{chance[k]:.4f}" if k in chance else "-" for k in ("macro", "micro", "overall")
        )
        + " |"
    )
    for name, f1 in PUBLISHED.get(metrics["dataset"], {}).items():
        lines.append(f"| {name} (published) | " + " | ".join(f"{v:.4f}" for v in f1) + " |")
    lines += [
        "",
        "Brackets: 95 % bootstrap interval over subjects. Counts:",
        "",
        "| kind | TP | FP | FN | precision | recall |",
        "|---|---|---|---|---|---|",
    ]
    for kind in ("macro", "micro", "overall"):
        if kind in s:
            c = s[kind]
            lines.append(
                f"| {kind} | {c['tp']} | {c['fp']} | {c['fn']} | {c['precision']:.3f} | "
                f"{c['recall']:.3f} |"
            )
    if metrics.get("first_timeline"):
        lines += ["", f"![timeline of the first video](timelines/{metrics['first_timeline']})"]
    lines += ["", "Per fold (k and p chosen without the held-out subject):", ""]
    lines += [_fold_line(f) for f in metrics["folds"]]
    if metrics["excluded"]:
        lines += ["", "Excluded:"] + [f"- {e['video']}: {e['reason']}" for e in metrics["excluded"]]
    return "\n".join(lines) + "\n"


def _fold_line(fold: dict) -> str:
    line = f"- {fold['subject']}: k {fold['k']}, p {fold['p']}, {fold['spotted']} spotted"
    if fold.get("unspotted"):
        line += f"; not spotted: {', '.join(fold['unspotted'])} (no training subject codes it)"
    return line


def read_metrics(out: str | os.PathLike) -> dict:
    return read_json(Path(out) / "metrics.json")


__all__ = [
    "PUBLISHED",
    "P_GRID",
    "SpotOptions",
    "spot",
    "spot_dataset",
    "spot_report",
    "timeline_figures",
]
