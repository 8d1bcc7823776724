"""Corruptions specific to curves: the stroke drawn thinner or thicker (re-rendered
from the curve's points with a wider or narrower kernel) and occlusion (square
patches erased to the background)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from squiggles.rendering import nearest_squared_distance


@functools.partial(jax.jit, static_argnames=("resolution",))
def stroke_width(points: jax.Array, width: jax.Array, resolution: int) -> jax.Array:
    """Images of points (N, P, 2) with intensity exp(-R² d² / w²): the generator's
    stroke (w = 1) scaled in width by w."""
    nearest = nearest_squared_distance(points, resolution)
    scale = -(float(resolution) ** 2)  # a float: R² overflows an int32 beyond R = 46,340
    return jnp.exp(scale * nearest / jnp.square(width)).astype(jnp.float32)


MAX_PATCHES = 5  # the most patches of any severity: one program for all
PATCH_SIDE = 0.1  # of the image's side
PATCH_CENTRES = (0.1, 0.9)  # the curve's bounding box: patches fall where strokes are


@jax.jit
def occlusion(images: jax.Array, keys: jax.Array, patches: jax.Array) -> jax.Array:
    """`patches` squares of side PATCH_SIDE erased at uniform random centres."""
    size = images.shape[-1]
    grid = jnp.linspace(0.0, 1.0, size, dtype=images.dtype)

    def mask(key: jax.Array) -> jax.Array:
        centres = jax.random.uniform(key, (MAX_PATCHES, 2), minval=PATCH_CENTRES[0],
                                     maxval=PATCH_CENTRES[1])  # fmt: skip
        inside_x = jnp.abs(grid[None, :] - centres[:, 0:1]) <= PATCH_SIDE / 2  # (K, R)
        inside_y = jnp.abs(grid[None, :] - centres[:, 1:2]) <= PATCH_SIDE / 2
        used = (jnp.arange(MAX_PATCHES) < patches)[:, None, None]
        return jnp.any(used & inside_y[:, :, None] & inside_x[:, None, :], axis=0)

    return jnp.where(jax.vmap(mask)(keys), 0.0, images).astype(images.dtype)
