"""The test examples an analysis works on, exactly as the TFDS test split stores them."""

from __future__ import annotations

import dataclasses

import numpy as np

import squiggles
from squiggles.examples import example_bytes
from squiggles.sampling import check_fits


@dataclasses.dataclass(frozen=True)
class TestExamples:
    """Test examples start .. start+len-1: latents, true labels and the images as
    stored (uint8-quantised, back in [0, 1])."""

    __test__ = False  # not a pytest test class, whatever its name

    start: int
    latents: np.ndarray
    labels: np.ndarray  # bool, True = self-intersecting
    images: np.ndarray  # float32, quantised like the stored images

    @classmethod
    def load(
        cls, family: squiggles.Family, resolution: int, start: int, count: int
    ) -> TestExamples:
        examples = squiggles.stored_examples(family, count, start=start, resolution=resolution)
        return cls(
            start,
            np.asarray(examples.latent),
            np.asarray(examples.label, bool),
            np.asarray(examples.image),
        )

    @staticmethod
    def check_fits(family: squiggles.Family, resolution: int, count: int) -> None:
        """Refuses, before anything is made, a number of examples that `load` could not
        hold in memory at once (the ValueError of `squiggles.generate_examples`)."""
        check_fits(example_bytes(family, resolution) * count,
                   f"{count:,} test examples of {family} at resolution {resolution}")  # fmt: skip

    @property
    def indices(self) -> np.ndarray:
        return np.arange(self.start, self.start + len(self.labels), dtype=np.int64)
