"""``microexp models summary``: parameters and MACs of every registered model, ours beside the
papers'."""

from __future__ import annotations

import numpy as np

from .flops import total_macs
from .registry import MODELS, build_model


def model_summary(names: list[str] | None = None) -> list[dict]:
    """[{name, params, trainable_params, macs, flops, paper, note}] for each model."""
    import keras

    rows = []
    for name in names or list(MODELS):
        keras.backend.clear_session()
        model = build_model(name)
        trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
        macs = total_macs(model)
        spec = MODELS[name]
        rows.append(
            {
                "name": name,
                "params": int(model.count_params()),
                "trainable_params": trainable,
                "macs": macs,
                "flops": 2 * macs,
                "input_shape": [int(d) for d in model.inputs[0].shape[1:]],
                "paper": dict(spec.paper),
                "note": spec.note,
            }
        )
    return rows


def _fmt(n: float | None) -> str:
    if n is None:
        return "-"
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.2f}{unit}"
    return f"{n:.0f}"


def format_model_summary(rows: list[dict]) -> str:
    head = f"{'model':<20} {'input':<14} {'params':>10} {'trainable':>10} {'MACs':>9} {'FLOPs':>9}   paper (params / FLOPs or MACs)"
    lines = [head, "-" * len(head)]
    for r in rows:
        p = r["paper"]
        paper = "-"
        if p:
            cost = f"{_fmt(p['flops'])} FLOPs" if "flops" in p else f"{_fmt(p.get('macs'))} MACs"
            paper = f"{_fmt(p.get('params'))} / {cost}"
        shape = "x".join(str(d) for d in r["input_shape"])
        lines.append(
            f"{r['name']:<20} {shape:<14} {r['params']:>10,} {r['trainable_params']:>10,} "
            f"{_fmt(r['macs']):>9} {_fmt(r['flops']):>9}   {paper}"
        )
    return "\n".join(lines)
