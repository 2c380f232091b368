"""microexp's keras.ops TV-L1 (on the active Keras backend) against OpenCV's: agreement and
speed. Writes JSON, naming the Keras backend (``KERAS_BACKEND``: tensorflow, jax or torch) and
its flow backend (``tf``, ``jax``, ``torch``), whose name the result keys carry.

Agreement, at OpenCV's default parameters: scikit-image's astronaut face (grey, 128 px crop
of the face) moved by sub-pixel shifts and a smooth warp, and real micro-motion pairs from the
synthetic CASME II (onset -> apex of its clips); the mean interior (8 px margin) end-point
difference between the two, each one's end-point error against the known motion, and the
optical strain difference.

Speed: pairs per second at paper A's window size (~170 px) and paper B's (128 px), at batch
sizes 1, 16 and 128 for the Keras backend (after one traced call per size: on JAX every batch
size compiles anew), against cv2 on one worker and on two (processes).

    .venv/bin/python benchmarks/bench_tvl1.py --out benchmarks/results/tvl1.json
    KERAS_BACKEND=jax .venv/bin/python benchmarks/bench_tvl1.py --out benchmarks/results/tvl1_jax.json

``--quick``: a smoke run at toy size (48 px crops, 3 pyramid levels, 32 px speed windows).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from scipy import ndimage

from microexp import backend
from microexp import preprocess as pp
from microexp.fileio import write_text
from microexp.preprocess.flow import keras_flow_backend

MARGIN = 8


def _astronaut_pairs(size: int = 128) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(prev, next, true flow) on the astronaut's face: 4 sub-pixel shifts and a smooth warp."""
    from skimage import color, data

    face = color.rgb2gray(data.astronaut())[30 : 30 + size, 170 : 170 + size] * 255
    out = []
    for dy, dx in ((0.25, 0.5), (-0.4, 0.3), (0.7, -0.2), (0.0, 1.2)):
        moved = ndimage.shift(face, (dy, dx), order=3, mode="nearest")
        truth = np.broadcast_to(np.array([dx, dy], np.float32), (size, size, 2))
        out.append((face, moved, truth))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    u = 0.8 * np.sin(2 * np.pi * yy / size)
    v = 0.6 * np.cos(2 * np.pi * xx / size)
    # next(x + flow) = prev(x): sample prev at x - flow (to first order)
    moved = ndimage.map_coordinates(face, [yy - v, xx - u], order=3, mode="nearest")
    out.append((face, moved, np.stack([u, v], -1).astype(np.float32)))
    return out


def _casme2_pairs(n: int, size: int = 128) -> list[tuple[np.ndarray, np.ndarray]]:
    """Onset -> apex frames (grey, cropped ``size`` px around the middle) of synthetic CASME II."""
    from microexp import datasets as ds
    from microexp import synthetic
    from microexp.preprocess.frames import read_frames, to_float_gray

    root = synthetic.generate("casme2", tempfile.mkdtemp() + "/casme2", "tiny", 0, 2, 3)
    pairs = []
    for s in ds.load("casme2", root).samples[:n]:
        frames = to_float_gray(read_frames(s))
        a, b = frames[0], frames[s.apex - s.onset]
        h, w = a.shape
        y0, x0 = max(0, h // 2 - size // 2), max(0, w // 2 - size // 2)
        pairs.append((a[y0 : y0 + size, x0 : x0 + size], b[y0 : y0 + size, x0 : x0 + size]))
    return pairs


def _interior(x: np.ndarray) -> np.ndarray:
    return x[..., MARGIN:-MARGIN, MARGIN:-MARGIN]


def agreement(size: int = 128, p: pp.TVL1Params | None = None) -> dict:
    p = p or pp.TVL1Params()
    flow = keras_flow_backend()
    rows = {}
    astro = _astronaut_pairs(size)
    prev = np.stack([a for a, _, _ in astro])
    nxt = np.stack([b for _, b, _ in astro])
    truth = np.stack([t for _, _, t in astro])
    k_flow = pp.tvl1_flows(prev, nxt, p, backend=flow)
    cv_flow = pp.tvl1_flows(prev, nxt, p, backend="cv2")
    epe = lambda f, g: float(_interior(np.linalg.norm(f - g, axis=-1)).mean())  # noqa: E731
    maxdiff = lambda f, g: float(_interior(np.abs(f - g).max(-1)).max())  # noqa: E731
    strain = lambda f: np.stack([pp.optical_strain(x) for x in f])  # noqa: E731
    rows["astronaut"] = {
        "pairs": len(astro),
        f"mean_interior_epd_{flow}_vs_cv2_px": epe(k_flow, cv_flow),
        f"max_interior_abs_diff_{flow}_vs_cv2_px": maxdiff(k_flow, cv_flow),
        f"epe_vs_truth_{flow}_px": epe(k_flow, truth),
        "epe_vs_truth_cv2_px": epe(cv_flow, truth),
        "strain_mean_abs_diff": float(_interior(np.abs(strain(k_flow) - strain(cv_flow))).mean()),
    }
    casme = _casme2_pairs(6, size)
    prev = np.stack([a for a, _ in casme])
    nxt = np.stack([b for _, b in casme])
    k_flow = pp.tvl1_flows(prev, nxt, p, backend=flow)
    cv_flow = pp.tvl1_flows(prev, nxt, p, backend="cv2")
    rows["synthetic_casme2_onset_apex"] = {
        "pairs": len(casme),
        f"mean_interior_epd_{flow}_vs_cv2_px": epe(k_flow, cv_flow),
        f"max_interior_abs_diff_{flow}_vs_cv2_px": maxdiff(k_flow, cv_flow),
        "mean_flow_magnitude_cv2_px": float(_interior(np.linalg.norm(cv_flow, axis=-1)).mean()),
        "strain_mean_abs_diff": float(_interior(np.abs(strain(k_flow) - strain(cv_flow))).mean()),
    }
    return rows


def _cv2_pairs(args) -> None:
    prev, nxt = args
    pp.tvl1_flows(prev, nxt, backend="cv2")


def speed(batches: tuple[int, ...], repeats: int, windows: tuple = ()) -> dict:
    rng = np.random.default_rng(0)
    flow = keras_flow_backend()
    out = {}
    for name, size in windows or (("paper_a_window_170", 170), ("paper_b_128", 128)):
        tex = ndimage.gaussian_filter(
            rng.uniform(0, 255, (max(batches), size, size)), (0, 1.5, 1.5)
        )
        moved = ndimage.shift(tex, (0, 0.4, 0.6), order=1, mode="nearest")
        row: dict = {}
        n_cv = 8
        t = time.perf_counter()
        pp.tvl1_flows(tex[:n_cv], moved[:n_cv], backend="cv2")
        row["cv2_1_worker_pairs_per_s"] = n_cv / (time.perf_counter() - t)
        with ProcessPoolExecutor(2) as pool:
            halves = [(tex[i:n_cv:2], moved[i:n_cv:2]) for i in (0, 1)]
            t = time.perf_counter()
            list(pool.map(_cv2_pairs, halves))
            row["cv2_2_workers_pairs_per_s"] = n_cv / (time.perf_counter() - t)
        for b in batches:
            t = time.perf_counter()
            pp.tvl1_flows(tex[:b], moved[:b], backend=flow)
            first = time.perf_counter() - t
            t = time.perf_counter()
            for _ in range(repeats):
                pp.tvl1_flows(tex[:b], moved[:b], backend=flow)
            rate = repeats * b / (time.perf_counter() - t)
            row[f"{flow}_batch_{b}_pairs_per_s"] = rate
            row[f"{flow}_batch_{b}_first_call_s"] = first
        out[name] = row
        print(name, row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="benchmarks/results/tvl1.json")
    ap.add_argument("--batches", default="1,16,128")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="a smoke run at toy size")
    args = ap.parse_args()
    quick = {"size": 48, "p": pp.TVL1Params(nscales=3)} if args.quick else {}
    windows = (("toy_32", 32),) if args.quick else ()
    batches = "1,2" if args.quick and args.batches == ap.get_default("batches") else args.batches

    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "keras_backend": backend.name(),
            "flow_backend": keras_flow_backend(),
            "gpus": backend.gpu_count(),
            "devices": backend.describe(),
        },
        "quick": args.quick,
        "agreement": agreement(**quick),
    }
    print(json.dumps(result["agreement"], indent=2))
    result["speed"] = speed(tuple(int(b) for b in batches.split(",")), args.repeats, windows)
    write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
