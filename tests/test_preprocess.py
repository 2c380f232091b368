from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from microexp import datasets as ds
from microexp import preprocess as pp
from microexp import synthetic
from microexp.cli import main
from microexp.errors import MicroexpError
from microexp.features import FlowCache, build_cache
from microexp.landmarks import detect_landmarks


@pytest.fixture(scope="module")
def face_img() -> np.ndarray:
    """A real face: the astronaut portrait, grey, cut around the face (160 x 160)."""
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)[50:210, 140:300].astype(np.float32)


def _warp(img: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """next(x) = img(x - d(x)): content moves by (u, v), so prev(x) ~ next(x + flow)."""
    h, w = img.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return cv2.remap(img, xs - u, ys - v, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


INTERIOR = (slice(16, -16), slice(16, -16))


@pytest.mark.parametrize("shift", [(0.3, 0.0), (0.5, -0.25), (-0.8, 0.6)])
def test_tvl1_recovers_subpixel_shift(face_img: np.ndarray, shift: tuple[float, float]) -> None:
    h, w = face_img.shape
    u, v = np.full((h, w), shift[0], np.float32), np.full((h, w), shift[1], np.float32)
    flow = pp.tvl1_flow(face_img, _warp(face_img, u, v))
    assert flow.shape == (h, w, 2) and flow.dtype == np.float32
    epe = np.linalg.norm(flow[INTERIOR] - np.array(shift), axis=-1).mean()
    assert epe < 0.05  # px, stated in docs/preprocessing.md


def test_tvl1_recovers_smooth_warp(face_img: np.ndarray) -> None:
    h, w = face_img.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    u = 0.8 * np.sin(2 * np.pi * xs / w) * np.cos(np.pi * ys / h)
    v = 0.6 * np.cos(2 * np.pi * ys / h)
    flow = pp.tvl1_flow(face_img, _warp(face_img, u, v))
    # the flow is sampled where the content came from: compare at x (first order, d < 1 px)
    err = np.hypot(flow[..., 0] - u, flow[..., 1] - v)[INTERIOR]
    assert err.mean() < 0.15


def test_tvl1_accepts_colour_uint8_and_unit_floats(face_img: np.ndarray) -> None:
    nxt = _warp(face_img, np.full_like(face_img, 0.5), np.zeros_like(face_img))
    on_255 = pp.tvl1_flow(face_img, nxt)
    on_unit = pp.tvl1_flow(face_img / 255.0, nxt / 255.0)  # cubic overshoot may pass 1.0
    assert np.abs(on_255[INTERIOR] - on_unit[INTERIOR]).mean() < 1e-3
    grey8 = pp.tvl1_flow(face_img.astype(np.uint8), nxt.astype(np.uint8))
    colour8 = pp.tvl1_flow(
        np.repeat(face_img[..., None], 3, -1).astype(np.uint8),
        np.repeat(nxt[..., None], 3, -1).astype(np.uint8),
    )
    assert np.abs(grey8[INTERIOR] - colour8[INTERIOR]).mean() < 0.02


def test_strain_of_analytic_flows() -> None:
    ys, xs = np.mgrid[0:40, 0:50].astype(np.float64)
    a, b, c, d = 0.02, -0.01, 0.03, 0.015
    flow = np.stack([a * xs + b * ys, c * xs + d * ys], -1)
    expected = np.sqrt(a**2 + d**2 + 2 * ((b + c) / 2) ** 2)
    assert np.allclose(pp.optical_strain(flow), expected, atol=1e-6)
    # quadratic: u = x^2 / 100 -> du/dx = x / 50 exactly with central differences inside
    flow = np.stack([xs**2 / 100, np.zeros_like(xs)], -1)
    s = pp.optical_strain(flow)
    assert np.allclose(s[:, 1:-1], xs[:, 1:-1] / 50, atol=1e-6)


def test_rotate_flow_turns_vectors() -> None:
    flow = np.zeros((4, 6, 2), np.float32)
    flow[..., 0] = 1.0  # everything moves right
    r1 = pp.rotate_flow(flow, 1)
    assert r1.shape == (6, 4, 2)
    assert np.allclose(r1[..., 0], 0) and np.allclose(r1[..., 1], -1)  # right turns into up
    assert np.allclose(pp.rotate_flow(flow, 2)[..., 0], -1)
    assert np.allclose(pp.rotate_flow(flow, 3)[..., 1], 1)
    assert np.allclose(pp.rotate_flow(pp.rotate_flow(flow, 1), 3), flow)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_rotate_flow_matches_flow_of_rotated_frames(face_img: np.ndarray, k: int) -> None:
    h, w = face_img.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = 0.6 + 0.2 * np.sin(xs / 20), -0.4 + 0.0 * ys
    nxt = _warp(face_img, u, v)
    rotated = pp.rotate_flow(pp.tvl1_flow(face_img, nxt), k)
    direct = pp.tvl1_flow(np.rot90(face_img, k).copy(), np.rot90(nxt, k).copy())
    assert np.linalg.norm(rotated - direct, axis=-1)[INTERIOR].mean() < 0.05
    # rotating only the grid is wrong by the vectors' turn
    grid_only = np.rot90(pp.tvl1_flow(face_img, nxt), k)
    assert np.linalg.norm(grid_only - direct, axis=-1)[INTERIOR].mean() > 0.3


def test_rotate_sample_4d_matches_per_frame() -> None:
    x = np.random.default_rng(0).normal(size=(8, 6, 3, 3)).astype(np.float32)  # H, W, T, C
    r = pp.rotate_sample(x, 1)
    assert r.shape == (6, 8, 3, 3)
    for t in range(3):
        assert np.allclose(r[:, :, t, :2], pp.rotate_flow(x[:, :, t, :2], 1))
        assert np.allclose(r[:, :, t, 2], np.rot90(x[:, :, t, 2], 1))


# ------------------------------------------------------------------------------------- EVM


def _blob_video(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:64, 0:64].astype(np.float64)
    frames = np.stack(
        [200 * np.exp(-((xs - 32 - di) ** 2 + (ys - 32) ** 2) / (2 * 6.0**2)) for di in d]
    )
    return frames.astype(np.float32), xs


def _centroid_x(img: np.ndarray, xs: np.ndarray) -> float:
    img = np.clip(img, 0, None)
    return float((img * xs).sum() / img.sum())


def _iir(d: np.ndarray, r1: float = 0.4, r2: float = 0.05) -> np.ndarray:
    lo1 = lo2 = d[0]
    out = [0.0]
    for x in d[1:]:
        lo1, lo2 = (1 - r1) * lo1 + r1 * x, (1 - r2) * lo2 + r2 * x
        out.append(lo1 - lo2)
    return np.array(out)


@pytest.mark.parametrize("lambda_c, tolerance", [(0.0, 0.02), (16.0, 0.10)])
def test_evm_amplifies_subpixel_motion_by_alpha(lambda_c: float, tolerance: float) -> None:
    t = np.arange(100) / 200.0
    d = 0.1 * np.sin(2 * np.pi * 5 * t)  # 0.1 px, 5 Hz at 200 fps
    frames, xs = _blob_video(d)
    out = pp.magnify(frames, alpha=10, fps=200, lambda_c=lambda_c)
    added = np.array([_centroid_x(f, xs) - 32 for f in out]) - d
    band = _iir(d)  # EVM is linear: it adds alpha x the band-passed motion
    gain = float(added @ band / (band @ band))
    assert abs(gain - 10) / 10 < tolerance


def test_evm_ideal_band_amplifies_in_band_sinusoid() -> None:
    t = np.arange(80) / 200.0
    d = 0.05 * np.sin(2 * np.pi * 5 * t)  # exactly 2 periods: no spectral leakage
    frames, xs = _blob_video(d)
    out = pp.magnify(frames, alpha=10, fps=200, band="ideal", f_lo=2, f_hi=10, lambda_c=0)
    moved = np.array([_centroid_x(f, xs) - 32 for f in out])
    gain = float(moved @ d / (d @ d))
    assert abs(gain - 11) / 11 < 0.05  # the motion plus alpha times the motion


def test_evm_leaves_static_frames_unchanged() -> None:
    frames = np.repeat(np.random.default_rng(0).uniform(0, 255, (1, 48, 40)), 12, axis=0)
    for band in ("iir", "ideal"):
        out = pp.magnify(frames, alpha=10, fps=100, band=band)
        assert np.abs(out - frames).max() < 1e-2


# ------------------------------------------------------------------------------------- TIM


@pytest.mark.parametrize("n_in", [1, 2, 5, 11, 40])
def test_tim_keeps_ends_and_length(n_in: int) -> None:
    x = np.random.default_rng(n_in).uniform(0, 255, (n_in, 6, 5)).astype(np.float32)
    y = pp.interpolate(x, 11)
    assert y.shape == (11, 6, 5) and y.dtype == np.float32
    assert np.allclose(y[0], x[0], atol=1e-3) and np.allclose(y[-1], x[-1], atol=1e-3)


@pytest.mark.parametrize("n_in", [6, 60])
def test_tim_reproduces_smooth_motion(n_in: int) -> None:
    t_in = np.linspace(0, 1, n_in)
    x = np.stack([np.full((3, 3), 100 + 40 * np.sin(1.5 * ti)) for ti in t_in]).astype(np.float32)
    y = pp.interpolate(x, 11)
    expected = 100 + 40 * np.sin(1.5 * np.linspace(0, 1, 11))
    assert np.abs(y[:, 0, 0] - expected).max() < 1.0  # grey levels, of a 40-level motion


def test_tim_identical_frames_do_not_break() -> None:
    x = np.repeat(np.random.default_rng(0).uniform(0, 255, (1, 8, 8)), 100, axis=0)  # 200 fps still
    y = pp.interpolate(x, 11)
    assert np.allclose(y, x[:11], atol=1e-3)


# ------------------------------------------------------------------------------------ faces


def test_landmark_box_and_no_face() -> None:
    img = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)
    lm = detect_landmarks(img)
    box = pp.landmark_box(lm)
    assert box.x0 <= lm[:, 0].min() and box.x1 > lm[:, 0].max()
    assert box.y0 <= lm[19, 1] and box.y1 > lm[8, 1]  # brows to chin
    with pytest.raises(pp.SampleExcluded, match="no face found"):
        pp.s3d_tensors(np.zeros((3, 64, 64), np.uint8), pp.get_recipe("s3d"), True, 200.0)


def test_align_eyes_levels_a_tilted_face() -> None:
    img = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)
    rot = cv2.getRotationMatrix2D((220, 130), 12, 1.0)
    tilted = cv2.warpAffine(img, rot, img.shape[::-1], borderMode=cv2.BORDER_REFLECT)
    lm = detect_landmarks(tilted)
    eyes = lambda p: np.degrees(np.arctan2(*(p[42:48].mean(0) - p[36:42].mean(0))[::-1]))  # noqa: E731
    assert abs(eyes(lm)) > 8
    aligned = pp.align_eyes(tilted[None].astype(np.float32), lm, size=128)[0]
    assert aligned.shape == (128, 128)
    lm2 = detect_landmarks(aligned.astype(np.uint8))
    assert lm2 is not None and abs(eyes(lm2)) < 2.0


# ----------------------------------------------------------------------------- recipes, cache


@pytest.fixture(scope="module")
def tiny_casme2(tmp_path_factory: pytest.TempPathFactory) -> list[ds.Sample]:
    root = synthetic.generate("casme2", tmp_path_factory.mktemp("c2") / "casme2", "tiny", 5, 2, 2)
    return ds.load("casme2", root).samples


SMALL_S3D = {"frames": 4, "size": 16, "shift": 4}


def test_s3d_tensors_shape_and_standardised(tiny_casme2: list[ds.Sample]) -> None:
    x = pp.sample_tensors(tiny_casme2[0], pp.get_recipe("s3d", **SMALL_S3D))["x"]
    assert x.shape == (9, 16, 16, 3, 3) and x.dtype == np.float16
    crop = x[0].astype(np.float32)
    assert np.allclose(crop.mean(axis=(0, 1, 2)), 0, atol=1e-2)
    assert np.allclose(crop.std(axis=(0, 1, 2)), 1, atol=1e-2)


def test_flow_once_matches_separate_away_from_borders(tiny_casme2: list[ds.Sample]) -> None:
    s = tiny_casme2[0]
    raw = {
        "frames": 3,
        "size": 48,
        "shift": 6,
        "normalise": "none",
        "dtype": "float32",
        "magnify_micro": False,
    }
    once = pp.sample_tensors(s, pp.get_recipe("s3d", **raw))["x"]
    sep = pp.sample_tensors(s, pp.get_recipe("s3d", route="separate", **raw))["x"]
    epe = np.linalg.norm(once[..., :2] - sep[..., :2], axis=-1)[:, 8:-8, 8:-8].mean()
    assert epe < 0.05  # px on the 48 px grid


def test_atscnn_tensors(tiny_casme2: list[ds.Sample]) -> None:
    out = pp.sample_tensors(tiny_casme2[0], pp.get_recipe("atscnn", size=64))
    assert out["x"].shape == (64, 64, 3) and out["apex"].shape == (64, 64, 1)
    assert 0 <= float(out["apex"].min()) and float(out["apex"].max()) <= 1
    with pytest.raises(pp.SampleExcluded, match="no apex"):
        pp.sample_tensors(tiny_casme2[0].replace(apex=None), pp.get_recipe("atscnn"))


def test_recipe_key_changes_with_any_parameter() -> None:
    base = pp.recipe_key(pp.get_recipe("s3d"))
    assert base == pp.recipe_key(pp.get_recipe("s3d"))
    assert base != pp.recipe_key(pp.get_recipe("s3d", size=64))
    assert base != pp.recipe_key(pp.get_recipe("s3d", tvl1=pp.TVL1Params(warps=3)))
    with pytest.raises(MicroexpError, match="no parameter 'sise'"):
        pp.get_recipe("s3d", sise=3)
    with pytest.raises(MicroexpError, match="unknown recipe"):
        pp.get_recipe("s4d")


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("atscnn", {"size": "abc"}, "size='abc': expected an integer"),
        ("s3d", {"frames": 2.5}, "frames=2.5: expected an integer"),
        ("atscnn", {"tvl1": 3}, "tvl1=3: expected a JSON object"),
        ("s3d", {"tvl1": {"tau": "x"}}, "tvl1.tau='x': expected a number"),
        ("s3d", {"magnify_micro": 1}, "magnify_micro=1: expected true or false"),
        ("lbptop", {"blocks": [5]}, "blocks=[5]: expected a list of 2"),
        ("atscnn", {"dtype": "bogus"}, "unknown tensor dtype 'bogus'"),
        (
            "atscnn",
            {"flow_backend": "gpu"},
            "flow backend 'gpu'; expected one of: auto, cv2, jax, tf, torch",
        ),
        ("atscnn", {"size": 0}, "size 8-1024 and margin > 0"),
        ("atscnn", {"size": 10**400}, "size 8-1024 and margin > 0"),
        ("atscnn", {"margin": -1}, "size 8-1024 and margin > 0"),
        ("lbptop", {"points": 0}, "points >= 1"),
    ],
)
def test_recipe_parameters_are_typed_and_ranged(name: str, params: dict, message: str) -> None:
    with pytest.raises(MicroexpError, match=re.escape(message)):
        pp.get_recipe(name, **params)


def test_stored_recipes_read_back_equal() -> None:
    """JSON turns tuples into lists and parameter sets into objects; reading them back gives
    the same recipe (and so the same cache key and run hash), and ints stay ints."""
    for name in pp.RECIPES:
        recipe = pp.get_recipe(name)
        back = pp.recipe_from_dict(json.loads(json.dumps(asdict(recipe))))
        assert back == recipe and pp.recipe_key(back) == pp.recipe_key(recipe)
    lbp = pp.recipe_from_dict(json.loads(json.dumps(asdict(pp.get_recipe("lbptop")))))
    assert json.dumps(asdict(lbp)) == json.dumps(asdict(pp.get_recipe("lbptop")))  # 1 stays 1
    typed = pp.get_recipe("s3d", size=64.0, macro_datasets=["ckplus", "casme2"], tvl1={"tau": 0.2})
    assert typed.size == 64 and isinstance(typed.size, int) and typed.tvl1.tau == 0.2
    assert typed.macro_datasets == ("ckplus", "casme2")
    assert pp.get_recipe("lbptop", radii=[1, 1.5, 4]).radii == (1, 1.5, 4)


def test_cache_builds_resumes_and_repairs(tiny_casme2: list[ds.Sample], tmp_path: Path) -> None:
    recipe = pp.get_recipe("atscnn", size=32)
    samples = list(tiny_casme2)
    blank = tmp_path / "blank"
    for n in range(samples[0].onset, samples[0].offset + 1):  # a clip with no face in it
        blank.mkdir(exist_ok=True)
        cv2.imwrite(str(blank / f"img{n}.jpg"), np.zeros((64, 64), np.uint8))
    samples.append(samples[0].replace(clip="EP99_99", frames_dir=str(blank)))
    copy = shutil.copytree(samples[3].frames_dir, tmp_path / "copy")  # frames this test may change
    samples[3] = samples[3].replace(frames_dir=str(copy))
    first = build_cache(samples, recipe, tmp_path / "cache", workers=1, progress=False)
    assert (first.built, first.reused, len(first.excluded)) == (4, 0, 1)
    assert first.usable == {s.id for s in samples[:4]}  # the excluded one is not usable
    assert "no face found" in first.excluded[0][1]
    cache = FlowCache(tmp_path / "cache", recipe)
    stored = cache.load(samples[0])
    assert np.array_equal(stored["x"], pp.sample_tensors(samples[0], recipe)["x"])
    again = build_cache(samples, recipe, tmp_path / "cache", workers=1, progress=False)
    assert (again.built, again.reused, len(again.excluded)) == (0, 4, 1)
    assert again.usable == first.usable
    # a truncated file is detected and rebuilt
    path = cache.path(samples[1])
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert cache.status(samples[1]) == "corrupt"
    repaired = build_cache(samples, recipe, tmp_path / "cache", workers=1, progress=False)
    assert (repaired.built, repaired.rebuilt, repaired.reused) == (1, 1, 3)
    # an entry made from other frames or annotations is stale and rebuilt, never reused: a
    # corrected apex, and other frames under the same clip name (another copy, another world)
    moved = samples[2].replace(apex=samples[2].apex + 1)
    assert cache.status(moved) == "stale"
    frame = samples[3].frame_path(samples[3].onset)
    cv2.imwrite(str(frame), cv2.imread(str(frame)), [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert cache.status(samples[3]) == "stale"
    fixed = [samples[0], samples[1], moved, samples[3], samples[4]]
    redone = build_cache(fixed, recipe, tmp_path / "cache", workers=1, progress=False)
    assert (redone.built, redone.stale, redone.reused, len(redone.excluded)) == (2, 2, 2, 1)
    assert "2 made from other frames or annotations before" in redone.line()
    assert np.array_equal(cache.load(moved)["x"], pp.sample_tensors(moved, recipe)["x"])
    assert set(cache.load(moved)) == set(stored)  # the record of the source is not a tensor
    # an exclusion is kept while its frames are unchanged, and retried when they change
    assert cache.status(samples[4]) == "excluded"
    cv2.imwrite(str(samples[4].frame_path(samples[4].onset)), np.full((64, 64), 9, np.uint8))
    assert cache.status(samples[4]) == "stale"
    # a changed parameter never reads the old tensors
    other = FlowCache(tmp_path / "cache", pp.get_recipe("atscnn", size=24))
    assert other.dir != cache.dir and other.status(samples[0]) == "missing"
    # bytes damaged inside an entry's data (its zip directory intact): built again on reading
    path = cache.path(samples[0])
    with zipfile.ZipFile(path) as z:
        start = next(i.header_offset for i in z.infolist() if i.filename == "x.npy") + 300
    data = bytearray(path.read_bytes())
    data[start : start + 64] = bytes(64)
    path.write_bytes(bytes(data))
    fresh = FlowCache(tmp_path / "cache", recipe)
    assert np.array_equal(fresh.load(samples[0])["x"], stored["x"])
    assert len(fresh.repaired) == 1 and str(path) in fresh.repaired[0]
    assert np.array_equal(fresh.load(samples[0])["x"], stored["x"]) and len(fresh.repaired) == 1
    # a recipe.json cut short is written again (the folder's name is the recipe's key)
    (cache.dir / "recipe.json").write_text('{"recipe": {"na')
    build_cache(samples[:1], recipe, tmp_path / "cache", workers=1, progress=False)
    assert json.loads((cache.dir / "recipe.json").read_text())["recipe"]["name"] == "atscnn"
    # a folder that holds another recipe is refused
    (cache.dir / "recipe.json").write_text('{"recipe": {"name": "s3d"}}')
    with pytest.raises(MicroexpError, match="another recipe"):
        build_cache(samples, recipe, tmp_path / "cache", workers=1, progress=False)


def test_cache_parallel_workers(tiny_casme2: list[ds.Sample], tmp_path: Path) -> None:
    recipe = pp.get_recipe("atscnn", size=32)
    summary = build_cache(tiny_casme2, recipe, tmp_path / "cache", workers=2, progress=False)
    assert summary.built == len(tiny_casme2)
    cache = FlowCache(tmp_path / "cache", recipe)
    assert all(cache.status(s) == "ok" for s in tiny_casme2)


def test_cli_flows(
    tiny_casme2: list[ds.Sample], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(Path(tiny_casme2[0].frames_dir).parents[2])
    argv = [
        "flows",
        "--dataset",
        "casme2",
        "--root",
        root,
        "--recipe",
        "atscnn",
        "--cache",
        str(tmp_path),
        "--workers",
        "1",
        "--quiet",
        "--param",
        "size=32",
    ]
    assert main(argv) == 0
    assert "4 built, 0 reused, 0 excluded" in capsys.readouterr().out
    assert main(argv) == 0
    assert "0 built, 4 reused" in capsys.readouterr().out
    assert main(argv[:-2] + ["--param", "sise=3"]) == 2
    assert "no parameter 'sise'" in capsys.readouterr().err
    assert main(argv[:6] + ["--recipe", "flow9", "--cache", str(tmp_path)]) == 2
    capsys.readouterr()
    fresh = tmp_path / "fresh"
    bad = {"workers": ["--workers", "-3"], "size": ["--param", "size=abc"]}
    for what, extra in bad.items():  # refused before a cache folder is made for them
        assert main([*argv[:8], str(fresh), *argv[9:-1], "size=24", *extra]) == 2
        err = capsys.readouterr().err
        assert what in err and err.count("\n") == 1, err
        assert not fresh.exists()


def test_preprocessing_never_imports_tensorflow() -> None:
    code = "import sys, microexp.preprocess, microexp.features, microexp.datasets, microexp.synthetic; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------------------------- LBP-TOP


def test_lbptop_codes_of_known_volumes() -> None:
    flat = pp.lbp_top(np.full((11, 20, 20), 7.0)).reshape(25, 3, 16)
    assert np.all(flat[..., 15] == 1)  # every neighbour >= centre
    t, y, x = np.meshgrid(np.arange(11), np.arange(20), np.arange(20), indexing="ij")
    moving = (x - t).astype(np.float32)  # brighter to the right, content moving right
    h = pp.lbp_top(moving).reshape(25, 3, 16)
    # bits: 0 = +x (or +y in YT), 1 = up in space (XY) or back in time (XT, YT), 2 = -x, 3 = down / forward
    assert np.all(h[:, 0, 0b1011] == 1)  # XY: right and both vertical neighbours >= centre
    assert np.all(h[:, 1, 0b0011] == 1)  # XT: right and the earlier frame >= centre
    assert np.all(h[:, 2, 0b0111] == 1)  # YT: both vertical neighbours and the earlier frame


def test_lbptop_recipe_on_a_sample(tiny_casme2: list[ds.Sample]) -> None:
    x = pp.sample_tensors(tiny_casme2[0], pp.get_recipe("lbptop"))["x"]
    assert x.shape == (1200,)
    assert np.allclose(x.reshape(75, 16).sum(axis=1), 1, atol=1e-5)


# --------------------------------------------------------------- clips and apex spotting


def _pulse_clip(
    img: np.ndarray, n: int = 12, apex: int = 7, peak: float = 1.5, at: tuple | None = None
) -> np.ndarray:
    """A smooth local deformation (a bump at ``at`` = (x, y), default the mouth of a face
    crop) rising to ``peak`` px at ``apex`` and falling back: a micro-expression-like clip."""
    img = np.asarray(img, np.float32)
    h, w = img.shape
    cx, cy = at or (w * 0.5, h * 0.75)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    bump = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * 20.0**2))
    out = []
    for t in range(n):
        a = peak * max(0.0, 1 - abs(t - apex) / 4)
        out.append(_warp(img, a * bump, -a * bump))
    return np.clip(np.stack(out), 0, 255).astype(np.uint8)


def test_spot_apex_finds_the_largest_motion(face_img: np.ndarray) -> None:
    clip = _pulse_clip(face_img, apex=7)
    spot = pp.spot_apex(clip, face="precropped")
    assert (spot.onset, spot.apex) == (0, 7)
    assert spot.magnitude[0] == 0 and spot.magnitude[7] > 2 * spot.magnitude[2]
    assert pp.spot_apex(_pulse_clip(face_img, apex=4), face="precropped").apex == 4


def test_spot_apex_with_dlib_and_no_face() -> None:
    whole = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)  # the face is at x 140-300
    spot = pp.spot_apex(_pulse_clip(whole, n=10, apex=6, at=(220, 170)))
    assert spot.apex == 6
    with pytest.raises(pp.SampleExcluded, match="no face found by dlib in clip.avi frame 0"):
        pp.spot_apex(np.zeros((4, 64, 64), np.uint8), what="clip.avi frame 0")


def test_read_clip_folder_order_video_and_errors(tmp_path: Path, face_img: np.ndarray) -> None:
    clip = _pulse_clip(face_img, n=11)
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, f in enumerate(clip):  # unpadded names: natural order, not string order
        cv2.imwrite(str(folder / f"img{i + 1}.png"), f)
    (folder / "notes.txt").write_text("ignored")
    frames, fps, names = pp.read_clip(folder)
    assert names[:3] == ["img1.png", "img2.png", "img3.png"] and names[-1] == "img11.png"
    assert fps is None and np.array_equal(frames, clip)
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, clip.shape[2:0:-1])
    for f in clip:
        writer.write(cv2.cvtColor(f, cv2.COLOR_GRAY2BGR))
    writer.release()
    frames, fps, _ = pp.read_clip(video)
    assert frames.shape == clip.shape and fps == pytest.approx(25.0)
    assert np.abs(frames.astype(float) - clip).mean() < 3  # JPEG-compressed frames
    for bad, message in (
        (tmp_path / "none.mp4", "no such video file or frame folder"),
        (tmp_path / "notes.txt", "could not read at least 2 frames"),
        (tmp_path, "expected at least 2 frame images"),
    ):
        if bad.name == "notes.txt":
            bad.write_text("not a video")
        with pytest.raises(MicroexpError, match=message):
            pp.read_clip(bad)


def test_spot_apex_ignores_rigid_drift(face_img: np.ndarray) -> None:
    """A local pulse peaking at frame 5 while the whole face drifts steadily to 2 px: the drift
    alone would put the apex at the last frame."""
    pulse = _pulse_clip(face_img, n=12, apex=5, peak=1.5).astype(np.float32)
    h, w = face_img.shape
    drifted = np.stack(
        [
            _warp(f, np.full((h, w), 2.0 * t / 11, np.float32), np.zeros((h, w), np.float32))
            for t, f in enumerate(pulse)
        ]
    )
    clip = np.clip(drifted, 0, 255).astype(np.uint8)
    assert pp.spot_apex(clip, face="precropped").apex == 5
    assert pp.spot_apex(clip, face="precropped", remove_drift=False).apex == 11


def test_unknown_frame_rate_excludes_a_micro_sample_from_evm() -> None:
    from microexp.preprocess.frames import SampleExcluded
    from microexp.preprocess.recipes import s3d_tensors

    recipe = pp.get_recipe("s3d", size=8, frames=3, face="precropped")
    clip = np.random.default_rng(0).integers(0, 255, (6, 32, 32), dtype=np.uint8)
    with pytest.raises(SampleExcluded, match="frame rate unknown"):
        s3d_tensors(clip, recipe, micro=True, fps=float("nan"))
    assert s3d_tensors(clip, pp.get_recipe("s3d", size=8, frames=3, face="precropped",
                                           magnify_micro=False), micro=True,
                       fps=float("nan")).shape[1:] == (8, 8, 2, 3)  # fmt: skip


def _textured_pair(size: int, shift: tuple[float, float], seed: int = 0):
    """A smooth random texture (0-255) and the same texture moved by ``shift`` (dy, dx)."""
    from scipy import ndimage

    tex = ndimage.gaussian_filter(np.random.default_rng(seed).uniform(0, 255, (size, size)), 1.5)
    tex = (tex - tex.min()) / (tex.max() - tex.min()) * 255
    moved = ndimage.shift(tex, shift, order=3, mode="nearest")
    return tex.astype(np.float32), moved.astype(np.float32)


def _keras_flow() -> str:
    """The flow backend that runs microexp's TV-L1 on the active Keras backend (``tf`` under
    TensorFlow, ``jax`` under ``KERAS_BACKEND=jax``, ``torch`` under PyTorch)."""
    from microexp.preprocess.flow import keras_flow_backend

    return keras_flow_backend()


#: the Keras backend of each Keras flow backend
KERAS_OF_FLOW = {"tf": "tensorflow", "jax": "jax", "torch": "torch"}


def _other_keras_flow() -> str:
    """A Keras flow backend that is not the active one."""
    return next(n for n in KERAS_OF_FLOW if n != _keras_flow())


@pytest.mark.jax
def test_keras_tvl1_agrees_with_opencv_on_sub_pixel_motion() -> None:
    """The keras.ops TV-L1 (on the active Keras backend) against cv2's on tiny pairs, batched:
    interior end-point difference <= 0.05 px, error against the known motion no more than
    10 % above cv2's, strain alike; and a batch gives each pair what it gives alone."""
    p = pp.TVL1Params(nscales=3)
    shifts = [(0.3, 0.6), (-0.5, 0.25), (0.0, -0.8)]
    pairs = [_textured_pair(32, s, seed=i) for i, s in enumerate(shifts)]
    prev = np.stack([a for a, _ in pairs])
    nxt = np.stack([b for _, b in pairs])
    ours = pp.tvl1_flows(prev, nxt, p, backend=_keras_flow())
    ref = pp.tvl1_flows(prev, nxt, p, backend="cv2")
    inner = (slice(None), slice(6, -6), slice(6, -6))
    assert np.linalg.norm(ours - ref, axis=-1)[inner].mean() <= 0.05
    # prev(x) ~ next(x + flow): content moved by (dy, dx) has flow (u, v) = (dx, dy)
    truth = np.array([[dx, dy] for dy, dx in shifts], np.float32)[:, None, None, :]
    err_ours = np.linalg.norm(ours - truth, axis=-1)[inner].mean()
    err_cv2 = np.linalg.norm(ref - truth, axis=-1)[inner].mean()
    assert err_ours <= 1.1 * err_cv2 + 1e-3
    strain = [np.stack([pp.optical_strain(f) for f in fl]) for fl in (ours, ref)]
    assert np.abs(strain[0] - strain[1])[inner].mean() <= 0.05
    alone = pp.tvl1_flow(prev[1], nxt[1], p, backend=_keras_flow())
    assert np.allclose(alone, ours[1], atol=1e-4)


def _fast_keras_flow() -> dict:
    """Recipe parameters for a quick TV-L1 on the active Keras backend."""
    return {
        "flow_backend": _keras_flow(),
        "tvl1": pp.TVL1Params(nscales=1, warps=1, inner_iterations=5, outer_iterations=2),
    }


@pytest.mark.jax
def test_keras_flows_batched_across_samples_and_crops(
    tiny_casme2: list[ds.Sample], tmp_path: Path
) -> None:
    """A Keras flow backend's cache build flows the pairs of several samples in one call
    (chunks of ``flow_batch``), and a sample's 9 crops in one call: the tensors equal those
    computed window by window; an excluded sample in a chunk is listed."""
    recipe = pp.get_recipe("atscnn", size=32, **_fast_keras_flow())
    samples = [*tiny_casme2, tiny_casme2[0].replace(clip="EP98_98", apex=None)]
    summary = build_cache(samples, recipe, tmp_path / "c", workers=1, progress=False, flow_batch=3)
    assert summary.built == len(tiny_casme2) and len(summary.excluded) == 1
    assert "no apex" in summary.excluded[0][1]
    cache = FlowCache(tmp_path / "c", recipe)
    for sm in tiny_casme2:
        alone = pp.sample_tensors(sm, recipe)
        for key in ("x", "apex"):
            assert np.allclose(cache.load(sm)[key], alone[key], atol=2e-3)

    s3d = pp.get_recipe("s3d", route="separate", **SMALL_S3D, **_fast_keras_flow())
    pending = pp.prepare_sample(tiny_casme2[0], s3d)
    assert len(pending.windows) == 9
    one_by_one = [pp.flow_sequence(w, s3d.tvl1, _keras_flow()) for w in pending.windows]
    x_alone = pp.finish_sample(pending, one_by_one, s3d)["x"]
    assert np.allclose(pp.sample_tensors(tiny_casme2[0], s3d)["x"], x_alone, atol=2e-3)


@pytest.mark.jax
def test_a_flow_backend_of_another_keras_backend_is_a_one_line_error(
    tiny_casme2: list[ds.Sample], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``jax`` under TensorFlow (or ``tf`` under JAX...): the recipe is valid (its key can be
    computed anywhere), but computing flows with it names the KERAS_BACKEND it needs, in one
    line, before a cache build does any work."""
    other, keras_name = _other_keras_flow(), KERAS_OF_FLOW[_other_keras_flow()]
    prev, nxt = _textured_pair(16, (0.2, 0.3))
    with pytest.raises(MicroexpError) as err:
        pp.tvl1_flows(prev[None], nxt[None], backend=other)
    active = KERAS_OF_FLOW[_keras_flow()]
    assert str(err.value) == (
        f"flow backend {other!r} needs KERAS_BACKEND={keras_name} (Keras runs on {active})"
    )
    with pytest.raises(MicroexpError, match=f"needs KERAS_BACKEND={keras_name}"):
        pp.tvl1_flow(prev, nxt, backend=other)
    recipe = pp.get_recipe("atscnn", size=32, flow_backend=other)
    with pytest.raises(MicroexpError, match=f"needs KERAS_BACKEND={keras_name}"):
        build_cache(tiny_casme2, recipe, tmp_path / "c", workers=1, progress=False)
    assert not list((tmp_path / "c").rglob("*.npz"))
    root = str(Path(tiny_casme2[0].frames_dir).parents[2])
    argv = ["flows", "--dataset", "casme2", "--root", root, "--recipe", "atscnn"]
    argv += ["--cache", str(tmp_path / "c"), "--quiet", "--flow-backend", other]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"needs KERAS_BACKEND={keras_name}" in err and err.count("\n") == 1, err


def test_flow_module_does_not_import_the_tvl1_module() -> None:
    """No import circle: :mod:`.flow` imports :mod:`.tvl1_keras` only when a Keras flow
    backend is used, and :mod:`.tvl1_keras` takes TVL1Params from :mod:`.tvl1_params`."""
    import ast

    code = (
        "import sys, microexp.preprocess.flow as f; "
        "from microexp.preprocess.flow import TVL1Params; "
        "assert TVL1Params is __import__('microexp.preprocess').preprocess.TVL1Params; "
        "print('microexp.preprocess.tvl1_keras' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
    tree = ast.parse((Path(pp.__file__).parent / "tvl1_keras.py").read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "flow" not in imported and "tvl1_params" in imported


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax not installed")
def test_auto_flow_backend_on_jax_does_not_import_tensorflow() -> None:
    code = (
        "import sys; from microexp.preprocess import resolve_flow_backend; "
        "print(resolve_flow_backend('auto'), 'tensorflow' in sys.modules)"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    backend, tf_imported = out.stdout.split()
    assert backend in ("cv2", "jax") and tf_imported == "False"


def test_flow_backend_is_part_of_the_cache_key() -> None:
    cv2_recipe, tf_recipe = pp.get_recipe("atscnn"), pp.get_recipe("atscnn", flow_backend="tf")
    assert pp.recipe_key(cv2_recipe) != pp.recipe_key(tf_recipe)
    keys = {pp.recipe_key(pp.get_recipe("atscnn", flow_backend=b)) for b in pp.FLOW_BACKENDS}
    assert len(keys) == len(pp.FLOW_BACKENDS) == 4  # cv2, tf, jax, torch: four caches
    assert "flow_backend" not in pp.recipe_config(cv2_recipe)["recipe"]  # keys made before it
    assert pp.recipe_config(tf_recipe)["recipe"]["flow_backend"] == "tf"
    assert pp.recipe_from_dict(pp.recipe_dict(tf_recipe)) == tf_recipe
    with pytest.raises(MicroexpError, match="flow backend 'cuda'"):
        pp.get_recipe("s3d", flow_backend="cuda")


def test_htnet_recipe_tensors_from_a_synthetic_clip(tmp_path) -> None:
    from microexp import datasets as ds
    from microexp.preprocess import RECIPES, get_recipe, sample_tensors
    from microexp.synthetic import generate

    assert "htnet" in RECIPES
    root = generate("casme2", tmp_path / "casme2", "tiny", 0)
    sample = next(s for s in ds.load("casme2", root).samples if s.apex is not None)
    recipe = get_recipe("htnet", tvl1={"epsilon": 0.05, "nscales": 3, "warps": 3})
    x = sample_tensors(sample, recipe)["x"]
    assert x.shape == (28, 28, 3) and x.dtype == np.float16
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0  # min-max per channel
    assert np.ptp(x.astype(np.float32), axis=(0, 1)).min() > 0  # flow in every channel
