"""The prepared GPU check (benchmarks/gpu_check.py) in its --smoke mode, on JAX, in a process
that mirrors the GPU machine: no TensorFlow, no dlib, no cv2.optflow. So it cannot rot before a
session is lent the GPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]

pytest.importorskip("jax")

# its own JAX subprocess either way: run once, in make test's JAX pass, which has the slack
pytestmark = [
    pytest.mark.jax,
    pytest.mark.skipif(
        os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow",
        reason="run in the JAX pass (make test-jax)",
    ),
]


def test_gpu_check_smoke_on_a_machine_like_the_gpu_one(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "tests" / "blockers"), str(ROOT)]),
        "MICROEXP_TEST_BLOCK": "tensorflow,dlib,cv2.optflow",
        "KERAS_BACKEND": "jax",
    }
    script = ROOT / "benchmarks" / "gpu_check.py"
    done = subprocess.run(
        [sys.executable, str(script), "--smoke", "--out", str(tmp_path), "--budget", "400"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    results = json.loads((tmp_path / "gpu_check.json").read_text())
    assert results["smoke"] is True and results["env"]["backend"] == "jax"
    for model in ("s3d", "atscnn"):
        run = results[model]["runs"][0]
        assert run["samples_per_s"] > 0 and run["compile_s"] >= 0 and "error" not in run
    for model, policy in (("atscnn", "bfloat16"), ("s3d", "float16")):
        run = results["mixed"][model]["runs"][0]
        assert run["policy"] == policy and run["samples_per_s"] > 0 and "error" not in run
    loso = results["paper_b_loso"]
    assert loso["padded_batches"] is True and loso["whole_loso_extrapolated_s"] > 0
    assert len(loso["folds"]) == 2 and loso["steady_step_s"] > 0
    assert all(0 < f["steps_fraction"] and len(f["epoch_s"]) == 2 for f in loso["folds"])
    (parallel,) = results["parallel_folds"]["runs"]
    assert parallel["k"] == 2 and parallel["wall_s"] > 0 and "error" not in parallel
    (vmapped,) = results["vmap_folds"]["vmapped"]
    assert vmapped["k"] == 2 and vmapped["step_s"] > 0
    paper_a = results["paper_a"]
    assert paper_a["pretrain"]["extrapolated_s"] > 0 and paper_a["fine_tune"]["fold_wall_s"]
    assert paper_a["paper_a_extrapolated_s"] > paper_a["pretrain"]["extrapolated_s"]
    tvl1 = results["tvl1"]
    assert tvl1["device_pairs_per_s"] > 0 and "cv2.optflow missing" in tvl1["cv2"]
