"""Blur corruptions: defocus (disk), Gaussian, motion (a line at a random angle),
zoom (averaged zooms about the centre) and glass (blur, local random moves, blur).

The filters are matrix products and FFTs (`filters`). Kernel sizes are fixed by
the largest severity at the image's resolution, so the radius itself is a traced
number and one program serves every severity.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from squiggles.corruptions import filters


def kernel_size(radius: float) -> int:
    """An odd kernel side that holds `radius` pixels on each side of the centre."""
    return 2 * math.ceil(radius) + 1


@functools.partial(jax.jit, static_argnames=("size",))
def defocus_blur(images: jax.Array, radius: jax.Array, size: int) -> jax.Array:
    """A disk of `radius` pixels, its edge antialiased by the area it covers."""
    offsets = jnp.arange(size, dtype=images.dtype) - size // 2
    distance = jnp.hypot(offsets[:, None], offsets[None, :])
    disk = jnp.clip(radius + 0.5 - distance, 0.0, 1.0)
    return jnp.clip(filters.fft_convolve(images, (disk / disk.sum())[None]), 0.0, 1.0)


@functools.partial(jax.jit, static_argnames=("radius",))
def gaussian_blur(images: jax.Array, sigma: jax.Array, radius: int) -> jax.Array:
    return jnp.clip(filters.gaussian_blur(images, sigma, radius), 0.0, 1.0)


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
    return jnp.clip(filters.fft_convolve(images, kernels.astype(images.dtype)), 0.0, 1.0)


ZOOM_STEPS = 12  # zooms averaged, evenly spaced from 1 to the severity's largest


def _zoom_matrix(size: int, factor: jax.Array) -> jax.Array:
    """(R, R) weights that magnify a row by `factor` about its centre."""
    centre = (size - 1) / 2
    sources = centre + (jnp.arange(size, dtype=jnp.float32) - centre) / factor
    return filters.linear_interpolation_matrix(sources, size)


@jax.jit
def zoom_blur(images: jax.Array, largest: jax.Array) -> jax.Array:
    """The mean of ZOOM_STEPS zooms from 1 to `largest`; a zoom is separable, one
    interpolation matrix along each axis."""
    factors = 1 + (largest - 1) * jnp.linspace(0.0, 1.0, ZOOM_STEPS)

    def add_zoom(total: jax.Array, factor: jax.Array):
        matrix = _zoom_matrix(images.shape[-1], factor).astype(images.dtype)
        return total + filters.separable(images, matrix, matrix), None

    total, _ = jax.lax.scan(add_zoom, jnp.zeros_like(images), factors)
    return jnp.clip(total / ZOOM_STEPS, 0.0, 1.0)


def _move_locally(image: jax.Array, digits: jax.Array, move: jax.Array, reach: int) -> jax.Array:
    """Each pixel takes the value of a random pixel at most `move` (<= reach) rows
    and columns away, zero beyond the edge, chosen by `digits` (16 random bits: a
    byte for each axis, scaled to 0 .. 2 move by a multiply and shift, since an
    integer division costs more than the rest of the pass; the moves are uniform
    to within 1/256): a select among the (2 reach + 1)² shifted copies, far faster
    than a gather."""
    size, base = image.shape[-1], 2 * move + 1
    offset_y = ((digits & 0xFF) * base >> 8) - move
    offset_x = ((digits >> 8 & 0xFF) * base >> 8) - move
    padded = jnp.pad(image, reach)
    out = jnp.zeros_like(image)
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            shifted = padded[reach + dy : reach + dy + size, reach + dx : reach + dx + size]
            out = jnp.where((offset_y == dy) & (offset_x == dx), shifted, out)
    return out


@functools.partial(jax.jit, static_argnames=("radius", "reach"))
def glass_blur(
    images: jax.Array,
    keys: jax.Array,
    sigma: jax.Array,
    move: jax.Array,
    passes: jax.Array,
    radius: int,
    reach: int,
) -> jax.Array:
    """As seen through frosted glass: blurred, each pixel moved at random by up to
    `move` (at most `reach`) pixels `passes` times, blurred again."""
    blurred = filters.gaussian_blur(images, sigma, radius)

    def shuffle(image: jax.Array, key: jax.Array) -> jax.Array:
        # Random bits are most of the cost: each 32-bit draw serves two passes.
        def two_passes(step, image):
            bits = jax.random.bits(jax.random.fold_in(key, step), image.shape)
            first = _move_locally(image, (bits & 0xFFFF).astype(jnp.int32), move, reach)
            second = _move_locally(first, (bits >> 16).astype(jnp.int32), move, reach)
            return jnp.where(2 * step + 1 < passes, second, first)

        return jax.lax.fori_loop(0, (passes + 1) // 2, two_passes, image)

    shuffled = jax.vmap(shuffle)(blurred, keys)
    return jnp.clip(filters.gaussian_blur(shuffled, sigma, radius), 0.0, 1.0)
