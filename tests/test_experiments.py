"""Experiments as data: a toy experiment declared here runs end to end through the one generic
runner; configs, resumption, reports by metadata, any model on any protocol."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from microexp import experiments as ex
from microexp.cli import main
from microexp.errors import MicroexpError
from microexp.experiments.runner import check_experiment
from microexp.reporting.tables import Column, TableSpec
from microexp.training.fit import TrainConfig

ONE_EPOCH = TrainConfig(epochs=1, batch_size=4, lr=1e-3)

#: a toy experiment, declared the way docs/extending.md shows: ATSCNN on CASME II's 5 classes
TOY = ex.Experiment(
    name="toy-atscnn-casme2",
    protocol="casme2-5class",
    model="atscnn",
    model_args={"channels": (2, 3, 4, 4), "dense_units": (16,)},
    train=ex.Stage(schedules=ex.ByPreset(tiny=ONE_EPOCH, demo=ONE_EPOCH, paper=ONE_EPOCH)),
    tables=("toy_table",),
)
TOY_TABLE = TableSpec(
    key="toy_table",
    row_title="experiment",
    columns=(Column("pooled_uf1", "ours pooled UF1", paper="someone's UF1"),),
    paper={"toy-atscnn-casme2": (0.5,)},
)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic tiny CASME II as a tiny run generates it (seed 0), this module's own: its
    tests then need not wait for the session's paper A run (``make test`` runs two workers)."""
    from microexp import synthetic

    root = tmp_path_factory.mktemp("tiny-data")
    synthetic.generate("casme2", root / "casme2", "tiny", 0)
    return root


@pytest.fixture(scope="module")
def toy_run(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("toy")
    ex.run_experiments(
        [TOY],
        out,
        tables=[TOY_TABLE],
        preset="tiny",
        data_dir=tiny_data,
        final_model=False,
        log=lambda _: None,
    )
    return out


def test_a_toy_experiment_runs_end_to_end_with_its_table(toy_run: Path) -> None:
    run_dir = toy_run / "runs" / "toy-atscnn-casme2"
    config = json.loads((run_dir / "config.json").read_text())
    assert len(config["classes"]) == 5 and config["model_args"]["dense_units"] == [16]
    assert config["meta"]["tables"] == ["toy_table"] and config["runtime"]["tensorboard"] is False
    records = [json.loads(p.read_text()) for p in sorted((run_dir / "folds").glob("*.json"))]
    assert len(records) == 3 and all(len(r["y_prob"][0]) == 5 for r in records)
    table = (toy_run / "report" / "toy_table.csv").read_text().splitlines()
    assert table[0] == (
        "experiment,someone's UF1,ours pooled UF1,ours pooled UF1 95% CI,majority,linear probe"
    )
    assert table[1].startswith("toy-atscnn-casme2,0.50,")
    # baselines on the same folds, intervals and the comparison with the probe, for scripts
    metrics = json.loads((toy_run / "report" / "metrics.json").read_text())
    run = metrics["toy-atscnn-casme2"]
    assert set(run["baselines"]) == {"majority", "linear_probe"}
    for name in ("majority", "linear_probe"):
        assert set(run["baselines"][name]) >= {"pooled_uf1", "pooled_uar", "ci95"}
        assert run["baselines"][name]["samples"] == run["samples"]
    low, high = run["ci95"]["pooled_uf1"]
    assert low <= run["pooled_uf1"] <= high
    (probe,) = metrics["comparisons"]
    assert probe["a"] == "toy-atscnn-casme2" and probe["b"] == "toy-atscnn-casme2:linear_probe"
    assert set(probe) >= {"metric", "difference", "ci95", "p_value"}


def _again(out: Path, experiment=TOY, **options) -> list[str]:
    lines: list[str] = []
    opts = {"preset": "tiny", "data_dir": out.parent / "unused", "final_model": False}
    opts.update(options)
    ex.run_experiments([experiment], out, tables=[TOY_TABLE], log=lines.append, **opts)
    return lines


def test_runtime_settings_resume_and_number_settings_refuse(toy_run: Path, tiny_data) -> None:
    lines = _again(toy_run, data_dir=tiny_data, tensorboard=True)
    assert sum("done before, reused" in line for line in lines) == 3
    config = json.loads((toy_run / "runs" / "toy-atscnn-casme2" / "config.json").read_text())
    assert config["runtime"]["tensorboard"] is True  # the stored config is the resolved one

    faster = dataclasses.replace(ONE_EPOCH, lr=1e-2)
    other = dataclasses.replace(
        TOY, train=ex.Stage(schedules=ex.ByPreset(tiny=faster, demo=faster, paper=faster))
    )
    with pytest.raises(MicroexpError, match=r"another configuration \(differs in train\.train\.lr"):
        _again(toy_run, other, data_dir=tiny_data)


def test_a_truncated_fold_record_is_named_and_recomputed(toy_run: Path, tiny_data) -> None:
    folds = toy_run / "runs" / "toy-atscnn-casme2" / "folds"
    path = sorted(folds.glob("*.json"))[0]
    whole = json.loads(path.read_text())
    path.write_text(path.read_text()[:40])  # a half-copied shard
    lines = _again(toy_run, data_dir=tiny_data)
    assert any(str(path) in line and "recomputing" in line for line in lines)
    assert sum("done before, reused" in line for line in lines) == 2
    again = json.loads(path.read_text())
    assert again["y_pred"] == whole["y_pred"] and again["y_prob"] == whole["y_prob"]
    # a record of the same configuration made for other test samples is recomputed, not used
    path.write_text(json.dumps({**again, "samples": ["casme2/sub99/EP00_00"]}))
    lines = _again(toy_run, data_dir=tiny_data)
    assert any(str(path) in line and "other test samples" in line for line in lines)
    assert json.loads(path.read_text())["samples"] == whole["samples"]


def test_a_run_reads_its_annotations_once(toy_run: Path, tiny_data, monkeypatch) -> None:
    """The config's data record and the tensors come from one reading of the coding sheets."""
    from microexp import datasets

    read = datasets.load_protocol
    calls: list = []
    monkeypatch.setattr(datasets, "load_protocol", lambda *a, **k: calls.append(a) or read(*a, **k))
    lines = _again(toy_run, data_dir=tiny_data)
    assert sum("done before, reused" in line for line in lines) == 3
    assert len(calls) == 1


def test_a_run_refuses_other_data_and_resumes_on_a_copy(toy_run: Path, tiny_data, tmp_path) -> None:
    """The run's hashed config holds the data's fingerprint (ids, labels, annotation, frame
    names and sizes): a copy of the dataset elsewhere with new file times (another machine's
    shard) resumes the run, while other frames are refused rather than mixed with its folds."""
    import shutil

    copy = shutil.copytree(tiny_data, tmp_path / "copy", copy_function=shutil.copy)
    lines = _again(toy_run, data_dir=copy)
    assert sum("done before, reused" in line for line in lines) == 3
    assert any("reused" in line and "made from other frames" in line for line in lines)
    config = json.loads((toy_run / "runs" / "toy-atscnn-casme2" / "config.json").read_text())
    assert config["data"]["samples"] == 9 and len(config["data"]["fingerprint"]) == 16
    frame = next((copy / "casme2").rglob("*.jpg"))
    frame.write_bytes(frame.read_bytes() + b"\0")  # one frame of one clip is another file
    seen: list[str] = []
    with pytest.raises(
        MicroexpError, match=r"another configuration \(differs in data\.fingerprint"
    ):
        opts = {"preset": "tiny", "data_dir": copy, "final_model": False}
        ex.run_experiments([TOY], toy_run, tables=[TOY_TABLE], log=seen.append, **opts)
    assert not any(line.startswith("[flows]") for line in seen), seen  # refused before flows
    # a folder written before runs recorded their data says so, rather than "differs"
    path = toy_run / "runs" / "toy-atscnn-casme2" / "config.json"
    text = path.read_text()
    path.write_text(json.dumps({k: v for k, v in json.loads(text).items() if k != "data"}))
    try:
        with pytest.raises(MicroexpError, match=r"data \(not recorded there: written by an older"):
            _again(toy_run, data_dir=tiny_data)
    finally:
        path.write_text(text)


def test_reports_follow_metadata_not_directory_names(toy_run: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(toy_run / "runs", copy / "runs")
    (copy / "runs" / "toy-atscnn-casme2").rename(copy / "runs" / "renamed-on-disk")
    report = ex.write_report(copy, tables=[TOY_TABLE])
    assert "toy-atscnn-casme2,0.50," in (report / "toy_table.csv").read_text()
    with pytest.raises(MicroexpError) as err:  # its table is not declared in this process
        ex.write_report(copy)
    message = str(err.value)
    assert "renamed-on-disk/config.json" in message and "toy_table" in message
    assert "\n" not in message


def test_any_registered_model_on_any_protocol_from_the_cli(tiny_data: Path, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["run", "--protocol", "casme2-5class", "--model", "offapexnet", "--preset", "tiny"]
    argv += ["--data", f"casme2={tiny_data / 'casme2'}", "--folds", "0", "--out", str(out)]
    assert main([*argv, "--verbose"]) == 0
    printed = capsys.readouterr().out
    epochs = [ln for ln in printed.splitlines() if ln.startswith("  epoch ")]  # --verbose
    assert [ln.split(":")[0] for ln in epochs] == ["  epoch 1/2", "  epoch 2/2"]
    assert all("loss " in ln and "accuracy " in ln for ln in epochs)
    assert "[data] casme2-5class: 9 samples' tensors in memory, " in printed  # footprint
    config = json.loads((out / "runs" / "offapexnet" / "config.json").read_text())
    assert len(config["classes"]) == 5 and config["recipe"]["name"] == "atscnn"
    assert json.loads((out / "report" / "metrics.json").read_text())["offapexnet"]["folds"] == 1
    capsys.readouterr()
    bad = ["run", "--protocol", "casme2-5class", "--model", "s3d", "--recipe", "atscnn"]
    assert main([*bad, "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "model 's3d' reads s3d tensors; recipe 'atscnn'" in err and err.count("\n") == 1


def test_the_class_count_comes_from_the_protocol() -> None:
    exp = ex.experiment_for("atscnn-composite", "s3d")
    assert exp.protocol == "atscnn-composite" and exp.train is ex.defaults.TRAINING["s3d"]
    check_experiment(exp)


def test_declarations_are_frozen_consistent_and_selectable() -> None:
    a, b = ex.get_paper("s3d"), ex.get_paper("atscnn")
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.experiments[0].model = "cnn2d"
    for paper in (a, b):
        for e in paper.experiments:
            check_experiment(e)
    names = lambda chosen: [e.name for e in chosen]  # noqa: E731
    assert names(ex.select(a, None, None)) == ["s3d-transfer", "s3d-scratch"]
    assert names(ex.select(a, "cnn2d", None, ("transfer",))) == ["cnn2d-transfer"]
    assert names(ex.select(a, "lbptop", None)) == ["lbptop-svm"]
    assert len(ex.select(b, None, "all")) == 7
    assert names(ex.select(b, "offapexnet-128", None)) == ["offapexnet-128"]  # template
    with pytest.raises(MicroexpError, match="unknown ablation of atscnn 'none'"):
        ex.select(b, None, "none")
    with pytest.raises(MicroexpError, match="unknown mode 'fine'"):
        ex.select(a, None, None, ("fine",))
    assert ex.datasets_needed("s3d") == ("ckplus", "casme2")


def test_only_the_declarations_know_the_papers_tables() -> None:
    package = Path(ex.__file__).resolve().parents[1]
    for path in package.rglob("*.py"):
        if "experiments" in path.parts:
            continue
        text = path.read_text()
        for word in ("PAPER_A", "PAPER_B", "paper_a_table", "paper_b_table", "paper_a_fig"):
            assert word not in text, f"{path} knows {word}"


def test_an_uncreatable_output_folder_is_one_line(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    argv = ["data", "synth", "--dataset", "casme2", "--preset", "tiny"]
    assert main([*argv, "--out", str(blocker / "sub" / "CASME2")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("microexp: error: ") and str(blocker) in err and err.count("\n") == 1
    assert main(["report", str(tmp_path), "--dest", str(blocker)]) == 2
    err = capsys.readouterr().err
    assert f"{blocker}: a file is there, not a folder" in err and err.count("\n") == 1, err


def test_seeds_give_mean_and_sd_with_their_interval(toy_run: Path, tiny_data, tmp_path) -> None:
    import shutil

    out = tmp_path / "seeds"
    shutil.copytree(toy_run, out, ignore=shutil.ignore_patterns("report"))
    lines = _again(out, data_dir=tiny_data, seeds=(0, 1), folds=(0, 1))
    assert sum("done before, reused" in line for line in lines) == 2  # seed 0, folds 0 and 1
    assert (out / "runs" / "toy-atscnn-casme2-seed1" / "config.json").is_file()
    run = json.loads((out / "report" / "metrics.json").read_text())["toy-atscnn-casme2"]
    assert run["seeds"] == [0, 1] and run["folds"] == 2  # the folds both seeds finished
    assert set(run["sd"]) >= {"pooled_uf1", "subject_mean_accuracy"}
    assert run["ci95"]["pooled_uf1"][0] <= run["pooled_uf1"] <= run["ci95"]["pooled_uf1"][1]
    header = (out / "report" / "toy_table.csv").read_text().splitlines()[0]
    assert header.endswith("ours pooled UF1 sd over seeds")


def _composite_data(tiny_data: Path, tmp_path: Path, others: tuple[str, ...]) -> str:
    """``--data`` for a composite: the session's tiny CASME II and tiny ``others``."""
    from microexp import synthetic

    roots = {"casme2": tiny_data / "casme2"}
    for name in others:
        roots[name] = synthetic.generate(name, tmp_path / "data" / name, "tiny", 0)
    return ",".join(f"{k}={v}" for k, v in roots.items())


def test_lodo_on_a_composite_logs_megc_and_scores_per_dataset(tiny_data: Path, tmp_path, capsys):
    data = _composite_data(tiny_data, tmp_path, ("casme", "samm"))
    out = tmp_path / "run"
    argv = ["run", "--protocol", "atscnn-composite", "--model", "offapexnet", "--preset", "tiny"]
    argv += ["--data", data, "--split", "lodo", "--folds", "0", "--out", str(out)]
    assert main(argv) == 0
    run = out / "runs" / "offapexnet-lodo"
    assert json.loads((run / "config.json").read_text())["split"] == "lodo"
    (fold,) = (run / "folds").glob("fold_*.json")
    rec = json.loads(fold.read_text())
    assert rec["test_subject"] == "casme" and all(s.startswith("casme/") for s in rec["samples"])
    log = (run / "megc_log.txt").read_text().splitlines()
    assert log[0].startswith("casme ") and len(log) == len(rec["samples"]) + sum(
        1 for line in log if line.startswith("casme ")
    )
    metrics = json.loads((out / "report" / "metrics.json").read_text())["offapexnet-lodo"]
    assert metrics["samples"] == len(rec["samples"])  # one held-out dataset: no per-dataset split
    loso = [*argv[:9], "--folds", "0,3", "--out", str(out)]  # a CASME and a CASME II subject
    assert main(loso) == 0
    doc = json.loads((out / "report" / "metrics.json").read_text())
    assert set(doc["offapexnet"]["per_dataset"]) == {"casme", "casme2"}
    assert doc["offapexnet-lodo"]["samples"] == len(rec["samples"])  # both runs, kept apart
    assert "## composite runs per dataset" in (out / "report" / "report.md").read_text()
    capsys.readouterr()
    bad = ["run", "--protocol", "casme2-5class", "--model", "offapexnet", "--split", "kfold"]
    assert main([*bad, "--out", str(tmp_path / "bad")]) == 2
    assert "unknown split 'kfold'" in capsys.readouterr().err


def test_megc2019_runs_feed_a_table_with_the_reported_results() -> None:
    from microexp.reporting.report import build_table
    from microexp.reporting.tables import TABLES

    exp = ex.experiment_for("megc2019", "atscnn")
    assert exp.tables == ("megc2019_composite",)
    assert ex.experiment_for("casme2-5class", "atscnn").tables == ()
    header, rows = build_table(TABLES["megc2019_composite"], [])
    assert header[:5] == [
        "method",
        "reported UF1",
        "reported UAR",
        "ours pooled UF1",
        "ours pooled UAR",
    ]
    by_name = {r[0].split(" (")[0]: r[1:3] for r in rows}
    assert by_name["LBP-TOP, official baseline"] == [0.5882, 0.5785]
    assert by_name["STSTNet"] == [None, 0.7605]
    assert all("reported by its authors" in r[0] for r in rows)


@pytest.mark.slow  # ~20 s: LODO's end-to-end test covers the composite path in make test
def test_megc2019_runs_end_to_end(tiny_data: Path, tmp_path, capsys) -> None:
    data = _composite_data(tiny_data, tmp_path, ("samm", "smic"))
    out = tmp_path / "megc"
    argv = ["run", "--protocol", "megc2019", "--model", "offapexnet", "--preset", "tiny"]
    assert main([*argv, "--data", data, "--folds", "0,3,6", "--out", str(out)]) == 0
    doc = json.loads((out / "report" / "metrics.json").read_text())["offapexnet"]
    assert set(doc["per_dataset"]) == {"casme2", "samm", "smic"}
    assert sum(v["samples"] for v in doc["per_dataset"].values()) == doc["samples"]
    report = (out / "report" / "report.md").read_text()
    assert "## megc2019 composite" in report and "HTNet (reported by its authors)" in report
    log = (out / "runs" / "offapexnet" / "megc_log.txt").read_text().splitlines()
    assert [line.split()[0] for line in log if len(line.split()) == 2] == ["casme2", "samm", "smic"]


def test_parallel_folds_give_the_records_of_folds_run_one_by_one(
    toy_run: Path, tiny_data: Path, tmp_path: Path
) -> None:
    """--parallel-folds 2: two worker processes train the folds (the toy run trained them in
    this process, one by one); the records are the same, to the bit, and the parent resumes
    them and finishes the run."""
    out = tmp_path / "parallel"
    lines = _again(out, data_dir=tiny_data, cache=toy_run / "cache", parallel_folds=2)
    assert any("[parallel] toy-atscnn-casme2: 3 folds in 2 worker processes" in m for m in lines)
    assert any(m.startswith("[worker 2/2] [fold 2/3]") for m in lines)
    assert sum("done before, reused" in m for m in lines) == 3  # the parent's LOSO

    def records(run: Path) -> list[dict]:
        folds = sorted((run / "runs" / "toy-atscnn-casme2" / "folds").glob("*.json"))
        return [json.loads(p.read_text()) for p in folds]

    ours, reference = records(out), records(toy_run)
    assert len(ours) == len(reference) == 3
    for a, b in zip(ours, reference, strict=True):
        assert (a["y_prob"], a["history"]) == (b["y_prob"], b["history"])
    config = json.loads((out / "runs" / "toy-atscnn-casme2" / "config.json").read_text())
    assert config["runtime"]["parallel_folds"] == 2
    assert (out / "report" / "toy_table.csv").is_file()


def test_workers_share_the_folds_and_one_gpu() -> None:
    from microexp.experiments.parallel import split_folds_round_robin, worker_env

    assert split_folds_round_robin([0, 1, 2, 3, 4], 2) == [(0, 2, 4), (1, 3)]
    assert split_folds_round_robin([7], 3) == [(7,)]  # no idle worker
    assert worker_env(4, {}) == {
        "XLA_PYTHON_CLIENT_MEM_FRACTION": "0.225",
        "TF_FORCE_GPU_ALLOW_GROWTH": "true",
    }
    user = {"XLA_PYTHON_CLIENT_MEM_FRACTION": ".3"}  # the user's value is kept
    assert worker_env(2, user) == {"TF_FORCE_GPU_ALLOW_GROWTH": "true"}
    assert worker_env(2, user, gpu="3")["CUDA_VISIBLE_DEVICES"] == "3"


def test_k_workers_per_gpu_or_k_on_the_cpu() -> None:
    from microexp.experiments.parallel import visible_gpus, worker_plan

    assert worker_plan(2, []) == [None, None]
    assert worker_plan(2, ["0", "1"]) == ["0", "1", "0", "1"]  # 2 per GPU, dealt in turn
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "2, 5"}) == ["2", "5"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []


def test_gpus_are_read_from_nvidia_smi_when_not_given(monkeypatch) -> None:
    import subprocess

    from microexp.experiments.parallel import visible_gpus

    listing = "GPU 0: NVIDIA H200 (UUID: GPU-1)\n  MIG 1g.18gb Device 0: (UUID: MIG-1)\nGPU 1: NVIDIA H200 (UUID: GPU-2)\n"
    monkeypatch.setattr(
        subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, listing, "")
    )
    assert visible_gpus({}) == ["0", "1"]
