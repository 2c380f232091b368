"""Content-addressed on-disk cache of pre-processed tensors, and its parallel builder.

Layout: ``CACHE/{recipe}-{key12}/recipe.json`` (the resolved recipe) and one
``{dataset}/{subject}/{clip}.npz`` per sample (``.excluded.txt`` holds the reason a sample
could not be used). ``key12`` starts the sha256 of every recipe parameter, so a changed
parameter writes a new folder and never reads stale tensors.
"""

from __future__ import annotations

import json
import os
import time
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..datasets import Sample
from ..errors import MicroexpError
from ..fileio import atomic_path, write_text
from ..preprocess.frames import SampleExcluded
from ..preprocess.recipes import (
    Recipe,
    finish_sample,
    prepare_sample,
    recipe_config,
    recipe_key,
    sample_tensors,
    window_flows,
)


class FlowCache:
    """The cache folder of one recipe under ``root``."""

    def __init__(self, root: str | os.PathLike, recipe: Recipe) -> None:
        self.root = Path(root)
        self.recipe = recipe
        self.key = recipe_key(recipe)
        self.dir = self.root / f"{recipe.name}-{self.key[:12]}"
        self.config = recipe_config(recipe)

    def ensure(self) -> None:
        """Create the folder and its ``recipe.json``; refuse a folder holding another recipe."""
        path = self.dir / "recipe.json"
        if path.is_file():
            try:
                stored = json.loads(path.read_text())
            except json.JSONDecodeError:
                stored = None
            if stored != json.loads(json.dumps(self.config, default=list)):
                raise MicroexpError(
                    f"{path}: cache folder holds another recipe; remove it or use another --cache"
                )
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        write_text(path, json.dumps(self.config, indent=2, sort_keys=True, default=list) + "\n")

    def path(self, sample: Sample) -> Path:
        return self.dir / sample.dataset / sample.subject / f"{sample.clip}.npz"

    def excluded_path(self, sample: Sample) -> Path:
        return self.dir / sample.dataset / sample.subject / f"{sample.clip}.excluded.txt"

    def status(self, sample: Sample) -> str:
        """``ok``, ``excluded``, ``missing`` or ``corrupt`` (a truncated or unreadable file)."""
        path = self.path(sample)
        if path.is_file():
            return "ok" if _intact(path) else "corrupt"
        if self.excluded_path(sample).is_file():
            return "excluded"
        return "missing"

    def exclusion_reason(self, sample: Sample) -> str:
        return self.excluded_path(sample).read_text(encoding="utf-8").strip()

    def load(self, sample: Sample) -> dict[str, np.ndarray]:
        """The stored tensors of ``sample``."""
        path = self.path(sample)
        try:
            with np.load(path) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise MicroexpError(
                f"{path}: unreadable cache file ({exc}); run `microexp flows` again"
            ) from None

    def save(self, sample: Sample, tensors: dict[str, np.ndarray]) -> None:
        with atomic_path(self.path(sample)) as tmp:
            with tmp.open("wb") as fh:
                np.savez(fh, **tensors)
        self.excluded_path(sample).unlink(missing_ok=True)

    def exclude(self, sample: Sample, reason: str) -> None:
        write_text(self.excluded_path(sample), reason + "\n")


def _intact(path: Path) -> bool:
    """A complete .npz: its zip directory is readable and every member's data fits in the file."""
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            size = path.stat().st_size
            return bool(infos) and all(i.header_offset + i.compress_size <= size for i in infos)
    except (OSError, zipfile.BadZipFile):
        return False


@dataclass
class BuildSummary:
    built: int = 0
    reused: int = 0
    rebuilt: int = 0
    excluded: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        reasons = Counter(r.split(" in ")[0].split(" (")[0] for _, r in self.excluded)
        why = "; ".join(f"{n} {r}" for r, n in reasons.items())
        rebuilt = f" ({self.rebuilt} replacing truncated files)" if self.rebuilt else ""
        return (
            f"{self.built} built{rebuilt}, {self.reused} reused, {len(self.excluded)} excluded"
            + (f" ({why})" if why else "")
            + f" in {self.seconds:.1f} s"
        )


def _work(args: tuple[Sample, Recipe, str]) -> tuple[str, str, str]:
    """Build one sample in a worker: returns (sample id, outcome, reason)."""
    sample, recipe, root = args
    cache = FlowCache(root, recipe)
    try:
        tensors = sample_tensors(sample, recipe)
    except SampleExcluded as exc:
        cache.exclude(sample, str(exc))
        return sample.id, "excluded", str(exc)
    cache.save(sample, tensors)
    return sample.id, "built", ""


def _prepare(args: tuple[Sample, Recipe]):
    """A sample's frames made ready for flow, in a worker: (sample, Pending or None, reason)."""
    sample, recipe = args
    try:
        return sample, prepare_sample(sample, recipe), ""
    except SampleExcluded as exc:
        return sample, None, str(exc)


def _batched_flows(chunk: list, recipe: Recipe, cache: FlowCache) -> Iterable[tuple[str, str, str]]:
    """Finish a chunk of prepared samples: the flows of all their windows in one batched call
    per window size (:func:`window_flows`), then each sample's tensors, saved."""
    ready = [(s, p) for s, p, _ in chunk if p is not None]
    for s, p, reason in chunk:
        if p is None:
            cache.exclude(s, reason)
            yield s.id, "excluded", reason
    windows = [w for _, p in ready for w in p.windows]
    flows = window_flows(windows, recipe.tvl1, recipe.flow_backend) if windows else []
    at = 0
    for s, p in ready:
        n = len(p.windows)
        cache.save(s, finish_sample(p, flows[at : at + n], recipe))
        at += n
        yield s.id, "built", ""


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)  # one process per core; no oversubscription


def build_cache(
    samples: Sequence[Sample],
    recipe: Recipe,
    root: str | os.PathLike,
    workers: int | None = None,
    progress: bool = True,
    flow_batch: int = 32,
) -> BuildSummary:
    """Build every sample's tensors into the cache, in ``workers`` processes (default: all cores).

    Samples already cached are reused, truncated files are rebuilt, samples excluded before stay
    excluded (delete their ``.excluded.txt`` to retry). Each file is written atomically, so an
    interrupted run resumes where it stopped. Memory stays flat: workers return no tensors.

    With the ``tf`` flow backend the workers only prepare frames; the flows of ``flow_batch``
    samples at a time (every window of one size, e.g. the onset->apex pairs of 32 samples) run
    in one batched TensorFlow call in this process (on the GPU when there is one), then each
    sample is finished and saved. The tensors equal those built one sample at a time (tested).
    """
    t0 = time.time()
    cache = FlowCache(root, recipe)
    cache.ensure()
    summary = BuildSummary()
    todo = []
    for s in samples:
        state = cache.status(s)
        if state == "ok":
            summary.reused += 1
        elif state == "excluded":
            summary.excluded.append((s.id, cache.exclusion_reason(s)))
        else:
            summary.rebuilt += state == "corrupt"
            todo.append(s)
    workers = max(1, workers or os.cpu_count() or 1)
    batched = getattr(recipe, "flow_backend", "cv2") == "tf"
    run = _run_batched(todo, recipe, cache, workers, flow_batch) if batched else None
    for sid, outcome, reason in run or _run(todo, recipe, str(root), workers, progress):
        if outcome == "built":
            summary.built += 1
        else:
            summary.excluded.append((sid, reason))
    summary.seconds = time.time() - t0
    return summary


def _pool(workers: int):
    """Worker processes for the builders. forkserver: workers fork from a clean server that
    imported the pipeline once (no TensorFlow or threads inherited from the caller, no
    per-worker re-import)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["microexp.preprocess", "microexp.features"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker)


def _run_batched(
    todo: Sequence[Sample], recipe: Recipe, cache: FlowCache, workers: int, flow_batch: int
) -> Iterable[tuple[str, str, str]]:
    """The ``tf`` backend's build: chunks of ``flow_batch`` samples prepared (in ``workers``
    processes), then flowed together; one line per chunk on stderr."""
    import sys

    jobs = [(s, recipe) for s in todo]
    chunks = [jobs[i : i + max(1, flow_batch)] for i in range(0, len(jobs), max(1, flow_batch))]
    pool = _pool(workers) if workers > 1 and len(jobs) > 1 else None
    try:
        for k, chunk in enumerate(chunks, 1):
            t0 = time.time()
            prepared = list(pool.map(_prepare, chunk) if pool else map(_prepare, chunk))
            yield from _batched_flows(prepared, recipe, cache)
            print(
                f"flows ({recipe.name}, tf): chunk {k}/{len(chunks)}, {len(chunk)} samples, "
                f"{time.time() - t0:.1f} s",
                file=sys.stderr,
            )
    finally:
        if pool is not None:
            pool.shutdown()


def _run(
    todo: Sequence[Sample], recipe: Recipe, root: str, workers: int, progress: bool
) -> Iterable[tuple[str, str, str]]:
    from tqdm import tqdm

    # longest clips first: the last jobs to finish are short, so workers finish together
    ordered = sorted(todo, key=lambda s: s.offset - s.onset, reverse=True)
    jobs = [(s, recipe, root) for s in ordered]
    bar = tqdm(
        total=len(jobs),
        desc=f"flows ({recipe.name})",
        unit="sample",
        disable=not progress or not jobs,
    )
    if workers == 1 or len(jobs) <= 1:
        import cv2

        before = cv2.getNumThreads()
        _init_worker()
        try:
            for job in jobs:
                yield _work(job)
                bar.update()
        finally:
            cv2.setNumThreads(before)
            bar.close()
        return
    from concurrent.futures import as_completed

    with _pool(workers) as pool:
        futures = [pool.submit(_work, job) for job in jobs]
        try:
            for fut in as_completed(futures):
                yield fut.result()
                bar.update()
        finally:
            bar.close()
