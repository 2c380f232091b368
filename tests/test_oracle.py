"""``--selection test-oracle``: a labelled measurement of test-subject epoch picking. Its honest
numbers equal an ordinary run's; it never merges with one; every output says what it is."""

from __future__ import annotations

import json

import pytest

from microexp.errors import MicroexpError

pytestmark = pytest.mark.xdist_group("oracle")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    import microexp

    out = tmp_path_factory.mktemp("oracle")
    microexp.run("casme2-5class", "atscnn", out, preset="tiny", final_model=False)
    microexp.run(
        "casme2-5class", "atscnn", out, preset="tiny", final_model=False, selection="test-oracle"
    )
    return out


def _records(run):
    return {p.name: json.loads(p.read_text()) for p in sorted((run / "folds").glob("fold_*.json"))}


@pytest.mark.jax
def test_an_oracle_runs_honest_numbers_are_an_ordinary_runs(runs) -> None:
    honest, oracle = (
        _records(runs / "runs" / "atscnn"),
        _records(runs / "runs" / "atscnn-test-oracle"),
    )
    assert honest.keys() == oracle.keys() and honest
    for name, rec in honest.items():
        o = oracle[name]
        assert o["y_prob"] == rec["y_prob"] and o["y_pred"] == rec["y_pred"], name
        assert o["history"] == rec["history"], name
        epochs = o["extra"]["epoch_pred"]
        assert len(epochs) == len(rec["history"]["loss"])  # one prediction set per epoch
        assert epochs[-1] == rec["y_pred"]  # the last epoch's is the honest prediction
        assert "epoch_pred" not in rec["extra"]


@pytest.mark.jax
def test_an_oracle_run_never_merges_with_an_ordinary_run(runs) -> None:
    from microexp.evaluation.loso import load_records

    with pytest.raises(MicroexpError, match="run directory from another configuration"):
        load_records([runs / "runs" / "atscnn", runs / "runs" / "atscnn-test-oracle"])
    cfg = json.loads((runs / "runs" / "atscnn-test-oracle" / "config.json").read_text())
    assert cfg["selection"] == "test-oracle" and cfg["meta"]["tables"] == []
    assert "selection" not in json.loads((runs / "runs" / "atscnn" / "config.json").read_text())


def test_every_output_of_an_oracle_run_says_so(runs) -> None:
    from microexp.experiments import write_report

    report = write_report(runs) / "report.md"
    metrics = json.loads((runs / "report" / "metrics.json").read_text())
    o = metrics["atscnn-test-oracle"]
    assert o["selection"] == "test-oracle" and "selection" not in metrics["atscnn"]
    assert o["oracle"]["honest"]["pooled_uf1"] == pytest.approx(metrics["atscnn"]["pooled_uf1"])
    gap = o["oracle"]["inflation"]["pooled_uf1"]
    assert gap == pytest.approx(
        o["oracle"]["fold_best_epoch"]["pooled_uf1"] - metrics["atscnn"]["pooled_uf1"]
    )
    assert gap >= 0 or o["oracle"]["fold_best_epoch"]["subject_mean_accuracy"] >= o["oracle"][
        "honest"]["subject_mean_accuracy"]  # fmt: skip
    text = report.read_text()
    assert "These runs used the held-out subject to choose epochs" in text
    assert (runs / "report" / "test_oracle.csv").is_file()
    assert ("confusion matrix of atscnn-test-oracle (its honest last epoch; the run's oracle "
            "numbers used the test subject)") in text  # fmt: skip


def test_an_unknown_selection_is_one_line() -> None:
    import microexp

    with pytest.raises(MicroexpError, match="unknown selection 'best'"):
        microexp.run("casme2-5class", "atscnn", "/tmp/never", preset="tiny", selection="best")


def test_load_run_gives_records_with_class_names_and_metrics(runs) -> None:
    """``microexp.load_run``: a run folder, or an output folder of one run; a folder of two runs
    or of none is a one-line error saying what to pass."""
    import microexp
    from microexp.experiments import write_report

    write_report(runs)
    run = microexp.load_run(runs / "runs" / "atscnn")
    assert run.classes == json.loads((runs / "runs" / "atscnn" / "config.json").read_text())[
        "classes"]  # fmt: skip
    assert (
        run.y_true and set(run.y_true) <= set(run.classes) and set(run.y_pred) <= set(run.classes)
    )
    assert run.records[0]["y_true_names"] == [run.classes[v] for v in run.records[0]["y_true"]]
    assert run.metrics["pooled_uf1"] == pytest.approx(microexp.evaluation.uf1(
        run.y_true, run.y_pred, run.classes))  # fmt: skip
    assert str(runs / "runs" / "atscnn") in [str(run.folder)]
    with pytest.raises(MicroexpError, match=r"holds 2 runs \(atscnn, atscnn-test-oracle\)"):
        microexp.load_run(str(runs))
    with pytest.raises(MicroexpError, match="neither a run folder"):
        microexp.load_run(runs / "report")
    assert "load_run" in dir(microexp)
