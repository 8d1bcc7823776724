"""Linear filters and sums over batches of square images, as fixed chains of
elementwise operations.

Every output pixel is its neighbours times the kernel's weights, added one tap
after another in a fixed order, and a sum over an image adds its rows, then its
columns, one after another. There is no matrix product, FFT or reduction: a BLAS
kernel, an FFT library or XLA's reduction may order its additions by the shape of
the whole batch, so an image's last bits would depend on the batch it is in, and
uint8 quantisation turns some of those bits into a level. So each image's result
is bitwise the same in any batch (the generator's rendering follows the same rule).

Padding is zeros, the background of a drawing. `pin` stores an intermediate
before the next stage: fused or not, an addition then always adds the same two
stored numbers.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def pin(values: jax.Array) -> jax.Array:
    """`values` stored before anything reads them, so that no consumer is fused
    with their computation (which XLA may decide differently for another batch)."""
    return jax.lax.optimization_barrier(values)


def chain_sum(values: jax.Array, axis: int = -1) -> jax.Array:
    """The sum along `axis`, its elements added one after another from the first."""
    total = jax.lax.index_in_dim(values, 0, axis, keepdims=False)
    for i in range(1, values.shape[axis]):
        total = total + jax.lax.index_in_dim(values, i, axis, keepdims=False)
    return total


def image_sum(images: jax.Array) -> jax.Array:
    """(..., R, R) -> (...): each row summed in order, then the row sums in order."""
    return chain_sum(pin(chain_sum(images, -1)), -1)


def pad(images: jax.Array, width: int, axes: tuple[int, ...]) -> jax.Array:
    """`images` with `width` zeros added at both ends of each of `axes`."""
    widths = [(0, 0)] * images.ndim
    for axis in axes:
        widths[axis % images.ndim] = (width, width)
    return jnp.pad(images, widths)


def convolve_axis(images: jax.Array, taps: jax.Array, axis: int) -> jax.Array:
    """out[i] = Σ_d taps[r + d] · in[i - d] along `axis`, d = -r .. r in that order,
    with 2r + 1 taps (a scalar each) and zeros beyond the edges."""
    radius, size = (taps.shape[-1] - 1) // 2, images.shape[axis]
    padded = pad(images, radius, (axis,))
    out = None
    for d in range(-radius, radius + 1):
        window = jax.lax.slice_in_dim(padded, radius - d, radius - d + size, axis=axis)
        term = taps[radius + d] * window
        out = term if out is None else out + term
    return out


def separable(images: jax.Array, taps: jax.Array) -> jax.Array:
    """The same 1-D kernel along the columns of every row, then along the rows."""
    return convolve_axis(pin(convolve_axis(images, taps, -1)), taps, -2)


def gaussian_taps(sigma: jax.Array, radius: int, dtype=jnp.float32) -> jax.Array:
    """The 2 radius + 1 weights of a Gaussian of `sigma` pixels, normalised to sum
    to one (a kernel cut at `radius`; at an image's edge the zeros beyond count)."""
    offsets = jnp.arange(-radius, radius + 1, dtype=dtype)
    weights = jnp.exp(-jnp.square(offsets) / (2 * jnp.square(sigma)))
    return pin(weights / chain_sum(weights))


def gaussian_blur(images: jax.Array, sigma: jax.Array, radius: int) -> jax.Array:
    return separable(images, gaussian_taps(sigma, radius, images.dtype))


def convolve(images: jax.Array, kernels: jax.Array) -> jax.Array:
    """Each image (N, R, R) convolved with its kernel (N or 1, k, k), k odd, 'same'
    size, zeros beyond the edges: Σ over the k² taps, row by row, of the tap's
    weight times the image shifted by it."""
    size, k = images.shape[-1], kernels.shape[-1]
    half = k // 2
    padded = pad(images, half, (-2, -1))
    out = None
    for a in range(k):
        rows = padded[..., 2 * half - a : 2 * half - a + size, :]
        for b in range(k):
            window = rows[..., 2 * half - b : 2 * half - b + size]
            term = kernels[:, a, b, None, None] * window
            out = term if out is None else out + term
    return out


def interpolate_axis(images: jax.Array, sources: jax.Array, axis: int) -> jax.Array:
    """Every line along `axis` sampled at the fractional positions `sources` (one
    per output pixel) by linear interpolation, zeros outside the line."""
    size = images.shape[axis]
    lower = jnp.floor(sources)
    fraction = sources - lower
    first = jnp.clip(lower.astype(jnp.int32) + 1, 0, size + 1)  # in the padded line
    second = jnp.clip(lower.astype(jnp.int32) + 2, 0, size + 1)
    padded = pad(images, 1, (axis,))
    shape = [1] * images.ndim
    shape[axis] = -1
    fraction = fraction.reshape(shape)
    left = jnp.take(padded, first, axis=axis, mode="clip")
    right = jnp.take(padded, second, axis=axis, mode="clip")
    return (1 - fraction) * left + fraction * right
