"""``microexp report`` checks the fold records it reads: a damaged or foreign record is a
one-line error naming its file, a partial run says so, and baselines stand on the run's folds.
The runs here are made by ``run_loso`` with fake fold functions (milliseconds)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from microexp import evaluation as ev
from microexp.cli import main
from microexp.datasets import Sample
from microexp.errors import MicroexpError
from microexp.evaluation.baselines import BASELINES
from microexp.evaluation.loso import FoldOutput, coverage
from microexp.reporting.report import write_report

CLASSES = ["a", "b", "c"]
SUBJECTS = ["s1", "s1", "s2", "s2", "s3", "s3"]
LABELS = [0, 1, 2, 0, 1, 2]
QUIET = {"log": lambda _: None}


def _samples(clip: str = "EP") -> list[Sample]:
    return [
        Sample("casme2", s, f"{clip}{i:02d}", "/x", "img{:d}.jpg", 1, 2, 3, "a", 200.0)
        for i, s in enumerate(SUBJECTS)
    ]


def _model(train, test, fold) -> FoldOutput:
    pred = [(fold.index + i) % 3 for i in range(len(test))]
    prob = [[1.0 if k == p else 0.0 for k in range(3)] for p in pred]
    return FoldOutput(pred, prob, {"accuracy": [0.5, 0.9], "loss": [1.0, 0.3]})


def _make_run(out: Path, folds=None, seed: int = 0, clip: str = "EP", **settings) -> Path:
    """``out/runs/m`` (``m-seedK`` for seed K > 0): a model on three LOSO folds (samples
    ``casme2/SUBJECT/{clip}NN``; ``settings``: more hashed settings) and both baselines."""
    run_dir = out / "runs" / ("m" if seed == 0 else f"m-seed{seed}")
    config = {"classes": CLASSES, "seed": seed, "meta": {"name": "m", "tables": []}, **settings}
    samples = _samples(clip)
    ev.run_loso(samples, LABELS, _model, run_dir, config, folds=folds, **QUIET)
    for name in BASELINES:
        bconfig = {"baseline": name, "classes": CLASSES, "meta": {"name": f"m:{name}"}}
        fp = lambda train, test, fold: FoldOutput([0] * len(test))  # noqa: E731
        ev.run_loso(samples, LABELS, fp, run_dir / "baselines" / name, bconfig, folds, **QUIET)
    return run_dir


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return _make_run(tmp_path / "out")


def _fold(run_dir: Path, k: int) -> Path:
    return next((run_dir / "folds").glob(f"fold_{k:03d}_*.json"))


def _edit(path: Path, **changes) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def _refused(run_dir: Path, match: str) -> str:
    """The one-line error of ``load_records`` and of ``microexp report`` (exit 2)."""
    with pytest.raises(MicroexpError, match=match) as err:
        ev.load_records([run_dir])
    message = str(err.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"y_pred": [0]}, r"'y_pred' holds 1 values for 2 samples; expected one per sample"),
        ({"y_true": [9, 9]}, r"y_true\[0\] is 9; expected a class index 0-2 \(the 3 classes"),
        ({"y_pred": ["a", "b"]}, r"y_pred\[0\] is 'a'; expected a class index 0-2"),
        ({"y_pred": [True, 0]}, r"y_pred\[0\] is True; expected a class index"),
        ({"y_prob": [[1.0, 0.0, 0.0]]}, r"'y_prob' is not a list of 2 rows"),
        ({"y_prob": [[1.0], [1.0]]}, r"y_prob\[0\] holds 1 probabilities; expected 3"),
        ({"samples": "casme2/s2"}, r"'samples' is not a list of sample ids"),
        ({"fold": "1"}, r"'fold' is '1'; expected a fold index"),
        ({"history": {"accuracy": "high"}}, r"'history' is not an object of lists of numbers"),
        ({"folds_total": 1}, r"'folds_total' is 1; expected an integer above its fold 1"),
        ({"config_hash": "0123456789abcdef"}, r"made under another configuration"),
    ],
)
def test_a_damaged_record_is_named(run: Path, changes: dict, match: str) -> None:
    path = _fold(run, 1)
    _edit(path, **changes)
    message = _refused(run, match)
    assert message.startswith(f"{path}: ") and "re-run the same `microexp run` command" in message


def test_an_empty_record_names_what_it_lacks(run: Path, capsys) -> None:
    path = _fold(run, 1)
    path.write_text("{}")
    _refused(run, r"no 'fold', 'test_subject', 'samples', 'y_true', 'y_pred', 'config_hash'")
    assert main(["report", str(run.parents[1])]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_record_of_another_seed_is_refused_and_recomputed_by_run(tmp_path: Path) -> None:
    run = _make_run(tmp_path / "seed0")
    other = _make_run(tmp_path / "seed1", seed=1)
    path = _fold(run, 1)
    whole = path.read_text()
    shutil.copy(_fold(other, 1), path)  # same fold, same samples, another configuration
    message = _refused(run, "made under another configuration")
    assert message.startswith(f"{path}: ") and "recompute it" in message
    _make_run(tmp_path / "seed0")  # what the message says: run the same command again
    assert path.read_text() == whole
    assert len(ev.load_records([run])[1]) == 3


def test_run_recomputes_a_damaged_record_of_its_configuration(run: Path) -> None:
    path = _fold(run, 1)
    whole = json.loads(path.read_text())
    _edit(path, y_pred=[7, 7])  # the right config_hash, impossible labels
    lines: list[str] = []
    config = {"classes": CLASSES, "seed": 0, "meta": {"name": "m", "tables": []}}
    ev.run_loso(_samples(), LABELS, _model, run, config, log=lines.append)
    assert any(str(path) in line and "y_pred[0] is 7" in line for line in lines)
    assert json.loads(path.read_text())["y_pred"] == whole["y_pred"]


def test_a_fold_twice_is_an_error_naming_both_files(run: Path, tmp_path: Path) -> None:
    first, second = _fold(run, 0), _fold(run, 1)
    shutil.copy(first, second)  # fold 0 copied over fold 1
    message = _refused(run, "fold 0 again")
    assert message.startswith(f"{second}: ") and str(first) in message
    # the same fold with the same predictions in two shard directories is harmless
    a, b = _make_run(tmp_path / "a", folds=[0, 1]), _make_run(tmp_path / "b", folds=[1, 2])
    config, records = ev.load_records([a, b])
    assert [r["fold"] for r in records] == [0, 1, 2]
    _edit(_fold(b, 1), y_pred=[2, 2])
    message = _refused_pair(a, b)
    assert str(_fold(a, 1)) in message and str(_fold(b, 1)) in message


def _refused_pair(a: Path, b: Path) -> str:
    with pytest.raises(MicroexpError, match="fold 1 again") as err:
        ev.load_records([a, b])
    return str(err.value)


def test_records_carry_the_fold_count_and_old_ones_gain_it_on_resume(tmp_path: Path) -> None:
    run = _make_run(tmp_path / "out", folds=[0])
    (rec,) = ev.load_records([run])[1]
    assert rec["folds_total"] == 3
    assert coverage([rec]) == {
        "folds_total": 3,
        "partial": True,
        "missing_folds": [1, 2],
        "covered_subjects": ["casme2/s1"],
    }
    old = {k: v for k, v in rec.items() if k != "folds_total"}  # before it was recorded
    _fold(run, 0).write_text(json.dumps(old))
    assert coverage(ev.load_records([run])[1]) == {"folds_total": None, "partial": None}
    _make_run(tmp_path / "out")  # resumes: fold 0 reused, 1 and 2 computed
    records = ev.load_records([run])[1]
    assert [r["folds_total"] for r in records] == [3, 3, 3]
    assert coverage(records) == {"folds_total": 3, "partial": False}
    _edit(_fold(run, 2), folds_total=4)
    _refused(run, "made for a split of 4 folds, where .* says 3")


def _report(out: Path) -> tuple[str, dict]:
    dest = write_report(out)
    return (dest / "report.md").read_text(), json.loads((dest / "metrics.json").read_text())


def test_a_run_missing_a_fold_is_reported_as_partial_beside_its_baselines(run: Path) -> None:
    _fold(run, 1).unlink()
    text, doc = _report(run.parents[1])
    m = doc["m"]
    assert (m["folds"], m["folds_total"], m["partial"]) == (2, 3, True)
    assert m["missing_folds"] == [1] and m["covered_subjects"] == ["casme2/s1", "casme2/s3"]
    assert "**Partial run** m: 2 of 3 folds (casme2/s1, casme2/s3); fold(s) 1" in text
    assert "| m | 2 | 3 | 4 |" in text
    for name in BASELINES:  # on the run's folds, not on the three they finished
        b = m["baselines"][name]
        assert (b["folds"], b["samples"], b["partial"]) == (2, 4, True)
        assert f"| m [{name}] | 2 | 3 | 4 |" in text


def test_a_run_of_chosen_folds_is_marked_partial(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _make_run(out, folds=[0])  # --folds 0
    text, doc = _report(out)
    assert doc["m"]["partial"] is True and doc["m"]["missing_folds"] == [1, 2]
    assert "**Partial run** m: 1 of 3 folds (casme2/s1); fold(s) 1-2" in text
    _make_run(out)
    text, doc = _report(out)
    assert doc["m"]["partial"] is False and "Partial run" not in text
    assert "| m | 3 | 3 | 6 |" in text


def test_a_baseline_lacking_a_fold_of_the_run_is_left_out_with_a_note(run: Path) -> None:
    _fold(run / "baselines" / "majority", 2).unlink()
    text, doc = _report(run.parents[1])
    assert set(doc["m"]["baselines"]) == {"linear_probe"}
    (note,) = doc["m"]["notes"]
    assert note.startswith("baseline majority left out: it lacks fold(s) 2 that the run has")
    assert f"- m: {note}" in text and "| m [majority]" not in text


def test_a_damaged_data_json_is_named(run: Path, capsys) -> None:
    out = run.parents[1]
    (out / "data.json").write_text('{"casme2": {"root": "/x", "synth')
    assert main(["report", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{out / 'data.json'}: truncated or malformed JSON" in err and err.count("\n") == 1
    (out / "data.json").write_text('{"casme2": true}')
    with pytest.raises(MicroexpError, match="expected an object per dataset"):
        write_report(out)
    (out / "data.json").write_text('{"casme2": {"root": "/x", "synthetic": true}}')
    assert "**Synthetic data**" in _report(out)[0]


def test_a_config_without_classes_cannot_be_reported(run: Path) -> None:
    path = run / "config.json"
    _edit(path, classes="abc")
    with pytest.raises(MicroexpError, match=r"'classes' is 'abc'; expected the list"):
        write_report(run.parents[1])


def _refused_report(outs: list[Path], match: str, capsys) -> str:
    """The one-line error of ``write_report`` and of ``microexp report`` (exit 2)."""
    with pytest.raises(MicroexpError, match=match) as err:
        write_report(outs[0], outs[1:])
    assert main(["report", *map(str, outs)]) == 2
    printed = capsys.readouterr().err
    assert printed.count("\n") == 1 and "Traceback" not in printed
    return str(err.value)


@pytest.mark.parametrize(
    ("first", "second", "setting"),
    [
        ({"data": {"fingerprint": "aaaa"}}, {"data": {"fingerprint": "bbbb"}}, "data.fingerprint"),
        ({"xla": False}, {"xla": True}, "xla"),
    ],
)
def test_seeds_of_other_data_or_settings_are_refused(
    tmp_path: Path, capsys, first: dict, second: dict, setting: str
) -> None:
    a = _make_run(tmp_path / "a", **first)
    b = _make_run(tmp_path / "b", seed=1, **second)
    message = _refused_report([a.parents[1], b.parents[1]], f"differ in {setting},", capsys)
    assert message.startswith(f"{a / 'config.json'} and {b / 'config.json'}: seeds 0 and 1")


def test_seeds_predicting_other_samples_are_refused(tmp_path: Path, capsys) -> None:
    a = _make_run(tmp_path / "a")
    b = _make_run(tmp_path / "b", seed=1, clip="X")  # same settings, other sample ids
    message = _refused_report(
        [a.parents[1], b.parents[1]], "predict other samples in fold 0", capsys
    )
    assert message.startswith(f"{a / 'config.json'} and {b / 'config.json'}: seeds 0 and 1")


def test_seeds_of_the_same_data_in_two_folders_are_averaged(tmp_path: Path) -> None:
    a = _make_run(tmp_path / "a", data={"fingerprint": "aaaa"})
    b = _make_run(tmp_path / "b", seed=1, data={"fingerprint": "aaaa"})
    doc = json.loads((write_report(a.parents[1], [b.parents[1]]) / "metrics.json").read_text())
    assert doc["m"]["seeds"] == [0, 1] and doc["m"]["folds"] == 3 and "notes" not in doc["m"]


def test_a_seed_sharing_no_fold_is_left_out_with_a_note(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _make_run(out, seed=1, folds=[1])
    _make_run(out, folds=[0])
    text, doc = _report(out)
    m = doc["m"]
    assert "seeds" not in m and (m["folds"], m["samples"]) == (1, 2)
    (note,) = m["notes"]
    assert note.startswith(
        "seed 1 left out: it finished fold(s) 1, none of the fold(s) 0 of seed(s) 0"
    )
    assert f"- m: {note}" in text
    _make_run(out, seed=2, folds=[0, 1, 2])  # shares fold 0 with seed 0
    text, doc = _report(out)
    assert doc["m"]["seeds"] == [0, 2] and doc["m"]["folds"] == 1
    assert doc["m"]["notes"][0].startswith("seed 1 left out")


def test_seeds_sharing_no_fold_are_an_error_for_run_metrics() -> None:
    from microexp.reporting.report import run_metrics

    rec = {"y_true": [0], "y_pred": [0], "samples": ["casme2/s1/a"], "test_subject": "casme2/s1"}
    config = {"classes": CLASSES}
    with pytest.raises(MicroexpError, match="share no finished fold"):
        run_metrics(config, [[{**rec, "fold": 0}], [{**rec, "fold": 1}]], [0, 1])


def test_the_same_folder_twice_is_read_once(run: Path) -> None:
    out = run.parents[1]
    once = json.loads((write_report(out) / "metrics.json").read_text())
    twice = write_report(out, [out, out / ".." / out.name], dest=out / "twice")
    assert json.loads((twice / "metrics.json").read_text()) == once


def test_load_records_takes_one_folder_alone_and_names_the_runs_of_an_output_folder(
    run: Path,
) -> None:
    from microexp.evaluation.loso import load_records

    config, records = load_records(str(run))  # a string, not a list of one
    assert config["classes"] == CLASSES and len(records) == 3
    assert load_records(run)[1] == records == load_records([run])[1]
    out = run.parent.parent
    with pytest.raises(MicroexpError, match=r"no config.json; expected OUT/runs/NAME\); its "
                       r"runs: m \(pass .*/runs/NAME\)"):  # fmt: skip
        load_records(out)
