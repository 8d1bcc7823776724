"""Corrupted examples of a stream, made deterministically: example i of a stream
under one corruption and severity depends only on (family, seed, stream, i,
corruption, severity), so any range, cut into any chunks, gives the same images.
The TFDS dataset `squiggles_c` and `experiments.evaluate --corruptions` both make
their data here."""

from __future__ import annotations

import zlib

import jax
import jax.numpy as jnp
import numpy as np

from squiggles.corruptions.apply import corrupt
from squiggles.corruptions.severities import check_corruption, check_severity
from squiggles.examples import Examples, generate_examples
from squiggles.families import Family
from squiggles.quantization import dequantize, quantize
from squiggles.rendering import RESOLUTION
from squiggles.sampling import check_indices, check_uint32, stream_key
from squiggles.splits import TEST_STREAM

# Folded into a stream's key before anything else, so no corruption key is ever
# the key of a latent (those fold the index straight into the stream's key).
CORRUPTION_SALT = 0x5C_C0DE


def corruption_keys(
    corruption: str, severity: int, indices: object, *, seed: int = 0, stream: int = TEST_STREAM
) -> jax.Array:
    """One key per example index (`indices`: a 1-D array of integers in [0, 2**32),
    as a stream's indices are): a pure function of (seed, stream, corruption,
    severity, index). The corruption enters by a CRC of its name, so adding a new
    corruption never changes the keys of the others."""
    check_corruption(corruption)
    check_severity(severity)
    indices = check_indices(indices)  # the indices of a stream, as sampling takes them
    key = jax.random.fold_in(stream_key(check_uint32("seed", seed), check_uint32("stream", stream)),
                             CORRUPTION_SALT)  # fmt: skip
    key = jax.random.fold_in(key, zlib.crc32(corruption.encode()))
    key = jax.random.fold_in(key, severity)
    indices = jnp.asarray(indices.astype(np.uint32))
    return jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, indices)


def corrupted_examples(
    family: Family,
    corruption: str,
    severity: int,
    count: int,
    *,
    seed: int = 0,
    stream: int = TEST_STREAM,
    start: int = 0,
    resolution: int = RESOLUTION,
) -> Examples:
    """Examples start .. start+count-1 of a stream with their images corrupted, in
    stored form: the clean image is quantised to uint8 as the dataset stores it,
    corrupted, and quantised again (so `image` holds multiples of 1/255)."""
    check_corruption(corruption)
    check_severity(severity)
    examples = generate_examples(
        family, count, seed=seed, stream=stream, start=start, resolution=resolution
    )
    return corrupt_examples(examples, corruption, severity, seed=seed, stream=stream)


def corrupt_examples(
    examples: Examples, corruption: str, severity: int, *, seed: int = 0, stream: int = TEST_STREAM
) -> Examples:
    """Clean `examples` of a stream (as `generate_examples` makes them) corrupted as
    `corrupted_examples` would make them: one clean batch serves every corruption."""
    clean = dequantize(quantize(np.asarray(examples.image)))
    keys = corruption_keys(corruption, severity, examples.index, seed=seed, stream=stream)
    images = corrupt(clean, corruption, severity, keys, points=examples.points)
    stored = jnp.asarray(dequantize(quantize(np.asarray(images))))
    return examples._replace(image=stored)
