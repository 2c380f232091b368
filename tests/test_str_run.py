"""Spot-then-recognise under LOSO (microexp str) on synthetic long videos, and the long-video
loaders it reads: CAS(ME)^3 Part A's long videos, SAMM-LV's emotions from SAMM's sheet."""

from __future__ import annotations

import csv
import json

import pytest

from microexp.datasets import load
from microexp.errors import MicroexpError
from microexp.synthetic import generate_long


def _truth_csv(root) -> list[dict]:
    with open(root / "synthetic_truth.csv", newline="") as fh:
        return [r for r in csv.DictReader(fh) if r["kind"] in ("micro", "macro")]


def test_casme3_long_videos_read_both_annotation_files(tmp_path) -> None:
    root = generate_long("casme3_lv", tmp_path / "c3", "tiny", 0)
    result = load("casme3_lv", root)
    coded = {(r["video"], int(r["onset"]), r["kind"], r["label"]) for r in _truth_csv(root)}
    got = {
        (f"{v.subject}/{v.video}", iv.onset, iv.kind, iv.label)
        for v in result.videos
        for iv in v.intervals
    }
    assert got == coded and {k for _, _, k, _ in got} == {"micro", "macro"}
    assert all(v.fps == 30.0 for v in result.videos)
    (root / "annotation" / "cas(me)3_part_A_MaE_label_JpgIndex_v2_emotion.xlsx").unlink()
    micro_only = load("casme3_lv", root)
    assert all(iv.kind == "micro" for v in micro_only.videos for iv in v.intervals)
    assert any("no macro-expression file" in n.reason for n in micro_only.notes)


def test_casme3_clip_cut_distribution_is_refused_in_one_line(tmp_path) -> None:
    root = generate_long("casme3_lv", tmp_path / "c3", "tiny", 0)
    clips = tmp_path / "clips"
    (clips / "Part_A_ME_clip" / "frame" / "spNO.1_a_47").mkdir(parents=True)
    (clips / "annotation").mkdir()
    for f in (root / "annotation").iterdir():
        (clips / "annotation" / f.name).write_bytes(f.read_bytes())
    with pytest.raises(MicroexpError, match="hold no long video"):
        load("casme3_lv", clips)


def test_samm_lv_micro_intervals_take_samms_estimated_emotion(tmp_path) -> None:
    root = generate_long("samm_lv", tmp_path / "lv", "tiny", 0)
    truth = {(r["video"], int(r["offset"])): r["label"] for r in _truth_csv(root)
             if r["kind"] == "micro"}  # fmt: skip
    result = load("samm_lv", root)
    got = {(v.video, iv.offset): iv.label for v in result.videos for iv in v.intervals
           if iv.kind == "micro"}  # fmt: skip
    assert got == truth and all(got.values())
    sheet = root / "SAMM_Micro_FACS_Codes_v2.xlsx"
    moved = tmp_path / "samm" / sheet.name
    moved.parent.mkdir()
    sheet.rename(moved)
    assert not any(iv.label for v in load("samm_lv", root).videos for iv in v.intervals)
    from microexp.experiments.str_run import spot_then_recognise

    with pytest.raises(
        MicroexpError, match=r"no coded micro-expression has an emotion .*--emotions"
    ):
        spot_then_recognise("samm_lv", tmp_path / "out", root, preset="tiny", log=print)
    given = load("samm_lv", root, emotions=moved.parent)
    assert {(v.video, iv.offset): iv.label for v in given.videos for iv in v.intervals
            if iv.kind == "micro"} == truth  # fmt: skip


def test_an_unknown_emotion_is_named_before_any_work() -> None:
    from microexp.experiments.str_run import analysis_label, str_protocol

    rule = str_protocol("casme3_lv").datasets["casme3_lv"]
    assert analysis_label(rule, "sad", "x") == "negative"
    assert analysis_label(rule, "others", "x") is None and analysis_label(rule, "", "x") is None
    with pytest.raises(MicroexpError, match="v/1 interval 5-9: emotion 'joy' is not one of"):
        analysis_label(rule, "joy", "v/1 interval 5-9")
    with pytest.raises(MicroexpError, match="unknown spot-then-recognise dataset"):
        str_protocol("casme2")


@pytest.mark.xdist_group("str")
def test_str_runs_sharded_resumes_and_its_files_rescore_to_its_metrics(tmp_path) -> None:
    """Tiny synthetic CAS(ME)^3: shard 1/2 then 2/2 give the report; the recogniser of each
    fold trains on the other subject's coded micro-expressions only; predictions.csv and
    truth.csv, scored by ``microexp strs``' reader, give metrics.json's numbers."""
    from microexp.evaluation.strs import strs_files
    from microexp.experiments.str_run import spot_then_recognise

    out, lines = tmp_path / "str", []
    first = spot_then_recognise("casme3_lv", out, preset="tiny", log=lines.append, shard=(1, 2))
    assert first.name == "folds" and not (out / "metrics.json").exists()
    report = spot_then_recognise("casme3_lv", out, preset="tiny", log=lines.append, shard=(2, 2))
    assert report.name == "report.md" and "done before, reused" not in "".join(lines)
    again: list[str] = []
    spot_then_recognise("casme3_lv", out, preset="tiny", log=again.append)
    assert sum("done before, reused" in line for line in again) == 2
    m = json.loads((out / "metrics.json").read_text())
    assert m["subjects"] == 2 and m["truths"] == 2 and m["classes"] == [
        "negative", "positive", "surprise"]  # fmt: skip
    for fold in m["folds"]:
        assert fold["train_micro"] == 1  # the other subject's one coded micro-expression
    assert set(m["ci95"]) == {"strs", "spotting_f1", "analysis_f1"}
    assert set(m["baselines"]) == {"majority class on our intervals",
                                   "chance spotter, majority class"}  # fmt: skip
    assert "MEGC 2025 baseline, challenge test set" in m["reported"]
    rescored = strs_files(out / "predictions.csv", out / "truth.csv", m["classes"])
    assert rescored["strs"] == m["headline"]["strs"] == m["scores"]["strs"]
    assert rescored["spotting"] == m["scores"]["spotting"]
    text = report.read_text()
    assert "| ours |" in text and "(reported)" in text and "timelines/" in text
    assert len(list((out / "timelines").glob("*.png"))) == 2


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["samm_lv", "casme_sq"])
def test_str_end_to_end_on_the_other_long_video_datasets(tmp_path, dataset) -> None:
    from microexp.experiments.str_run import spot_then_recognise

    report = spot_then_recognise(dataset, tmp_path / dataset, preset="tiny", log=lambda m: None)
    m = json.loads((report.parent / "metrics.json").read_text())
    assert m["truths"] > 0 and 0 <= m["headline"]["strs"] <= 1
    assert ("(reported)" in report.read_text()) == (dataset == "samm_lv")
