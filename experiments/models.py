"""ResNets (basic blocks, BatchNorm) for one-channel Squiggles images and two classes."""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

STEMS = ("imagenet", "small")


class BasicBlock(nn.Module):
    """Two 3×3 convolutions with a residual connection (He et al., 2016)."""

    features: int
    strides: int = 1

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
        norm = lambda name: nn.BatchNorm(use_running_average=not train, name=name)  # noqa: E731
        residual = x
        y = nn.Conv(self.features, (3, 3), self.strides, padding=1, use_bias=False, name="conv1")(x)
        y = nn.relu(norm("bn1")(y))
        y = nn.Conv(self.features, (3, 3), padding=1, use_bias=False, name="conv2")(y)
        # Zero-initialised last norm: each block starts as the identity (Goyal et al.).
        y = nn.BatchNorm(
            use_running_average=not train, scale_init=nn.initializers.zeros, name="bn2"
        )(y)
        if residual.shape != y.shape:
            residual = nn.Conv(
                self.features, (1, 1), self.strides, use_bias=False, name="shortcut_conv"
            )(residual)
            residual = norm("shortcut_bn")(residual)
        return nn.relu(y + residual)


class ResNet(nn.Module):
    """ResNet of basic blocks. stage_sizes (3, 4, 6, 3) and width 64 is ResNet-34.

    stem "imagenet": 7×7 stride-2 convolution and 3×3 stride-2 max-pool, as in the
    original ResNet-34; "small": one 3×3 stride-1 convolution, which keeps full
    resolution for small images at 16× the compute.
    """

    stage_sizes: Sequence[int] = (3, 4, 6, 3)
    width: int = 64
    stem: str = "imagenet"
    num_classes: int = 2

    @nn.compact
    def __call__(self, images: jnp.ndarray, train: bool = False) -> jnp.ndarray:
        """Logits (B, num_classes) of images (B, R, R) or (B, R, R, 1) in [0, 1]."""
        x = images[..., None] if images.ndim == 3 else images
        if self.stem == "imagenet":
            x = nn.Conv(self.width, (7, 7), 2, padding=3, use_bias=False, name="stem_conv")(x)
            x = nn.relu(nn.BatchNorm(use_running_average=not train, name="stem_bn")(x))
            x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
        elif self.stem == "small":
            x = nn.Conv(self.width, (3, 3), 1, padding=1, use_bias=False, name="stem_conv")(x)
            x = nn.relu(nn.BatchNorm(use_running_average=not train, name="stem_bn")(x))
        else:
            raise ValueError(f"unknown stem {self.stem!r}; expected one of {STEMS}")
        for stage, blocks in enumerate(self.stage_sizes):
            for block in range(blocks):
                strides = 2 if stage > 0 and block == 0 else 1
                x = BasicBlock(self.width * 2**stage, strides, name=f"stage{stage}_block{block}")(
                    x, train
                )
        x = jnp.mean(x, axis=(1, 2))
        return nn.Dense(self.num_classes, name="head")(x)


def parameter_count(model: nn.Module, resolution: int) -> int:
    """Number of trainable parameters of `model` on (resolution × resolution) images.

    Read from the parameters' shapes under `jax.eval_shape`: nothing is initialised or
    computed, so counting ResNet-34 takes a trace, not a forward pass."""
    images = jax.ShapeDtypeStruct((1, resolution, resolution), jnp.float32)
    shapes = jax.eval_shape(lambda x: model.init(jax.random.key(0), x), images)
    return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(shapes["params"]))
