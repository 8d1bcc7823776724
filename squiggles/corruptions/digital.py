"""Digital corruptions: contrast, brightness (dm-pix), pixelation, JPEG (Pillow, on
the host) and elastic deformation (dm-pix's interpolation)."""

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
    return jnp.clip(pix.adjust_contrast(images[..., None], factor)[..., 0], 0.0, 1.0)


@jax.jit
def brightness(images: jax.Array, delta: jax.Array) -> jax.Array:
    return jnp.clip(pix.adjust_brightness(images, delta), 0.0, 1.0)


def _block_average(size: int, fraction: jax.Array, dtype) -> jax.Array:
    """(R, R) matrix averaging each pixel over its block of about 1/fraction pixels."""
    block = jnp.floor(jnp.arange(size) * fraction)
    same = (block[:, None] == block[None, :]).astype(dtype)
    return same / same.sum(axis=1, keepdims=True)


@jax.jit
def pixelate(images: jax.Array, fraction: jax.Array) -> jax.Array:
    """Box-downsampled to about fraction·R blocks per side and drawn back at R×R
    (nearest), as a resize down and up would; blocks are cut along both axes."""
    average = _block_average(images.shape[-1], fraction, images.dtype)
    return jnp.clip(average @ images @ average.T, 0.0, 1.0)


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


def _deform(image: jax.Array, key: jax.Array, alpha: jax.Array, sigma: float) -> jax.Array:
    """Simard et al.'s elastic deformation, as dm-pix's `elastic_deformation` makes
    it (uniform noise in [-1, 1] smoothed by a Gaussian of `sigma` pixels, times
    `alpha`), sampled by dm-pix's bilinear interpolation with zeros outside. The
    field is smoothed by matrix products, and interpolated in 2-D rather than over
    an (R, R, 1) volume: dm-pix's own function ran at 350 images/s on a 2-core CPU."""
    size = image.shape[-1]
    noise = jax.random.uniform(key, (2, size, size), image.dtype, -1.0, 1.0)
    shift = alpha * filters.gaussian_blur(noise, jnp.float32(sigma), math.ceil(3 * sigma))
    grid = jnp.stack(jnp.meshgrid(jnp.arange(size), jnp.arange(size), indexing="ij"))
    where = (grid + shift).reshape(2, -1)
    return pix.flat_nd_linear_interpolate_constant(image, where, cval=0.0).reshape(size, size)


@functools.partial(jax.jit, static_argnames=("sigma",))
def elastic_transform(
    images: jax.Array, keys: jax.Array, alpha: jax.Array, sigma: float
) -> jax.Array:
    deformed = jax.vmap(_deform, in_axes=(0, 0, None, None))(images, keys, alpha, sigma)
    return jnp.clip(deformed, 0.0, 1.0)
