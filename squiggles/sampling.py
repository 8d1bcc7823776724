"""Deterministic latent sampling: latent i of a stream is a pure function of
(family, seed, stream, i).

Any slice of any stream can therefore be made on any worker, in any order, with
identical numbers, which is what lets a dataset build be split into chunks. Each
stream (train, validation, test, ...) gets its own key, folded in from the seed, so
two streams never share a latent.
"""

from __future__ import annotations

import functools
import math
import os

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

# Bytes a sampling program holds per latent beyond the latent itself: the key
# (two uint32) and the random bits and draws it is made from (about two more
# latents' worth), a generous estimate.
_KEY_BYTES = 8
_DRAWS_PER_LATENT = 3


def available_bytes() -> tuple[int, str]:
    """Memory free for new arrays, and where: the default device's free memory
    when it reports a limit (accelerators), else the host's MemAvailable. The default
    device is this process's own (jax.devices()[0] is process 0's, unreadable here)."""
    device = jax.local_devices()[0]
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if stats and "bytes_limit" in stats:
        return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0)), f"on {device}"
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "on the host (MemAvailable)"
    except OSError:
        pass
    pages = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return int(pages), "on the host (free physical pages)"


def check_fits(needed: int, what: str) -> None:
    """Refuses work whose arrays cannot fit in memory, before anything is allocated,
    instead of an opaque out-of-memory error (or an abort) deep inside XLA."""
    available, where = available_bytes()
    if needed > available:
        raise ValueError(
            f"{what} need about {needed:,} bytes ({needed / 1e9:.3g} GB), but only "
            f"{available:,} bytes ({available / 1e9:.3g} GB) are available {where}; "
            f"ask for fewer at a time"
        )


def latent_bytes(family: Family, count: int) -> int:
    """Peak bytes of sampling `count` latents of `family` (float32), estimated."""
    size = 4 * math.prod(family.latent_shape)
    return count * (_DRAWS_PER_LATENT * size + _KEY_BYTES)


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
    check_fits(latent_bytes(family, count), f"{count:,} latents of shape {family.latent_shape}")
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
    indices = check_indices(indices)
    if indices.size == 0:
        return jnp.zeros((0, *family.latent_shape), jnp.float32)
    count = indices.size
    check_fits(latent_bytes(family, count), f"{count:,} latents of shape {family.latent_shape}")
    return _sample_at(family, stream_key(seed, stream), jnp.asarray(indices, jnp.uint32))


def check_indices(indices: object) -> np.ndarray:
    """A 1-D integer array in [0, 2**32); an empty sequence of any dtype is accepted
    (np.asarray([]) is float64)."""
    try:
        array = np.asarray(indices)
    except (TypeError, ValueError) as error:  # ragged nesting, unconvertible objects
        raise ValueError(f"indices must be a 1-D array of integers, got {indices!r}") from error
    if array.ndim != 1:
        raise ValueError(f"indices must be a 1-D array of integers, got shape {array.shape}")
    if array.size == 0:
        return array.astype(np.int64)
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"indices must be a 1-D array of integers, got dtype {array.dtype}")
    if array.min() < 0 or array.max() >= MAX_UINT32:
        raise ValueError(
            f"indices must be in [0, 2**32), got values from {array.min()} to {array.max()}"
        )
    return array
