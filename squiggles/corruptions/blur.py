"""Blur corruptions: defocus (disk), Gaussian, motion (a line at a random angle),
zoom (averaged zooms about the centre) and glass (blur, local random moves, blur).

The filters are fixed chains of taps (`filters`), so an image's result is bitwise
the same in any batch. Kernel sizes are fixed by the largest severity at the
image's resolution, so the radius itself is a traced number and one program
serves every severity.
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
    kernel = filters.pin(disk / filters.image_sum(disk))
    return jnp.clip(filters.convolve(images, kernel[None]), 0.0, 1.0)


@functools.partial(jax.jit, static_argnames=("radius",))
def gaussian_blur(images: jax.Array, sigma: jax.Array, radius: int) -> jax.Array:
    return jnp.clip(filters.gaussian_blur(images, sigma, radius), 0.0, 1.0)


SEGMENT_SAMPLES = 32  # points splatted along a motion kernel's line


def _line_kernel(angle: jax.Array, length: jax.Array, size: int) -> jax.Array:
    """A segment of `length` pixels through the centre at `angle`, drawn with
    bilinear weights so that its length and angle are continuous: the samples'
    weights added one sample after another, then normalised by a fixed-order sum."""
    along = jnp.linspace(-0.5, 0.5, SEGMENT_SAMPLES) * length
    x, y = along * jnp.cos(angle), along * jnp.sin(angle)
    grid = jnp.arange(size) - size // 2
    weight_x = filters.pin(jnp.maximum(0.0, 1 - jnp.abs(grid[None, :] - x[:, None])))  # (S, k)
    weight_y = filters.pin(jnp.maximum(0.0, 1 - jnp.abs(grid[None, :] - y[:, None])))
    samples = filters.pin(weight_y[:, :, None] * weight_x[:, None, :])  # (S, k, k)
    kernel = filters.pin(filters.chain_sum(samples, 0))
    return kernel / filters.image_sum(kernel)


@functools.partial(jax.jit, static_argnames=("size",))
def motion_blur(images: jax.Array, keys: jax.Array, length: jax.Array, size: int) -> jax.Array:
    angles = jax.vmap(lambda key: jax.random.uniform(key, maxval=jnp.pi))(keys)
    kernels = jax.vmap(_line_kernel, in_axes=(0, None, None))(angles, length, size)
    return jnp.clip(filters.convolve(images, filters.pin(kernels.astype(images.dtype))), 0.0, 1.0)


ZOOM_STEPS = 12  # zooms averaged, evenly spaced from 1 to the severity's largest


def _zoom_sources(size: int, factor: jax.Array) -> jax.Array:
    """Where each of a line's R pixels samples it to magnify it by `factor` about
    its centre."""
    centre = (size - 1) / 2
    return centre + (jnp.arange(size, dtype=jnp.float32) - centre) / factor


@jax.jit
def zoom_blur(images: jax.Array, largest: jax.Array) -> jax.Array:
    """The mean of ZOOM_STEPS zooms from 1 to `largest`, added in order; a zoom is
    separable: a linear interpolation along each row, then along each column."""
    factors = 1 + (largest - 1) * jnp.linspace(0.0, 1.0, ZOOM_STEPS)

    def add_zoom(total: jax.Array, factor: jax.Array):
        sources = filters.pin(_zoom_sources(images.shape[-1], factor).astype(images.dtype))
        rows = filters.pin(filters.interpolate_axis(images, sources, -1))
        return total + filters.pin(filters.interpolate_axis(rows, sources, -2)), None

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
