from __future__ import annotations

import json
import os
from pathlib import Path

import keras
import numpy as np
import pytest

from microexp import backend, models
from microexp.cli import main
from microexp.layers import CBAM, ChannelAttention, SpatialAttention

#: also run under KERAS_BACKEND=jax (make test's second pass): what a backend can change
jax = pytest.mark.jax

# small inputs: every registered builder at a size that trains in milliseconds
SMALL = {
    "htnet": {"dim": 8, "heads": 1, "block_repeats": (1, 1, 1)},
    "s3d": {"input_shape": (16, 16, 4, 3)},
    "cnn2d": {"input_shape": (16, 16, 4, 3)},
    "cnn3d": {"input_shape": (16, 16, 4, 3)},
    "atscnn": {"input_size": 32, "dense_units": (16, 16)},
    "offtanet": {"input_size": 32},
    "mini_aorcnn": {"input_size": 32},
    "macnn": {"input_size": 32, "dense_units": (32, 32)},
    "micro_attention": {"input_size": 32, "dense_units": (32,)},
}


def small_model(name: str) -> keras.Model:
    extra = SMALL.get(name, {})
    if not extra and name.endswith("-128"):
        extra = {"input_size": 32}
    return models.build_model(name, **extra)


def batch_for(model: keras.Model, n: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, *model.inputs[0].shape[1:])).astype("float32")
    y = rng.integers(0, model.outputs[0].shape[-1], n)
    return x, y


#: every registered name, in two xdist groups besides the module's (on JAX, where each model
#: compiles for seconds, one worker would otherwise hold all of them)
EVERY_MODEL = [
    pytest.param(name, marks=pytest.mark.xdist_group(f"every-model-{i % 2}"))
    for i, name in enumerate(models.model_names())
]


@jax
@pytest.mark.parametrize("name", EVERY_MODEL)
def test_every_model_builds_runs_trains_and_round_trips(name: str, tmp_path: Path) -> None:
    """Direct calls instead of ``predict`` (which traces a function per model)."""
    model = small_model(name)
    x, y = batch_for(model)
    out = np.asarray(model(x, training=False))
    assert out.shape == (4, model.outputs[0].shape[-1])
    assert np.allclose(out.sum(axis=1), 1, atol=1e-5)
    # eager on TF: tracing a step costs 5-25 s per model on a CPU (graph mode is covered
    # elsewhere); JAX's eager mode compiles every op, slower than its one XLA step
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        run_eagerly=backend.run_eagerly(True),
    )
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    # get_config round trip
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    assert np.allclose(
        np.asarray(clone(x, training=False)), np.asarray(model(x, training=False)), atol=1e-6
    )
    # .keras save and load
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert np.allclose(
        np.asarray(loaded(x, training=False)), np.asarray(model(x, training=False)), atol=1e-6
    )


#: constructor arguments and an input shape (batch first) for every registered layer; a layer
#: registered under "microexp" without an entry here fails the test below
LAYER_CASES = {
    "ChannelAttention": ({"ratio": 4}, (2, 8, 8, 8)),
    "SpatialAttention": ({"kernel_size": 5}, (2, 8, 8, 8)),
    "CBAM": ({"ratio": 2, "kernel_size": 3}, (2, 8, 8, 8)),
    "SeparableConv3D": ({"filters": 6}, (2, 8, 8, 4, 3)),
    "SelectChannel": ({"index": 1}, (2, 6, 6, 3)),
    "MultiHeadSelfAttention2D": ({"heads": 2, "head_channels": 3}, (2, 4, 4, 5)),
    "EnhancedResidual": ({"filters": 4, "heads": 2}, (2, 8, 8, 6)),
    "ARFResidual": ({"filters": 6}, (2, 8, 8, 4)),
    "BottleneckTransformer": ({"filters": 4, "heads": 2}, (2, 8, 8, 6)),
    "MABlock": ({"filters": 4}, (2, 8, 8, 3)),
    "LocalTransformer": ({"depth": 2, "heads": 2, "blocks": 2}, (2, 4, 4, 6)),
    "PaddedMaxPool2D": ({"pool": 3, "stride": 2, "pad": 1}, (2, 4, 4, 3)),
}


@jax
def test_every_registered_layer_passes_the_shared_layer_test() -> None:
    import microexp.models  # noqa: F401  (registers the model-level layers too)
    from microexp.layers.testing import registered_layers, run_layer_test

    registered = registered_layers()
    names = {k.split(">", 1)[1] for k in registered}
    assert names == set(LAYER_CASES), f"no LAYER_CASES entry for {names - set(LAYER_CASES)}"
    for key, cls in registered.items():
        kwargs, shape = LAYER_CASES[key.split(">", 1)[1]]
        run_layer_test(cls, kwargs, shape)


@jax
def test_the_layer_test_catches_a_broken_config() -> None:
    from microexp.layers.testing import run_layer_test

    class Forgetful(ChannelAttention):  # drops its ratio from the config
        def get_config(self) -> dict:
            return {k: v for k, v in super().get_config().items() if k != "ratio"}

    with pytest.raises(AssertionError, match="config round trip"):
        run_layer_test(Forgetful, {"ratio": 4}, (2, 4, 4, 8))


@jax
def test_attention_gates_are_bounded() -> None:
    x = np.abs(np.random.default_rng(1).normal(size=(2, 6, 6, 8))).astype("float32")
    for layer in (ChannelAttention(2), SpatialAttention(3), CBAM(2, 3)):
        y = np.asarray(layer(x))
        assert np.all(y <= x + 1e-6) and np.all(y >= 0)  # sigmoid gates scale by (0, 1)


@pytest.mark.parametrize(
    "name, params",
    [("cnn2d", 3_243_671), ("cnn3d", 3_829_751), ("s3d", 3_374_711)],
)
def test_paper_a_exact_parameter_counts(name: str, params: int) -> None:
    model = models.build_model(name, num_classes=7)
    assert model.count_params() == params
    assert model.output.shape[-1] == 7 and tuple(model.input.shape[1:]) == (96, 96, 10, 3)


@pytest.mark.parametrize("name, gflops", [("cnn2d", 2.43), ("cnn3d", 7.26), ("s3d", 3.56)])
def test_paper_a_flops_within_one_percent(name: str, gflops: float) -> None:
    flops = 2 * models.total_macs(models.build_model(name))
    assert abs(flops / 1e9 - gflops) / gflops < 0.01


def test_atscnn_counts_match_paper_b() -> None:
    model = models.build_model("atscnn")
    assert model.count_params() == 4_214_754
    assert abs(model.count_params() - 4.21e6) / 4.21e6 < 0.01
    macs = models.total_macs(model)
    assert abs(macs - 19.01e6) / 19.01e6 < 0.05


def test_comparison_networks_at_paper_b_setting_match_its_table3() -> None:
    ststnet = models.build_model("ststnet-128")
    assert abs(ststnet.count_params() - 4.98e7) / 4.98e7 < 0.01
    assert abs(models.total_macs(ststnet) - 57.45e6) / 57.45e6 < 0.02
    assert models.build_model("ststnet").count_params() == 1_651  # the original, at 28x28
    dual = models.build_model("dual_inception-128")
    assert abs(dual.count_params() - 1.34e8) / 1.34e8 < 0.01
    assert abs(models.total_macs(dual) - 264.15e6) / 264.15e6 < 0.03


#: paper B's Table 3: trainable parameters (exact where the paper prints every digit),
#: torchstat FLOPs and MemR+W MB
TABLE3 = {
    "atscnn": (4_214_562, 19.01e6, 20.5),
    "ststnet-128": (49_815_811, 57.45e6, 192.98),
    "dual_inception-128": (134_245_067, 264.15e6, 546.62),
    "macnn": (86_302_563, 1040e6, 366.72),
    "micro_attention": (18_781_187, 327.35e6, 82.89),
    "offtanet": (67_083, 39.29e6, 7.33),
    "mini_aorcnn": (46_251, 16.39e6, 4.84),
}


@pytest.mark.parametrize("name", list(TABLE3))
def test_table3_parameters_torchstat_flops_and_memory(name: str) -> None:
    from microexp.models.torchstat import torchstat_totals

    params, flops, memory = TABLE3[name]
    keras.backend.clear_session()
    model = models.build_model(name)
    assert tuple(model.input.shape[1:]) == (128, 128, 3) and model.output.shape[-1] == 3
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == params
    totals = torchstat_totals(model)
    assert abs(totals["torchstat_flops"] / flops - 1) < 0.01
    assert abs(totals["torchstat_memory_mb"] / memory - 1) < 0.02


def test_torchstat_counts_a_small_network_by_hand() -> None:
    """Conv: MACs + bias adds; BN 2 per element; ReLU 1; pool 1 per input element; dense
    in x out; a layer called twice counts once (its last call)."""
    from microexp.models.torchstat import torchstat_layers, torchstat_totals

    inp = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(3, 3, padding="same")(inp)
    x = keras.layers.BatchNormalization()(x)
    shared = keras.layers.ReLU()
    x = keras.layers.MaxPooling2D(2)(shared(x))
    x = shared(keras.layers.Dense(4, use_bias=False)(keras.layers.Flatten()(x)))
    m = keras.Model(inp, x)
    got = {r.kind: (r.flops, r.mem_read, r.mem_write) for r in torchstat_layers(m)}
    assert got == {
        "conv": (36 * (18 * 3 + 3), 72 + 57, 108),
        "batchnorm": (2 * 108, 108 + 6, 108),
        "relu": (4, 4, 4),  # its last call saw 4 elements (the first 108)
        "pool": (108, 108, 27),
        "dense": (27 * 4, 27 + 27 * 4, 4),
    }
    total = sum(sum(v[1:]) for v in got.values())
    assert torchstat_totals(m)["torchstat_memory_mb"] == pytest.approx(total * 4 / 2**20)


def test_self_attention_matches_the_formula_by_hand() -> None:
    """One head, one channel, a 2x2 map: A = q k^T + q P^T, softmax over A's 4 entries,
    out = A * v element-wise (SPEC.md)."""
    from microexp.layers import MultiHeadSelfAttention2D, position_code

    layer = MultiHeadSelfAttention2D(heads=1, head_channels=1)
    x = np.array([[1.0, -2.0], [0.5, 3.0]], "float32").reshape(1, 2, 2, 1)
    layer.build(x.shape)
    (q, k, v) = layer.qkv[0]
    for conv, (w, b) in zip((q, k, v), ((0.5, 0.1), (-1.0, 0.2), (2.0, -0.3)), strict=True):
        conv.set_weights([np.full((1, 1, 1, 1), w, "float32"), np.array([b], "float32")])
    got = np.asarray(layer(x))[0, :, :, 0]
    img = x[0, :, :, 0]
    qm, km, vm = 0.5 * img + 0.1, -1.0 * img + 0.2, 2.0 * img - 0.3
    e = np.array([np.sin(1.0), np.cos(1.0)])  # 1 / 10000^(0/2) for i = 0 and 1
    P = e[:, None] + e[None, :]
    assert np.allclose(position_code(2), P)
    A = qm @ km.T + qm @ P.T
    A = np.exp(A - A.max()) / np.exp(A - A.max()).sum()
    assert np.allclose(got, A * vm, atol=1e-6)


def test_authors_schedules_are_each_models_default_and_recorded() -> None:
    from microexp.experiments.defaults import MODEL_TRAINING
    from microexp.experiments.runner import experiment_for
    from microexp.training.fit import make_optimizer

    ma = experiment_for("atscnn-composite", "micro_attention").train.schedules["paper"]
    assert (ma.optimizer, ma.lr, ma.weight_decay, ma.epochs, ma.batch_size) == (
        "sgd",
        1e-3,
        5e-4,
        51,
        10,
    )
    assert ma.as_dict()["weight_decay"] == 5e-4
    assert make_optimizer(ma).weight_decay == pytest.approx(5e-4)
    off = MODEL_TRAINING["offtanet"].schedules["paper"]
    assert (off.decay_every, off.decay_factor, off.epochs) == (60, 0.3, 201)
    atscnn = experiment_for("atscnn-composite", "atscnn").train.schedules["paper"]
    assert "weight_decay" not in atscnn.as_dict()  # runs made before it existed keep their hash


def test_mac_counter_counts_a_known_conv() -> None:
    inp = keras.Input((10, 10, 2))
    out = keras.layers.Dense(5)(
        keras.layers.Flatten()(keras.layers.Conv2D(4, 3, padding="same")(inp))
    )
    m = keras.Model(inp, out)
    assert models.count_macs(m) == {
        m.layers[1].name: 10 * 10 * 3 * 3 * 2 * 4,
        m.layers[3].name: 400 * 5,
    }


@jax
@pytest.mark.parametrize(
    "kwargs, inputs, n_streams",
    [
        ({}, "flow", 3),
        ({"streams": "uv"}, "flow", 2),
        ({"streams": "gray"}, "apex", 1),
        ({"attention": None}, "flow", 3),
        ({"attention": "channel", "activation": "relu"}, "flow", 3),
    ],
)
def test_atscnn_ablations_are_arguments(kwargs: dict, inputs: str, n_streams: int) -> None:
    m = models.build_atscnn(**kwargs)
    assert m.inputs[0].name == inputs
    assert len([layer for layer in m.layers if layer.name.endswith("_conv1")]) == n_streams
    has_att = any(layer.name.endswith("_attention") for layer in m.layers)
    assert has_att == (kwargs.get("attention", "cbam") is not None)
    with pytest.raises(ValueError, match="Received: streams='rgb'"):
        models.build_atscnn(streams="rgb")


@jax
def test_freeze_blocks_keeps_frozen_weights_fixed() -> None:
    model = models.build_s3d(num_classes=7, input_shape=(16, 16, 4, 3))
    frozen = models.freeze_blocks(model, (1, 2, 3))
    assert frozen == [f"block{b}_{k}" for b in (1, 2, 3) for k in ("conv1", "conv2", "pool")]
    tuned = models.replace_head(model, 5)
    assert tuned.output.shape[-1] == 5
    tuned.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    before = {layer.name: [w.copy() for w in layer.get_weights()] for layer in tuned.layers}
    x, _ = batch_for(tuned)
    tuned.fit(x, np.array([0, 1, 2, 3]), epochs=2, batch_size=4, verbose=0)
    for layer in tuned.layers:
        same = all(
            np.array_equal(a, b)
            for a, b in zip(before[layer.name], layer.get_weights(), strict=True)
        )
        if layer.name.startswith(("block1_", "block2_", "block3_")):
            assert same, layer.name
        elif layer.weights:
            assert not same, layer.name


@jax
def test_frozen_batchnorm_statistics_stay_fixed() -> None:
    model = models.build_atscnn(input_size=32, dense_units=(8,))
    for layer in model.layers:
        if layer.name.startswith("u_"):
            layer.trainable = False
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    bn = model.get_layer("u_bn1")
    before = [w.copy() for w in bn.get_weights()]  # gamma, beta, moving mean, moving variance
    x, y = batch_for(model, n=8)
    model.fit(x * 3 + 1, y, epochs=1, batch_size=8, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, bn.get_weights(), strict=True))
    moving = model.get_layer("v_bn1").moving_mean.numpy()
    assert not np.allclose(moving, 0)  # an unfrozen stream's statistics did move


def test_unknown_model_name() -> None:
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        models.build_model("resnet")


def test_cli_models_summary_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "summary", "--json", "--model", "s3d", "--model", "atscnn"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["s3d", "atscnn"]
    s3d = rows[0]
    assert s3d["params"] == 3_374_711 and s3d["trainable_params"] == 3_374_711
    assert s3d["flops"] == 2 * s3d["macs"] and s3d["paper"]["params"] == 3.37e6
    assert set(rows[1]) >= {"name", "params", "trainable_params", "macs", "flops", "paper"}
    assert rows[1]["torchstat_flops"] == pytest.approx(19.01e6, rel=0.01)
    assert rows[1]["torchstat_memory_mb"] == pytest.approx(20.5, rel=0.02)
    assert abs(rows[1]["flops_vs_paper"]) < 0.01 and abs(rows[1]["memory_vs_paper"]) < 0.02


def test_lbptop_svm_separates_opposite_motions() -> None:
    from microexp.preprocess import lbp_top

    rng = np.random.default_rng(0)
    t, y, x = np.meshgrid(np.arange(11), np.arange(24), np.arange(24), indexing="ij")

    def clip(direction: int) -> np.ndarray:
        noise = rng.uniform(0, 1, 64)
        kernel = np.exp(-0.5 * (np.arange(-6, 7) / 2.5) ** 2)
        texture = np.convolve(np.tile(noise, 3), kernel / kernel.sum(), mode="same")[
            64:128
        ]  # smooth
        return texture[(x + direction * t + 32) % 64] * 255 + rng.normal(0, 1, x.shape)

    feats = np.stack([lbp_top(clip(d), blocks=(2, 2)) for d in [1, -1] * 20])
    labels = np.array([0, 1] * 20)
    pred = models.fit_predict_lbptop(feats[:30], labels[:30], feats[30:])
    assert (pred == labels[30:]).mean() >= 0.9


def test_cli_in_a_fresh_process_prints_no_tensorflow_startup_noise() -> None:
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run(
        [sys.executable, "-m", "microexp.cli", "models", "summary", "--model", "ststnet"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0 and "ststnet" in proc.stdout
    assert "I0000" not in proc.stderr and "InitializeLog" not in proc.stderr, proc.stderr


def test_htnet_has_the_public_codes_parameter_count() -> None:
    """139,582,982: the public HTNet (Model.py) at main_HTNet.py's defaults counted by hand —
    patch embedding 147 -> 256 (37,888); per level l (dim 256 * 2**l, heads 3 * 2**l, heads of
    dim // heads channels, bias-free qkv, output projection, feed-forward x4, two layer norms
    per layer, one position scalar per level): 2 x 787,968 + 1, 2 x 3,146,752 + 1,
    10 x 12,576,768 + 1; aggregations 3x3 convs with layer norm: 1,181,184 and 4,721,664; final
    layer norm 2,048; classifier 3,075."""
    model = models.build_model("htnet")
    assert model.count_params() == 139_582_982
    assert model.input_shape == (None, 28, 28, 3) and model.get_layer("head").units == 3
    assert models.get_spec("htnet").recipe == "htnet"


@jax
def test_padded_max_pool_is_pytorchs_padding() -> None:
    from microexp.layers import PaddedMaxPool2D

    x = np.random.default_rng(0).normal(size=(1, 4, 4, 1)).astype("float32")
    got = np.asarray(PaddedMaxPool2D(3, 2, 1)(x))[0, ..., 0]
    padded = np.pad(x[0, ..., 0], 1, constant_values=-np.inf)
    want = np.array([[padded[r : r + 3, c : c + 3].max() for c in (0, 2)] for r in (0, 2)])
    assert np.array_equal(got, want)


def test_htnet_regions_are_cut_where_the_landmarks_are() -> None:
    from microexp.preprocess.regions import cut_regions

    flow = np.arange(28 * 28, dtype=np.float32).reshape(28, 28, 1)
    centres = np.array([[9.0, 11.0], [19.0, 11.0], [10.0, 22.0], [20.0, 22.0]])  # (x, y)
    tiles = cut_regions(flow, centres, 14)[..., 0]
    assert tiles.shape == (28, 28)
    assert tiles[7, 7] == flow[11, 9, 0]  # left eye's centre: row y, column x
    assert tiles[21, 21] == flow[21, 20, 0]  # right mouth corner, y clipped to 28 - 7
    swapped = cut_regions(flow, centres, 14, swap_axes=True)[..., 0]
    assert swapped[7, 7] == flow[9, 11, 0]  # the public code's (x as row) cut
