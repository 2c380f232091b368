"""docs/extending.md's worked examples, run as written: a model on a new recipe, a dataset
without a synthetic writer, a new split. Each example is a module; this file writes it out,
imports it (the registrations happen there, and the cache's worker processes import the
recipe class from it) and calls its ``main`` at the tiny preset."""

from __future__ import annotations

import csv
import importlib
import json
import re
import sys
from pathlib import Path

import pytest

from microexp.errors import MicroexpError

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"
pytestmark = pytest.mark.xdist_group("extending")


def _example(name: str, folder: Path):
    """The module of the example marked ``<!-- example: NAME ...`` in docs/extending.md."""
    text = DOC.read_text()
    m = re.search(rf"<!-- example: {name}\b[^\n]*-->\n```python\n(.*?)```", text, re.S)
    assert m, f"docs/extending.md has no example {name!r}"
    module = f"extending_{name}"
    (folder / f"{module}.py").write_text(m.group(1))
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    return importlib.import_module(module)


def _metrics(report: Path) -> dict:
    return json.loads((report / "metrics.json").read_text())


@pytest.fixture(scope="module")
def examples(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("examples")


def test_a_model_on_a_new_recipe(examples, tmp_path) -> None:
    from microexp.features import FlowCache
    from microexp.models import get_spec
    from microexp.preprocess import RECIPES

    ex = _example("recipe", examples)
    assert "diff" in RECIPES and get_spec("diffnet").recipe == "diff"
    report = ex.main(tmp_path / "run", preset="tiny")
    run = tmp_path / "run" / "runs" / "diffnet"
    config = json.loads((run / "config.json").read_text())
    assert config["recipe"] == {"name": "diff", "size": 16}  # the tiny preset's size
    folds = sorted((run / "folds").glob("fold_*.json"))
    assert folds and all(json.loads(f.read_text())["y_prob"] for f in folds)
    cache = FlowCache(tmp_path / "run" / "cache", RECIPES["diff"](size=16))
    assert list(cache.dir.rglob("*.npz"))  # tensors its tensors() computed, under its key
    assert "diffnet" in json.dumps(_metrics(report))


def test_a_dataset_without_a_synthetic_writer(examples, tmp_path) -> None:
    """Frames copied from a synthetic CASME II into the example's own layout."""
    from microexp.datasets import load
    from microexp.synthetic import generate

    ex = _example("dataset", examples)
    casme2 = load("casme2", generate("casme2", tmp_path / "casme2", "tiny", 0))
    mine = tmp_path / "mydata"
    mine.mkdir()
    classes = {"disgust": "negative", "repression": "negative", "happiness": "positive",
               "surprise": "surprise"}  # fmt: skip
    rows = []
    for s in casme2.samples:
        if s.label not in classes or s.apex is None:
            continue
        folder = mine / s.subject / s.clip
        folder.mkdir(parents=True)
        numbers = s.frame_numbers()
        for k, n in enumerate(numbers, start=1):
            (folder / f"{k:03d}.png").write_bytes(s.frame_path(n).read_bytes())
        at = {n: k for k, n in enumerate(numbers, start=1)}
        rows.append([s.subject, s.clip, 1, at[s.apex], len(numbers), classes[s.label]])
    with open(mine / "labels.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([["subject", "clip", "onset", "apex", "offset", "label"], *rows])
    import microexp

    protocol = tmp_path / "p.json"
    protocol.write_text(json.dumps(ex.PROTOCOL))
    with pytest.raises(MicroexpError, match="'mydata' has no synthetic writer.*--data mydata=DIR"):
        microexp.run(str(protocol), "atscnn", tmp_path / "x", preset="tiny")  # data="synthetic"
    report = ex.main(mine, tmp_path / "run", preset="tiny")
    m = _metrics(report)
    assert any("atscnn" in json.dumps(v) for v in m.values())
    assert len(list((tmp_path / "run" / "runs" / "atscnn" / "folds").glob("fold_*.json"))) == len(
        {r[0] for r in rows})  # fmt: skip


def test_a_new_split(examples, tmp_path) -> None:
    from microexp.datasets import SPLITS

    ex = _example("split", examples)
    assert SPLITS["losite"].composite
    ex.main(tmp_path / "run", preset="tiny")
    run = tmp_path / "run" / "runs" / "atscnn-losite"
    folds = [json.loads(f.read_text()) for f in sorted((run / "folds").glob("fold_*.json"))]
    assert [f["test_subject"] for f in folds] == ["beijing", "manchester"]
    assert json.loads((run / "config.json").read_text())["split"] == "losite"
    with pytest.raises(MicroexpError, match="--split losite: protocol 'casme2-5class' reads one"):
        import microexp

        microexp.run("casme2-5class", "atscnn", tmp_path / "one", preset="tiny", split="losite")
