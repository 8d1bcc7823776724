"""Noise corruptions, per pixel: Gaussian, shot (Poisson), impulse (salt and
pepper) and speckle (multiplicative). Each takes the batch (N, R, R), one key per
image and the severity's parameter as a traced number, so one program serves all
five severities."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _per_image(draw, keys: jax.Array, shape: tuple[int, ...], dtype) -> jax.Array:
    return jax.vmap(lambda key: draw(key, shape, dtype))(keys)


@jax.jit
def gaussian_noise(images: jax.Array, keys: jax.Array, sigma: jax.Array) -> jax.Array:
    noise = _per_image(jax.random.normal, keys, images.shape[1:], images.dtype)
    return jnp.clip(images + sigma * noise, 0.0, 1.0)


@jax.jit
def shot_noise(images: jax.Array, keys: jax.Array, photons: jax.Array) -> jax.Array:
    """Poisson(λx)/λ. The background (x = 0) has no photons, so only strokes get
    noisy, as a dim exposure of a bright drawing would."""
    rates = photons * images
    counts = jax.vmap(lambda key, rate: jax.random.poisson(key, rate, dtype=jnp.int32))(keys, rates)
    return jnp.clip(counts.astype(images.dtype) / photons, 0.0, 1.0)


@jax.jit
def impulse_noise(images: jax.Array, keys: jax.Array, fraction: jax.Array) -> jax.Array:
    """A `fraction` of the pixels set to 0 or 1 with equal chance."""
    uniform = _per_image(jax.random.uniform, keys, images.shape[1:], images.dtype)
    salt, pepper = uniform < fraction / 2, uniform > 1 - fraction / 2
    return jnp.where(salt, 1.0, jnp.where(pepper, 0.0, images)).astype(images.dtype)


@jax.jit
def speckle_noise(images: jax.Array, keys: jax.Array, sigma: jax.Array) -> jax.Array:
    noise = _per_image(jax.random.normal, keys, images.shape[1:], images.dtype)
    return jnp.clip(images * (1 + sigma * noise), 0.0, 1.0)
