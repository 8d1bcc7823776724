"""The chunks of a `squiggles` build: generated examples in stored form.
Chunking, the background thread and Beam are those of `squiggles_tfds.chunks`."""

from __future__ import annotations

import numpy as np

import squiggles  # the core package (absolute import), not this folder
from squiggles.examples import stored_form
from squiggles_tfds.squiggles.configs import SquigglesConfig


def make_chunk(
    config: SquigglesConfig, stream: int, start: int, count: int
) -> dict[str, np.ndarray]:
    """Examples start .. start+count-1 of a stream as arrays in their stored form."""
    examples = squiggles.generate_examples(
        config.make_family(),
        count,
        seed=config.seed,
        stream=stream,
        start=start,
        resolution=config.resolution,
    )
    return stored_form(examples)
