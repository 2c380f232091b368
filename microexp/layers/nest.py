"""HTNet's building blocks (Wang et al., Neurocomputing 2024; a nested hierarchical
transformer), channels-last, as serialisable Keras layers.

As the public HTNet code builds them: a level splits the (H, W) map into ``blocks`` x
``blocks`` regions and runs a transformer inside each region alone (local self-attention);
each token is one position, its channels the features. One learned scalar per position is
added to every channel (``pos_emb``); every layer is pre-norm (layer norm over channels, eps
1e-5), attention with ``heads`` heads of ``dim // heads`` channels (q, k, v from one bias-free
1x1 projection, an output projection with bias), then a feed-forward of ``mlp_mult * dim``
channels with GELU (exact erf form, as PyTorch's default), each with a residual connection.
"""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="microexp")
class LocalTransformer(layers.Layer):
    """One HTNet level's transformer on a (B, H, W, C) map: ``depth`` pre-norm layers of
    attention and feed-forward within each of ``blocks`` x ``blocks`` regions. Output: the
    same shape."""

    def __init__(
        self, depth: int = 1, heads: int = 1, blocks: int = 1, mlp_mult: int = 4, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        if min(depth, heads, blocks, mlp_mult) < 1:
            raise ValueError(
                "depth, heads, blocks and mlp_mult must be >= 1. Received: "
                f"{depth}, {heads}, {blocks}, {mlp_mult}"
            )
        self.depth, self.heads, self.blocks, self.mlp_mult = depth, heads, blocks, mlp_mult

    def build(self, input_shape) -> None:
        _, h, w, c = input_shape
        if h % self.blocks or w % self.blocks:
            raise ValueError(f"{self.name}: {h}x{w} does not split into {self.blocks} blocks")
        self.region = (h // self.blocks, w // self.blocks)
        tokens = self.region[0] * self.region[1]
        self.dim_head = c // self.heads
        inner = self.dim_head * self.heads
        self.pos_emb = self.add_weight(shape=(tokens,), initializer="random_normal", name="pos_emb")
        self.sub = []
        seq = (None, tokens, c)
        for i in range(self.depth):
            ln1 = layers.LayerNormalization(epsilon=1e-5, name=f"layer{i}_norm1")
            qkv = layers.Dense(3 * inner, use_bias=False, name=f"layer{i}_qkv")
            out = layers.Dense(c, name=f"layer{i}_out")
            ln2 = layers.LayerNormalization(epsilon=1e-5, name=f"layer{i}_norm2")
            ff1 = layers.Dense(self.mlp_mult * c, name=f"layer{i}_ff1")
            ff2 = layers.Dense(c, name=f"layer{i}_ff2")
            for layer, shape in (
                (ln1, seq),
                (qkv, seq),
                (out, (None, tokens, inner)),
                (ln2, seq),
                (ff1, seq),
                (ff2, (None, tokens, self.mlp_mult * c)),
            ):
                layer.build(shape)  # fmt: skip
            self.sub.append((ln1, qkv, out, ln2, ff1, ff2))
        super().build(input_shape)

    def _to_regions(self, x):
        _, h, w, c = x.shape
        rh, rw, b = self.region[0], self.region[1], self.blocks
        x = ops.reshape(x, (-1, b, rh, b, rw, c))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        return ops.reshape(x, (-1, rh * rw, c))

    def _from_regions(self, x, h: int, w: int, c: int):
        rh, rw, b = self.region[0], self.region[1], self.blocks
        x = ops.reshape(x, (-1, b, b, rh, rw, c))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        return ops.reshape(x, (-1, h, w, c))

    def _attention(self, x, qkv, out):
        n = x.shape[1]
        heads, d = self.heads, self.dim_head
        q, k, v = ops.split(qkv(x), 3, axis=-1)
        q, k, v = (
            ops.transpose(ops.reshape(t, (-1, n, heads, d)), (0, 2, 1, 3)) for t in (q, k, v)
        )
        if n == 1:  # one token: its softmax weight is exactly 1, so the output is v
            y = ops.transpose(v, (0, 2, 1, 3))
        else:
            dots = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) * ops.cast(d**-0.5, q.dtype)
            attn = ops.softmax(dots, axis=-1)
            y = ops.transpose(ops.matmul(attn, v), (0, 2, 1, 3))
        return out(ops.reshape(y, (-1, n, heads * d)))

    def call(self, x):
        _, h, w, c = x.shape
        t = self._to_regions(x)
        t = t + ops.cast(ops.reshape(self.pos_emb, (1, -1, 1)), t.dtype)
        for ln1, qkv, out, ln2, ff1, ff2 in self.sub:
            t = self._attention(ln1(t), qkv, out) + t
            t = ff2(ops.gelu(ff1(ln2(t)), approximate=False)) + t
        return self._from_regions(t, h, w, c)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "depth": self.depth,
            "heads": self.heads,
            "blocks": self.blocks,
            "mlp_mult": self.mlp_mult,
        }


@keras.saving.register_keras_serializable(package="microexp")
class PaddedMaxPool2D(layers.Layer):
    """Max-pooling with ``pad`` positions of -inf on every side first: PyTorch's
    ``MaxPool2d(pool, stride, padding=pad)`` (Keras' ``"same"`` pads only after, which moves
    the windows)."""

    def __init__(self, pool: int = 3, stride: int = 2, pad: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        self.pool, self.stride, self.pad = pool, stride, pad

    def call(self, x):
        p = self.pad
        low = ops.cast(-3.0e38 if x.dtype == "float32" else -6.0e4, x.dtype)
        x = ops.pad(x, ((0, 0), (p, p), (p, p), (0, 0)), constant_values=low)
        return ops.max_pool(x, self.pool, self.stride, padding="valid")

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        out = [None if s is None else (s + 2 * self.pad - self.pool) // self.stride + 1
               for s in (h, w)]  # fmt: skip
        return (b, out[0], out[1], c)

    def get_config(self) -> dict:
        return {**super().get_config(), "pool": self.pool, "stride": self.stride, "pad": self.pad}


__all__ = ["LocalTransformer", "PaddedMaxPool2D"]
