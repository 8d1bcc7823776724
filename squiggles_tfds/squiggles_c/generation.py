"""The chunks of a `squiggles_c` build: corrupted test examples in stored form.
Chunking, the background thread and Beam are those of `squiggles_tfds.chunks`."""

from __future__ import annotations

import numpy as np

from squiggles import corruptions
from squiggles.examples import stored_form
from squiggles_tfds.squiggles_c.configs import SquigglesCConfig


def make_chunk(
    config: SquigglesCConfig, stream: int, start: int, count: int
) -> dict[str, np.ndarray]:
    """Examples start .. start+count-1 of the base's `stream` under the config's
    corruption, as arrays in their stored form (no points)."""
    base = config.base_config
    examples = corruptions.corrupted_examples(
        base.make_family(),
        config.corruption,
        config.severity,
        count,
        seed=base.seed,
        stream=stream,
        start=start,
        resolution=base.resolution,
    )
    return stored_form(examples, points=False)
