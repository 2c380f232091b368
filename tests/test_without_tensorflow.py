"""JAX with TensorFlow absent, as on the project's GPU machine: ``import microexp``, a whole
``run`` with TensorBoard logging on, and ``predict``, in processes in which importing
tensorflow fails (tests/blockers).

``make test``'s JAX pass runs with tensorflow hidden, so the run and predict test runs there,
in its own process; elsewhere it starts a process with the blocker."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BLOCKERS = Path(__file__).parent / "blockers"

pytest.importorskip("jax")

from microexp import backend, cli  # noqa: E402

#: this process cannot import tensorflow (make test's JAX pass)
TF_HIDDEN = importlib.util.find_spec("tensorflow") is None


def env_without(*modules: str) -> dict[str, str]:
    path = os.pathsep.join([str(BLOCKERS), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {
        **os.environ,
        "PYTHONPATH": path,
        "MICROEXP_TEST_BLOCK": ",".join(modules),
        "KERAS_BACKEND": "jax",
    }


def run(args: list[str], env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_the_blocker_blocks() -> None:
    done = run(["-c", "import tensorflow"], env_without("tensorflow"))
    assert done.returncode != 0 and "hidden by the test" in done.stderr


def test_import_and_every_subpackage_without_tensorflow() -> None:
    code = (
        "import sys, microexp\n"
        "for name in microexp.__all__: getattr(microexp, name)\n"
        "from microexp import backend, data, training, models, prediction\n"
        "print(backend.name(), 'tensorflow' in sys.modules)"
    )
    done = run(["-c", code], env_without("tensorflow"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-2:] == ["jax", "False"]


def microexp_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``microexp ARGS`` on JAX without tensorflow: in this process where it is hidden, else in
    a fresh one with the blocker. Returns (exit status, stdout, stderr)."""
    if TF_HIDDEN and backend.requested() == "jax":
        capsys.readouterr()
        code = cli.main(args)
        out = capsys.readouterr()
        assert "tensorflow" not in sys.modules
        return code, out.out, out.err
    done = run(["-m", "microexp", *args], env_without("tensorflow"))
    return done.returncode, done.stdout, done.stderr


@pytest.mark.jax
@pytest.mark.skipif(
    backend.requested() != "jax", reason="runs in make test's JAX pass (tensorflow hidden there)"
)
def test_run_with_tensorboard_and_predict_without_tensorflow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tiny LOSO run of ATSCNN on CASME II (synthetic data, TensorBoard on) and predict on
    one of its clips, on JAX, where TensorFlow cannot be imported."""
    out = tmp_path / "out"
    args = ["run", "--protocol", "casme2-5class", "--model", "atscnn"]
    code, stdout, stderr = microexp_cli(
        [*args, "--preset", "tiny", "--out", str(out), "--tensorboard"], capsys
    )
    assert code == 0, stderr[-3000:]
    assert "finished" in stdout
    rundir = out / "runs" / "atscnn"
    config = json.loads((rundir / "config.json").read_text())
    assert config["backend"] == "jax" and config["runtime"]["tensorboard"] is True
    events = list(rundir.rglob("events.out.tfevents.*"))
    assert events and all(e.stat().st_size > 0 for e in events)
    assert (out / "report" / "report.md").is_file()
    from microexp import datasets as ds

    clip = ds.load("casme2", out / "data" / "casme2").samples[0].frames_dir
    code, stdout, stderr = microexp_cli(
        ["predict", "--model", str(rundir / "model.keras"), str(clip), "--json"], capsys
    )
    assert code == 0, stderr[-3000:]
    result = json.loads(stdout)
    assert len(result["probabilities"]) == 5 and abs(sum(result["probabilities"]) - 1) < 1e-3


def test_an_unknown_or_missing_backend_is_one_line(tmp_path: Path) -> None:
    for name, expected in (
        ("theano", "KERAS_BACKEND='theano': expected one of: tensorflow, jax, torch"),
        ("tensorflow", "KERAS_BACKEND=tensorflow: the tensorflow package is not installed"),
    ):
        env = {**env_without("tensorflow"), "KERAS_BACKEND": name}
        done = run(["-m", "microexp", "models", "summary", "--model", "ststnet"], env)
        assert done.returncode == 2, done.stderr[-2000:]
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"microexp: error: {expected}")
