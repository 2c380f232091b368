"""Figures (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..datasets import Sample
from ..fileio import atomic_path


def flow_to_rgb(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """Colour-code a (H, W, 2) flow: hue = direction, brightness = magnitude (uint8 RGB)."""
    import cv2

    mag, ang = cv2.cartToPolar(flow[..., 0].astype(np.float32), flow[..., 1].astype(np.float32))
    top = max_magnitude or float(np.percentile(mag, 99)) or 1.0
    hsv = np.zeros((*flow.shape[:2], 3), np.uint8)
    hsv[..., 0] = (ang * 90 / np.pi).astype(np.uint8)
    hsv[..., 1] = 255
    hsv[..., 2] = np.clip(mag / top * 255, 0, 255).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def _read(path: Path) -> np.ndarray:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise OSError(f"{path}: unreadable image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def onset_apex_figure(samples: Sequence[Sample], out: str | os.PathLike, crop: float = 1.3) -> Path:
    """One row per sample: onset, apex, |apex - onset| (contrast-stretched), TV-L1 flow.

    The face is cut out around dlib's landmarks on the onset frame (``crop`` x their box).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..landmarks import detect_landmarks
    from ..preprocess import tvl1_flow

    fig, axes = plt.subplots(len(samples), 4, figsize=(10, 2.6 * len(samples)), squeeze=False)
    for row, s in zip(axes, samples, strict=True):
        onset = _read(s.frame_path(s.onset))
        apex = _read(s.frame_path(s.apex if s.apex is not None else s.offset))
        pts = detect_landmarks(onset.mean(axis=2).astype(np.uint8))
        if pts is not None:
            (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
            cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, crop * max(x1 - x0, y1 - y0) / 2
            ya, yb = int(max(cy - half, 0)), int(min(cy + half, onset.shape[0]))
            xa, xb = int(max(cx - half, 0)), int(min(cx + half, onset.shape[1]))
            onset, apex = onset[ya:yb, xa:xb], apex[ya:yb, xa:xb]
        diff = np.abs(apex.astype(np.float32) - onset.astype(np.float32)).mean(axis=2)
        flow = tvl1_flow(onset, apex)
        mag = np.linalg.norm(flow, axis=2)
        panels = [
            (onset, f"{s.id}\nonset (frame {s.onset})"),
            (apex, f"apex (frame {s.apex}), {s.label}"),
            (diff / max(diff.max(), 1e-6), "|apex - onset| (stretched)"),
            (flow_to_rgb(flow), f"TV-L1 flow, max {mag.max():.2f} px"),
        ]
        for ax, (img, title) in zip(row, panels, strict=True):
            ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
            ax.set_title(title, fontsize=8)
            ax.axis("off")
    fig.tight_layout()
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=90, format=out.suffix.lstrip(".") or "png")
    plt.close(fig)
    return out


def spotting_timeline(
    title: str,
    fps: float,
    first: int,
    scores: dict[str, np.ndarray],
    thresholds: dict[str, float],
    truth: Sequence[tuple[int, int, str]],
    spotted: Sequence[tuple[int, int, str]],
    out: str | os.PathLike,
    labels: Sequence[str] | None = None,
    truth_labels: Sequence[str] | None = None,
) -> Path:
    """One video: each kind's score S(t) over time (seconds) with its threshold, the coded
    intervals (shaded) and the spotted ones (bars below). Intervals are (onset, offset, kind)
    in file-name frame numbers; ``first`` is the video's first frame number. ``labels`` (one
    per spotted interval) and ``truth_labels`` (one per coded interval) are written under and
    over their intervals (spot-then-recognise). No scores: one row with every coded interval
    and a note that nothing was scored."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"macro": "tab:blue", "micro": "tab:red"}
    kinds = list(scores)
    rows = max(len(kinds), 1)
    fig, axes = plt.subplots(rows, 1, figsize=(10, 1.9 * rows + 0.4), sharex=True, squeeze=False)
    axes = axes[:, 0]
    caption = "shaded = coded, black bars = spotted"
    if not kinds:  # every coded interval on one row
        kinds, caption = [None], "shaded = coded; no kind was scored, nothing spotted"
        axes[0].set_yticks([])
    if labels is not None:
        caption += ", coded class above, predicted below"
    for ax, kind in zip(axes, kinds, strict=True):
        for i, (onset, offset, k) in enumerate(truth):
            if kind is None or k == kind:
                ax.axvspan(
                    (onset - first) / fps,
                    (offset - first + 1) / fps,
                    color=colours.get(k, "k"),
                    alpha=0.15,
                )
                if truth_labels is not None and truth_labels[i]:
                    ax.annotate(truth_labels[i], ((onset - first) / fps, 1.0), fontsize=6,
                                xycoords=("data", "axes fraction"), va="top")  # fmt: skip
        if kind is None:
            continue
        s = scores[kind]
        t = (np.arange(len(s))) / fps
        ax.plot(t, s, color=colours.get(kind, "k"), lw=1, label=f"{kind} score")
        ax.axhline(thresholds[kind], color="grey", ls="--", lw=0.8, label="threshold")
        top = float(s.max()) if len(s) and s.max() > 0 else 1.0
        for i, (onset, offset, k) in enumerate(spotted):
            if k == kind:
                ax.plot([(onset - first) / fps, (offset - first + 1) / fps], [-0.06 * top] * 2,
                        color="k", lw=4, solid_capstyle="butt")  # fmt: skip
                if labels is not None:
                    ax.annotate(labels[i], ((onset - first) / fps, -0.11 * top), fontsize=6,
                                va="top")  # fmt: skip
        ax.set_ylim(-(0.3 if labels is not None else 0.12) * top, 1.1 * top)
        ax.set_ylabel(kind, fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].set_title(f"{title}: {caption}", fontsize=9)
    axes[-1].set_xlabel("time (s)", fontsize=8)
    fig.tight_layout()
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
    return out
