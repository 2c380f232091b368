"""Options as a script passes them: refused in one line before any data is read, never read
in a surprising way ("12" as folds 1 and 2), never a traceback from deep inside."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from microexp import synthetic
from microexp.errors import MicroexpError
from microexp.evaluation.loso import select_folds
from microexp.experiments import ByPreset, Experiment, Stage, run, run_experiments
from microexp.experiments.runner import _options, check_experiment
from microexp.training.fit import TrainConfig


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"folds": "12"}, "folds '12': expected a list of distinct integers >= 0"),
        ({"folds": [0.7]}, "folds [0.7]: expected a list"),
        ({"folds": 0}, "folds 0: expected a list"),
        ({"seeds": [0, 0]}, "seeds [0, 0]: expected a list of distinct"),
        ({"seeds": [-1]}, "seeds [-1]: expected"),
        ({"seed": -1}, "seed -1: expected an integer >= 0"),
        ({"seed": "1"}, "seed '1': expected an integer >= 0"),
        ({"shard": (1, 2, 3)}, "shard (1, 2, 3): expected 'i/n'"),
        ({"parallel_folds": 0}, "parallel_folds 0: expected an integer >= 1"),
        ({"parallel_folds": "2"}, "parallel_folds '2': expected an integer >= 1"),
        ({"data": {"casme2": "/x"}}, "data {'casme2': '/x'}: expected 'synthetic'"),
    ],
)
def test_bad_run_options_are_one_line(options: dict, message: str) -> None:
    with pytest.raises(MicroexpError, match=re.escape(message)):
        _options(options)


def test_good_run_options_are_kept() -> None:
    opts = _options({"folds": [0, 3], "seeds": range(2), "shard": (1, 2), "seed": 4})
    assert (opts.folds, opts.seeds, opts.shard, opts.seed) == ((0, 3), (0, 1), "1/2", 4)


def _experiment(headline: str) -> Experiment:
    one = TrainConfig(epochs=1, batch_size=4, lr=1e-3)
    stage = Stage(schedules=ByPreset(tiny=one, demo=one, paper=one))
    return Experiment(
        name="x", protocol="casme2-5class", model="atscnn", train=stage, headline=headline
    )


def test_train_configs_and_headlines_are_checked() -> None:
    for bad in ({"epochs": 0}, {"batch_size": 0}, {"lr": 0.0}, {"epochs": 1.5}):
        with pytest.raises(MicroexpError, match="TrainConfig"):
            TrainConfig(**{"epochs": 1, "batch_size": 4, "lr": 1e-3, **bad})
    exp = _experiment("f1_score")
    with pytest.raises(MicroexpError, match="unknown headline metric 'f1_score'"):
        check_experiment(exp)


def test_lodo_on_one_dataset_and_an_empty_shard(tmp_path: Path) -> None:
    with pytest.raises(MicroexpError, match="--split lodo: protocol 'casme2-5class' reads one"):
        run("casme2-5class", "atscnn", tmp_path / "o", preset="tiny", split="lodo")
    assert not (tmp_path / "o" / "data").exists()  # refused before any data is made
    with pytest.raises(MicroexpError, match="unknown headline"):
        run_experiments([_experiment("f1")], tmp_path / "p", preset="tiny")
    folds = [type("F", (), {"index": i})() for i in range(3)]
    assert [f.index for f in select_folds(folds, shard=(2, 3))] == [1]
    with pytest.raises(MicroexpError, match="--shard 5/5: holds none of the 3 folds"):
        select_folds(folds, shard=(5, 5))


def test_synthetic_requests_are_checked(tmp_path: Path) -> None:
    for kw, message in [
        ({"seed": -1}, "--seed -1: expected an integer >= 0"),
        ({"subjects": 100000}, "--subjects 100000: expected an integer from 1 to 500"),
        ({"samples_per_subject": 0}, "--samples-per-subject 0: expected an integer from 1"),
    ]:
        with pytest.raises(MicroexpError, match=message):
            synthetic.generate("casme2", tmp_path / "c", "tiny", **kw)
    here = tmp_path / "here"
    here.mkdir()
    old = os.getcwd()
    os.chdir(here)
    try:  # "." names no folder to build a sibling in until it is made absolute
        root = synthetic.generate("casme2", ".", "tiny", 0, 1, 1)
    finally:
        os.chdir(old)
    assert root == here and (here / "MICROEXP_SYNTHETIC.json").is_file()


def test_a_script_without_a_main_guard_is_told_why(tmp_path: Path) -> None:
    """Worker processes import the user's script; without the guard they stop, and the
    message says what to add."""
    script = tmp_path / "s.py"
    script.write_text(
        "import microexp.synthetic as s\n"
        f"s.generate('casme2', {str(tmp_path / 'd')!r}, 'tiny', 0, 4, 3, workers=2)\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode != 0
    assert 'put the microexp calls under `if __name__ == "__main__":`' in done.stderr


@pytest.mark.parametrize(
    ("environ", "shards", "expected"),
    [
        ({"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_MAX": "2"},
         None, (1, 3)),
        ({"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_MIN": "5", "SLURM_ARRAY_TASK_MAX": "8"},
         4, (3, 4)),
        ({"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_MAX": "10",
          "SLURM_ARRAY_TASK_STEP": "2", "SLURM_ARRAY_TASK_COUNT": "6"}, None, (3, 6)),
        ({"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "3"}, None, (2, 3)),
        ({"JOB_COMPLETION_INDEX": "0"}, 2, (1, 2)),
        ({"JOB_COMPLETION_INDEX": "4", "MICROEXP_SHARDS": "5"}, None, (5, 5)),
    ],
)  # fmt: skip
def test_shard_auto_reads_the_scheduler(environ: dict, shards, expected) -> None:
    from microexp.evaluation.loso import parse_shard

    assert parse_shard("auto", shards, environ) == expected


@pytest.mark.parametrize(
    ("environ", "shards", "message"),
    [
        ({}, None, "no scheduler index found"),
        ({"SLURM_ARRAY_TASK_ID": "3"}, None, "without SLURM_ARRAY_TASK_MIN/_MAX"),
        ({"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_MAX": "2"},
         None, "SLURM_ARRAY_TASK_ID=3 is not a task of the array 0-2:1"),
        ({"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_MAX": "2",
          "SLURM_ARRAY_TASK_COUNT": "4"}, None, "SLURM_ARRAY_TASK_COUNT=4 disagrees"),
        ({"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "3"}, 4,
         "the Slurm array has 3 tasks but --shards is 4"),
        ({"SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_COUNT": "3"}, None,
         "SLURM_ARRAY_TASK_ID='x' is not an integer"),
        ({"JOB_COMPLETION_INDEX": "0"}, None, "give --shards N or MICROEXP_SHARDS"),
        ({"JOB_COMPLETION_INDEX": "2", "MICROEXP_SHARDS": "2"}, None, "outside 0..1"),
        ({"JOB_COMPLETION_INDEX": "0", "MICROEXP_SHARDS": "2"}, 3, "--shards 3 but"),
        ({"JOB_COMPLETION_INDEX": "0", "SLURM_ARRAY_TASK_ID": "0"}, 2, "expected one scheduler"),
    ],
)  # fmt: skip
def test_shard_auto_refuses_a_missing_or_inconsistent_index(environ, shards, message) -> None:
    from microexp.evaluation.loso import parse_shard

    with pytest.raises(MicroexpError, match=re.escape(message)) as caught:
        parse_shard("auto", shards, environ)
    assert "\n" not in str(caught.value)


def test_shard_auto_from_the_cli_is_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    from microexp.cli import main

    for name in ("SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"):
        monkeypatch.delenv(name, raising=False)
    code = main(["run", "--protocol", "casme2-5class", "--model", "atscnn", "--shard", "auto",
                 "--out", str(tmp_path)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "--shard auto: no scheduler index found" in err
    assert err.count("\n") == 1
