"""microexp submit without a cluster: the job graph it sends (a fake submitit executor), the
local executor, the options it refuses. tests/test_slurm.py runs it on a real Slurm."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from microexp.cli import main
from microexp.errors import MicroexpError
from microexp.experiments import submit as sub


class FakeJob:
    def __init__(self, job_id: str) -> None:
        self.job_id = job_id


class FakeExecutor:
    """Records what microexp submit sends, as submitit's SlurmExecutor would take it."""

    sent: list[dict] = []

    def __init__(self, folder, max_num_timeout: int) -> None:
        self.folder, self.max_num_timeout, self.params = folder, max_num_timeout, {}
        self.batching: list | None = None
        FakeExecutor.sent = []

    def update_parameters(self, **kw) -> None:
        self.params.update(kw)

    def submit(self, step):
        n = len(FakeExecutor.sent)
        if self.batching is not None:
            job = FakeJob(f"200_{len(self.batching)}")
            self.batching.append(job)
        else:
            job = FakeJob(str(100 + n))
        FakeExecutor.sent.append({"step": step, "params": dict(self.params), "id": job.job_id})
        return job

    def batch(self):
        executor = self

        class Batch:
            def __enter__(self):
                executor.batching = []

            def __exit__(self, *exc):
                executor.batching = None

        return Batch()


@pytest.fixture
def fake_submitit(monkeypatch):
    fake = types.SimpleNamespace(SlurmExecutor=FakeExecutor)
    FakeExecutor.sent = []
    monkeypatch.setattr(sub, "_submitit", lambda: fake)
    return fake


def test_submit_sends_prepare_then_an_array_then_the_finish(fake_submitit, tmp_path) -> None:
    lines: list[str] = []
    res = sub.Resources(partition="gpu", gpus_per_task=1, mem_gb=8, time_min=30,
                        array_parallelism=2, extra=(("account", "lab"),))  # fmt: skip
    options = {"protocol": "casme2-5class", "model": "atscnn", "out": str(tmp_path / "o"),
               "preset": "tiny"}  # fmt: skip
    done = sub.submit("run", options, 3, resources=res, log=lines.append)
    sent = FakeExecutor.sent
    assert [s["step"].options.get("step") for s in sent] == ["prepare", "folds", "folds",
                                                             "folds", "all"]  # fmt: skip
    assert [s["step"].options.get("shard") for s in sent[1:4]] == ["1/3", "2/3", "3/3"]
    assert "dependency" not in sent[0]["params"]
    assert all(s["params"]["dependency"] == "afterok:100" for s in sent[1:4])
    assert sent[4]["params"]["dependency"] == "afterok:200"  # the whole array
    first = sent[0]["params"]
    assert (first["partition"], first["gpus_per_task"], first["mem"], first["time"]) == (
        "gpu", 1, "8192MB", 30)  # fmt: skip
    assert first["additional_parameters"] == {"account": "lab"}
    assert (done.prepare, done.array, done.finish) == ("100", "200", "104")
    assert done.logs == tmp_path / "o" / "slurm_logs"
    assert any("array 200 of 3 tasks" in m for m in lines)
    assert any("microexp report" in m for m in lines)
    step = sent[2]["step"]  # what a task calls, requeued or not: the same command again
    assert step.command == "run" and step.options["out"] == str(tmp_path / "o")
    assert isinstance(step, __import__("submitit").helpers.Checkpointable)


def test_submit_refuses_what_it_sets_itself_and_bad_names(fake_submitit, tmp_path) -> None:
    base = {"protocol": "casme2-5class", "model": "atscnn", "out": str(tmp_path)}
    for extra, message in (
        ({"shard": "1/2"}, "sets shard itself"),
        ({"folds": (0,)}, "sets folds itself"),
        ({"model": "nonet"}, "unknown model 'nonet'"),
        ({"protocol": "nope"}, "unknown protocol 'nope'"),
        ({"seed": -1}, "seed -1: expected an integer >= 0"),
    ):
        with pytest.raises(MicroexpError, match=message):
            sub.submit("run", {**base, **extra}, 2)
    with pytest.raises(MicroexpError, match="unknown executor 'k8s'"):
        sub.submit("run", base, 2, executor="k8s")
    with pytest.raises(MicroexpError, match="--shards 0: expected an integer >= 1"):
        sub.submit("run", base, 0)
    assert FakeExecutor.sent == []  # refused before anything was sent


def test_submit_local_runs_here_with_parallel_folds(monkeypatch, tmp_path) -> None:
    seen = {}
    monkeypatch.setattr(sub, "call_command", lambda command, options: seen.update(
        command=command, **options) or tmp_path)  # fmt: skip
    assert (
        sub.submit("reproduce", {"paper": "atscnn", "out": str(tmp_path)}, 2, "local") == tmp_path
    )
    assert seen["command"] == "reproduce" and seen["parallel_folds"] == 2


def test_submit_cli_lines(monkeypatch, tmp_path, capsys) -> None:
    seen = {}
    monkeypatch.setattr(sub, "submit", lambda *a, **k: seen.update(args=a) or None)
    argv = ["submit", "run", "--protocol", "casme2-5class", "--model", "atscnn", "--out",
            str(tmp_path), "--shards", "4", "--time", "20", "--slurm", "account=lab"]  # fmt: skip
    assert main(argv) == 0
    command, options, shards, executor, resources, logs = seen["args"]
    assert (command, shards, executor, resources.time_min) == ("run", 4, "slurm", 20)
    assert options["protocol"] == "casme2-5class" and resources.extra == (("account", "lab"),)
    assert main(argv[:-2] + ["--slurm", "account"]) == 2
    assert "--slurm 'account': expected KEY=VALUE" in capsys.readouterr().err
    assert main(argv[:-6]) == 2  # no --shards
    assert "expected --shards N" in capsys.readouterr().err


def test_a_prepare_step_stops_before_the_folds(tmp_path: Path) -> None:
    """step="prepare" makes the data and flows and trains nothing; step="folds" with a shard
    trains its folds and writes no report."""
    from microexp import synthetic
    from microexp.experiments import run

    data = tmp_path / "data"
    synthetic.generate("casme2", data / "casme2", "tiny", 0)
    common = {"preset": "tiny", "data_dir": data, "final_model": False, "log": lambda _: None}
    out = tmp_path / "o"
    run("casme2-5class", "atscnn", out, step="prepare", **common)
    run_dir = out / "runs" / "atscnn"
    assert (run_dir / "config.json").is_file() and not (run_dir / "folds").exists()
    assert any((out / "cache").rglob("*.npz")) and not (out / "report").exists()
    with pytest.raises(MicroexpError, match="unknown step 'half'"):
        run("casme2-5class", "atscnn", out, step="half", **common)


def test_a_submitted_runs_missing_folds_name_their_shard(tmp_path: Path) -> None:
    import json

    from microexp.reporting.report import missing_shards

    assert missing_shards(tmp_path, [1]) == ""  # not submitted
    record = {"shards": 3, "tasks": {"1/3": "12_0", "2/3": "12_1", "3/3": "12_2"},
              "logs": "/runs/o/slurm_logs", "prepare": "11", "array": "12", "finish": "13"}  # fmt: skip
    (tmp_path / "submit.json").write_text(json.dumps(record))
    assert missing_shards(tmp_path, [1, 4, 7]) == (
        "shard 2/3 (Slurm task 12_1, logs /runs/o/slurm_logs/12_1)"
    )
    assert missing_shards(tmp_path, [0, 2]).count("shard") == 2
    (tmp_path / "submit.json").write_text("{")  # damaged: no names rather than a traceback
    assert missing_shards(tmp_path, [1]) == ""


def test_submit_records_its_jobs_for_the_report(fake_submitit, tmp_path) -> None:
    import json

    options = {"protocol": "casme2-5class", "model": "atscnn", "out": str(tmp_path / "o")}
    sub.submit("run", options, 2, log=lambda _: None)
    record = json.loads((tmp_path / "o" / "submit.json").read_text())
    assert record["shards"] == 2 and record["tasks"] == {"1/2": "200_0", "2/2": "200_1"}


def test_job_resources_are_checked_before_anything_is_sent() -> None:
    for kwargs, message in (
        ({"time_min": 0}, "--time 0: expected an integer >= 1"),
        ({"gpus_per_task": 0}, "--gpus-per-task 0: expected an integer >= 1"),
        ({"mem_gb": -1.0}, "--mem -1.0: expected gigabytes > 0"),
        ({"max_requeues": -1}, "--max-requeues -1: expected an integer >= 0"),
    ):
        with pytest.raises(MicroexpError, match=message):
            sub.Resources(**kwargs)
