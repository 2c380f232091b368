"""The house rules a maintainer relies on: no import circle among microexp's modules, settings
that would be ignored are refused, a model's reads/head/blocks come from its registry entry,
and an OSError names the path and what to do."""

from __future__ import annotations

import ast
import errno
from pathlib import Path

import pytest

from microexp.errors import MicroexpError

PACKAGE = Path(__file__).resolve().parents[1] / "microexp"


def _imports() -> dict[str, set[str]]:
    """module -> the microexp modules it imports (module level or inside functions), package
    ``__init__`` re-export hubs left out."""
    mods = {}
    for p in PACKAGE.rglob("*.py"):
        parts = p.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] != "__init__":
            mods[".".join(parts)] = p
    packages = {
        ".".join(p.relative_to(PACKAGE.parent).parts[:-1]) for p in PACKAGE.rglob("__init__.py")
    }
    graph = {}
    for m, p in mods.items():
        edges = set()
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = m.split(".")[: len(m.split(".")) - node.level] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                for c in (target, *(f"{target}.{a.name}" for a in node.names)):
                    if c in mods and c != m:
                        edges.add(c)
            elif isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name in mods and a.name != m}
        graph[m] = {e for e in edges if e not in packages}
    return graph


def test_no_import_circle() -> None:
    graph = _imports()
    assert "microexp.synthetic.world" in graph["microexp.synthetic.longvideo"]
    seen: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(m: str, path: list[str]) -> None:
        seen[m] = 1
        for n in sorted(graph[m]):
            if seen.get(n) == 1:
                raise AssertionError("import circle: " + " -> ".join([*path[path.index(n) :], n]))
            if n not in seen:
                visit(n, [*path, n])
        seen[m] = 2

    for m in sorted(graph):
        if m not in seen:
            visit(m, [m])


def test_sampling_and_stages_refuse_what_they_would_ignore() -> None:
    from microexp.experiments import ByPreset, Sampling

    with pytest.raises(MicroexpError, match="crops and rotate belong to paper A's re-sampling"):
        Sampling(crops=(1, 2))
    with pytest.raises(MicroexpError, match="would be ignored"):
        Sampling(rotate=True)
    with pytest.raises(MicroexpError, match="per_class needs crops"):
        Sampling(per_class=ByPreset(1, 2, 3))
    with pytest.raises(MicroexpError, match="per_class at tiny 0: expected an integer >= 1"):
        Sampling(per_class=ByPreset(0, 2, 3), crops=(0,))
    with pytest.raises(MicroexpError, match=r"crops \(1, 1\): expected distinct"):
        Sampling(per_class=ByPreset(1, 2, 3), crops=(1, 1))
    assert Sampling(per_class=ByPreset(1, 2, 3), crops=(1, 2), rotate=True, test_crop=0)
    from microexp.experiments import Stage
    from microexp.training import TrainConfig

    quick = TrainConfig(1, 2, 1e-3)
    with pytest.raises(MicroexpError, match="schedules must be ByPreset"):
        Stage(schedules=quick)
    with pytest.raises(MicroexpError, match=r"freeze \(0,\): expected distinct block numbers"):
        Stage(schedules=ByPreset(quick, quick, quick), freeze=(0,))


def test_a_model_declares_what_it_reads_its_head_and_blocks() -> None:
    from microexp.experiments import ByPreset, Experiment, Stage
    from microexp.experiments.runner import check_experiment
    from microexp.models import build_model, get_spec, register_model, replace_head
    from microexp.training import TrainConfig

    assert get_spec("atscnn").input_key() == "x"
    assert get_spec("atscnn").input_key({"streams": "gray"}) == "apex"
    assert get_spec("s3d").blocks == "block{}_" and get_spec("atscnn").blocks is None
    model = build_model("atscnn", num_classes=3, input_size=32)
    tuned = replace_head(model, 5, get_spec("atscnn").head)
    assert tuned.output.shape[-1] == 5 and tuned.get_layer("head").input is model.get_layer(
        "head").input  # fmt: skip
    with pytest.raises(MicroexpError, match="unknown recipe"):
        register_model("nope", lambda **k: model, recipe="no-such-recipe")
    quick = TrainConfig(1, 4, 1e-3)
    frozen = Experiment(name="x", protocol="casme2-5class", model="atscnn",
                        train=Stage(schedules=ByPreset(quick, quick, quick), freeze=(1,)))  # fmt: skip
    with pytest.raises(
        MicroexpError, match="declares no blocks .* freeze \\[1\\] would be ignored"
    ):
        check_experiment(frozen)


def test_a_full_disk_names_the_folder_and_what_to_do(tmp_path, monkeypatch, capsys) -> None:
    from microexp import cli
    from microexp.fileio import os_error_line, write_text

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    target = tmp_path / "cache" / "entry.json"
    with pytest.raises(OSError) as caught:
        write_text(target, "{}")
    line = os_error_line(caught.value)
    assert line.startswith(f"{target.parent}: no space left on the device (writing entry.json)")
    assert "free space there, or write elsewhere: --out DIR, --cache DIR" in line
    monkeypatch.setattr(cli, "cmd_strs", lambda args: write_text(target, "{}"))
    parser_main = cli.main
    assert parser_main(["strs", "a.csv", "b.csv"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"microexp: error: {line}"]
