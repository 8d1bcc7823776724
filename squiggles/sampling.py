"""Deterministic latent sampling: latent i of a stream is a pure function of
(family, seed, stream, i).

Any slice of any stream can therefore be made on any worker, in any order, with
identical numbers, which is what lets a dataset build be split into chunks. Each
stream (train, validation, test, ...) gets its own key, folded in from the seed, so
two streams never share a latent.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from squiggles.families import Family, check_family

# Stream numbers, seeds and indices are folded into threefry keys as uint32.
MAX_UINT32 = 2**32


def check_uint32(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer in [0, 2**32), got {value!r}")
    if not 0 <= value < MAX_UINT32:
        raise ValueError(f"{name} must be in [0, 2**32), got {value}")
    return int(value)


def stream_key(seed: int, stream: int) -> jax.Array:
    """The root key of one stream. Threefry is named explicitly so that a user's
    choice of default PRNG implementation cannot change the dataset."""
    seed_key = jax.random.key(np.uint32(seed), impl="threefry2x32")
    return jax.random.fold_in(seed_key, np.uint32(stream))


def _latents_of(family: Family, key: jax.Array, indices: jax.Array) -> jax.Array:
    keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, indices)
    return jax.vmap(family.sample)(keys)


@functools.partial(jax.jit, static_argnames=("family", "count"))
def _sample_range(family: Family, count: int, key: jax.Array, start: jax.Array) -> jax.Array:
    return _latents_of(family, key, start + jnp.arange(count, dtype=jnp.uint32))


_sample_at = jax.jit(_latents_of, static_argnames=("family",))


def sample_latents(
    family: Family, count: int, *, seed: int = 0, stream: int = 0, start: int = 0
) -> jax.Array:
    """Latents number start .. start+count-1 of a stream: float32 (count, *latent_shape).

    The numbers depend only on (family, seed, stream, index), never on `count` or on
    how a range is split into calls.
    """
    check_family(family)
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
        raise ValueError(f"count must be an integer >= 0, got {count!r}")
    seed = check_uint32("seed", seed)
    stream = check_uint32("stream", stream)
    start = check_uint32("start", start)
    if start + count > MAX_UINT32:
        raise ValueError(
            f"a stream holds indices below 2**32; start + count = {start + count} is too large"
        )
    if count == 0:
        return jnp.zeros((0, *family.latent_shape), jnp.float32)
    return _sample_range(family, int(count), stream_key(seed, stream), jnp.uint32(start))


def sample_latents_at(
    family: Family, indices: object, *, seed: int = 0, stream: int = 0
) -> jax.Array:
    """Latents of any indices of a stream, in any order: float32 (len, *latent_shape).

    Equal to `sample_latents(family, 1, seed=seed, stream=stream, start=i)[0]` for
    each index i, in one vectorised call (e.g. to regenerate a shuffled batch).
    """
    check_family(family)
    seed = check_uint32("seed", seed)
    stream = check_uint32("stream", stream)
    indices = np.asarray(indices)
    if indices.ndim != 1 or not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(
            f"indices must be a 1-D array of integers, got {indices.dtype} {indices.shape}"
        )
    if indices.size and (indices.min() < 0 or indices.max() >= MAX_UINT32):
        raise ValueError("indices must be in [0, 2**32)")
    return _sample_at(family, stream_key(seed, stream), jnp.asarray(indices, jnp.uint32))
