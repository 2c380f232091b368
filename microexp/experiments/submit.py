"""``microexp submit``: a ``run`` or ``reproduce`` split over a Slurm job array through
submitit (the optional extra ``microexp[cluster]``), or over local worker processes.

On Slurm, three submissions, each a job of the same command with another ``step``
(:class:`~.runner.RunOptions`):

1. ``prepare``: the work every shard shares, once: synthetic data (when no root is given),
   flows, paper A's pre-training;
2. an array of N tasks, ``folds`` with ``shard`` i/N, after the first succeeded
   (``afterok``): each task's share of the folds, each fold record written atomically;
3. ``all``, after the whole array succeeded: every fold is found done, then the baselines, the
   model trained on every subject and the merged report.

Each job runs a :class:`Step`, a checkpointable callable: when Slurm preempts a task or its
time runs out, submitit requeues it (up to ``max_requeues`` times for time-outs) and the
command resumes from its finished folds. ``executor="local"`` runs the command here with
``parallel_folds`` (the local launcher: K worker processes per GPU, or K on the CPU).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import MicroexpError, check_int, unknown_name

#: what ``microexp submit`` can split
COMMANDS = ("run", "reproduce")
#: where the jobs go
EXECUTORS = ("slurm", "local")


@dataclass(frozen=True)
class Resources:
    """What each Slurm job asks for. ``time_min``: each job's limit (a task past it is
    requeued and resumes); ``extra``: more ``#SBATCH`` settings as (key, value), e.g.
    ``("account", "lab")``."""

    partition: str | None = None
    gpus_per_task: int | None = None
    cpus_per_task: int | None = None
    mem_gb: float | None = None
    time_min: int = 60
    array_parallelism: int | None = None
    max_requeues: int = 3
    signal_delay_s: int = 90
    extra: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        check_int(self.time_min, "--time", 1)
        check_int(self.max_requeues, "--max-requeues", 0)
        check_int(self.signal_delay_s, "signal_delay_s", 1)
        for name, value in (
            ("--gpus-per-task", self.gpus_per_task),
            ("--cpus-per-task", self.cpus_per_task),
            ("--array-parallelism", self.array_parallelism),
        ):
            if value is not None:
                check_int(value, name, 1)
        if self.mem_gb is not None and not self.mem_gb > 0:
            raise MicroexpError(f"--mem {self.mem_gb!r}: expected gigabytes > 0")

    def slurm_parameters(self) -> dict:
        """submitit's SlurmExecutor parameters."""
        params: dict = {"time": self.time_min, "signal_delay_s": self.signal_delay_s}
        for key, value in (
            ("partition", self.partition),
            ("gpus_per_task", self.gpus_per_task),
            ("cpus_per_task", self.cpus_per_task),
            ("mem", None if self.mem_gb is None else f"{int(self.mem_gb * 1024)}MB"),
            ("array_parallelism", self.array_parallelism),
        ):
            if value is not None:
                params[key] = value
        if self.extra:
            params["additional_parameters"] = dict(self.extra)
        return params


def parse_slurm_settings(items: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """``--slurm KEY=VALUE`` items -> (key, value) pairs, or a one-line error."""
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise MicroexpError(f"--slurm {item!r}: expected KEY=VALUE, e.g. account=mylab")
        pairs.append((key.strip().replace("-", "_"), value.strip()))
    return tuple(pairs)


try:  # requeue on time-out or preemption; a plain base without the cluster extra
    from submitit.helpers import Checkpointable as _Base
except ImportError:  # pragma: no cover - the cluster extra is missing
    _Base = object


class Step(_Base):
    """One job of a submitted run: ``command`` (``run`` or ``reproduce``) with ``options``
    (their keyword arguments). Calling it again after a requeue resumes: finished fold
    records are reused."""

    def __init__(self, command: str, options: Mapping[str, object]) -> None:
        self.command = command
        self.options = dict(options)

    def __call__(self) -> str:
        import sys

        try:
            return str(call_command(self.command, self.options))
        except (MicroexpError, OSError) as exc:  # the CLI's one line, first in the task's log
            print(f"microexp: error: {exc}", file=sys.stderr, flush=True)
            raise


def call_command(command: str, options: Mapping[str, object]) -> Path:
    """``run(protocol, model, out, ...)`` or ``reproduce(paper, out, ...)`` from one dict."""
    from . import reproduce, run

    opts = dict(options)
    if command == "run":
        return run(opts.pop("protocol"), opts.pop("model"), opts.pop("out"), **opts)
    if command == "reproduce":
        return reproduce(opts.pop("paper"), opts.pop("out"), **opts)
    raise unknown_name("command to submit", command, COMMANDS)


@dataclass(frozen=True)
class Submitted:
    """The jobs of a submission: ids and where their logs go."""

    prepare: str
    array: str
    tasks: tuple[str, ...]
    finish: str
    logs: Path


def _submitit():
    try:
        import submitit
    except ImportError:
        raise MicroexpError(
            "microexp submit --executor slurm needs submitit: pip install 'microexp[cluster]' "
            "(or pip install submitit)"
        ) from None
    return submitit


def submit(
    command: str,
    options: Mapping[str, object],
    shards: int,
    executor: str = "slurm",
    resources: Resources = Resources(),
    logs: str | os.PathLike | None = None,
    log: Callable[[str], None] = print,
) -> Submitted | Path:
    """Split ``command`` over ``shards`` Slurm array tasks (returns the job ids; nothing
    waits) or run it here with ``parallel_folds=shards`` (``executor="local"``; returns the
    report folder). ``options``: the command's keyword arguments, ``out`` among them. Every
    option is checked before anything is submitted."""
    if command not in COMMANDS:
        raise unknown_name("command to submit", command, COMMANDS)
    if executor not in EXECUTORS:
        raise unknown_name("executor", executor, EXECUTORS)
    check_int(shards, "--shards", 1)
    for key in ("shard", "folds", "parallel_folds", "step"):
        if options.get(key) not in (None, 1, "all"):
            raise MicroexpError(f"microexp submit sets {key} itself; leave it out")
    if executor == "local":
        return call_command(command, {**options, "parallel_folds": shards, "log": log})
    submitit = _submitit()
    _check_options(command, options)
    out = Path(str(options["out"]))
    folder = Path(logs) if logs is not None else out / "slurm_logs"
    ex = submitit.SlurmExecutor(folder=folder / "%j", max_num_timeout=resources.max_requeues)
    base = resources.slurm_parameters()
    ex.update_parameters(job_name=f"microexp-{command}", **base)
    try:
        return _send(ex, command, options, shards, out, folder, log)
    except submitit.core.utils.FailedJobError as exc:  # sbatch said no (partition, account...)
        why = " ".join(str(exc).split())[-300:]
        raise MicroexpError(f"sbatch refused the job: {why}") from None


def _send(ex, command: str, options: Mapping[str, object], shards: int, out: Path, folder: Path,
          log: Callable[[str], None]) -> Submitted:  # fmt: skip
    """The three submissions (prepare, the array, finish) with their dependencies."""
    prepare = ex.submit(Step(command, {**options, "step": "prepare"}))
    ex.update_parameters(dependency=f"afterok:{prepare.job_id}")
    with ex.batch():
        tasks = [
            ex.submit(Step(command, {**options, "step": "folds", "shard": f"{i}/{shards}"}))
            for i in range(1, shards + 1)
        ]
    array = tasks[0].job_id.split("_")[0]
    ex.update_parameters(dependency=f"afterok:{array}")
    finish = ex.submit(Step(command, {**options, "step": "all"}))
    done = Submitted(prepare.job_id, array, tuple(t.job_id for t in tasks), finish.job_id, folder)
    _record(out, done, shards)
    log(f"[submit] prepare: job {done.prepare}")
    log(f"[submit] folds: array {done.array} of {shards} tasks (after {done.prepare})")
    log(f"[submit] report and final model: job {done.finish} (after the whole array)")
    log(f"[submit] logs: {folder}/JOBID/; follow with squeue -u $USER and `microexp report {out}`")
    return done


#: the submission's record in the output folder, read by microexp report for a partial run
SUBMISSION_FILE = "submit.json"


def _record(out: Path, done: Submitted, shards: int) -> None:
    """``OUT/submit.json``: the shard count, each task's id and log folder, so that
    ``microexp report`` names the shard and task of missing folds."""
    import json

    from ..fileio import write_text

    out.mkdir(parents=True, exist_ok=True)
    tasks = {f"{i}/{shards}": task for i, task in enumerate(done.tasks, start=1)}
    record = {
        "shards": shards,
        "prepare": done.prepare,
        "array": done.array,
        "tasks": tasks,
        "finish": done.finish,
        "logs": str(done.logs),
    }
    write_text(out / SUBMISSION_FILE, json.dumps(record, indent=2) + "\n")


def _check_options(command: str, options: Mapping[str, object]) -> None:
    """What the jobs would refuse, refused now: names, option values, data roots."""
    from .runner import _options

    if "out" not in options:
        raise MicroexpError("microexp submit: expected an output folder (--out)")
    known = {"protocol", "model", "out", "recipe", "paper", "ablation", "modes", "pretrained"}
    _options({k: v for k, v in options.items() if k not in known})
    if command == "run":
        from ..datasets import get_protocol
        from ..models import get_spec

        get_protocol(str(options.get("protocol")))
        get_spec(str(options.get("model")))
