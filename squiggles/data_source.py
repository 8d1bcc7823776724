"""Random access to a split of a Squiggles dataset without TensorFlow.

`data_source(family, split, size, resolution)` is a sequence whose item i is example i
of the split's stream, with exactly the features the TFDS dataset stores for it (the
uint8 image (R, R, 1), the curve points, the latent, the label and the index), made on
demand by the generator. It has `__len__` and `__getitem__` (and the batched
`__getitems__`), which is what a PyTorch `DataLoader` (as a map-style dataset) and
`grain` (as a `RandomAccessDataSource`) ask of a data source; workers can read any
index in any order and get the same example.

The TFDS split holds the same examples, keyed by their index; TFDS's own
`tfds.data_source` (on a build with `--file_format=array_record`) returns them in the
order of its shuffled files, so compare the two by the `index` feature.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence

import numpy as np

from squiggles.examples import generate_examples, stored_form
from squiggles.families import Family, check_family
from squiggles.rendering import RESOLUTION, check_resolution
from squiggles.splits import DATA_SEED, SPLIT_STREAMS

Example = dict[str, np.ndarray]


class DataSource(Sequence):
    """The examples 0 .. size-1 of one split, as the TFDS dataset stores them."""

    def __init__(
        self, family: Family, split: str, size: int, resolution: int, seed: int = DATA_SEED
    ):
        check_family(family)
        if split not in SPLIT_STREAMS:
            raise ValueError(f"split must be one of {sorted(SPLIT_STREAMS)}, got {split!r}")
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 0:
            raise ValueError(f"size must be an integer >= 0, got {size!r}")
        self.family, self.split, self.size = family, split, int(size)
        self.resolution, self.seed = check_resolution(resolution), seed
        self.stream = SPLIT_STREAMS[split]

    def __repr__(self) -> str:
        return (
            f"DataSource({self.family}, split={self.split!r}, size={self.size:,}, "
            f"resolution={self.resolution}, seed={self.seed})"
        )

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> Example:  # type: ignore[override]
        if isinstance(index, slice):
            raise TypeError("index a data source with one integer, or use __getitems__")
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: Iterable[int]) -> list[Example]:
        """The examples at `indices`, made together: consecutive runs in one batch each."""
        rows = [self._checked(index) for index in indices]
        made: dict[int, Example] = {}
        for start, count in _runs(sorted(set(rows))):
            examples = generate_examples(
                self.family, count, seed=self.seed, stream=self.stream, start=start,
                resolution=self.resolution,
            )  # fmt: skip
            stored = stored_form(examples)
            for i in range(count):
                made[start + i] = {name: values[i] for name, values in stored.items()}
        return [made[row] for row in rows]

    def _checked(self, index: object) -> int:
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"an index must be an integer, got {index!r}")
        row = int(index) + (self.size if index < 0 else 0)
        if not 0 <= row < self.size:
            raise IndexError(f"index {index} is out of range for {self.size:,} examples")
        return row


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    """(start, count) of the consecutive runs of sorted, distinct rows."""
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and runs[-1][0] + runs[-1][1] == row:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((row, 1))
    return runs


def data_source(
    family: Family, split: str, size: int, resolution: int = RESOLUTION, seed: int = DATA_SEED
) -> DataSource:
    """Random access to the first `size` examples of `split` ("train", "validation",
    "test") of the dataset of `family` at `resolution`: what the TFDS config with these
    settings stores, without TensorFlow."""
    return DataSource(family, split, size, resolution, seed)
