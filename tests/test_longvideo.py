"""Long videos: loaders (owners' layouts and quirks), synthetic long videos, the spotter, and
``microexp spot``."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from microexp import datasets as ds
from microexp.cli import main
from microexp.errors import MicroexpError
from microexp.synthetic import generate_long
from microexp.synthetic.layout import LongVideo, write_casme_sq, write_samm_lv


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("long")
    return {d: generate_long(d, base / d, preset="tiny") for d in ("casme_sq", "samm_lv")}


def _truth(root: Path) -> list[dict]:
    with (root / "synthetic_truth.csv").open() as fh:
        return [r for r in csv.DictReader(fh) if r["kind"] != "blink"]


@pytest.mark.parametrize("dataset", ["casme_sq", "samm_lv"])
def test_synthetic_long_videos_are_read_back_with_their_intervals(synth, dataset):
    result = ds.load(dataset, synth[dataset])
    assert isinstance(result, ds.LongVideoResult) and result.synthetic
    assert len(result.videos) == 2 and not result.excluded
    truth = _truth(synth[dataset])
    got = [(iv.kind, iv.onset, iv.offset) for v in result.videos for iv in v.intervals]
    want = [(t["kind"], int(t["onset"]), int(t["offset"])) for t in truth]
    assert len(got) == len(want) == 4
    assert {k for k, *_ in got} == {"macro", "micro"}
    # one row per dataset carries a release quirk that the loader resolves (and notes)
    reasons = " ".join(n.reason for n in result.notes)
    if dataset == "casme_sq":  # the second row's offset 0: the apex stands in
        assert "offset 0 (not coded)" in reasons
        assert sum(g != w for g, w in zip(got, want, strict=True)) == 1
    else:  # fractional onset rounded back to the truth; apex -1 not annotated
        assert "fractional; rounded" in reasons and "apex -1" in reasons
        assert got == want
    # every interval is also a sample labelled by its kind, for `data summary`
    summary = ds.summarize(result)
    assert summary["classes"] == {"macro": 2, "micro": 2}
    first = result.videos[0]
    assert first.frame_path(first.first).is_file() and first.frame_path(first.last).is_file()


def test_samm_lv_padding_differs_per_video(synth):
    result = ds.load("samm_lv", synth["samm_lv"])
    patterns = sorted(v.frame_pattern for v in result.videos)
    assert patterns == ["006_1_{:05d}.jpg", "007_1_{:04d}.jpg"]


def test_synthetic_long_videos_are_deterministic_and_reused(tmp_path, synth):
    again = generate_long("casme_sq", tmp_path / "c", preset="tiny")
    a = (synth["casme_sq"] / "CAS(ME)^2code_final.xlsx").read_bytes()
    assert (again / "CAS(ME)^2code_final.xlsx").read_bytes() == a
    assert generate_long("casme_sq", again, preset="tiny") == again  # reused, not rewritten
    with pytest.raises(MicroexpError, match="not empty"):
        generate_long("samm_lv", again, preset="tiny")


def _write_casme_sq(root: Path, offset_past_end: bool = False) -> None:
    events = [
        {"kind": "macro", "label": "positive", "aus": ("AU12",), "onset": 2, "apex": 4, "offset": 6},
        {"kind": "micro", "label": "negative", "aus": ("AU4",), "onset": 8, "apex": 9,
         "offset": 14 if offset_past_end else 10},
    ]  # fmt: skip
    frames = np.zeros((12, 8, 8), np.uint8)
    write_casme_sq(root, [LongVideo(1, 1, frames, events)])


def test_casme_sq_without_naming_sheets_uses_the_documented_map(tmp_path):
    _write_casme_sq(tmp_path)
    import openpyxl

    path = tmp_path / "CAS(ME)^2code_final.xlsx"
    wb = openpyxl.load_workbook(path)
    del wb["naming rule1"], wb["naming rule2"]
    wb.save(path)
    result = ds.load("casme_sq", tmp_path)
    assert [v.id for v in result.videos] == ["casme_sq/s15/15_0101disgustingteeth"]
    reasons = [n.reason for n in result.notes]
    assert any("no 'naming rule1'" in r for r in reasons)
    assert any("no 'naming rule2'" in r for r in reasons)


def test_casme_sq_bad_input_is_one_line(tmp_path):
    with pytest.raises(MicroexpError, match="casme_sq root does not exist"):
        ds.load("casme_sq", tmp_path / "missing")
    tmp_path.joinpath("rawpic").mkdir()
    with pytest.raises(MicroexpError, match=r"no CAS\(ME\)\^2 coding file"):
        ds.load("casme_sq", tmp_path)
    _write_casme_sq(tmp_path / "x")
    import openpyxl

    path = tmp_path / "x" / "CAS(ME)^2code_final.xlsx"
    wb = openpyxl.load_workbook(path)
    ws = wb["CASFEcode_final"]
    for row in ws.iter_rows(min_row=1, min_col=8, max_col=8):
        row[0].value = "blink"
    wb.save(path)
    with pytest.raises(MicroexpError, match="no column of 'macro-expression'"):
        ds.load("casme_sq", tmp_path / "x")


def test_casme_sq_missing_video_folder_is_excluded(tmp_path):
    _write_casme_sq(tmp_path)
    import shutil

    shutil.rmtree(tmp_path / "rawpic" / "s15" / "15_0101disgustingteeth")
    result = ds.load("casme_sq", tmp_path)
    assert not result.videos and len(result.excluded) == 2
    assert "no folder *_0101*" in result.excluded[0].reason


def test_samm_lv_offset_past_the_end_is_clipped(tmp_path):
    events = [{"kind": "micro", "label": "", "aus": ("AU4",), "onset": 3, "apex": 5, "offset": 30}]
    write_samm_lv(tmp_path, [LongVideo(1, 1, np.zeros((12, 8, 8), np.uint8), events)])
    result = ds.load("samm_lv", tmp_path)
    (iv,) = result.videos[0].intervals
    assert (iv.onset, iv.offset) == (4, 12)  # written 1-based; the last frame is 12
    assert any("past the last frame 12; clipped" in n.reason for n in result.notes)
    with pytest.raises(MicroexpError, match="no SAMM_longvideos folder"):
        sheet = tmp_path / "SAMM_LongVideos_V3_Release.xlsx"
        ds.load("samm_lv", tmp_path / "SAMM_longvideos" / "006_1", coding=sheet)


def test_mixed_width_padding_keeps_the_shortest_width(tmp_path):
    from microexp.datasets.base import index_frames

    for n in (1, 99, 100, 1000):
        (tmp_path / f"img{n:03d}.jpg").write_bytes(b"")
    idx = index_frames(tmp_path)
    assert idx.pattern == "img{:03d}.jpg" and idx.numbers == (1, 99, 100, 1000)
    assert all((tmp_path / idx.pattern.format(n)).exists() for n in idx.numbers)


# ------------------------------------------------------------------------------- spotting


def test_find_intervals_on_known_bumps():
    from microexp.preprocess.spotting import find_intervals, threshold

    s = np.zeros(100, np.float32)
    s[20], s[60], s[62] = 1.0, 0.8, 0.7  # two events; 62 is within k of 60
    assert threshold(s, 0.5) == pytest.approx(s.mean() + 0.5 * (1.0 - s.mean()))
    assert find_intervals(s, 5, 0.5) == [(15, 20, 25), (55, 60, 65)]
    assert find_intervals(s, 5, 0.9) == [(15, 20, 25)]
    assert find_intervals(np.zeros(10), 3, 0.5) == []
    assert find_intervals(s, 30, 0.5)[0] == (0, 20, 50)  # clipped to the video


def test_spotter_finds_the_synthetic_macro_expressions(synth):
    from microexp.preprocess.spotting import image_reader, video_scores

    result = ds.load("casme_sq", synth["casme_sq"])
    video = result.videos[0]
    macro = next(iv for iv in video.intervals if iv.kind == "macro")
    paths = video.frame_paths()
    scores, track = video_scores(image_reader(paths), len(paths), video.fps, {"macro": 20})
    assert track.first_face == 0 and len(track.boxes) == 1
    peak = int(np.argmax(scores["macro"])) + video.first
    assert macro.onset <= peak <= macro.offset


def test_face_found_late_and_no_face(synth):
    from microexp.preprocess.frames import SampleExcluded
    from microexp.preprocess.spotting import image_reader, track_face

    video = ds.load("samm_lv", synth["samm_lv"]).videos[0]
    paths = video.frame_paths()[:40]
    read = image_reader(paths)
    blank = np.full_like(read(0), 128)
    track = track_face(lambda i: blank if i < 25 else read(i), len(paths), check_every=20)
    assert 25 <= track.first_face <= 26  # searched every 2nd frame until found
    assert (track.segments[: track.first_face] == -1).all()
    with pytest.raises(SampleExcluded, match="no face found"):
        track_face(lambda i: blank, 10, check_every=5, what="clip.mp4")


def test_spot_dataset_loso_outputs_and_resume(synth, tmp_path, monkeypatch):
    from microexp.experiments import spotting

    out = tmp_path / "spot"
    report = spotting.spot_dataset("samm_lv", synth["samm_lv"], out)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["truth"] == {"macro": 2, "micro": 2} and metrics["synthetic"]
    assert metrics["scores"]["macro"]["tp"] >= 1  # the large expressions are found
    assert set(metrics["scores"]) == {"macro", "micro", "overall"}
    # k of each fold comes from the other subject's coded durations only
    videos = ds.load("samm_lv", synth["samm_lv"]).videos
    for fold in metrics["folds"]:
        others = [v for v in videos if v.subject_key != fold["subject"]]
        assert fold["k"]["macro"] == ds.half_length(ds.mean_length(others, "macro"))
        assert 0 < fold["p"]["micro"] < 1
    rows = json.loads((out / "intervals.json").read_text())
    assert rows and all(r["onset"] >= 1 and r["offset"] >= r["onset"] for r in rows)
    text = report.read_text()
    assert "Synthetic data" in text and "SOFTNet (published) | 0.2169" in text
    # a second run reads every score from the cache: nothing is recomputed
    monkeypatch.setattr(
        "microexp.preprocess.spotting.video_scores",
        lambda *a, **k: (_ for _ in ()).throw(AssertionError("recomputed")),
    )
    spotting.spot_dataset("samm_lv", synth["samm_lv"], out)
    assert json.loads((out / "metrics.json").read_text())["scores"] == metrics["scores"]
    assert len(list((out / "folds").glob("fold_*.json"))) == 2  # the LOSO runner's records
    with pytest.raises(MicroexpError, match="holds another configuration"):
        spotting.spot_dataset("samm_lv", synth["samm_lv"], out, spotting.SpotOptions(p=0.3))
    # other frames under the same video ids are refused before any scoring, not mixed
    other = shutil.copytree(synth["samm_lv"], tmp_path / "other", copy_function=shutil.copy)
    frame = next(p for p in sorted(other.rglob("*")) if p.suffix in (".jpg", ".png", ".bmp"))
    frame.write_bytes(frame.read_bytes() + b"\0")
    with pytest.raises(MicroexpError, match=r"differs in data\.fingerprint"):
        spotting.spot_dataset("samm_lv", other, out)


def test_spot_cli_errors_exit_2(tmp_path, capsys):
    assert main(["spot", "--dataset", "casme2", "--out", str(tmp_path)]) == 2
    assert main(["spot", "--dataset", "samm_lv", "--root", str(tmp_path / "no")]) == 2
    assert main(["spot", "--dataset", "samm_lv", "--p", "2", "--root", str(tmp_path)]) == 2
    # an unknown preset is refused whatever the method and data (no silent default)
    assert main(["spot", "--dataset", "samm_lv", "--root", str(tmp_path), "--preset", "huge",
                 "--method", "flow"]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("microexp: error:") for line in err)
    assert "unknown long-video dataset 'casme2'" in err[0]
    assert "samm_lv root does not exist" in err[1]
    assert "--p 2.0: expected a fraction" in err[2]
    assert "unknown preset 'huge'; expected one of: demo, paper, tiny" in err[3]


def test_spot_cli_runs_on_a_root(synth, tmp_path, capsys):
    out = tmp_path / "o"
    code = main(["spot", "--dataset", "casme_sq", "--root", str(synth["casme_sq"]), "--out",
                 str(out), "--p", "0.5", "--json"])  # fmt: skip
    assert code == 0
    metrics = json.loads(capsys.readouterr().out)
    assert all(f["p"] == {"macro": 0.5, "micro": 0.5} for f in metrics["folds"])
    assert (out / "intervals.csv").read_text().startswith("video,onset,offset,kind\n")
    # cached scores cut short (still loadable) are computed again, not read as the video's
    for path in (out / "scores").glob("*/*.npy"):
        np.save(path, np.load(path)[:5])
    shutil.rmtree(out / "folds")
    assert main(["spot", "--dataset", "casme_sq", "--root", str(synth["casme_sq"]), "--out",
                 str(out), "--p", "0.5", "--json"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["scores"] == metrics["scores"]
    assert all(len(np.load(p)) > 5 for p in (out / "scores").glob("*/*.npy"))


def _spot_copy(synth: Path, tmp_path: Path, subjects: int = 2) -> Path:
    """A copy of the tiny CAS(ME)^2 tree (or a new one with more subjects)."""
    if subjects == 2:
        return shutil.copytree(synth, tmp_path / "copy")
    return generate_long("casme_sq", tmp_path / "copy", preset="tiny", subjects=subjects)


def test_spot_with_a_subject_whose_videos_are_all_excluded(synth, tmp_path):
    """Its fold is skipped and the video listed; with one subject left it is a one-line error."""
    from microexp.experiments import spotting

    root = _spot_copy(synth["casme_sq"], tmp_path, subjects=3)
    bad = root / "rawpic" / "s15" / "15_0101disgustingteeth" / "img050.jpg"
    bad.write_text("junk\n")
    report = spotting.spot_dataset("casme_sq", root, tmp_path / "o", log=lambda _: None)
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert (metrics["videos"], metrics["subjects"], len(metrics["folds"])) == (2, 2, 2)
    assert metrics["excluded"][0]["video"] == "casme_sq/s15/15_0101disgustingteeth"
    assert "unreadable or missing frame" in report.read_text()
    assert len(spotting.timeline_figures(tmp_path / "o")) == 2
    shutil.rmtree(root / "rawpic" / "s19")  # now one subject is left
    with pytest.raises(MicroexpError) as err:
        spotting.spot_dataset("casme_sq", root, tmp_path / "o2", log=lambda _: None)
    msg = str(err.value)
    assert "\n" not in msg and "1 video(s) of 1 subject(s)" in msg
    assert "15_0101disgustingteeth: unreadable or missing frame" in msg
    assert "needs at least 2 subjects" in msg


def test_spot_with_every_video_excluded_is_a_one_line_error(synth, tmp_path):
    from microexp.experiments import spotting

    root = _spot_copy(synth["casme_sq"], tmp_path)
    for folder in (root / "rawpic").glob("s*/*"):
        (folder / "img050.jpg").write_text("junk\n")
    with pytest.raises(MicroexpError, match="0 video.s. of 0 subject.s. to spot .2 exclusion"):
        spotting.spot_dataset("casme_sq", root, tmp_path / "o", log=lambda _: None)
    for folder in (root / "rawpic").glob("s*/*"):  # no video found, and --p given: refused
        shutil.rmtree(folder)  # before any scoring
    with pytest.raises(MicroexpError, match="0 video.s. of 0 subject.s. to spot .* no folder"):
        spotting.spot_dataset("casme_sq", root, tmp_path / "o2", spotting.SpotOptions(p=0.5))
    assert not (tmp_path / "o2").exists()


def test_spot_fold_whose_training_subjects_code_nothing(synth, tmp_path):
    """No k for any kind: the fold spots nothing, says why, and its timeline has a note."""
    import openpyxl

    from microexp.experiments import spotting

    root = _spot_copy(synth["casme_sq"], tmp_path)
    path = root / "CAS(ME)^2code_final.xlsx"
    wb = openpyxl.load_workbook(path)
    for row in wb["CASFEcode_final"].iter_rows(min_row=1):
        if row[0].value == 1:  # subject s15's intervals: past its last frame (excluded)
            row[2].value, row[3].value, row[4].value = 9000, 9001, 9002
    wb.save(path)
    lines: list[str] = []
    report = spotting.spot_dataset("casme_sq", root, tmp_path / "o", log=lines.append)
    assert any(x.startswith("[data] casme_sq: excluded casme_sq/s15") for x in lines), lines
    folds = {f["subject"]: f for f in spotting.read_metrics(tmp_path / "o")["folds"]}
    assert folds["casme_sq/s16"]["k"] == {} and folds["casme_sq/s16"]["spotted"] == 0
    assert folds["casme_sq/s16"]["unspotted"] == ["macro", "micro"]
    assert folds["casme_sq/s15"]["unspotted"] == []
    assert "not spotted: macro, micro (no training subject codes it)" in report.read_text()
    assert len(spotting.timeline_figures(tmp_path / "o")) == 2


def test_timeline_without_scores_is_one_row_with_a_note(tmp_path):
    from microexp.reporting.figures import spotting_timeline

    out = spotting_timeline("v", 30.0, 1, {}, {}, [(5, 20, "macro")], [], tmp_path / "t.png")
    assert out.is_file() and out.stat().st_size > 0


# -------------------------------------------------------------------------------- SOFTNet


def test_softnet_builds_and_regresses():
    import keras

    from microexp.models import build_softnet

    model = build_softnet(42)
    assert model.output_shape == (None, 1) and model.input_shape == (None, 42, 42, 3)
    # three 3x3 streams (3, 5, 8 filters) -> 14 x 14 x 16 -> pool 7 x 7 x 16 -> 400 -> 1
    assert model.count_params() == (3 + 5 + 8) * (27 + 1) + (7 * 7 * 16 + 1) * 400 + 401
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 42, 42, 3)).astype(np.float32)
    y = (x[:, :21, :, 0].mean(axis=(1, 2)) > 0).astype(np.float32)
    keras.utils.set_random_seed(0)
    model.compile(keras.optimizers.Adam(5e-4), "mse")
    hist = model.fit(x, y, epochs=15, batch_size=16, verbose=0).history["loss"]
    assert hist[-1] < 0.5 * hist[0]


def test_softnet_pseudo_labels_mark_windows_that_overlap_an_interval():
    from microexp.datasets.longvideo import Interval, LongVideo
    from microexp.experiments.spotting import SoftnetScorer, SpotOptions

    video = LongVideo("d", "s", "v", "/x", "{:d}.jpg", 1, 40, 30.0,
                      (Interval(11, 13, 15, "micro"), Interval(30, 33, 36, "macro")))  # fmt: skip
    scorer = SoftnetScorer(Path("/tmp/unused"), SpotOptions(method="softnet"), print)
    # windows start at frames 0, 2, 4... (0-based, step 2) and span k = 4 frames; the micro
    # interval covers 0-based frames 10-14: windows starting at 6 ... 14 overlap it
    y = scorer._labels(video, "micro", 4, 20, 2)
    assert np.flatnonzero(y).tolist() == [3, 4, 5, 6, 7]
    assert np.flatnonzero(scorer._labels(video, "macro", 4, 20, 2)).tolist() == [13, 14, 15, 16, 17]


def test_spot_softnet_runs_loso_and_resumes(synth, tmp_path, monkeypatch):
    from microexp.experiments import spotting

    out = tmp_path / "sn"
    opts = spotting.SpotOptions(method="softnet", epochs=2)
    spotting.spot_dataset("samm_lv", synth["samm_lv"], out, opts, log=lambda _: None)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"].startswith("SOFTNet") and len(metrics["folds"]) == 2
    assert len(list((out / "folds").glob("fold_*.json"))) == 2
    assert len(list((out / "features").glob("*/*.npz"))) >= 4  # 2 videos x (macro, micro) k
    monkeypatch.setattr(
        spotting.SoftnetScorer, "_train", lambda *a: (_ for _ in ()).throw(AssertionError)
    )
    monkeypatch.setattr(  # every feature is read back from the cache, none recomputed
        "microexp.preprocess.spotting.sampled_track",
        lambda *a, **k: (_ for _ in ()).throw(AssertionError("recomputed")),
    )
    spotting.spot_dataset("samm_lv", synth["samm_lv"], out, opts, log=lambda _: None)
    assert json.loads((out / "metrics.json").read_text())["scores"] == metrics["scores"]


def test_data_summary_counts_intervals(synth, capsys):
    assert main(["data", "summary", "--dataset", "casme_sq", "--root", str(synth["casme_sq"]),
                 "--json"]) == 0  # fmt: skip
    summary = json.loads(capsys.readouterr().out)
    assert summary["classes"] == {"macro": 2, "micro": 2} and summary["synthetic"]
    assert summary["subjects"] == 2


def test_face_lost_then_found_elsewhere_starts_a_new_segment(synth):
    from microexp.preprocess.spotting import image_reader, motion_scores, track_face

    video = ds.load("samm_lv", synth["samm_lv"]).videos[0]
    read = image_reader(video.frame_paths())
    blank = np.full_like(read(0), 128)

    def frame(i: int) -> np.ndarray:  # the face, then nobody, then the face 30 px to the right
        return read(i) if i < 40 else blank if i < 60 else np.roll(read(i), 30, axis=1)

    track = track_face(frame, 100, check_every=10)
    assert len(track.boxes) == 2 and track.first_face == 0
    assert track.boxes[1].x0 - track.boxes[0].x0 == pytest.approx(30, abs=3)
    assert (track.segments[:60] == 0).all() and (track.segments[60:] == 1).all()
    # no flow is taken across the two positions: the score is 0 where the pair straddles them
    s = motion_scores(track, 5)
    assert (s[55:65] == 0).all()


# ------------------------------------------------------------------------------- timeline


def _atscnn_run(base: Path) -> Path:
    """An (untrained) ATSCNN saved as a reproduce run lays it out, on synthetic data."""
    from dataclasses import asdict

    from microexp.experiments import get_paper
    from microexp.experiments.runner import recipe_of
    from microexp.models import build_model

    recipe = recipe_of(get_paper("atscnn").experiments[0], "tiny")
    run = base / "runs" / "atscnn"
    run.mkdir(parents=True)
    build_model("atscnn", num_classes=3, input_size=recipe.size).save(run / "model.keras")
    classes = ["negative", "positive", "surprise"]
    (run / "config.json").write_text(json.dumps({"recipe": asdict(recipe), "classes": classes}))
    (base / "data.json").write_text(json.dumps({"casme2": {"root": "x", "synthetic": True}}))
    return run / "model.keras"


def test_predict_timeline_on_a_long_video(synth, tmp_path, capsys):
    """A long video: the face is found late, intervals are spotted and each is classified."""
    import shutil

    import cv2

    video = ds.load("casme_sq", synth["casme_sq"]).videos[0]
    folder = tmp_path / "frames"
    shutil.copytree(video.frames_dir, folder)
    for n in range(1, 16):  # the face enters after 15 frames
        cv2.imwrite(str(folder / video.frame_pattern.format(n)), np.full((168, 202), 90, np.uint8))
    model = _atscnn_run(tmp_path / "out")
    assert main(["predict", "--model", str(model), str(folder), "--fps", "30", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["frames"] == video.frames and out["fps"] == 30 and out["synthetic_model"]
    assert 15 <= out["first_face"] <= 18
    assert out["intervals"], "nothing spotted"
    for e in out["intervals"]:
        assert e["kind"] in ("macro", "micro") and e["predicted"] in out["classes"]
        assert out["first_face"] <= e["onset"] <= e["peak"] <= e["offset"] < video.frames
        assert e["end_s"] == pytest.approx((e["offset"] + 1) / 30, abs=1e-3)
        assert sum(e["probabilities"]) == pytest.approx(1, abs=1e-3)
    macro = next(iv for iv in video.intervals if iv.kind == "macro")  # 1-based frames
    assert any(
        e["kind"] == "macro" and macro.onset <= e["peak"] + 1 <= macro.offset
        for e in out["intervals"]
    )
    assert main(["predict", "--model", str(model), str(folder), "--fps", "30"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert "interval(s) spotted" in text[0] and "SYNTHETIC" in text[1]
    assert len(text) == 2 + len(out["intervals"])
    # --single: the whole video as one expression, as before
    argv = ["predict", "--model", str(model), str(folder), "--single", "--fps", "30", "--json"]
    assert main(argv) == 0
    single = json.loads(capsys.readouterr().out)  # onset: the first frame with a face
    assert single["onset"] == 15 and single["offset"] == video.frames - 1
    assert main(["predict", "--model", str(model), str(folder), "--timeline", "--apex", "3"]) == 2
    assert "drop --onset/--apex/--offset" in capsys.readouterr().err


def test_long_video_draws_are_pinned_to_the_generator_version(synth):
    from microexp.synthetic import draws_digest
    from microexp.synthetic.generator import GENERATOR_VERSION

    got = {d: draws_digest(root) for d, root in synth.items()}
    assert GENERATOR_VERSION == 5, "new version: update these digests"
    assert got == {"casme_sq": "64e80490c6e50987", "samm_lv": "5f0344131b92b948"}, (
        f"draws changed without a version bump: {got}"
    )


def test_spotting_caches_are_keyed_by_the_frames(tmp_path):
    """A video's cached scores and features are named by its frames' fingerprint (name, size,
    modification time): other frames under the same video id (another copy, a re-generated
    tree) get new files, never the old ones, which are removed once replaced; the same frames
    moved elsewhere keep theirs."""
    import os
    import shutil

    from microexp.experiments import spotting
    from microexp.fileio import files_fingerprint

    folder = tmp_path / "v"
    folder.mkdir()
    for n in range(1, 4):
        (folder / f"img{n}.jpg").write_bytes(bytes(n))
    video = ds.LongVideo("samm_lv", "006", "006_1", str(folder), "img{:d}.jpg", 1, 3, 200.0)
    paths = video.frame_paths()
    key = files_fingerprint(paths, 200.0)
    assert key != files_fingerprint(paths, 100.0)  # a field
    moved = shutil.copytree(folder, tmp_path / "w", copy_function=shutil.copy2)  # times kept
    assert files_fingerprint(sorted(moved.iterdir()), 200.0) == key
    opts = spotting.SpotOptions()
    kinds = (spotting.ScoreCache, spotting.FeatureCache)
    caches = [c(tmp_path / "c", opts) for c in kinds]
    for cache in caches:
        for k in (5, 50):
            cache.store(video, k, lambda fh, k=k: np.save(fh, np.arange(k)))
    before = [c.path(video, 5) for c in caches]
    kept = [c.path(video, 50) for c in caches]
    (folder / "img2.jpg").write_bytes(b"another frame")
    caches = [c(tmp_path / "c", opts) for c in kinds]
    after = [c.path(video, 5) for c in caches]
    assert all(a != b and a.parent == b.parent for a, b in zip(after, before, strict=True))
    # an entry written from the new frames removes the same entry made from the old ones only
    for cache in caches:
        cache.store(video, 5, lambda fh: np.save(fh, np.zeros(3)))
    assert all(p.is_file() for p in after + kept) and not any(p.exists() for p in before)
    changed = files_fingerprint(paths, 200.0)
    os.remove(folder / "img3.jpg")  # a missing frame is a state of its own
    assert files_fingerprint(paths, 200.0) not in {key, changed}


def _cache_video(tmp_path: Path, frames: int = 6, fps: float = 200.0) -> ds.LongVideo:
    folder = tmp_path / "v"
    folder.mkdir()
    for n in range(1, frames + 1):
        (folder / f"img{n}.jpg").write_bytes(bytes(n))
    return ds.LongVideo("samm_lv", "006", "006_1", str(folder), "img{:d}.jpg", 1, frames, fps)


@pytest.mark.parametrize(
    "content",
    [np.arange(5.0), np.arange(7.0), np.zeros((6, 1)), np.arange(6), b"", b"\x93NUMPY"],
    ids=["short", "long", "2-d", "ints", "empty", "truncated"],
)
def test_score_cache_recomputes_entries_that_do_not_fit_the_video(tmp_path, monkeypatch, content):
    from microexp.experiments import spotting

    video = _cache_video(tmp_path)
    cache = spotting.ScoreCache(tmp_path / "c", spotting.SpotOptions())
    good = np.linspace(0, 1, 6, dtype=np.float32)
    calls = []

    def fake_scores(read, n, fps, ks, *a, **k):
        calls.append(n)
        return {name: good for name in ks}, None

    monkeypatch.setattr("microexp.preprocess.spotting.video_scores", fake_scores)
    if isinstance(content, bytes):
        cache.store(video, 4, lambda fh: fh.write(content))
    else:
        cache.store(video, 4, lambda fh: np.save(fh, content))
    assert cache.cached_scores(video, 4) is None
    assert np.array_equal(cache.scores(video, {4})[4], good) and calls == [6]
    assert np.array_equal(cache.scores(video, {4})[4], good) and calls == [6]  # now read back


def test_feature_cache_recomputes_entries_of_other_shapes(tmp_path, monkeypatch):
    from microexp.experiments import spotting

    video = _cache_video(tmp_path, frames=20)  # 200 fps: every 7th frame, 3 windows
    opts = spotting.SpotOptions(method="softnet", feature_size=8)
    cache = spotting.FeatureCache(tmp_path / "c", opts)
    x, valid = np.ones((3, 8, 8, 3), np.float16), np.array([True, True, False])

    def stored(**arrays):
        cache.store(video, 4, lambda fh: np.savez(fh, **arrays))
        return cache.cached_features(video, 4)

    got = stored(x=x, valid=valid, step=7)
    assert got is not None and np.array_equal(got[0], x) and got[2] == 7
    assert stored(x=x[:2], valid=valid, step=7) is None  # x and valid differ in length
    assert stored(x=x[:2], valid=valid[:2], step=7) is None  # fewer windows than the video
    assert stored(x=x, valid=valid, step=5) is None  # another sampling
    assert stored(x=np.ones((3, 9, 9, 3), np.float16), valid=valid, step=7) is None
    assert stored(x=x, valid=valid.astype(int), step=7) is None
    assert stored(x=x, valid=valid) is None  # no step
    cache.store(video, 4, lambda fh: fh.write(b"PK\x03\x04"))  # a truncated zip
    assert cache.cached_features(video, 4) is None
    monkeypatch.setattr(
        "microexp.preprocess.spotting.sampled_track",
        lambda *a, **k: (_ for _ in ()).throw(RuntimeError("recomputed")),
    )
    with pytest.raises(RuntimeError, match="recomputed"):
        cache.features(video, 4)
