"""Several LOSO folds at once on one machine (``--parallel-folds K``): K worker processes, each
training its share of the folds that are not finished, on the same device.

Folds are independent trainings, and a fold's record does not depend on the folds run before
it in its process (tested), so a fold trained by a worker is the fold trained one by one, to
the bit, on the same device and with the same number of threads. Each worker writes its fold
records atomically into the run folder; the parent then runs LOSO as usual, finds every fold
done, and goes on with the baselines, the model trained on every subject and the report. A
worker that fails leaves the folds it finished, so re-running resumes.

K workers per GPU (each sees one, through ``CUDA_VISIBLE_DEVICES``), or K on a machine
without one. Workers on a GPU share it: JAX workers each preallocate at most ``0.9 / K`` of its
memory (``XLA_PYTHON_CLIENT_MEM_FRACTION``) and TensorFlow workers grow their memory as needed
(``TF_FORCE_GPU_ALLOW_GROWTH``); a value the user set is kept. On a CPU each worker keeps the
framework's default threads (the arithmetic stays that of a single process; the cores are
shared).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from ..errors import MicroexpError


def split_folds_round_robin(folds: Sequence[int], k: int) -> list[tuple[int, ...]]:
    """``folds`` dealt to ``k`` workers in turn (folds of similar size sit next to each other
    in LOSO order, so each worker gets a similar load); workers with no fold are left out."""
    shares = [tuple(folds[i::k]) for i in range(k)]
    return [s for s in shares if s]


def visible_gpus(environ: Mapping[str, str] | None = None) -> list[str]:
    """The GPUs this process may use, read without starting a framework: the ids in
    ``CUDA_VISIBLE_DEVICES`` when it is set (empty: none), else one per ``nvidia-smi -L``
    line; none where there is no NVIDIA driver."""
    import subprocess

    environ = os.environ if environ is None else environ
    if "CUDA_VISIBLE_DEVICES" in environ:
        return [g.strip() for g in environ["CUDA_VISIBLE_DEVICES"].split(",") if g.strip()]
    try:
        listed = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    # "GPU 0: NVIDIA H200 (UUID: ...)"; MIG devices are indented lines below their GPU
    return [
        line.split(":")[0][4:].strip() for line in listed.splitlines() if line.startswith("GPU ")
    ]


def worker_env(
    k: int, environ: Mapping[str, str] | None = None, gpu: str | None = None
) -> dict[str, str]:
    """The environment variables a worker sets before its framework starts, so that ``k``
    workers share one GPU (``gpu``: the one it sees, ``CUDA_VISIBLE_DEVICES``); values
    already in ``environ`` are kept."""
    environ = os.environ if environ is None else environ
    wanted = {
        "XLA_PYTHON_CLIENT_MEM_FRACTION": f"{0.9 / k:.3f}",
        "TF_FORCE_GPU_ALLOW_GROWTH": "true",
    }
    out = {key: value for key, value in wanted.items() if key not in environ}
    if gpu is not None:
        out["CUDA_VISIBLE_DEVICES"] = gpu
    return out


def worker_plan(k: int, gpus: Sequence[str]) -> list[str | None]:
    """The GPU each worker sees: ``k`` workers per GPU, dealt in turn (worker i on GPU
    ``i % len(gpus)``); ``k`` workers on the CPU (None) where there is no GPU."""
    if not gpus:
        return [None] * k
    return [gpus[i % len(gpus)] for i in range(k * len(gpus))]


def _worker(train, out, exp, opts, paper, seed, env, tag, queue) -> None:
    """One worker: ``train(out, exp, opts, paper, seed)`` on its share of the folds of
    ``exp`` (``opts.folds``); log lines and the outcome go to ``queue`` as (tag, kind, text)."""
    os.environ.update(env)
    from ..tflog import import_keras_quietly

    import_keras_quietly()
    opts = replace(opts, log=lambda m: queue.put((tag, "log", m)))
    try:
        train(out, exp, opts, paper, seed)
        queue.put((tag, "done", ""))
    except MicroexpError as e:
        queue.put((tag, "error", str(e)))
    except BaseException as e:  # noqa: BLE001 - reported to the parent, then re-raised here
        queue.put((tag, "error", f"{type(e).__name__}: {e}"))
        raise


def run_in_workers(
    train: Callable,
    out,
    exp,
    opts,
    paper: str | None,
    seed: int,
    folds: Sequence[int],
    k: int,
    log: Callable[[str], None],
) -> None:
    """Train ``folds`` of ``exp`` in ``k`` worker processes per visible GPU (:func:`
    worker_plan`), or ``k`` on the CPU: each calls ``train(out, exp, opts, paper, seed)``, a
    module-level function (the spawned process imports it by name), fewer when there are fewer folds, relaying their log
    lines as ``[worker i/n] ...``; a failed worker is a one-line :class:`MicroexpError` after
    every worker has ended (finished folds are kept)."""
    import multiprocessing as mp
    from queue import Empty

    plan = worker_plan(k, visible_gpus())
    shares = split_folds_round_robin(list(folds), len(plan))
    if not shares:
        return
    spawn = mp.get_context("spawn")  # a fresh framework per worker (no forked threads)
    queue = spawn.Queue()
    procs = {}
    for i, (share, gpu) in enumerate(zip(shares, plan, strict=False), start=1):
        env = worker_env(k, gpu=gpu)
        tag = f"worker {i}/{len(shares)}"
        worker_opts = replace(
            opts, folds=share, shard=None, seeds=(seed,), parallel_folds=1, log=print
        )
        proc = spawn.Process(
            target=_worker, args=(train, out, exp, worker_opts, paper, seed, env, tag, queue)
        )
        proc.start()
        procs[tag] = proc
    where = f" on {len(set(plan))} GPUs" if plan[0] is not None else ""
    log(f"[parallel] {exp.name}: {len(folds)} folds in {len(shares)} worker processes{where}")
    ended: dict[str, tuple[str, str]] = {}
    while len(ended) < len(procs):
        try:
            tag, kind, text = queue.get(timeout=2)
        except Empty:
            for tag, proc in procs.items():
                if tag not in ended and not proc.is_alive() and proc.exitcode:
                    ended[tag] = ("error", f"its process ended with code {proc.exitcode}")
            continue
        if kind == "log":
            log(f"[{tag}] {text}")
        else:
            ended[tag] = (kind, text)
    for proc in procs.values():
        proc.join()
    failed = [f"{tag}: {text}" for tag, (kind, text) in ended.items() if kind == "error"]
    if failed:
        raise MicroexpError(
            f"--parallel-folds: {failed[0]}"
            + (f" (and {len(failed) - 1} more workers failed)" if len(failed) > 1 else "")
        )
