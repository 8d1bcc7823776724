"""Blur corruptions: defocus (disk), Gaussian, motion (a line at a random angle),
zoom (averaged zooms about the centre) and glass (blur, local pixel shuffles, blur).

Gaussian blur and the zooms come from dm-pix. Kernel sizes are fixed by the
largest severity at the image's resolution, so the radius itself is a traced
number and one program serves every severity.
"""

from __future__ import annotations

import functools
import math

import dm_pix as pix
import jax
import jax.numpy as jnp


def kernel_size(radius: float) -> int:
    """An odd kernel side that holds `radius` pixels on each side of the centre."""
    return 2 * math.ceil(radius) + 1


def _convolve(images: jax.Array, kernels: jax.Array) -> jax.Array:
    """Each image (N, R, R) convolved ('same', zero padding: the background) with
    its own kernel (N, k, k), as one grouped convolution."""
    count, size = images.shape[0], kernels.shape[-1]
    inputs = jnp.moveaxis(images, 0, -1)[None]  # (1, R, R, N): the images as channels
    weights = jnp.moveaxis(kernels, 0, -1)[:, :, None, :]  # (k, k, 1, N)
    out = jax.lax.conv_general_dilated(
        inputs, weights.astype(images.dtype), (1, 1), [(size // 2, size // 2)] * 2,
        dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=count,
    )  # fmt: skip
    return jnp.moveaxis(out[0], -1, 0)


def _gaussian(images: jax.Array, sigma: jax.Array, size: int) -> jax.Array:
    return pix.gaussian_blur(images[..., None], sigma, size)[..., 0]


@functools.partial(jax.jit, static_argnames=("size",))
def defocus_blur(images: jax.Array, radius: jax.Array, size: int) -> jax.Array:
    """A disk of `radius` pixels, its edge antialiased by the area it covers."""
    offsets = jnp.arange(size, dtype=images.dtype) - size // 2
    distance = jnp.hypot(offsets[:, None], offsets[None, :])
    disk = jnp.clip(radius + 0.5 - distance, 0.0, 1.0)
    disk = disk / disk.sum()
    return jnp.clip(_convolve(images, jnp.broadcast_to(disk, (len(images), size, size))), 0, 1)


@functools.partial(jax.jit, static_argnames=("size",))
def gaussian_blur(images: jax.Array, sigma: jax.Array, size: int) -> jax.Array:
    return jnp.clip(_gaussian(images, sigma, size), 0.0, 1.0)


SEGMENT_SAMPLES = 32  # points splatted along a motion kernel's line


def _line_kernel(angle: jax.Array, length: jax.Array, size: int) -> jax.Array:
    """A segment of `length` pixels through the centre at `angle`, drawn with
    bilinear weights so that its length and angle are continuous."""
    along = jnp.linspace(-0.5, 0.5, SEGMENT_SAMPLES) * length
    x, y = along * jnp.cos(angle), along * jnp.sin(angle)
    grid = jnp.arange(size) - size // 2
    weight_x = jnp.maximum(0.0, 1 - jnp.abs(grid[None, :] - x[:, None]))  # (S, k)
    weight_y = jnp.maximum(0.0, 1 - jnp.abs(grid[None, :] - y[:, None]))
    kernel = jnp.einsum("sr,sc->rc", weight_y, weight_x)
    return kernel / kernel.sum()


@functools.partial(jax.jit, static_argnames=("size",))
def motion_blur(images: jax.Array, keys: jax.Array, length: jax.Array, size: int) -> jax.Array:
    angles = jax.vmap(lambda key: jax.random.uniform(key, maxval=jnp.pi))(keys)
    kernels = jax.vmap(_line_kernel, in_axes=(0, None, None))(angles, length, size)
    return jnp.clip(_convolve(images, kernels.astype(images.dtype)), 0.0, 1.0)


ZOOM_STEPS = 12  # zooms averaged, evenly spaced from 1 to the severity's largest


def _zoom(image: jax.Array, factor: jax.Array) -> jax.Array:
    """`image` (R, R) magnified by `factor` about its centre, zero outside."""
    centre = (image.shape[0] - 1) / 2
    matrix = jnp.array([1.0, 1.0, 1.0]) / jnp.array([factor, factor, 1.0])
    offset = jnp.array([centre, centre, 0.0]) * (1 - matrix)
    zoomed = pix.affine_transform(image[..., None], matrix, offset=offset, mode="constant")
    return zoomed[..., 0]


@jax.jit
def zoom_blur(images: jax.Array, largest: jax.Array) -> jax.Array:
    factors = 1 + (largest - 1) * jnp.linspace(0.0, 1.0, ZOOM_STEPS)
    zooms = jax.vmap(jax.vmap(_zoom, in_axes=(None, 0)), in_axes=(0, None))(images, factors)
    return jnp.clip(zooms.mean(axis=1), 0.0, 1.0).astype(images.dtype)


def _shuffle_locally(image: jax.Array, key: jax.Array, move: jax.Array) -> jax.Array:
    """Each pixel takes the value of a random pixel at most `move` rows and columns away."""
    size = image.shape[0]
    offsets = jax.random.randint(key, (2, size, size), -move, move + 1)
    rows = jnp.clip(jnp.arange(size)[:, None] + offsets[0], 0, size - 1)
    columns = jnp.clip(jnp.arange(size)[None, :] + offsets[1], 0, size - 1)
    return image[rows, columns]


@functools.partial(jax.jit, static_argnames=("size",))
def glass_blur(
    images: jax.Array,
    keys: jax.Array,
    sigma: jax.Array,
    move: jax.Array,
    passes: jax.Array,
    size: int,
) -> jax.Array:
    """As seen through frosted glass: blurred, shuffled locally `passes` times,
    blurred again."""
    blurred = _gaussian(images, sigma, size)

    def shuffle(image: jax.Array, key: jax.Array) -> jax.Array:
        def one_pass(step, image):
            return _shuffle_locally(image, jax.random.fold_in(key, step), move)

        return jax.lax.fori_loop(0, passes, one_pass, image)

    shuffled = jax.vmap(shuffle)(blurred, keys)
    return jnp.clip(_gaussian(shuffled, sigma, size), 0.0, 1.0)
