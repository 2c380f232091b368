"""``microexp models summary``: parameters and costs of every registered model, ours beside the
papers'.

Two counting conventions sit side by side: multiply-accumulates (:mod:`.flops`; paper A's
"FLOPs" are 2 x MACs) and torchstat's Flops and memory read + write (:mod:`.torchstat`; paper
B's Table 3). ``flops_vs_paper`` compares ours with the paper's figure in the paper's own
convention (``paper["flops_convention"]``).
"""

from __future__ import annotations

from .flops import total_macs
from .registry import MODELS, build_model, get_spec
from .torchstat import torchstat_totals, trainable_count


def _ours_in_paper_convention(row: dict) -> dict:
    paper = row["paper"]
    convention = paper.get("flops_convention")
    ours = {"2xMACs": row["flops"], "torchstat": row["torchstat_flops"]}.get(convention)
    out: dict = {}
    if ours is not None and paper.get("flops"):
        out["flops_vs_paper"] = ours / paper["flops"] - 1
    if convention == "torchstat" and paper.get("memory_mb"):
        out["memory_vs_paper"] = row["torchstat_memory_mb"] / paper["memory_mb"] - 1
    return out


#: what :func:`model_costs` measures (a report column may show any of them)
COST_KEYS = (
    "params",
    "trainable_params",
    "macs",
    "flops",
    "torchstat_flops",
    "torchstat_memory_mb",
)


def model_costs(name: str, **overrides: object) -> dict:
    """{params, trainable_params, macs, flops (2 x MACs), torchstat_flops, torchstat_memory_mb,
    input_shape} of registered model ``name`` at its registered input size (the paper's
    setting), ``overrides`` replacing builder arguments."""
    import keras

    keras.backend.clear_session()
    model = build_model(name, **overrides)
    macs = total_macs(model)
    return {
        "params": int(model.count_params()),
        "trainable_params": trainable_count(model),
        "macs": macs,
        "flops": 2 * macs,
        **torchstat_totals(model),
        "input_shape": [int(d) for d in model.inputs[0].shape[1:]],
    }


def model_summary(names: list[str] | None = None) -> list[dict]:
    """[{name, **model_costs, paper, note, flops_vs_paper, memory_vs_paper}] per model (every
    registered one when ``names`` is empty); an unknown name is refused before any is built."""
    specs = [(name, get_spec(name)) for name in names or list(MODELS)]
    rows = []
    for name, spec in specs:
        row = {"name": name, **model_costs(name), "paper": dict(spec.paper), "note": spec.note}
        rows.append({**row, **_ours_in_paper_convention(row)})
    return rows


def _fmt(n: float | None) -> str:
    if n is None:
        return "-"
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.2f}{unit}"
    return f"{n:.0f}"


def _paper(p: dict) -> str:
    if not p:
        return "-"
    memory = f" / {p['memory_mb']:.2f} MB" if "memory_mb" in p else ""
    return (
        f"{_fmt(p.get('params'))} / {_fmt(p.get('flops'))} {p.get('flops_convention', '')}{memory}"
    )


def _delta(r: dict) -> str:
    parts = [f"{r[k]:+.1%}" for k in ("flops_vs_paper", "memory_vs_paper") if k in r]
    return " ".join(parts) or "-"


def format_model_summary(rows: list[dict]) -> str:
    head = (
        f"{'model':<20} {'input':<14} {'trainable':>11} {'MACs':>8} {'2xMACs':>8} "
        f"{'torchstat':>9} {'MemR+W MB':>9}   {'ours vs paper':<14} paper (params / FLOPs / memory)"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        shape = "x".join(str(d) for d in r["input_shape"])
        lines.append(
            f"{r['name']:<20} {shape:<14} {r['trainable_params']:>11,} {_fmt(r['macs']):>8} "
            f"{_fmt(r['flops']):>8} {_fmt(r['torchstat_flops']):>9} "
            f"{r['torchstat_memory_mb']:>9.2f}   {_delta(r):<14} {_paper(r['paper'])}"
        )
    return "\n".join(lines)
