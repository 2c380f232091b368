"""End to end on the tiny synthetic preset: data -> flows -> pre-training -> LOSO -> report."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path

import pytest

from microexp.cli import main
from microexp.errors import MicroexpError
from microexp.experiments import get_paper, reproduce


@pytest.fixture(scope="module")
def s3d_run(tiny_runs: Path) -> Path:
    """Paper A's complete tiny run (the notebooks' tests may have added runs beside it)."""
    return tiny_runs / "tiny-synthetic" / "s3d"


def test_s3d_tiny_end_to_end(s3d_run: Path) -> None:
    report = s3d_run / "report"
    metrics = json.loads((report / "metrics.json").read_text())
    assert {"s3d-transfer", "s3d-scratch"} <= set(metrics)
    for m in (metrics["s3d-transfer"], metrics["s3d-scratch"]):
        assert m["folds"] == 3 and m["samples"] >= 3
        assert 0 <= m["subject_mean_accuracy"] <= 1 and 0 <= m["pooled_uf1"] <= 1
        assert "mean_convergence_epoch" in m
    text = (report / "report.md").read_text()
    assert "S3D CNN-transfer | 67.58" in text and "Synthetic data" in text
    for name in (
        "paper_a_table2.csv",
        "paper_a_table3.csv",
        "confusion_s3d-transfer.png",
        "paper_a_fig5_training_curves.png",
        "paper_a_fig4_transfer_vs_scratch.png",
    ):
        assert (report / name).is_file(), name
    assert (s3d_run / "pretrain" / "s3d" / "model.keras").is_file()
    assert (s3d_run / "runs" / "s3d-transfer" / "config.json").is_file()
    assert list((s3d_run / "runs" / "s3d-transfer" / "logs").glob("fold_000/training.csv"))


def test_s3d_rerun_resumes_with_same_numbers(s3d_run: Path) -> None:
    before = (s3d_run / "report" / "metrics.json").read_text()
    lines: list[str] = []
    reproduce("s3d", s3d_run, preset="tiny", log=lines.append)
    assert sum("done before, reused" in line for line in lines) == 6
    assert any("reusing" in line for line in lines)  # the pre-trained model
    assert (s3d_run / "report" / "metrics.json").read_text() == before


def test_rerun_with_another_config_is_refused(
    s3d_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["reproduce", "s3d", "--preset", "tiny", "--out", str(s3d_run), "--xla"]) == 2
    err = capsys.readouterr().err
    assert "another configuration" in err and err.count("\n") == 1


@pytest.mark.slow  # ~1.5 min: two shards of paper B, merged; run with -m slow
def test_atscnn_shards_merge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "shared"
    common = ["--preset", "tiny", "--cache", str(tmp_path / "cache")]
    for i in (1, 2):
        out = tmp_path / f"shard{i}"
        if data.exists():  # the second machine reuses the generated data
            (out / "data").parent.mkdir(parents=True, exist_ok=True)
            (out / "data").symlink_to(data, target_is_directory=True)
        assert (
            main(
                [
                    "reproduce",
                    "atscnn",
                    "--out",
                    str(out),
                    "--shard",
                    f"{i}/2",
                    "--folds",
                    "0,1",
                    *common,
                ]
            )
            == 0
        )
        if i == 1:
            (out / "data").rename(data)
            (out / "data").symlink_to(data, target_is_directory=True)
    capsys.readouterr()
    assert (
        main(
            [
                "report",
                str(tmp_path / "shard1"),
                str(tmp_path / "shard2"),
                "--dest",
                str(tmp_path / "merged"),
            ]
        )
        == 0
    )
    metrics = json.loads((tmp_path / "merged" / "metrics.json").read_text())
    assert metrics["atscnn"]["folds"] == 2
    table = (tmp_path / "merged" / "paper_b_table3.csv").read_text()
    assert table.startswith("model,paper UAR,paper UF1,ours pooled UAR") and "0.74" in table


def test_bad_names_and_missing_weights(tmp_path: Path) -> None:
    with pytest.raises(MicroexpError, match="unknown preset"):
        reproduce("s3d", tmp_path, preset="huge", log=lambda _: None)
    with pytest.raises(MicroexpError, match="unknown paper recipe"):
        reproduce("s4d", tmp_path, preset="tiny", log=lambda _: None)
    with pytest.raises(MicroexpError, match="reads s3d tensors"):
        reproduce("atscnn", tmp_path, preset="tiny", model="s3d", log=lambda _: None)
    with pytest.raises(MicroexpError, match="pre-trained model not found"):
        reproduce(
            "s3d",
            tmp_path / "x",
            preset="tiny",
            pretrained=tmp_path / "none.keras",
            log=lambda _: None,
        )


def test_a_given_pretrained_model_is_checked(s3d_run: Path, tmp_path: Path) -> None:
    """--pretrained: a damaged file or a model without paper A's frozen blocks is refused
    before any data is read; one made for other tensors, before training. CK+ is not read."""
    from microexp.models import build_model

    casme2 = json.loads((s3d_run / "data.json").read_text())["casme2"]["root"]
    good = s3d_run / "pretrain" / "s3d" / "model.keras"
    cut = tmp_path / "cut.keras"
    cut.write_bytes(good.read_bytes()[:4000])
    other = tmp_path / "atscnn.keras"
    build_model("atscnn", num_classes=7, input_size=32).save(other)
    shaped = tmp_path / "s3d-64.keras"
    build_model("s3d", num_classes=7, input_shape=(64, 64, 10, 3)).save(shaped)
    cases = [
        (cut, "not a loadable Keras model", False),
        (other, "has no block 1 to freeze ('block1_') for s3d", False),
        (shaped, "takes inputs of shape (64, 64, 10, 3); this run's tensors are", True),
    ]
    for model, message, reads in cases:
        lines: list[str] = []
        with pytest.raises(MicroexpError, match=re.escape(message)):
            reproduce(
                "s3d",
                tmp_path / model.stem,
                preset="tiny",
                data=f"casme2={casme2}",
                pretrained=model,
                cache=s3d_run / "cache",
                folds=[0],
                log=lines.append,
            )
        assert any("[protocol]" in line for line in lines) == reads, lines


@pytest.mark.slow  # ~1.5 min: the LBP-TOP row and all seven Table 4 rows; run with -m slow
def test_lbptop_and_ablations_run_through_the_same_chain(tmp_path: Path) -> None:
    lines: list[str] = []
    reproduce("s3d", tmp_path / "lbp", preset="tiny", model="lbptop", log=lines.append)
    metrics = json.loads((tmp_path / "lbp" / "report" / "metrics.json").read_text())
    assert list(metrics) == ["lbptop-svm", "comparisons"] and metrics["lbptop-svm"]["folds"] == 3
    reproduce(
        "atscnn",
        tmp_path / "ab",
        preset="tiny",
        ablation="all",
        folds=[0],
        data_dir=tmp_path / "lbp" / "data",
        log=lines.append,
    )
    metrics = json.loads((tmp_path / "ab" / "report" / "metrics.json").read_text())
    assert set(metrics) == {
        "comparisons",
        "atscnn",
        "atscnn-no-attention",
        "atscnn-channel-only",
        "atscnn-spatial-only",
        "atscnn-relu",
        "atscnn-no-strain",
        "atscnn-gray-apex",
    }
    table = (tmp_path / "ab" / "report" / "paper_b_table4.csv").read_text()
    assert "gray-apex,0.53,0.59" in table  # paper UF1, UAR
    compared = {(c["a"], c["b"]) for c in metrics["comparisons"]}
    assert ("atscnn-relu", "atscnn") in compared and ("atscnn", "atscnn:linear_probe") in compared


# --------------------------------------------------------------------------- predict


def _clip_dir(run: Path) -> Path:
    from microexp import datasets as ds

    root = json.loads((run / "data.json").read_text())["casme2"]["root"]
    return ds.load("casme2", root).samples[0].frames_dir


def test_complete_runs_save_a_model_for_predict(
    s3d_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = s3d_run / "runs" / "s3d-transfer" / "model.keras"
    assert model.is_file() and (s3d_run / "runs" / "s3d-scratch" / "model.keras").is_file()
    capsys.readouterr()
    assert main(["predict", "--model", str(model), str(_clip_dir(s3d_run)), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["classes"] == ["happiness", "disgust", "surprise", "repression", "others"]
    assert sum(out["probabilities"]) == pytest.approx(1, abs=1e-3)
    assert out["predicted"] == out["classes"][max(range(5), key=out["probabilities"].__getitem__)]
    assert out["onset"] == 0 and out["spotted"] and 0 < out["apex"] <= out["offset"]
    # the CK+ model predicts the 7 macro classes; given frames are used as given
    pre = s3d_run / "pretrain" / "s3d" / "model.keras"
    assert main(["predict", "--model", str(pre), str(_clip_dir(s3d_run)), "--apex", "2"]) == 0
    text = capsys.readouterr().out
    assert "apex 2 (given)" in text and "predicted: " in text and text.count("\n") == 11
    assert "trained on microexp's SYNTHETIC data" in text  # one line says so


def test_predict_atscnn_from_a_video(s3d_run: Path, tmp_path: Path) -> None:
    import cv2

    from microexp.experiments.runner import recipe_of
    from microexp.models import build_model
    from microexp.prediction import predict
    from microexp.preprocess import read_clip

    recipe = recipe_of(get_paper("atscnn").experiments[0], "tiny")
    run = tmp_path / "run"
    run.mkdir()
    build_model("atscnn", num_classes=3, input_size=recipe.size).save(run / "model.keras")
    classes = ["negative", "positive", "surprise"]
    (run / "config.json").write_text(json.dumps({"recipe": asdict(recipe), "classes": classes}))
    frames, _, _ = read_clip(_clip_dir(s3d_run))
    video = tmp_path / "clip.avi"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, frames.shape[2:0:-1])
    for f in frames:
        w.write(cv2.cvtColor(f, cv2.COLOR_GRAY2BGR))
    w.release()
    result = predict(run / "model.keras", video)
    assert result.classes == classes and result.fps == pytest.approx(30.0)
    assert result.frames == len(frames) and sum(result.probabilities) == pytest.approx(1, 1e-3)
    # as a user runs it: a fresh process, where only what predict imports registers layers
    import subprocess
    import sys

    cli = [sys.executable, "-m", "microexp", "predict", "--model", str(run / "model.keras")]
    done = subprocess.run([*cli, str(video), "--single", "--json"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["probabilities"] == pytest.approx(result.probabilities, abs=1e-4)


def test_predict_with_a_registered_recipe_htnet(s3d_run: Path, tmp_path: Path) -> None:
    """HTNet's recipe (registered, not built in) predicts through its pair_tensors."""
    from microexp.models import build_model
    from microexp.prediction import predict
    from microexp.preprocess import get_recipe

    recipe = get_recipe("htnet")
    run = tmp_path / "run"
    run.mkdir()
    net = build_model("htnet", dim=16, heads=1, block_repeats=(1, 1, 1))
    net.save(run / "model.keras")
    classes = ["negative", "positive", "surprise"]
    (run / "config.json").write_text(json.dumps({"recipe": asdict(recipe), "classes": classes}))
    result = predict(run / "model.keras", _clip_dir(s3d_run))
    assert result.classes == classes and sum(result.probabilities) == pytest.approx(1, 1e-3)
    assert result.face_frame == 0 and len(result.face_box) == 4


def test_predict_says_where_the_face_is_and_looks_past_faceless_frames(
    s3d_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import cv2
    import numpy as np

    from microexp.preprocess import read_clip

    model = str(s3d_run / "runs" / "s3d-transfer" / "model.keras")
    frames, _, _ = read_clip(_clip_dir(s3d_run))
    assert main(["predict", "--model", model, str(_clip_dir(s3d_run)), "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    x0, y0, x1, y1 = plain["face_box"]
    h, w = frames.shape[1:3]
    assert plain["face_frame"] == 0 and 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
    assert x1 - x0 > w / 4  # the synthetic face fills much of the frame
    late = tmp_path / "late"  # three faceless frames, then the clip
    late.mkdir()
    for i, f in enumerate([np.full_like(frames[0], 128)] * 3 + list(frames)):
        cv2.imwrite(str(late / f"{i:03d}.png"), f)
    assert main(["predict", "--model", model, str(late), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["face_frame"] == found["onset"] == 3 and found["face_box"] == plain["face_box"]
    assert main(["predict", "--model", model, str(late)]) == 0
    text = capsys.readouterr().out
    assert f"face: found by dlib in frame 3, box x {x0}-{x1}, y {y0}-{y1}" in text
    assert "none in the frames looked at before it" in text
    # an onset without a face: the frame that has one is named
    assert main(["predict", "--model", model, str(late), "--onset", "1"]) == 2
    err = capsys.readouterr().err
    assert "--onset 1: dlib finds no face in that frame" in err and "try --onset 3" in err


def test_predict_bad_input(
    s3d_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = s3d_run / "runs" / "s3d-transfer" / "model.keras"
    clip = str(_clip_dir(s3d_run))
    lone = tmp_path / "model.keras"
    lone.write_bytes(model.read_bytes())
    import cv2
    import numpy as np

    blank = tmp_path / "blank"
    blank.mkdir()
    for i in range(3):
        cv2.imwrite(str(blank / f"{i}.png"), np.full((48, 48), 128, np.uint8))
    torn = tmp_path / "torn"  # a run folder copied half-way: config.json, model.keras cut short
    torn.mkdir()
    (torn / "model.keras").write_bytes(model.read_bytes())
    (torn / "config.json").write_text((model.parent / "config.json").read_text()[:80])
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "model.keras").write_bytes(model.read_bytes()[:5000])
    (cut / "config.json").write_text((model.parent / "config.json").read_text())
    cases = [
        (["--model", str(tmp_path / "none.keras"), clip], "no such model file"),
        (["--model", str(lone), clip], "config.json: missing"),
        (["--model", str(torn / "model.keras"), clip], "config.json: truncated or malformed"),
        (["--model", str(cut / "model.keras"), clip], "not a loadable Keras model"),
        (["--model", str(model), clip, "--fps", "0"], "fps 0: expected a frame rate above 0"),
        (["--model", str(model), clip, "--fps", "-5"], "fps -5: expected a frame rate above 0"),
        (["--model", str(model), clip, "--onset", "99"], "--onset 99: the clip has"),
        (
            ["--model", str(model), clip, "--onset", "3", "--offset", "1"],
            "onset 3 must come before offset 1",
        ),  # fmt: skip
        (["--model", str(model), str(tmp_path / "nothing")], "no such video file or frame folder"),
        (["--model", str(model), str(blank)], "no face found by dlib in"),
        (["--model", str(model), str(blank)], "frames of 48x48 px are small for dlib"),
        (["--model", str(model), str(blank)], "Next: give a folder of frames"),
    ]
    for argv, message in cases:
        assert main(["predict", *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


def test_package_level_api_is_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, microexp\n"
        "import microexp.cli\n"  # loading the modules must not shadow the functions
        "assert microexp.reproduce.__name__ == 'reproduce' and callable(microexp.predict)\n"
        "assert microexp.evaluation.uf1([0, 1], [0, 1]) == 1.0\n"
        "assert 'tensorflow' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_report_data_and_models_start_without_keras(s3d_run: Path, tmp_path: Path) -> None:
    """Commands that train nothing run where keras and tensorflow cannot be imported."""
    import os
    import subprocess
    import sys

    from microexp.models import MODELS

    blockers = Path(__file__).parent / "blockers"
    env = {**os.environ, "MICROEXP_TEST_BLOCK": "keras,tensorflow",
           "PYTHONPATH": os.pathsep.join([str(blockers), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    root = json.loads((s3d_run / "data.json").read_text())["casme2"]["root"]
    commands = {
        "models": ["models"],
        "report": ["report", str(s3d_run), "--dest", str(tmp_path / "report")],
        "data summary": ["data", "summary", "--protocol", "casme2-5class", "--root", root],
    }
    outs = {}
    for name, argv in commands.items():
        done = subprocess.run([sys.executable, "-m", "microexp", *argv], env=env,
                              capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 0, (name, done.stderr[-2000:])
        outs[name] = done.stdout
    listed = [line.split()[0] for line in outs["models"].splitlines()[2:-1]]
    assert listed == list(MODELS)
    assert "htnet    " in outs["models"] and "UF1 0.8603 UAR 0.8475" in outs["models"]
    assert (tmp_path / "report" / "report.md").is_file() and "s3d-transfer" in outs["report"]
    # the blocker does block: a command that builds models fails there, in one line
    done = subprocess.run([sys.executable, "-m", "microexp", "models", "summary"], env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode != 0
