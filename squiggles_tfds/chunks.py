"""Generation as independent chunks of a split's stream, for both datasets.

A chunk is a range of example indices. Its examples depend only on (config,
stream, index), so chunks can be made in any order, in one process or on many
Beam workers, with the same result. Inside a chunk the generator works in one
vectorised batch, never one curve at a time. Each dataset says how one chunk is
made (`make_chunk` in its `generation.py`); the rest is here.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import numpy as np

from squiggles.examples import chunk_starts

__all__ = [
    "Chunked",
    "KeyExample",
    "MakeChunk",
    "beam_generate_examples",
    "chunk_to_examples",
    "generate_examples",
]

KeyExample = tuple[int, dict[str, Any]]


class Chunked(Protocol):
    """A builder config: its examples are made `chunk_size` at a time."""

    chunk_size: int


# (config, stream, start, count) -> examples start .. start+count-1 in stored form.
MakeChunk = Callable[[Any, int, int, int], dict[str, np.ndarray]]


def chunk_to_examples(chunk: dict[str, np.ndarray]) -> Iterator[KeyExample]:
    """One (key, example) per example; the key is the example's index in its stream."""
    for i, index in enumerate(chunk["index"]):
        yield int(index), {name: values[i] for name, values in chunk.items()}


def generate_examples(
    config: Chunked, stream: int, size: int, make: MakeChunk
) -> Iterator[KeyExample]:
    """All examples of a split in index order, for a single-process build; `make`
    makes one chunk of them.

    The next chunk is generated on a background thread while TFDS encodes the
    current one: XLA and Shapely release the GIL, so the two overlap.
    """
    chunks = chunk_starts(size, config.chunk_size)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as executor:
        pending = executor.submit(make, config, stream, *chunks[0]) if chunks else None
        for following in chunks[1:] + [None]:
            chunk = pending.result()
            if following is not None:
                pending = executor.submit(make, config, stream, *following)
            yield from chunk_to_examples(chunk)


def _beam_chunk_examples(chunk: tuple[int, int], config: Chunked, stream: int, make: MakeChunk):
    return chunk_to_examples(make(config, stream, *chunk))


def beam_generate_examples(config: Chunked, stream: int, size: int, make: MakeChunk):
    """The same examples as a Beam PTransform: one element per chunk, spread over
    workers by a reshuffle, each expanded into its examples (`make` must be a
    module-level function, so that workers can import it)."""
    from tensorflow_datasets.core.utils.lazy_imports_utils import apache_beam as beam

    return (
        beam.Create(chunk_starts(size, config.chunk_size))
        | beam.Reshuffle()
        | beam.FlatMap(_beam_chunk_examples, config=config, stream=stream, make=make)
    )
