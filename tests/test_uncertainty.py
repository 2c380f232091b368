"""Baselines beside every run, bootstrap intervals over subjects, paired comparisons."""

from __future__ import annotations

import numpy as np
import pytest

from microexp.evaluation.baselines import (
    linear_probe_fit_predict,
    majority_fit_predict,
    pooled_features,
)
from microexp.evaluation.intervals import bootstrap_ci, paired_comparison
from microexp.evaluation.metrics import uf1


def test_pooled_features_are_fixed_and_documented_shapes() -> None:
    volume = np.random.default_rng(0).normal(size=(16, 16, 4, 3))
    assert pooled_features(volume).shape == (8 * 8 * 9,)
    # a rise and a return: the halves keep both directions, the magnitude is the mean |flow|
    rise_return = np.concatenate([np.ones((16, 16, 2, 3)), -np.ones((16, 16, 2, 3))], axis=2)
    cells = pooled_features(rise_return).reshape(64, 9)
    assert np.allclose(cells, [1, 1, 1, -1, -1, -1, 1, 1, 1])
    assert pooled_features(volume[..., 0, :]).shape == (8 * 8 * 6,)
    assert pooled_features(np.arange(5.0)).tolist() == [0, 1, 2, 3, 4]
    flat = np.ones((16, 16, 3))
    assert np.allclose(pooled_features(flat), 1.0)  # channel and magnitude of a constant flow
    with pytest.raises(ValueError, match="Received"):
        pooled_features(np.zeros((2, 2, 2, 2, 2)))


def test_majority_is_the_training_folds_most_frequent_class() -> None:
    assert majority_fit_predict([2, 1, 2, 0], 3) == [2, 2, 2]
    assert majority_fit_predict([1, 0], 1) == [0]  # ties: the lowest index


def test_linear_probe_learns_and_never_sees_the_test_set_scale() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 30)
    x = rng.normal(size=(90, 20)) + np.eye(3)[y] @ rng.normal(0, 3, size=(3, 20))
    test = rng.normal(size=(30, 20)) + np.eye(3)[np.repeat([0, 1, 2], 10)] @ np.zeros((3, 20))
    pred = linear_probe_fit_predict(x[::2], y[::2], x[1::2])
    assert np.mean(np.array(pred) == y[1::2]) >= 0.9
    alone = [linear_probe_fit_predict(x, y, test[i : i + 1])[0] for i in range(3)]
    together = linear_probe_fit_predict(x, y, np.concatenate([test[:3], 100 * test[3:]]))
    assert alone == together[:3]  # standardised with training statistics only


def _run(n_subjects: int, correct: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    subjects = np.repeat([f"s{i}" for i in range(n_subjects)], 6)
    y_true = rng.integers(0, 3, len(subjects))
    y_pred = np.where(rng.random(len(subjects)) < correct, y_true, (y_true + 1) % 3)
    return y_true, y_pred, subjects


def test_bootstrap_interval_over_subjects_contains_the_estimate() -> None:
    t, p, s = _run(12, 0.7)
    ci = bootstrap_ci(t, p, s, 3)
    assert set(ci) == {"subject_mean_accuracy", "pooled_accuracy", "pooled_uf1", "pooled_uar"}
    low, high = ci["pooled_uf1"]
    assert low < uf1(t, p, [0, 1, 2]) < high and 0 < high - low < 0.5
    assert bootstrap_ci(t, t, s, 3)["pooled_accuracy"] == [1.0, 1.0]
    assert np.isnan(bootstrap_ci(t[:6], p[:6], s[:6], 3)["pooled_uf1"][0])  # one subject


def test_paired_comparison_difference_interval_and_exact_p() -> None:
    t, p, s = _run(8, 0.5)
    same = paired_comparison((t, p, s), (t, p, s), "pooled_uf1", 3)
    assert same["difference"] == 0 and same["p_value"] == 1.0 and same["ci95"] == [0.0, 0.0]
    wrong = (t + 1) % 3
    better = paired_comparison((t, t, s), (t, wrong, s), "pooled_accuracy", 3)
    assert better["difference"] == 1.0 and better["ci95"] == [1.0, 1.0]
    assert better["p_value"] == pytest.approx(2 / 2**8)  # exact: only the two extreme swaps
    with pytest.raises(ValueError, match="same samples"):
        paired_comparison((t, p, s), (t[::-1], p, s), "pooled_uf1", 3)


def test_science_study_leaves_out_unfinished_seeds(monkeypatch) -> None:
    """The mechanism study reports a seed only once every fold of it finished: a half-run
    seed would otherwise cut every seed of the run to the folds they share."""
    import importlib.util
    from pathlib import Path

    from microexp.reporting.report import RunResult, run_metrics

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_science.py"
    spec = importlib.util.spec_from_file_location("bench_science", path)
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(__import__("sys").modules, "bench_science", bench)  # for its dataclasses
    spec.loader.exec_module(bench)

    def fold(k: int, right: bool) -> dict:
        pred = [0, 1] if right else [1, 0]
        return {"fold": k, "y_true": [0, 1], "y_pred": pred, "samples": [f"d/s{k}/a", f"d/s{k}/b"]}

    config = {"classes": ["a", "b"], "seed": 0}
    seed0 = [fold(k, True) for k in range(4)]
    seed1 = [fold(0, False), fold(1, False)]  # stopped after 2 of 4 folds
    run = RunResult("m", (), config, seed0, run_metrics(config, [seed0, seed1], [0, 1]), {},
                    [seed0, seed1])  # fmt: skip
    assert run.metrics["folds"] == 2  # what the report alone would say
    kept, dropped = bench.finished_seeds(run, 4)
    assert dropped == ["m seed 1 (2 of 4 folds)"]
    assert kept.metrics["folds"] == 4 and kept.metrics["subject_mean_accuracy"] == 1.0
    assert bench.finished_seeds(run, 5) == (
        None,
        ["m seed 0 (4 of 5 folds)", "m seed 1 (2 of 5 folds)"],
    )
    assert bench.finished_seeds(kept, 4) == (kept, [])
