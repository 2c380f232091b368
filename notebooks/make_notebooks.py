"""Write the table and figure notebooks, and optionally execute them to save their outputs.

    .venv/bin/python notebooks/make_notebooks.py              # (re)write the .ipynb files
    .venv/bin/python notebooks/make_notebooks.py --execute    # ... and run them (demo preset)

The notebooks are generated so that they stay thin and alike: each calls
:mod:`microexp.notebook` and nothing else. ``--execute`` runs them in order with the settings
of the environment (default: the synthetic ``demo`` preset, runs in ``notebooks/microexp-runs``)
and saves each with its outputs, so a reader sees results without running anything.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from microexp.tflog import is_startup_noise

HERE = Path(__file__).resolve().parent

INSTALL = """\
# Colab or a fresh environment: install microexp when it is missing. MICROEXP_PIP (a wheel, a
# folder, or anything pip takes) comes first; otherwise the checkout this notebook sits in.
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

if importlib.util.find_spec("microexp") is None:
    source = os.environ.get("MICROEXP_PIP")
    if not source:
        here = Path.cwd().resolve()
        tops = [d for d in (here, *here.parents) if (d / "microexp" / "__init__.py").is_file()]
        if not tops:
            raise SystemExit(
                "microexp is not installed: set MICROEXP_PIP to a microexp wheel or checkout "
                "(docs/install.md, 'Colab'), or open this notebook inside a microexp checkout"
            )
        source = str(tops[0])
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", source])"""

SETTINGS = """\
from microexp import notebook as nb

s = nb.settings("{paper}")
print(s.describe())"""

DATA_NOTE = """\
**Data.** With no dataset path set, this notebook runs on microexp's synthetic datasets, written
in the owners' layouts; their numbers show that the chain works and are *not* comparable to the
paper's. To use the licensed datasets set `MICROEXP_DATA` (a folder holding `{folders}`, or
`name=DIR,name=DIR`) or one variable per dataset ({variables}) before starting Jupyter.
`MICROEXP_PRESET` chooses `tiny`, `demo` (default) or `paper` (the paper's epochs and batch
sizes, meant for a GPU). Runs resume: re-running a cell reuses every finished fold."""

SPOT_SETTINGS = """\
from microexp import notebook as nb

s = nb.spot_settings()
print(s.describe())"""

A_FOLDERS = ("CK+", "CASME2")
SPOT_FOLDERS = ("CAS(ME)^2", "SAMM_LongVideos")
B_FOLDERS = ("CASME", "CASME2", "SAMM")


#: the environment variable of a data folder name (CK+ -> MICROEXP_CKPLUS)
_VARIABLE = {"CK+": "CKPLUS", "CAS(ME)^2": "CASME_SQ", "SAMM_LongVideos": "SAMM_LV"}


def _note(folders: tuple[str, ...]) -> str:
    variables = ", ".join(f"`MICROEXP_{_VARIABLE.get(f, f.upper())}`" for f in folders)
    return DATA_NOTE.format(folders="`, `".join(folders), variables=variables)


#: file stem -> (paper, title and explanation, code cells after the settings cell)
NOTEBOOKS: dict[str, tuple[str, str, list[str]]] = {
    "paper_a_table2": (
        "s3d",
        "# Paper A, Table 2: LOSO accuracy on CASME II\n\n"
        "The S3D CNN pre-trained on CK+ and fine-tuned on CASME II (blocks 1-3 frozen, a new "
        "5-way head), and the handcrafted LBP-TOP + linear SVM baseline, both measured under "
        "leave-one-subject-out on the 5-class CASME II protocol. The metric is paper A's: the "
        "**mean over subjects of per-subject accuracy** (eq. 8), not pooled accuracy. The other "
        "rows are the paper's reported figures.",
        [
            "report = nb.run(s)  # CK+ pre-training, then LOSO: transfer and from scratch",
            'report = nb.run(s, model="lbptop")  # the LBP-TOP + SVM row',
            'nb.table(report, "paper_a_table2")',
        ],
    ),
    "paper_a_table3": (
        "s3d",
        "# Paper A, Table 3: convergence, final training accuracy and loss\n\n"
        "Means over LOSO folds, from scratch vs transfer. The **convergence epoch** of a fold is "
        "the first epoch whose training accuracy reaches 95 % of that fold's final training "
        "accuracy (paper A does not define it; this definition is ours and a parameter of "
        "`microexp.training.convergence_epoch`).",
        ["report = nb.run(s)", 'nb.table(report, "paper_a_table3")'],
    ),
    "paper_a_table4": (
        "s3d",
        "# Paper A, Table 4: 2D vs 3D vs separable 3D\n\n"
        "The same network with every temporal convolution dropped (2D CNN), every separable "
        "pair replaced by one 3x3x3 convolution (3D CNN), and separable (S3D); each pre-trained "
        "on CK+ and fine-tuned under LOSO. First their sizes (exact counts from the built "
        "models, 7-way head as in the paper), then their accuracy.",
        [
            'nb.models_table(nb.table_models(s, "paper_a_table4"))',
            'for model in nb.table_models(s, "paper_a_table4"):\n'
            '    report = nb.run(s, model=model, modes=("transfer",))',
            'nb.table(report, "paper_a_table4")',
        ],
    ),
    "paper_a_fig4": (
        "s3d",
        "# Paper A, Fig. 4: from scratch vs transfer\n\n"
        "Mean per-subject LOSO accuracy of the S3D CNN trained from random weights and "
        "fine-tuned from CK+, beside the paper's 49.46 % and 67.58 %.",
        [
            "report = nb.run(s)",
            'display(nb.table(report, "paper_a_fig4"))\n'
            'nb.figure(report, "paper_a_fig4_transfer_vs_scratch")',
        ],
    ),
    "paper_a_fig5": (
        "s3d",
        "# Paper A, Fig. 5: training curves, scratch vs transfer\n\n"
        "Training accuracy per epoch of LOSO folds 6 and 16 (the paper's; the last two folds "
        "when there are fewer), from scratch and fine-tuned. Every fold's curves are in the "
        "run folders' `logs/*/training.csv`.",
        ["report = nb.run(s)", 'nb.figure(report, "paper_a_fig5_training_curves")'],
    ),
    "paper_b_table3": (
        "atscnn",
        "# Paper B, Table 3: ATSCNN against other networks\n\n"
        "Every network is trained under paper B's protocol (LOSO on the CASME + CASME II + SAMM "
        "3-class composite, onset-to-apex TV-L1 u, v and strain). Metrics: **pooled UAR and "
        "pooled UF1** over all folds' predictions (eq. 11-17); the fold-averaged UF1 is shown "
        "under its own name. Sizes first, counted as paper B counted them (torchstat's FLOPs "
        "and memory read + write on one 3x128x128 input) beside multiply-accumulates. The "
        "networks are the PyTorch re-implementations paper B measured (STSTNet with a hidden "
        "dense layer and no stream ReLU, MACNN, Micro-Attention's shallow flow version, "
        "Off-TANet, mini-AORCNN). Each is trained at the preset's input size; at the paper "
        "preset Off-TANet, mini-AORCNN, MACNN and Micro-Attention take their authors' schedules.",
        [
            'nb.models_table(nb.table_models(s, "paper_b_table3"))',
            'for model in nb.table_models(s, "paper_b_table3"):\n    report = nb.run(s, model=model)',
            'display(nb.table(report, "paper_b_table3"))\n'
            'nb.figure(report, "paper_b_table3_networks")',
        ],
    ),
    "paper_b_table4": (
        "atscnn",
        "# Paper B, Table 4: ablations\n\n"
        "ATSCNN without attention, with channel or spatial attention only, with ReLU instead "
        "of SELU, without the strain stream, and on the grey apex frame alone. The paper's "
        "UAR/UF1 are derived from the deltas in its text.",
        [
            'report = nb.run(s, ablation="all")',
            'display(nb.table(report, "paper_b_table4"))\n'
            'nb.figure(report, "paper_b_table4_ablations")',
        ],
    ),
    "spotting": (
        "spotting",
        "# Spotting expressions in long videos (CAS(ME)^2, SAMM Long Videos)\n\n"
        "The training-free spotter (`microexp.preprocess.spotting`): the face is tracked, each "
        "frame's displacement against its neighbours k frames away is measured with optical "
        "flow (head translation removed, eyes masked), and peaks above MEGC's threshold "
        "become intervals of 2k + 1 frames. Leave one subject out: k comes from the other "
        "subjects' coded durations and the threshold fraction p from their F1. Scored as MEGC "
        "does (IoU >= 0.5, counts pooled over videos), beside a chance spotter and the "
        "published methods (which ran on the real videos).",
        [
            'report = nb.spot(s, "casme_sq")',
            "nb.spot_table(report)",
            "nb.spot_timeline(report)",
            'report = nb.spot(s, "samm_lv")',
            "nb.spot_table(report)",
            "nb.spot_timeline(report)",
        ],
    ),
}


def build(stem: str) -> nbformat.NotebookNode:
    paper, intro, code = NOTEBOOKS[stem]
    folders = {"s3d": A_FOLDERS, "atscnn": B_FOLDERS, "spotting": SPOT_FOLDERS}[paper]
    settings = SPOT_SETTINGS if paper == "spotting" else SETTINGS.format(paper=paper)
    cells = [
        new_markdown_cell(intro),
        new_markdown_cell(_note(folders)),
        new_code_cell(INSTALL),
        new_code_cell(settings),
        *(new_code_cell(c) for c in code),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def _write(nb: nbformat.NotebookNode, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, path)


def drop_startup_noise(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Remove stderr outputs made only of TensorFlow's start-up notices (which
    TF_CPP_MIN_LOG_LEVEL cannot silence); every other output is kept."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs = [
            o
            for o in cell.outputs
            if not (
                o.output_type == "stream"
                and o.name == "stderr"
                and all(is_startup_noise(line) for line in o.text.splitlines())
            )
        ]
    return nb


def refresh(saved: nbformat.NotebookNode, new: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``new``'s cell sources with ``saved``'s outputs; refused when the cells' number or kinds
    differ (then the notebook must be executed again)."""
    if [c.cell_type for c in saved.cells] != [c.cell_type for c in new.cells]:
        raise SystemExit("the cells changed: run with --execute instead of --refresh")
    for old, cell in zip(saved.cells, new.cells, strict=True):
        if cell.cell_type == "code":
            cell.outputs = old.get("outputs", [])
            cell.execution_count = old.get("execution_count")
    return drop_startup_noise(new)


def execute(nb: nbformat.NotebookNode, cwd: Path, timeout: int = 7200) -> nbformat.NotebookNode:
    """Run ``nb`` in a fresh kernel (the environment's MICROEXP_* settings apply); the kernel
    is shut down afterwards, and one that dies is an error (nbclient's DeadKernelError).

    On POSIX the kernel talks over IPC files in a private temporary folder, not over TCP ports:
    a TCP port is picked by binding and releasing it, so kernels started at once by several
    processes (the notebook test starts three) could race for one port."""
    import tempfile

    from jupyter_client import AsyncKernelManager
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory(prefix="mxk") as tmp:
        ipc = {"transport": "ipc", "connection_file": f"{tmp}/kernel.json"}
        km = AsyncKernelManager(kernel_name="python3", **(ipc if os.name == "posix" else {}))
        NotebookClient(
            nb,
            km=km,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(cwd)}},
        ).execute(cleanup_kc=True)
    return drop_startup_noise(nb)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--execute", action="store_true", help="run each notebook, save its outputs")
    ap.add_argument("--only", nargs="*", help="these notebooks (file stems) only")
    ap.add_argument("--dest", type=Path, default=HERE, help="write them here (default: notebooks/)")
    ap.add_argument(
        "--refresh",
        action="store_true",
        help="keep the saved outputs, rewrite only the cells' sources (after a wording change)",
    )
    args = ap.parse_args(argv)
    os.environ.setdefault("MICROEXP_OUT", str(HERE / "microexp-runs"))
    args.dest.mkdir(parents=True, exist_ok=True)
    for stem in args.only or list(NOTEBOOKS):
        if stem not in NOTEBOOKS:
            ap.error(f"unknown notebook {stem!r}; expected one of {', '.join(NOTEBOOKS)}")
        path = args.dest / f"{stem}.ipynb"
        nb = build(stem)
        if args.refresh:
            nb = refresh(nbformat.read(path, as_version=4), nb)
        elif args.execute:
            t = time.time()
            execute(nb, HERE)
            print(f"{path.name}: executed in {time.time() - t:.0f} s", file=sys.stderr)
        _write(nb, path)
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
