"""Digital corruptions: contrast, brightness, pixelation, JPEG (Pillow, on the
host) and elastic deformation, each image's result bitwise the same in any batch
(sums in a fixed order, `filters`)."""

from __future__ import annotations

import functools
import io
import math

import dm_pix as pix
import jax
import jax.numpy as jnp
import numpy as np

from squiggles.corruptions import filters


@jax.jit
def contrast(images: jax.Array, factor: jax.Array) -> jax.Array:
    """(x - mean) c + mean with the image's mean, as dm-pix's `adjust_contrast`,
    the mean summed in a fixed order."""
    size = images.shape[-1]
    mean = filters.pin(filters.image_sum(images) / (size * size))[..., None, None]
    return jnp.clip(factor * (images - mean) + mean, 0.0, 1.0)


@jax.jit
def brightness(images: jax.Array, delta: jax.Array) -> jax.Array:
    return jnp.clip(pix.adjust_brightness(images, delta), 0.0, 1.0)


def _block_average(images: jax.Array, block: jax.Array, reach: int, axis: int) -> jax.Array:
    """Each pixel replaced by the mean of its block along `axis` (`block` numbers
    the block of each of the R pixels; a block spans at most reach + 1 pixels).
    The block's pixels are added in order of position, so every pixel of a block
    gets the same bits."""
    size = images.shape[axis]
    shape = [1] * images.ndim
    shape[axis] = size
    padded_block = jnp.pad(block, reach, constant_values=-1)
    padded = filters.pad(images, reach, (axis,))
    total, count = None, None
    for d in range(-reach, reach + 1):
        same = (padded_block[reach + d : reach + d + size] == block).reshape(shape)
        window = jax.lax.slice_in_dim(padded, reach + d, reach + d + size, axis=axis)
        term = jnp.where(same, window, 0.0)
        total = term if total is None else total + term
        count = same.astype(images.dtype) if count is None else count + same
    return total / count


@functools.partial(jax.jit, static_argnames=("reach",))
def pixelate(images: jax.Array, fraction: jax.Array, reach: int) -> jax.Array:
    """Box-downsampled to about fraction·R blocks per side and drawn back at R×R
    (nearest), as a resize down and up would; blocks are cut along both axes, each
    at most reach + 1 pixels long."""
    block = jnp.floor(jnp.arange(images.shape[-1]) * fraction)
    rows = filters.pin(_block_average(images, block, reach, -1))
    return jnp.clip(_block_average(rows, block, reach, -2), 0.0, 1.0)


def jpeg_compression(images: np.ndarray, quality: int) -> np.ndarray:
    """Each image saved as an 8-bit grayscale JPEG at `quality` and read back."""
    from PIL import Image

    out = np.empty(images.shape, np.float32)
    for i, image in enumerate(np.asarray(images, np.float32)):
        buffer = io.BytesIO()
        pixels = np.round(255 * image).astype(np.uint8)
        Image.fromarray(pixels, mode="L").save(buffer, format="JPEG", quality=int(quality))
        buffer.seek(0)
        out[i] = np.asarray(Image.open(buffer), np.float32) / 255
    return out


ELASTIC_SIGMA = 3.0  # pixels at R = 60 (scaled like α): smoothness of the displacement field


def _bilinear(image: jax.Array, y: jax.Array, x: jax.Array) -> jax.Array:
    """`image` (R, R) sampled at (y, x) as dm-pix's `flat_nd_linear_interpolate_constant`
    samples it (the floor and ceiling of each coordinate, weights from the floor;
    zero where a coordinate falls outside [0, R - 1]), the four corners added in a
    fixed order."""
    size = image.shape[-1]
    inside = (y >= 0) & (y <= size - 1) & (x >= 0) & (x <= size - 1)
    y0, x0 = jnp.floor(y), jnp.floor(x)
    ty, tx = y - y0, x - x0
    flat = image.reshape(-1)

    def at(row: jax.Array, column: jax.Array) -> jax.Array:
        row = jnp.clip(row.astype(jnp.int32), 0, size - 1)
        column = jnp.clip(column.astype(jnp.int32), 0, size - 1)
        return flat[row * size + column]

    y1, x1 = jnp.ceil(y), jnp.ceil(x)
    value = ((1 - ty) * (1 - tx)) * at(y0, x0)
    value = value + ((1 - ty) * tx) * at(y0, x1)
    value = value + (ty * (1 - tx)) * at(y1, x0)
    value = value + (ty * tx) * at(y1, x1)
    return jnp.where(inside, value, 0.0)


def _deform(image: jax.Array, key: jax.Array, alpha: jax.Array, sigma: float) -> jax.Array:
    """Simard et al.'s elastic deformation, as dm-pix's `elastic_deformation` makes
    it (uniform noise in [-1, 1] smoothed by a Gaussian of `sigma` pixels, times
    `alpha`), sampled by dm-pix's bilinear interpolation with zeros outside. The
    field is smoothed by fixed chains of taps, and interpolated in 2-D rather than
    over an (R, R, 1) volume: dm-pix's own function ran at 350 images/s on a 2-core
    CPU."""
    size = image.shape[-1]
    noise = jax.random.uniform(key, (2, size, size), image.dtype, -1.0, 1.0)
    smooth = filters.gaussian_blur(noise, jnp.float32(sigma), math.ceil(3 * sigma))
    shift = filters.pin(alpha * filters.pin(smooth))
    grid = jnp.arange(size, dtype=image.dtype)
    return _bilinear(image, grid[:, None] + shift[0], grid[None, :] + shift[1])


@functools.partial(jax.jit, static_argnames=("sigma",))
def elastic_transform(
    images: jax.Array, keys: jax.Array, alpha: jax.Array, sigma: float
) -> jax.Array:
    deformed = jax.vmap(_deform, in_axes=(0, 0, None, None))(images, keys, alpha, sigma)
    return jnp.clip(deformed, 0.0, 1.0)
