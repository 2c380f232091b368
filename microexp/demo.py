"""``make demo``: the main job on the embedded synthetic default.

Generates the synthetic datasets the papers use (CK+, CASME, CASME II, SAMM; ``demo`` preset)
once under ``OUT/data``, then reproduces paper A (``OUT/s3d``: CK+ pre-training, LOSO on
CASME II, transfer and scratch) and paper B (``OUT/atscnn``: LOSO on the composite) with the
``demo`` preset, and prints where the reports are. Only paper B's runs also train the final
model on every subject (``OUT/atscnn/runs/atscnn/model.keras``, for ``microexp predict``).

The two papers run side by side in two processes (their lines are marked ``[A]`` and ``[B]``):
each keeps one of two cores busy only about half of the time, so together they took 430 s (data
included) where one after the other took 494 s on the same 2 cores, with the same fold
predictions (all 30 folds compared: each process keeps TensorFlow's default threads, so the
arithmetic is the same).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .errors import MicroexpError

PAPERS = {"s3d": "[A]", "atscnn": "[B]"}
DATASETS = ("ckplus", "casme", "casme2", "samm")


def _paper(paper: str, out: str, preset: str, seed: int, queue) -> None:
    """One paper's reproduction in its own process; puts (paper, report, error) on ``queue``."""
    from .tflog import import_keras_quietly

    import_keras_quietly()
    from .experiments import reproduce

    tag = PAPERS[paper]
    try:
        report = reproduce(
            paper,
            Path(out) / paper,
            preset=preset,
            seed=seed,
            data_dir=Path(out) / "data",
            final_model=paper == "atscnn",
            log=lambda m: print(f"{tag} {m}", flush=True),
        )
        queue.put((paper, str(report), None))
    except MicroexpError as e:
        queue.put((paper, None, str(e)))
    except BaseException as e:  # noqa: BLE001 - reported to the parent, then re-raised here
        queue.put((paper, None, f"{type(e).__name__}: {e}"))
        raise


def _collect(queue, procs) -> list[tuple]:
    """One result per process; a process that died without one is an error, not a hang."""
    from queue import Empty

    results: list[tuple] = []
    while len(results) < len(procs):
        try:
            results.append(queue.get(timeout=2))
        except Empty:
            done = {r[0] for r in results}
            for paper, proc in zip(PAPERS, procs, strict=True):
                if paper not in done and not proc.is_alive() and proc.exitcode:
                    results.append((paper, None, f"its process ended with code {proc.exitcode}"))
    for proc in procs:
        proc.join()
    return results


def run_demo(
    out: str | os.PathLike, preset: str = "demo", seed: int = 0, parallel: bool = True
) -> list[Path]:
    """Both papers on synthetic data; returns the report folders. ``parallel``: the two
    papers in two processes at once (False: one after the other, in this process)."""
    import multiprocessing as mp

    from .synthetic import generate

    out = Path(out)
    t0 = time.time()
    for name in DATASETS:  # first, once: both papers read CASME II
        t = time.time()
        root = generate(name, out / "data" / name, preset, seed)
        print(f"[data] synthetic {name} ({preset}): {root} ({time.time() - t:.0f} s)", flush=True)
    ctx = mp.get_context("spawn")  # TensorFlow is loaded here: never fork it
    queue = ctx.Queue()
    if parallel:
        procs = [
            ctx.Process(target=_paper, args=(p, str(out), preset, seed, queue)) for p in PAPERS
        ]
        for proc in procs:
            proc.start()
        results = _collect(queue, procs)
    else:
        for p in PAPERS:
            _paper(p, str(out), preset, seed, queue)
        results = [queue.get() for _ in PAPERS]
    errors = [f"paper {PAPERS[p]} {p}: {e}" for p, _, e in results if e]
    if errors:
        raise MicroexpError("; ".join(errors))
    reports = [Path(r) for p in PAPERS for q, r, _ in results if q == p]
    print(f"demo finished in {time.time() - t0:.0f} s")
    for r in reports:
        print(f"report: {r / 'report.md'}")
    return reports
