"""What the notebooks call: settings from the environment, the reproduce call, and the tables
and figures of a report. Notebooks hold no logic of their own; everything is here and tested.

Environment variables (all optional; one set to an empty or blank value counts as unset):

- ``MICROEXP_DATA``: real data, either ``name=DIR,name=DIR`` or one folder holding the datasets
  as sub-folders (``CK+``, ``CASME``, ``CASME2``, ``SAMM``, ``SMIC``; see :data:`FOLDER_NAMES`).
  Unset: the synthetic default, generated on first use. Set, it must give at least one of the
  datasets the notebook reads (a folder holding none of them is an error, never synthetic data).
- ``MICROEXP_CKPLUS``, ``MICROEXP_CASME``, ``MICROEXP_CASME2``, ``MICROEXP_SAMM``,
  ``MICROEXP_SMIC``: one dataset's folder (overrides ``MICROEXP_DATA`` for that dataset).
- ``MICROEXP_PRESET``: ``tiny``, ``demo`` (default) or ``paper``.
- ``MICROEXP_OUT``: where runs go (default ``microexp-runs`` in the working folder; an
  existing file is refused); runs of one preset and data source share
  ``OUT/{preset}-{synthetic|real}/``, so a notebook reuses what another already ran
  (``reproduce`` resumes).
- ``MICROEXP_FOLDS``: only these LOSO fold indices (e.g. ``0``; 0 or above), for a quick look;
  the tables then cover those folds only, and no final model is trained.
- ``MICROEXP_MODELS``: only these registered models of a table's networks (comma-separated).

Every value is checked when the settings are read: a bad one is a :class:`MicroexpError`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import MicroexpError

# TensorFlow's C++ log lines would fill the notebooks' outputs (Python errors still show)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

#: sub-folder names looked for under ``MICROEXP_DATA`` (case-insensitive), owners' names first
FOLDER_NAMES = {
    "ckplus": ("CK+", "ckplus", "CKplus", "cohn-kanade-images", "CK"),
    "casme": ("CASME", "CASME1", "casme"),
    "casme2": ("CASME2", "CASME II", "CASME_II", "casme2"),
    "samm": ("SAMM", "samm"),
    "smic": ("SMIC", "SMIC-E", "smic"),
    "casme_sq": ("CAS(ME)^2", "CAS(ME)2", "CASME_sq", "casme_sq"),
    "samm_lv": ("SAMM_LongVideos", "SAMM_longvideos", "SAMM-LV", "samm_lv"),
    "casme3_lv": ("CAS(ME)^3", "CAS(ME)3", "CASME3", "casme3_lv"),
}


@dataclass
class Settings:
    """Where one notebook's paper reads its data and writes its runs."""

    paper: str
    data: str  # "synthetic" or "name=DIR,name=DIR"
    preset: str
    out: Path  # the reproduce output folder of this paper
    data_dir: Path  # where synthetic data is generated (shared by both papers)
    folds: list[int] | None = None
    models: tuple[str, ...] | None = None  # MICROEXP_MODELS: only these of a table's networks

    @property
    def synthetic(self) -> bool:
        return self.data == "synthetic"

    def describe(self) -> str:
        src = "synthetic default (no MICROEXP_DATA set)" if self.synthetic else self.data
        folds = f"; folds {self.folds}" if self.folds is not None else ""
        return f"paper {self.paper}: data {src}; preset {self.preset}{folds}; runs in {self.out}"


def _env(env: Mapping[str, str], name: str) -> str | None:
    """Variable ``name`` stripped; None when unset, empty or blank."""
    return env.get(name, "").strip() or None


def _path(value: str, variable: str) -> Path:
    """``value`` as a path, ``~`` expanded."""
    try:
        return Path(value).expanduser()
    except RuntimeError:
        raise MicroexpError(
            f"{variable}={value}: cannot expand '~' (no such home folder)"
        ) from None


def _looked_for(needed: Sequence[str]) -> str:
    """The sub-folder names searched for ``needed`` (each spelling once, case ignored)."""
    parts = []
    for name in needed:
        spellings: dict[str, str] = {}
        for folder in FOLDER_NAMES[name]:
            spellings.setdefault(folder.lower(), folder)
        parts.append(f"{name} ({', '.join(spellings.values())})")
    return "; ".join(parts)


def _find_folder(parent: Path, name: str) -> Path | None:
    wanted = {n.lower() for n in FOLDER_NAMES[name]}
    for p in sorted(parent.iterdir()):
        if p.is_dir() and p.name.lower() in wanted:
            return p
    return None


def data_roots(paper: str, env: Mapping[str, str] | None = None) -> dict[str, Path] | None:
    """The real dataset folders named by the environment, or None (synthetic default)."""
    from .experiments import datasets_needed

    env = dict(os.environ if env is None else env)
    needed = datasets_needed(paper)
    roots = _env_roots(needed, env)
    if not roots:
        return None
    missing = [n for n in needed if n not in roots]
    if missing:
        spec = _env(env, "MICROEXP_DATA")
        where = f" under {spec}" if spec and "=" not in spec else ""
        raise MicroexpError(
            f"paper {paper} needs {', '.join(missing)}: none found{where}; set "
            + ", ".join(f"MICROEXP_{n.upper()}" for n in missing)
        )
    return {n: roots[n] for n in needed}


def _env_roots(needed: Sequence[str], env: Mapping[str, str]) -> dict[str, Path]:
    """Folders named by ``MICROEXP_DATA`` (searched for ``needed``) and ``MICROEXP_{NAME}``;
    an error when ``MICROEXP_DATA`` is set but none of ``needed`` is found."""
    spec = _env(env, "MICROEXP_DATA")
    roots: dict[str, Path] = {}
    if spec is not None and "=" in spec:
        from .datasets import parse_roots

        roots.update(parse_roots(spec, "MICROEXP_DATA"))
    elif spec is not None:
        roots.update(_searched_roots(spec, needed))
    for name in FOLDER_NAMES:
        value = _env(env, f"MICROEXP_{name.upper()}")
        if value is not None:
            roots[name] = _path(value, f"MICROEXP_{name.upper()}")
    if spec is not None and not any(n in roots for n in needed):
        raise MicroexpError(f"MICROEXP_DATA={spec}: {_none_found(spec, needed)}")
    return roots


def _none_found(spec: str, needed: Sequence[str]) -> str:
    """Why ``MICROEXP_DATA=spec`` gives none of the ``needed`` datasets, and what would."""
    if "=" in spec:
        what = f"names none of the datasets read here ({', '.join(needed)})"
    else:
        what = f"no dataset sub-folder found; looked for {_looked_for(needed)}"
    return f"{what} (unset MICROEXP_DATA for synthetic data)"


def _searched_roots(spec: str, needed: Sequence[str]) -> dict[str, Path]:
    """The sub-folders of folder ``MICROEXP_DATA=spec`` holding the ``needed`` datasets."""
    parent = _path(spec, "MICROEXP_DATA")
    if not parent.is_dir():
        raise MicroexpError(f"MICROEXP_DATA={spec}: no such folder")
    found = {name: _find_folder(parent, name) for name in needed}
    return {name: path for name, path in found.items() if path is not None}


def _preset(env: Mapping[str, str]) -> str:
    """``MICROEXP_PRESET`` (default ``demo``), a known preset."""
    from .experiments.spec import PRESETS

    preset = _env(env, "MICROEXP_PRESET") or "demo"
    if preset not in PRESETS:
        raise MicroexpError(
            f"MICROEXP_PRESET={preset!r}: unknown preset; expected one of: {', '.join(PRESETS)}"
        )
    return preset


def _folds(env: Mapping[str, str]) -> list[int] | None:
    """``MICROEXP_FOLDS`` as fold indices (0 or above), or None when unset."""
    text = _env(env, "MICROEXP_FOLDS")
    if text is None:
        return None
    try:
        folds = [int(v) for v in text.split(",")]
    except ValueError:
        raise MicroexpError(f"MICROEXP_FOLDS={text!r}: expected indices such as 0,3") from None
    negative = [f for f in folds if f < 0]
    if negative:
        raise MicroexpError(
            f"MICROEXP_FOLDS={text!r}: fold {negative[0]} is negative; expected indices 0 or "
            "above, such as 0,3"
        )
    return folds


def _out(env: Mapping[str, str]) -> Path:
    """``MICROEXP_OUT`` (default ``microexp-runs``), not an existing file."""
    value = _env(env, "MICROEXP_OUT") or "microexp-runs"
    out = _path(value, "MICROEXP_OUT")
    if out.exists() and not out.is_dir():
        raise MicroexpError(
            f"MICROEXP_OUT={value}: not a folder (a file); expected a folder for runs"
        )
    return out


def _models(env: Mapping[str, str]) -> tuple[str, ...] | None:
    """``MICROEXP_MODELS`` as registered model names, or None when unset."""
    text = _env(env, "MICROEXP_MODELS")
    if text is None:
        return None
    chosen = tuple(m.strip() for m in text.split(",") if m.strip())
    from .models.registry import MODELS

    for name in chosen:
        if name not in MODELS:
            raise MicroexpError(
                f"MICROEXP_MODELS={text!r}: unknown model {name!r}; expected names from: "
                + ", ".join(MODELS)
            )
    return chosen or None


def settings(paper: str, env: Mapping[str, str] | None = None) -> Settings:
    """The notebook's settings for ``paper`` (``s3d`` or ``atscnn``) from the environment
    (``env``: a mapping in place of ``os.environ``, for tests). Each variable is checked (see
    the module's docstring; empty or blank counts as unset); a bad one is a MicroexpError."""
    from .experiments import get_paper

    get_paper(paper)
    env = dict(os.environ if env is None else env)
    roots = data_roots(paper, env)
    preset, folds, models = _preset(env), _folds(env), _models(env)
    base = _out(env) / f"{preset}-{'synthetic' if roots is None else 'real'}"
    data = "synthetic" if roots is None else ",".join(f"{k}={v}" for k, v in roots.items())
    return Settings(paper, data, preset, base / paper, base / "data", folds, models)


def run(s: Settings, model: str | None = None, **kwargs) -> Path:
    """``microexp.reproduce`` with the notebook's settings; returns the report folder.
    Re-running resumes: finished folds and runs are reused."""
    from .experiments import reproduce

    return reproduce(
        s.paper,
        s.out,
        data=s.data,
        preset=s.preset,
        model=model,
        folds=tuple(s.folds) if s.folds is not None else None,
        data_dir=s.data_dir,
        **kwargs,
    )


def table(report: str | os.PathLike, key: str):
    """A report table (its key, e.g. ``all_runs``; the CSV files of the report) as a pandas
    DataFrame."""
    import pandas as pd

    path = Path(report) / f"{key}.csv"
    if not path.is_file():
        have = sorted(p.stem for p in Path(report).glob("*.csv"))
        raise MicroexpError(f"{path}: no such table; the report has {', '.join(have) or 'none'}")
    return pd.read_csv(path)


def figure(report: str | os.PathLike, name: str):
    """A report figure (PNG file name without suffix) for display in the notebook."""
    from IPython.display import Image

    path = Path(report) / f"{name}.png"
    if not path.is_file():
        have = sorted(p.stem for p in Path(report).glob("*.png"))
        raise MicroexpError(f"{path}: no such figure; the report has {', '.join(have) or 'none'}")
    return Image(filename=str(path))


def table_models(s: Settings, table: str) -> list[str]:
    """The models whose runs feed ``table`` in the paper's declarations, in the order of the
    paper's rows; only those also in ``MICROEXP_MODELS`` (comma-separated) when it is set."""
    from .experiments import get_paper
    from .reporting.tables import TABLES

    feeding = {e.model for e in get_paper(s.paper).experiments if table in e.tables}
    if table not in TABLES:
        raise MicroexpError(f"no table {table!r} is declared")
    ordered = [m for m in TABLES[table].paper if m in feeding]
    ordered += sorted(feeding - set(ordered))
    if s.models is None:
        return ordered
    if not set(s.models) & feeding:
        raise MicroexpError(
            f"MICROEXP_MODELS={','.join(s.models)} names none of {table}'s networks: "
            f"{', '.join(ordered)}"
        )
    return [m for m in ordered if m in s.models]


def models_table(names: str | Sequence[str]):
    """Parameters and costs of registered models (one name or several) beside the papers' figures (DataFrame): MACs
    (paper A's "FLOPs" are 2 x MACs) and torchstat's FLOPs and memory read + write (paper B's
    Table 3 convention)."""
    import pandas as pd

    from .models.summary import model_summary

    rows = []
    for r in model_summary([names] if isinstance(names, str) else list(names)):
        p = r["paper"]
        rows.append(
            {
                "model": r["name"],
                "input": "x".join(map(str, r["input_shape"])),
                "params (ours, trainable)": r["trainable_params"],
                "params (paper)": p.get("params"),
                "FLOPs convention": p.get("flops_convention", "2xMACs"),
                "FLOPs (ours)": r["torchstat_flops"]
                if p.get("flops_convention") == "torchstat"
                else r["flops"],
                "FLOPs (paper)": p.get("flops"),
                "MACs (ours)": r["macs"],
                "MemR+W MB (ours)": round(r["torchstat_memory_mb"], 2),
                "MemR+W MB (paper)": p.get("memory_mb"),
            }
        )
    return pd.DataFrame(rows)


__all__ = [
    "FOLDER_NAMES",
    "table_models",
    "Settings",
    "data_roots",
    "figure",
    "models_table",
    "run",
    "settings",
    "table",
]


# ------------------------------------------------------------------------------- spotting


@dataclass
class SpotSettings:
    """Where the spotting notebook reads long videos and writes its runs."""

    roots: dict[str, Path] | None  # None: synthetic long videos
    preset: str
    out: Path  # OUT/{preset}-{synthetic|real}/spot

    @property
    def synthetic(self) -> bool:
        return self.roots is None

    def describe(self) -> str:
        src = (
            "synthetic long videos (no MICROEXP_DATA set)"
            if self.synthetic
            else ", ".join(f"{k}={v}" for k, v in self.roots.items())
        )
        return f"spotting: data {src}; preset {self.preset}; runs in {self.out}"


def spot_settings(env: Mapping[str, str] | None = None) -> SpotSettings:
    """The spotting notebook's settings (``MICROEXP_DATA`` with ``CAS(ME)^2`` or
    ``SAMM_LongVideos`` folders, ``MICROEXP_CASME_SQ``, ``MICROEXP_SAMM_LV``,
    ``MICROEXP_PRESET``, ``MICROEXP_OUT``), checked as :func:`settings` checks them; a
    ``MICROEXP_DATA`` folder with neither long-video dataset is an error."""
    from .datasets import LONG_VIDEO_DATASETS

    env = dict(os.environ if env is None else env)
    roots = {
        k: v for k, v in _env_roots(LONG_VIDEO_DATASETS, env).items() if k in LONG_VIDEO_DATASETS
    }
    preset = _preset(env)
    preset = "demo" if preset == "paper" else preset  # the synthetic long videos have no paper size
    base = _out(env) / f"{preset}-{'real' if roots else 'synthetic'}"
    return SpotSettings(roots or None, preset, base / "spot")


def spot(s: SpotSettings, dataset: str) -> Path:
    """``microexp.spot`` on ``dataset`` with the notebook's settings; returns the run folder
    (resumes: cached scores are reused)."""
    from .experiments.spotting import spot as run_spot

    root = None
    if not s.synthetic:
        if dataset not in s.roots:
            raise MicroexpError(
                f"{dataset}: no folder given (set MICROEXP_{dataset.upper()}); the others are real"
            )
        root = s.roots[dataset]
    out = s.out / dataset
    run_spot(dataset, out, root, preset=s.preset, log=lambda _: None)
    return out


def spot_table(run: str | os.PathLike):
    """F1 (macro, micro, overall) of a spotting run with its 95 % interval, the chance
    spotter's and the published methods' (DataFrame)."""
    import pandas as pd

    from .experiments.spotting import PUBLISHED, read_metrics

    m = read_metrics(run)
    kinds = ("macro", "micro", "overall")
    rows = []
    ours = {}
    for k in kinds:
        v = m["scores"].get(k)
        ours[f"{k} F1"] = (
            f"{v['f1']:.3f} [{v['f1_ci95'][0]:.2f}, {v['f1_ci95'][1]:.2f}]" if v else "-"
        )
    rows.append({"method": "ours (training-free flow spotter)", **ours})
    rows.append(
        {
            "method": "chance (same intervals, random places)",
            **{f"{k} F1": f"{m['chance_f1'].get(k, 0):.3f}" for k in kinds},
        }  # fmt: skip
    )
    for name, f1 in PUBLISHED[m["dataset"]].items():
        rows.append({"method": f"{name} (published, real data)",
                     **{f"{k} F1": f"{v:.3f}" for k, v in zip(kinds, f1, strict=True)}})  # fmt: skip
    return pd.DataFrame(rows)


def spot_timeline(run: str | os.PathLike, index: int = 0):
    """The timeline figure (scores, coded and spotted intervals) of the run's ``index``-th
    video, for display."""
    from IPython.display import Image

    from .experiments.spotting import timeline_figures

    figures = timeline_figures(run)
    if not -len(figures) <= index < len(figures):
        raise MicroexpError(f"{run}: {len(figures)} timeline figure(s); no video {index}")
    return Image(filename=str(figures[index]))
