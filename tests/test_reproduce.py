"""End to end on the tiny synthetic preset: data -> flows -> pre-training -> LOSO -> report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from microexp.cli import main
from microexp.errors import MicroexpError
from microexp.reproduce import make_plan, reproduce


@pytest.fixture(scope="module")
def s3d_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("s3d")
    reproduce("s3d", out, preset="tiny", log=lambda _: None)
    return out


def test_s3d_tiny_end_to_end(s3d_run: Path) -> None:
    report = s3d_run / "report"
    metrics = json.loads((report / "metrics.json").read_text())
    assert set(metrics) == {"s3d-transfer", "s3d-scratch"}
    for m in metrics.values():
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
        make_plan("s3d", "huge")
    with pytest.raises(MicroexpError, match="unknown paper recipe"):
        make_plan("s4d", "tiny")
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


@pytest.mark.slow  # ~1.5 min: the LBP-TOP row and all seven Table 4 rows; run with -m slow
def test_lbptop_and_ablations_run_through_the_same_chain(tmp_path: Path) -> None:
    lines: list[str] = []
    reproduce("s3d", tmp_path / "lbp", preset="tiny", model="lbptop", log=lines.append)
    metrics = json.loads((tmp_path / "lbp" / "report" / "metrics.json").read_text())
    assert list(metrics) == ["lbptop-svm"] and metrics["lbptop-svm"]["folds"] == 3
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
        "atscnn",
        "atscnn-no-attention",
        "atscnn-channel-only",
        "atscnn-spatial-only",
        "atscnn-relu",
        "atscnn-no-strain",
        "atscnn-gray-apex",
    }
    table = (tmp_path / "ab" / "report" / "paper_b_table4.csv").read_text()
    assert "gray-apex,0.59,0.53" in table
