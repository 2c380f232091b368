"""The README's quick start, run as written (so that it cannot rot): its shell commands through
``microexp``'s CLI and its Python block, in a fresh folder."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
pytestmark = pytest.mark.xdist_group("quickstart")


def _blocks() -> tuple[list[list[str]], str]:
    text = README.read_text()
    quick = text[text.index("## Quick start") : text.index("## The two commands")]
    shell, python = re.findall(r"```\n(.*?)```", quick, re.S)[0], re.findall(
        r"```python\n(.*?)```", quick, re.S)[0]  # fmt: skip
    commands = [shlex.split(line) for line in shell.splitlines() if line.strip()]
    assert all(c[0] == "microexp" for c in commands), commands
    return [c[1:] for c in commands], python


def test_the_readme_quick_start(tmp_path, capsys) -> None:
    from microexp.cli import main

    commands, python = _blocks()
    assert [c[0] for c in commands] == ["data", "data", "run", "predict"]
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        for argv in commands:
            assert main(argv) == 0, argv
        out = capsys.readouterr().out
        assert "pooled uf1" in out and "majority" in out and "linear probe" in out
        assert "predicted:" in out
        assert (tmp_path / "runs/quick/report/report.md").is_file()
        assert (tmp_path / "runs/quick/runs/atscnn/model.keras").is_file()
        exec(compile(python, "README quick start", "exec"), {})
        first, second = capsys.readouterr().out.splitlines()
        assert "'happiness'" in first  # the classes, by name
        assert float(first.split()[0]) == pytest.approx(float(second))  # the same pooled UF1
    finally:
        os.chdir(here)
