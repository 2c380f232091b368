"""microexp submit on a real Slurm: a single-node cluster on this machine, started by
tools/slurm_localhost.sh (`make test-cluster`; skipped when no Slurm answers). Paper B's tiny
reproduction as a job array: the merged report equals the run done unsharded here, and tasks
that are requeued (as a preemption does) or warned of their time limit (submitit's checkpoint
path) resume and complete, losing no finished fold."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slurm


def _slurm_answers() -> bool:
    if shutil.which("sinfo") is None:
        return False
    state = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True)
    return state.returncode == 0 and state.stdout.strip().startswith(("idle", "mix", "alloc"))


if not _slurm_answers():
    pytest.skip("no Slurm answers (make test-cluster starts one)", allow_module_level=True)


def _queued(job_ids: list[str]) -> list[str]:
    out = subprocess.run(
        ["squeue", "-h", "-o", "%i %t %r", "-j", ",".join(job_ids)],
        capture_output=True,
        text=True,
    ).stdout
    return [line for line in out.splitlines() if line.strip()]


def _wait(done, timeout: float = 300) -> None:
    """Until every job of the submission has left the queue; a job whose dependency can
    never be met fails the test at once."""
    ids = [done.prepare, done.array, done.finish]
    end = time.time() + timeout
    while time.time() < end:
        left = _queued(ids)
        if not left:
            return
        never = [line for line in left if "DependencyNeverSatisfied" in line]
        if never:
            logs = sorted(done.logs.rglob("*_log.*"))
            tails = "\n".join(p.read_text(errors="replace")[-600:] for p in logs)
            subprocess.run(["scancel", *ids], check=False)
            pytest.fail(f"a job failed, so {never[0]}; logs:\n{tails[-4000:]}")
        time.sleep(2)
    subprocess.run(["scancel", *ids], check=False)
    pytest.fail(f"jobs still queued after {timeout} s: {_queued(ids)}")


def _records(out: Path) -> dict[str, tuple]:
    paths = sorted((out / "runs" / "atscnn" / "folds").glob("*.json"))
    recs = {p.name: json.loads(p.read_text()) for p in paths}
    return {name: (r["y_prob"], r["history"]) for name, r in recs.items()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Paper B's tiny reproduction unsharded, here; its data and flows serve the arrays."""
    from microexp.experiments import reproduce

    base = tmp_path_factory.mktemp("slurm")
    out = base / "unsharded"
    reproduce("atscnn", out, preset="tiny", data_dir=base / "data", log=lambda _: None)
    t0 = time.time()  # again with data and flows made: what the array's jobs share
    reproduce("atscnn", base / "unsharded-timed", preset="tiny", data_dir=base / "data",
              cache=out / "cache", log=lambda _: None)  # fmt: skip
    print(f"\nunsharded, here, data and flows made: {time.time() - t0:.0f} s")
    return {"base": base, "out": out, "data": base / "data", "cache": out / "cache"}


def _submit(reference: dict, name: str, shards: int, **resources):
    from microexp.experiments.submit import Resources, submit

    options = {"paper": "atscnn", "out": str(reference["base"] / name), "preset": "tiny",
               "data_dir": str(reference["data"]), "cache": str(reference["cache"])}  # fmt: skip
    return submit("reproduce", options, shards, resources=Resources(**resources), log=print)


def test_an_array_of_three_equals_the_unsharded_run(reference: dict) -> None:
    t0 = time.time()
    done = _submit(reference, "array", 3, time_min=10)
    assert len(done.tasks) == 3 and done.tasks[0].startswith(done.array + "_")
    _wait(done)
    print(f"\n3-task array: {time.time() - t0:.0f} s from submission to the merged report")
    out = reference["base"] / "array"
    assert _records(out) == _records(reference["out"]) and len(_records(out)) == 9
    metrics = json.loads((out / "report" / "metrics.json").read_text())
    assert metrics["atscnn"]["folds"] == 9 and not metrics["atscnn"].get("partial")
    assert (out / "runs" / "atscnn" / "model.keras").is_file()  # the finishing job's
    prepare_log = next(done.logs.glob(f"{done.prepare}/*_log.out")).read_text()
    assert "[prepare] atscnn: data, flows and pre-training ready" in prepare_log


def _task_log(done, task: str) -> str:
    return "".join(p.read_text(errors="replace") for p in done.logs.glob(f"{task}/*_log.out"))


def _when_running_a_fold(done, task: str, timeout: float = 120) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if "correct (" in _task_log(done, task):  # a fold finished: the task is mid-run
            return
        time.sleep(0.5)
    pytest.fail(f"task {task} finished no fold in {timeout} s:\n{_task_log(done, task)[-2000:]}")


def test_requeued_and_time_warned_tasks_resume_and_lose_no_fold(reference: dict) -> None:
    """Task 0 is requeued by `scontrol requeue` (a preemption); task 1 gets Slurm's time-limit
    warning signal (USR2, what `--signal=USR2@90` sends), so submitit checkpoints the step
    and requeues it. Both resume from their finished folds, which are never recomputed."""
    done = _submit(reference, "requeue", 2, time_min=10, max_requeues=3)
    folds = reference["base"] / "requeue" / "runs" / "atscnn" / "folds"
    first, second = done.tasks
    _when_running_a_fold(done, first)
    kept = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in folds.glob("*.json")}
    subprocess.run(["scontrol", "requeue", first], check=True)
    _when_running_a_fold(done, second)
    kept.update({p: (p.read_bytes(), p.stat().st_mtime_ns) for p in folds.glob("*.json")})
    subprocess.run(["scancel", "--signal=USR2", second], check=True)
    _wait(done)
    assert kept and all((p.read_bytes(), p.stat().st_mtime_ns) == v for p, v in kept.items())
    assert _records(reference["base"] / "requeue") == _records(reference["out"])
    assert "done before, reused" in _task_log(done, first)  # the requeued run resumed
    warned = _task_log(done, second)
    assert "this job is timed-out" in warned and "Requeued" in warned  # submitit's path
    assert "done before, reused" in warned


def _wait_for_the_failure(done, timeout: float = 300) -> None:
    """Until the array has ended and the finishing job waits for a dependency that can never
    be met (a task failed); then cancel it."""
    end = time.time() + timeout
    while time.time() < end:
        left = _queued([done.prepare, done.array, done.finish])
        if len(left) == 1 and "DependencyNeverSatisfied" in left[0]:
            subprocess.run(["scancel", done.finish], check=False)
            return
        if not left:
            pytest.fail("every job ended: the fault was not met")
        time.sleep(2)
    subprocess.run(["scancel", done.prepare, done.array, done.finish], check=False)
    pytest.fail(f"still queued after {timeout} s")


def test_a_fault_in_one_shard_is_named_by_its_log_and_report(reference: dict, capsys) -> None:
    """Fold 1's record cannot be written (a folder stands at its path): shard 2/3 (folds 1, 4,
    7) fails with the one-line error in its task's log, shards 1 and 3 finish, and `microexp
    report` names the shard, its Slurm task and its logs."""
    from microexp.cli import main

    out = reference["base"] / "fault"
    blocked = sorted(p.name for p in (reference["out"] / "runs" / "atscnn" / "folds").iterdir())[1]
    stand_in = out / "runs" / "atscnn" / "folds" / blocked
    stand_in.mkdir(parents=True)
    done = _submit(reference, "fault", 3, time_min=10)
    _wait_for_the_failure(done)
    errors = [
        line
        for p in done.logs.glob(f"{done.tasks[1]}/*_log.err")
        for line in p.read_text(errors="replace").splitlines()
        if line.startswith("microexp: error:")
    ]
    assert errors and blocked in errors[0]
    for task in (done.tasks[0], done.tasks[2]):
        assert "folds step finished" in _task_log(done, task)
    stand_in.rmdir()  # the fault fixed; the report of what the array finished
    capsys.readouterr()
    code = main(["report", str(out)])
    said = capsys.readouterr()
    assert code == 0, said.err
    said = said.out
    assert f"partial: atscnn misses fold(s) 1, 4, 7: shard 2/3 (Slurm task {done.tasks[1]}" in said
