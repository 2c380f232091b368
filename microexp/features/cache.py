"""Content-addressed on-disk cache of pre-processed tensors, and its parallel builder.

Layout: ``CACHE/{recipe}-{key12}/recipe.json`` (the resolved recipe) and one
``{dataset}/{subject}/{clip}.npz`` per sample (``.excluded.txt`` holds the reason a sample
could not be used). ``key12`` starts the sha256 of every recipe parameter, so a changed
parameter writes a new folder and never reads stale tensors. Each entry also records what it was
made from (:func:`source_key`: the frame files and the annotation fields pre-processing reads),
so an entry made from other frames or annotations (another copy of the dataset, a corrected
coding sheet, a re-generated synthetic tree under the same ``--cache``) is stale and rebuilt.
"""

from __future__ import annotations

import json
import os
import time
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..datasets import Sample
from ..errors import MicroexpError, workers_died
from ..fileio import atomic_path, files_fingerprint, write_text
from ..preprocess.frames import SampleExcluded
from ..preprocess.recipes import (
    ATSCNNRecipe,
    Recipe,
    S3DRecipe,
    finish_sample,
    prepare_sample,
    recipe_config,
    recipe_key,
    sample_tensors,
    window_flows,
)

#: the .npz member (and the .excluded.txt line) holding an entry's :func:`source_key`
SOURCE = "__source__"


def source_key(sample: Sample) -> str:
    """What a sample's tensors are made from: the name, size and modification time of each of
    its frame files (onset to offset), and its onset, apex, offset and frame rate. The folder
    itself is not part of it: a dataset moved with its files' times kept is still reused."""
    paths = (sample.frame_path(n) for n in sample.frame_numbers())
    return files_fingerprint(paths, sample.onset, sample.apex, sample.offset, sample.fps)


class FlowCache:
    """The cache folder of one recipe under ``root``."""

    def __init__(self, root: str | os.PathLike, recipe: Recipe) -> None:
        self.root = Path(root)
        self.recipe = recipe
        self.key = recipe_key(recipe)
        self.dir = self.root / f"{recipe.name}-{self.key[:12]}"
        self.config = recipe_config(recipe)
        self.repaired: list[str] = []  # entries :meth:`load` found damaged and built again

    def ensure(self) -> None:
        """Create the folder and its ``recipe.json``; refuse a folder holding another recipe."""
        path = self.dir / "recipe.json"
        if path.is_file():
            try:
                stored = json.loads(path.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError):  # cut short: the folder's name
                stored = None  # (the recipe's key) says which recipe it holds; written again
            if stored is None:
                write_text(
                    path, json.dumps(self.config, indent=2, sort_keys=True, default=list) + "\n"
                )
            elif stored != json.loads(json.dumps(self.config, default=list)):
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
        """``ok``, ``excluded``, ``missing``, ``corrupt`` (a truncated or unreadable file) or
        ``stale`` (made from other frames or annotations than ``sample``'s now, or by a
        version of microexp that did not record them)."""
        path = self.path(sample)
        if path.is_file():
            if not _intact(path):
                return "corrupt"
            try:
                stored = _stored_source(path)
            except (OSError, ValueError, zipfile.BadZipFile):
                return "corrupt"
            return "ok" if stored == source_key(sample) else "stale"
        excluded = self.excluded_path(sample)
        if excluded.is_file():
            lines = excluded.read_text(encoding="utf-8").splitlines()
            return "excluded" if f"{SOURCE} {source_key(sample)}" in lines else "stale"
        return "missing"

    def exclusion_reason(self, sample: Sample) -> str:
        return self.excluded_path(sample).read_text(encoding="utf-8").splitlines()[0].strip()

    def load(self, sample: Sample) -> dict[str, np.ndarray]:
        """The stored tensors of ``sample``. An entry whose data cannot be read (a damaged
        disk or copy: a bad CRC, garbled bytes) is built again from the frames, saved, and
        listed in :attr:`repaired`; :meth:`status` reads only the zip directory, so such
        damage shows first here."""
        path = self.path(sample)
        try:
            with np.load(path) as z:
                return {k: z[k] for k in z.files if k != SOURCE}
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            damage = str(exc) or type(exc).__name__
        try:
            tensors = sample_tensors(sample, self.recipe)
        except SampleExcluded as exc:
            raise MicroexpError(
                f"{path}: unreadable cache file ({damage}), and building it again failed: {exc}"
            ) from None
        self.save(sample, tensors)
        self.repaired.append(f"{path} ({damage})")
        return tensors

    def save(
        self, sample: Sample, tensors: dict[str, np.ndarray], source: str | None = None
    ) -> None:
        """Store ``sample``'s tensors with ``source``, its :func:`source_key`: the builders take
        it before reading the frames (a frame changed meanwhile makes the entry stale, not
        wrong); None: taken now."""
        source = source if source is not None else source_key(sample)
        with atomic_path(self.path(sample)) as tmp:
            with tmp.open("wb") as fh:
                np.savez(fh, **tensors, **{SOURCE: np.array(source)})
        self.excluded_path(sample).unlink(missing_ok=True)

    def exclude(self, sample: Sample, reason: str, source: str | None = None) -> None:
        source = source if source is not None else source_key(sample)
        write_text(self.excluded_path(sample), f"{reason}\n{SOURCE} {source}\n")


def _stored_source(path: Path) -> str | None:
    """The :func:`source_key` an entry was saved with (None: an entry without one); raises
    what ``np.load`` raises on a damaged file."""
    with np.load(path) as z:
        return str(z[SOURCE]) if SOURCE in z.files else None


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
    stale: int = 0
    excluded: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    usable: set[str] = field(default_factory=set)  # ids whose tensors are cached now

    def line(self) -> str:
        reasons = Counter(r.split(" in ")[0].split(" (")[0] for _, r in self.excluded)
        why = "; ".join(f"{n} {r}" for r, n in reasons.items())
        redone = [
            f"{self.rebuilt} replacing truncated files" if self.rebuilt else "",
            f"{self.stale} made from other frames or annotations before" if self.stale else "",
        ]
        rebuilt = f" ({'; '.join(r for r in redone if r)})" if any(redone) else ""
        return (
            f"{self.built} built{rebuilt}, {self.reused} reused, {len(self.excluded)} excluded"
            + (f" ({why})" if why else "")
            + f" in {self.seconds:.1f} s"
        )


def _work(args: tuple[Sample, Recipe, str]) -> tuple[str, str, str]:
    """Build one sample in a worker: returns (sample id, outcome, reason)."""
    sample, recipe, root = args
    cache = FlowCache(root, recipe)
    source = source_key(sample)
    try:
        tensors = sample_tensors(sample, recipe)
    except SampleExcluded as exc:
        cache.exclude(sample, str(exc), source)
        return sample.id, "excluded", str(exc)
    cache.save(sample, tensors, source)
    return sample.id, "built", ""


def _prepare(args: tuple[Sample, Recipe]):
    """A sample's frames made ready for flow, in a worker: (sample, source key, Pending or
    None, reason)."""
    sample, recipe = args
    source = source_key(sample)
    try:
        return sample, source, prepare_sample(sample, recipe), ""
    except SampleExcluded as exc:
        return sample, source, None, str(exc)


def _batched_flows(chunk: list, recipe: Recipe, cache: FlowCache) -> Iterable[tuple[str, str, str]]:
    """Finish a chunk of prepared samples: the flows of all their windows in one batched call
    per window size (:func:`window_flows`), then each sample's tensors, saved."""
    ready = [(s, src, p) for s, src, p, _ in chunk if p is not None]
    for s, src, p, reason in chunk:
        if p is None:
            cache.exclude(s, reason, src)
            yield s.id, "excluded", reason
    windows = [w for _, _, p in ready for w in p.windows]
    flows = window_flows(windows, recipe.tvl1, recipe.flow_backend) if windows else []
    at = 0
    for s, src, p in ready:
        n = len(p.windows)
        cache.save(s, finish_sample(p, flows[at : at + n], recipe), src)
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
    """Build every sample's tensors into the cache, in ``workers`` processes (None or 0: all
    cores).

    Samples already cached are reused, truncated files and stale entries (made from other frames
    or annotations: :func:`source_key`) are rebuilt, samples excluded before stay excluded while
    their frames and annotation are unchanged (delete their ``.excluded.txt`` to retry). Each file is written atomically, so an
    interrupted run resumes where it stopped. Memory stays flat: workers return no tensors.

    With a Keras flow backend (``tf``, ``jax``, ``torch``) the workers only prepare frames; the
    flows of ``flow_batch`` samples at a time (every window of one size, e.g. the onset->apex
    pairs of 32 samples) run in one batched call in this process (on the GPU when there is one), then each
    sample is finished and saved. The tensors equal those built one sample at a time (tested).
    """
    if workers is not None and workers < 0:
        raise MicroexpError(f"workers {workers}: expected a number of processes (0: all cores)")
    t0 = time.time()
    cache = FlowCache(root, recipe)
    cache.ensure()
    summary = BuildSummary()
    todo = []
    for s in samples:
        state = cache.status(s)
        if state == "ok":
            summary.reused += 1
            summary.usable.add(s.id)
        elif state == "excluded":
            summary.excluded.append((s.id, cache.exclusion_reason(s)))
        else:
            summary.rebuilt += state == "corrupt"
            summary.stale += state == "stale"
            todo.append(s)
    workers = workers or os.cpu_count() or 1
    from ..preprocess.flow import uses_keras  # a Keras flow backend: batched; a wrong one fails

    batched = (
        bool(todo)
        and isinstance(recipe, S3DRecipe | ATSCNNRecipe)  # a registered recipe computes its own
        and uses_keras(getattr(recipe, "flow_backend", "cv2"))
    )
    run = _run_batched(todo, recipe, cache, workers, flow_batch) if batched else None
    try:
        for sid, outcome, reason in run or _run(todo, recipe, str(root), workers, progress):
            if outcome == "built":
                summary.built += 1
                summary.usable.add(sid)
            else:
                summary.excluded.append((sid, reason))
    except BrokenProcessPool:
        raise workers_died(f"flows ({recipe.name})") from None
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
    """A Keras flow backend's build: chunks of ``flow_batch`` samples prepared (in ``workers``
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
                f"flows ({recipe.name}, {recipe.flow_backend}): chunk {k}/{len(chunks)}, {len(chunk)} samples, "
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
