from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, f1_score
from sklearn.metrics import confusion_matrix as sk_confusion

from microexp import evaluation as ev
from microexp.datasets import Sample
from microexp.errors import MicroexpError
from microexp.evaluation.loso import FoldOutput, parse_shard


def test_metrics_agree_with_sklearn() -> None:
    rng = np.random.default_rng(0)
    t = rng.integers(0, 3, 200)
    p = np.where(rng.random(200) < 0.6, t, rng.integers(0, 3, 200))
    assert ev.uf1(t, p) == pytest.approx(f1_score(t, p, average="macro"))
    assert ev.uar(t, p) == pytest.approx(balanced_accuracy_score(t, p))
    assert ev.accuracy(t, p) == pytest.approx((t == p).mean())
    assert np.array_equal(
        ev.confusion_matrix(t, p, [0, 1, 2]), sk_confusion(t, p, labels=[0, 1, 2])
    )


def test_subject_mean_accuracy_is_not_pooled() -> None:
    t = [0, 0, 0, 0, 1, 1]
    p = [0, 0, 0, 0, 0, 1]
    s = ["a", "a", "a", "a", "b", "b"]
    assert ev.subject_mean_accuracy(t, p, s) == pytest.approx((1.0 + 0.5) / 2)
    assert ev.accuracy(t, p) == pytest.approx(5 / 6)


def test_pooled_uf1_differs_from_fold_mean() -> None:
    # fold a: only class 0 present; fold b: classes 1, 2
    t = [0, 0, 1, 2, 2]
    p = [0, 1, 1, 2, 1]
    folds = ["a", "a", "b", "b", "b"]
    pooled = ev.uf1(t, p, [0, 1, 2])
    per_fold = ev.fold_mean_uf1(t, p, folds)
    tp, fp, fn = np.array([1, 1, 1]), np.array([0, 2, 0]), np.array([1, 0, 1])
    assert pooled == pytest.approx(np.mean(2 * tp / (2 * tp + fp + fn)))
    fold_a = np.mean([2 / 3, 0.0])  # classes 0 (F1 2/3) and 1 (predicted, never true: F1 0)
    fold_b = np.mean([2 / 3, 2 / 3])
    assert per_fold == pytest.approx((fold_a + fold_b) / 2)
    assert pooled != pytest.approx(per_fold)


def test_absent_class_is_explicit() -> None:
    t, p = [0, 0, 1], [0, 1, 1]
    skip = ev.uf1(t, p, labels=[0, 1, 2])  # class 2: no true, no predicted sample
    zero = ev.uf1(t, p, labels=[0, 1, 2], absent="zero")
    assert skip == pytest.approx(np.mean([2 / 3, 2 / 3]))
    assert zero == pytest.approx(np.mean([2 / 3, 2 / 3, 0]))
    with pytest.raises(ValueError, match="absent must be"):
        ev.uf1(t, p, absent="ignore")


def _samples(subjects: list[str]) -> list[Sample]:
    return [
        Sample("casme2", s, f"EP{i:02d}", "/x", "img{:d}.jpg", 1, 2, 3, "a", 200.0)
        for i, s in enumerate(subjects)
    ]


def test_loso_runner_never_trains_on_held_out_subject(tmp_path: Path) -> None:
    samples = _samples(["sub01", "sub01", "sub02", "sub02", "sub03"])
    labels = [0, 1, 0, 1, 0]
    seen = []

    def spy(train, test, fold) -> FoldOutput:
        held = {s.subject_key for s in test}
        assert held == {fold.test_subject}
        assert not held & {s.subject_key for s in train}
        seen.append((fold.test_subject, sorted(s.id for s in train)))
        return FoldOutput([0] * len(test))

    recs = ev.run_loso(samples, labels, spy, tmp_path / "run", {"a": 1}, log=lambda _: None)
    assert [r["test_subject"] for r in recs] == ["casme2/sub01", "casme2/sub02", "casme2/sub03"]
    assert len(seen) == 3 and all(
        len(train) == 5 - n for (_, train), n in zip(seen, [2, 2, 1], strict=True)
    )


def test_loso_runner_resumes_and_shards(tmp_path: Path) -> None:
    samples = _samples(["s1", "s2", "s3", "s4"])
    labels = [0, 1, 0, 1]
    calls = []

    def fp(train, test, fold) -> FoldOutput:
        calls.append(fold.index)
        return FoldOutput([fold.index % 2] * len(test), history={"accuracy": [0.5, 0.7]})

    run = tmp_path / "run"
    first = ev.run_loso(samples, labels, fp, run, {"c": 1}, shard=(1, 2), log=lambda _: None)
    assert [r["fold"] for r in first] == [0, 2] and calls == [0, 2]
    other = tmp_path / "run2"
    ev.run_loso(samples, labels, fp, other, {"c": 1}, shard=(2, 2), log=lambda _: None)
    again = ev.run_loso(samples, labels, fp, run, {"c": 1}, log=lambda _: None)
    assert calls == [0, 2, 1, 3, 1, 3]  # folds 0 and 2 were not run again
    assert [r["y_pred"] for r in again] == [[0], [1], [0], [1]]
    config, merged = ev.load_records([run, other])
    assert config == {"c": 1} and [r["fold"] for r in merged] == [0, 1, 2, 3]
    with pytest.raises(MicroexpError, match="another configuration"):
        ev.run_loso(samples, labels, fp, run, {"c": 2}, log=lambda _: None)
    rec = json.loads(next((run / "folds").glob("fold_000_*.json")).read_text())
    assert set(rec) >= {"y_true", "y_pred", "history", "config_hash", "samples"}
    # a record that is not text, or JSON that is not an object, is named and recomputed
    for junk in [b"\xff\xfe", b"[1, 2]"]:
        path = next((run / "folds").glob("fold_000_*.json"))
        path.write_bytes(junk)
        lines: list[str] = []
        ev.run_loso(samples, labels, fp, run, {"c": 1}, log=lines.append)
        assert calls[-1] == 0 and any(str(path) in line and "recomputing" in line for line in lines)
        assert json.loads(path.read_text())["fold"] == 0


def test_fold_selection_errors(tmp_path: Path) -> None:
    assert parse_shard("2/3") == (2, 3)
    for bad in ("3", "0/2", "3/2", "a/b"):
        with pytest.raises(MicroexpError, match="--shard"):
            parse_shard(bad)
    samples = _samples(["s1", "s2"])
    with pytest.raises(MicroexpError, match="there are 2 folds"):
        ev.run_loso(
            samples,
            [0, 1],
            lambda *a: FoldOutput([0]),
            tmp_path / "never",
            {},
            folds=[5],
            log=lambda _: None,
        )


def _composite() -> list[Sample]:
    return [
        Sample(d, s, f"{d}{i}", "/x", "img{:d}.jpg", 1, 2, 3, "a", 200.0)
        for i, (d, s) in enumerate(
            [("casme2", "sub01"), ("casme2", "sub02"), ("samm", "006"), ("samm", "007"),
             ("smic", "s01"), ("smic", "s01")]
        )
    ]  # fmt: skip


def test_lodo_never_trains_on_the_held_out_dataset(tmp_path: Path) -> None:
    samples = _composite()
    seen = []

    def spy(train, test, fold) -> FoldOutput:
        held = {s.dataset for s in test}
        assert held == {fold.test_subject}
        assert not held & {s.dataset for s in train}
        seen.append((fold.test_subject, len(train), len(test)))
        return FoldOutput([0] * len(test))

    recs = ev.run_loso(
        samples, [0, 1, 0, 1, 0, 1], spy, tmp_path / "run", {"a": 1}, log=lambda _: None,
        split="lodo",
    )  # fmt: skip
    assert seen == [("casme2", 4, 2), ("samm", 4, 2), ("smic", 4, 2)]
    # each sample keeps its own subject for subject-level statistics
    assert ev.sample_subjects(recs) == [s.subject_key for s in samples]
    with pytest.raises(ValueError, match="needs a composite"):
        ev.run_loso(samples[:2], [0, 1], spy, tmp_path / "r2", {}, split="lodo")
    with pytest.raises(MicroexpError, match="unknown split"):
        ev.run_loso(samples, [0] * 6, spy, tmp_path / "r3", {}, split="kfold")


def test_megc_log_and_per_dataset_scores() -> None:
    from microexp.evaluation.megc import megc_log_lines, per_dataset_scores

    records = [
        {"samples": ["casme2/sub01/EP01", "casme2/sub01/EP02"], "y_true": [0, 1], "y_pred": [0, 0]},
        {"samples": ["samm/006/006_1_2"], "y_true": [2], "y_pred": [2]},
    ]
    assert megc_log_lines(records) == [
        "casme2 sub01", "EP01 0 0", "EP02 1 0", "samm 006", "006_1_2 2 2",
    ]  # fmt: skip
    rng = np.random.default_rng(1)
    ids = [f"{d}/s/c{i}" for i, d in enumerate(["casme2"] * 30 + ["samm"] * 20 + ["smic"] * 25)]
    t = rng.integers(0, 3, 75)
    p = np.where(rng.random((2, 75)) < 0.6, t, rng.integers(0, 3, (2, 75)))
    got = per_dataset_scores(ids, t, p)
    for d, sl in (("casme2", slice(0, 30)), ("samm", slice(30, 50)), ("smic", slice(50, 75))):
        f1 = np.mean([f1_score(t[sl], q[sl], average="macro") for q in p])
        ua = np.mean([balanced_accuracy_score(t[sl], q[sl]) for q in p])
        assert got[d]["pooled_uf1"] == pytest.approx(f1)
        assert got[d]["pooled_uar"] == pytest.approx(ua)
        assert got[d]["samples"] == sl.stop - sl.start
    assert per_dataset_scores(ids[:30], t[:30], p[:, :30]) == {}


def test_each_fold_line_gives_the_time_left(tmp_path: Path) -> None:
    """One line per fold; all but the last say how long the rest should take (the mean time of
    the folds computed so far times the folds left)."""
    samples = _samples(["s1", "s2", "s3"])
    lines: list[str] = []
    ev.run_loso(
        samples,
        [0, 1, 0],
        lambda tr, te, f: FoldOutput([0] * len(te)),
        tmp_path,
        {},
        log=lines.append,
    )
    assert len(lines) == 3
    assert all(re.search(r"\(\d+ s; about \d+ s left\)$", ln) for ln in lines[:2]), lines
    assert lines[2].endswith(" s)")
    from microexp.evaluation.loso import _remaining

    assert _remaining([120.0, 60.0], 3) == "; about 4 min left"
