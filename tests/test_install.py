"""microexp installed the way users install it: a wheel built through an sdist, installed without
dependencies into a fresh target, used from outside the repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import microexp
from microexp.datasets.manifests import manifest_dir

REPO = Path(__file__).resolve().parents[1]


def _shipped_files() -> set[str]:
    """Every file the package can open at run time, as paths inside the package."""
    root = manifest_dir()
    return {
        f"microexp/manifests/{p.relative_to(root).as_posix()}"
        for p in root.rglob("*")
        if p.is_file()
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """sdist and wheel (the wheel built from the sdist, as pip does for `pip install git+...`),
    and the wheel installed with --no-deps into its own target folder."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(REPO)],
        check=True,
        capture_output=True,
        text=True,
    )
    (wheel,) = out.glob("microexp-*.whl")
    (sdist,) = out.glob("microexp-*.tar.gz")
    target = out / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile"]
        + ["--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        text=True,
    )
    return {"wheel": wheel, "sdist": sdist, "target": target}


def test_the_wheel_and_the_sdist_carry_every_file_the_package_reads(built) -> None:
    shipped = _shipped_files()
    assert {"microexp/manifests/corrections.csv", "microexp/manifests/protocols/megc2019.json"} <= (
        shipped
    )
    wheel_files = set(zipfile.ZipFile(built["wheel"]).namelist())
    assert shipped - wheel_files == set()
    with tarfile.open(built["sdist"]) as tar:
        top = tar.getnames()[0].split("/")[0]
        sdist_files = {n.removeprefix(top + "/") for n in tar.getnames()}
    assert shipped - sdist_files == set()
    assert built["wheel"].name.startswith(f"microexp-{microexp.__version__}-")


def _installed(built, *argv: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run with only the installed target (and the environment's dependencies) on the path,
    from a folder outside the repository."""
    env = {**os.environ, "PYTHONPATH": str(built["target"]), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_installed_package_runs_from_outside_the_repository(built, tmp_path) -> None:
    target = built["target"]
    probe = (
        "import json, microexp\n"
        "from microexp import datasets as ds\n"
        "names = ds.protocol_names()\n"
        "protos = [ds.get_protocol(n) for n in names]\n"
        "print(json.dumps({'file': microexp.__file__, 'names': names,"
        " 'classes': [list(p.classes) for p in protos]}))\n"
    )
    done = _installed(built, sys.executable, "-c", probe, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert Path(got["file"]).is_relative_to(target)  # not the checkout
    assert {"casme2-5class", "ckplus-7class", "atscnn-composite", "megc2019"} <= set(got["names"])
    assert all(got["classes"])

    script = target / "bin" / "microexp"
    help_ = _installed(built, str(script), "--help", cwd=tmp_path)
    assert help_.returncode == 0 and "reproduce" in help_.stdout
    version = _installed(built, str(script), "--version", cwd=tmp_path)
    assert version.stdout.strip() == f"microexp {microexp.__version__}"
    listing = _installed(built, str(script), "data", "protocols", "--json", cwd=tmp_path)
    assert [p["name"] for p in json.loads(listing.stdout)] == got["names"]

    data = tmp_path / "CASME2"
    synth = _installed(
        built, str(script), "data", "synth", "--dataset", "casme2", "--preset", "tiny",
        "--out", str(data), cwd=tmp_path,
    )  # fmt: skip
    assert synth.returncode == 0, synth.stderr
    summary = _installed(
        built, str(script), "data", "summary", "--dataset", "casme2", "--root", str(data),
        "--protocol", "casme2-5class", "--json", cwd=tmp_path,
    )  # fmt: skip
    assert summary.returncode == 0, summary.stderr
    facts = json.loads(summary.stdout)
    assert facts["synthetic"] is True and facts["samples"] > 0


def test_the_version_has_one_source(capsys) -> None:
    cfg = (REPO / "setup.cfg").read_text()
    assert "version = attr: microexp.__version__" in cfg
    assert "version = 0" not in cfg
    from microexp.cli import main

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"microexp {microexp.__version__}"
