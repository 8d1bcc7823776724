"""ResNets (basic blocks, BatchNorm) for one-channel Squiggles images and two classes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

STEMS = ("imagenet", "small")
DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}  # compute dtypes


class BasicBlock(nn.Module):
    """Two 3×3 convolutions with a residual connection (He et al., 2016)."""

    features: int
    strides: int = 1
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
        norm = lambda name, **options: nn.BatchNorm(  # noqa: E731
            use_running_average=not train, dtype=self.dtype, name=name, **options
        )
        conv = lambda kernel, strides, name, padding=1: nn.Conv(  # noqa: E731
            self.features, kernel, strides, padding=padding, use_bias=False, dtype=self.dtype,
            name=name,
        )  # fmt: skip
        residual = x
        y = nn.relu(norm("bn1")(conv((3, 3), self.strides, "conv1")(x)))
        y = conv((3, 3), 1, "conv2")(y)
        # Zero-initialised last norm: each block starts as the identity (Goyal et al.).
        y = norm("bn2", scale_init=nn.initializers.zeros)(y)
        if residual.shape != y.shape:
            residual = conv((1, 1), self.strides, "shortcut_conv", padding="SAME")(residual)
            residual = norm("shortcut_bn")(residual)
        return nn.relu(y + residual)


class ResNet(nn.Module):
    """ResNet of basic blocks. stage_sizes (3, 4, 6, 3) and width 64 is ResNet-34.

    stem "imagenet": 7×7 stride-2 convolution and 3×3 stride-2 max-pool, as in the
    original ResNet-34; "small": one 3×3 stride-1 convolution, which keeps full
    resolution for small images at 16× the compute.

    dtype is the compute dtype (bfloat16 for mixed precision); parameters are float32
    whatever it is, and the logits are returned in float32 for the loss.
    """

    stage_sizes: Sequence[int] = (3, 4, 6, 3)
    width: int = 64
    stem: str = "imagenet"
    num_classes: int = 2
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, images: jnp.ndarray, train: bool = False) -> jnp.ndarray:
        """Logits (B, num_classes) of images (B, R, R) or (B, R, R, 1) in [0, 1]."""
        x = images[..., None] if images.ndim == 3 else images
        x = x.astype(self.dtype)
        stem_bn = nn.BatchNorm(use_running_average=not train, dtype=self.dtype, name="stem_bn")
        if self.stem == "imagenet":
            x = nn.Conv(self.width, (7, 7), 2, padding=3, use_bias=False, dtype=self.dtype,
                        name="stem_conv")(x)  # fmt: skip
            x = nn.relu(stem_bn(x))
            x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
        elif self.stem == "small":
            x = nn.Conv(self.width, (3, 3), 1, padding=1, use_bias=False, dtype=self.dtype,
                        name="stem_conv")(x)  # fmt: skip
            x = nn.relu(stem_bn(x))
        else:
            raise ValueError(f"unknown stem {self.stem!r}; expected one of {STEMS}")
        for stage, blocks in enumerate(self.stage_sizes):
            for block in range(blocks):
                strides = 2 if stage > 0 and block == 0 else 1
                x = BasicBlock(self.width * 2**stage, strides, self.dtype,
                               name=f"stage{stage}_block{block}")(x, train)  # fmt: skip
        x = jnp.mean(x.astype(jnp.float32), axis=(1, 2))  # the pooled features in float32
        return nn.Dense(self.num_classes, dtype=self.dtype, name="head")(x).astype(jnp.float32)


def parameter_count(model: nn.Module, resolution: int) -> int:
    """Number of trainable parameters of `model` on (resolution × resolution) images.

    Read from the parameters' shapes under `jax.eval_shape`: nothing is initialised or
    computed, so counting ResNet-34 takes a trace, not a forward pass."""
    images = jax.ShapeDtypeStruct((1, resolution, resolution), jnp.float32)
    shapes = jax.eval_shape(lambda x: model.init(jax.random.key(0), x), images)
    return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(shapes["params"]))
