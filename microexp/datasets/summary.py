"""A dataset or protocol at a glance: counts per class and subject, exclusions with reasons."""

from __future__ import annotations

from collections import Counter

from .base import LoadResult


def summarize(
    result: LoadResult, protocol: str | None = None, expected: dict | None = None
) -> dict:
    """The JSON object of ``microexp data summary --json``.

    Keys: ``dataset``, ``protocol``, ``samples``, ``subjects``, ``classes`` ({label: count},
    sorted by label), ``excluded`` ([{sample, reason}]), ``ignored`` (folders without a row),
    ``notes`` (quirks handled in place), ``synthetic``, and ``expected`` (the protocol's counts
    on a full copy, to set beside these; absent without a protocol).
    """
    classes = Counter(s.label for s in result.samples)
    return {
        "dataset": result.dataset,
        "protocol": protocol,
        "samples": len(result.samples),
        "subjects": len({s.subject_key for s in result.samples}),
        "classes": dict(sorted(classes.items())),
        "excluded": [{"sample": e.sample, "reason": e.reason} for e in result.excluded],
        "ignored": [{"sample": e.sample, "reason": e.reason} for e in result.ignored],
        "notes": [{"sample": e.sample, "reason": e.reason} for e in result.notes],
        "synthetic": result.synthetic,
        **({"expected": expected} if expected else {}),
    }


def format_summary(summary: dict) -> str:
    """A readable table of :func:`summarize`'s output."""
    title = summary["dataset"] + (
        f" under protocol {summary['protocol']}" if summary["protocol"] else ""
    )
    lines = [title]
    if summary["synthetic"]:
        lines.append("SYNTHETIC data written by microexp's generator, not the licensed dataset")
    lines.append(f"{summary['samples']} samples from {summary['subjects']} subjects")
    width = max([len(k) for k in summary["classes"]] + [5])
    expected = summary.get("expected", {})
    per_class = expected.get("classes", {})
    if expected:
        lines[-1] += f"  (a full copy: {expected.get('samples', '?')} samples" + (
            f", {expected['subjects']} subjects)" if "subjects" in expected else ")"
        )
    lines.append(f"  {'class':<{width}}  samples" + ("  full copy" if per_class else ""))
    for label, n in summary["classes"].items():
        full = f"  {per_class[label]:>9}" if label in per_class else ""
        lines.append(f"  {label:<{width}}  {n:>7}{full}")
    for key in ("excluded", "ignored", "notes"):
        items = summary[key]
        if items:
            lines.append(f"{key} ({len(items)}):")
            lines.extend(f"  {e['sample']}: {e['reason']}" for e in items)
    return "\n".join(lines)
