"""Tiny dataset trees in the owners' layouts, written through microexp.synthetic.layout; the
session's JAX compilation cache and xdist groups."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from microexp.synthetic.layout import Clip


def frames(n: int, seed: int = 0, size: int = 8) -> np.ndarray:
    """``n`` random 8x8 grayscale frames."""
    return np.random.default_rng(seed).integers(0, 255, (n, size, size), dtype=np.uint8)


def clip(subject: int, name: str, label: str, n: int = 5, first: int = 1, **kw) -> Clip:
    return Clip(subject, name, label, frames(n, seed=subject * 100 + len(name)), first=first, **kw)


#: JAX's persistent compilation cache, for every JAX process of the session (both xdist workers,
#: the subprocesses, make test's two passes): on a 2-core CPU most of a JAX test's time is XLA
#: compiling small programs (each weight initializer's, per shape), and the same programs recur
#: across tests and processes. Compiled programs only: numbers are unchanged. It holds some
#: 20 MB after make test (make clean removes it).
JAX_CACHE = {
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
}


def pytest_configure(config: pytest.Config) -> None:
    cache = getattr(config, "cache", None)  # None under -p no:cacheprovider
    if cache is None or "jax" in sys.modules or "JAX_COMPILATION_CACHE_DIR" in os.environ:
        return
    os.environ["JAX_COMPILATION_CACHE_DIR"] = str(cache.mkdir("jax_compilation_cache"))
    for key, value in JAX_CACHE.items():
        os.environ.setdefault(key, value)


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under ``pytest -n 2 --dist loadgroup`` (``make test``): a module's tests stay on one
    worker (its module fixtures are built once), and every test that uses the session's
    ``tiny_runs`` goes to one worker (built once, not once per worker)."""
    for item in items:
        group = "tiny_runs" if "tiny_runs" in item.fixturenames else item.module.__name__
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.hookimpl(optionalhook=True)  # an xdist hook: plain pytest runs without xdist too
def pytest_xdist_node_collection_finished(node, ids: list[str]) -> None:
    """xdist carries each test's group in its node id (``...@group``). When a pytest release
    stops that (pytest 9.2 with xdist 3.8), every module fixture and ``tiny_runs`` would be
    built on both workers: minutes more, silently. Say so instead."""
    if node.config.getoption("dist") == "loadgroup" and ids and not any("@" in i for i in ids):
        pytest.exit(
            f"pytest {pytest.__version__} with pytest-xdist: --dist loadgroup lost the test "
            "groups (pytest-dev/pytest-xdist#1386); install the dev extra's pytest<9.2",
            returncode=4,
        )


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runs folder laid out as the notebooks lay it out (their ``MICROEXP_OUT``) holding
    paper A's complete ``tiny`` run: shared by test_reproduce and test_notebooks, which
    then reuse its data, pre-trained model and folds instead of recomputing them."""
    from microexp import notebook
    from microexp.experiments import reproduce

    base = tmp_path_factory.mktemp("runs")
    s = notebook.settings("s3d", {"MICROEXP_OUT": str(base), "MICROEXP_PRESET": "tiny"})
    reproduce("s3d", s.out, preset="tiny", data_dir=s.data_dir, log=lambda _: None)
    return base


@pytest.fixture
def tmp_root(tmp_path: Path) -> Path:
    return tmp_path / "data"
