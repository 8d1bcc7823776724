"""Linear filters of batches of square images, in the forms a CPU runs fastest.

A separable filter (a Gaussian blur, a zoom) is two matrix products per image,
A @ image @ B.T, with (R, R) matrices that hold the 1-D kernel or the
interpolation weights; a general kernel (a disk, a line at any angle, one per
image) is a product of FFTs. Both pad with zeros, the background of a drawing.
On a 2-core CPU at R = 60 these run 20x (matrices) and 5x (FFT) faster than the
depthwise convolutions of dm-pix's `gaussian_blur` (1,200 images/s).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def separable(images: jax.Array, rows: jax.Array, columns: jax.Array) -> jax.Array:
    """rows @ image @ columns.T for every image (..., R, R)."""
    return jnp.matmul(jnp.matmul(rows, images), columns.T)


def gaussian_matrix(size: int, sigma: jax.Array, radius: int, dtype=jnp.float32) -> jax.Array:
    """(R, R) matrix of a normalised Gaussian kernel of `radius` pixels each side,
    truncated at the image's edges (zero padding)."""
    offset = jnp.arange(size)[:, None] - jnp.arange(size)[None, :]
    taps = jnp.arange(-radius, radius + 1, dtype=dtype)
    total = jnp.exp(-jnp.square(taps) / (2 * jnp.square(sigma))).sum()
    weights = jnp.exp(-jnp.square(offset.astype(dtype)) / (2 * jnp.square(sigma))) / total
    return jnp.where(jnp.abs(offset) <= radius, weights, 0.0).astype(dtype)


def gaussian_blur(images: jax.Array, sigma: jax.Array, radius: int) -> jax.Array:
    matrix = gaussian_matrix(images.shape[-1], sigma, radius, images.dtype)
    return separable(images, matrix, matrix)


def linear_interpolation_matrix(sources: jax.Array, size: int) -> jax.Array:
    """(len(sources), R) weights that sample a row of R pixels at fractional
    positions `sources` by linear interpolation, zero outside the row."""
    pixels = jnp.arange(size, dtype=sources.dtype)
    return jnp.maximum(0.0, 1 - jnp.abs(sources[:, None] - pixels[None, :]))


def fft_convolve(images: jax.Array, kernels: jax.Array) -> jax.Array:
    """Each image (N, R, R) convolved with its kernel (N or 1, k, k), k odd, 'same'
    size, zero padding."""
    size, k = images.shape[-1], kernels.shape[-1]
    padded = size + k - 1
    spectrum = jnp.fft.rfft2(images, (padded, padded)) * jnp.fft.rfft2(kernels, (padded, padded))
    full = jnp.fft.irfft2(spectrum, (padded, padded))
    half = k // 2
    return full[..., half : half + size, half : half + size].astype(images.dtype)
