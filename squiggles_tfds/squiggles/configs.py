"""Builder configs of the `squiggles` dataset: family, resolution, split sizes.

Configs are validated when made, so a bad custom config (from Python or from
`tfds build squiggles --imports squiggles_tfds --config '{...}'`) fails before any
file is written.
"""

from __future__ import annotations

import dataclasses

import tensorflow_datasets as tfds

import squiggles  # the core package (absolute import), not this folder
from squiggles.splits import DATA_SEED, SPLIT_STREAMS  # each split its own stream

# The paper trains 129,600 steps of batch 512 on examples never repeated.
PAPER_TRAIN_SIZE = 129_600 * 512  # 66,355,200
PAPER_TEST_SIZE = 98_304

# Everyday configs: build in a couple of minutes on a 2-core CPU.
DEFAULT_TRAIN_SIZE = 50_000
DEFAULT_VALIDATION_SIZE = 5_000
DEFAULT_TEST_SIZE = 10_000


def _check_count(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


@dataclasses.dataclass(eq=False)
class SquigglesConfig(tfds.core.BuilderConfig):
    """One dataset of the generator. Omit `name` to get one derived from the settings,
    so two custom configs with different settings never share a directory."""

    name: str = ""
    family: str = "taylor"
    order: int = 7  # Taylor only
    width: int = 300  # SineNet only
    resolution: int = squiggles.RESOLUTION
    train_size: int = DEFAULT_TRAIN_SIZE
    validation_size: int = DEFAULT_VALIDATION_SIZE
    test_size: int = DEFAULT_TEST_SIZE
    seed: int = DATA_SEED
    # Examples per unit of work: one vectorised batch, and one Beam element.
    chunk_size: int = 2_000

    def __post_init__(self) -> None:
        family = self.make_family()  # validates family name and order / width
        squiggles.rendering.check_resolution(self.resolution)
        for split in SPLIT_STREAMS:
            _check_count(f"{split}_size", getattr(self, f"{split}_size"), 0)
        _check_count("chunk_size", self.chunk_size, 1)
        squiggles.sampling.check_uint32("seed", self.seed)
        if not self.name:
            self.name = self.derived_name()
        if not self.description:
            self.description = (
                f"{family}, {self.resolution}x{self.resolution} images, seed {self.seed}; "
                f"train {self.train_size:,}, validation {self.validation_size:,}, "
                f"test {self.test_size:,} examples."
            )

    def make_family(self) -> squiggles.Family:
        return squiggles.family_from_settings(self.family, order=self.order, width=self.width)

    def derived_name(self) -> str:
        size = f"o{self.order}" if self.family == "taylor" else f"w{self.width}"
        return (
            f"{self.family}_{size}_r{self.resolution}_s{self.seed}"
            f"_{self.train_size}_{self.validation_size}_{self.test_size}"
        )

    def split_sizes(self) -> dict[str, int]:
        return {split: getattr(self, f"{split}_size") for split in SPLIT_STREAMS}

    def settings(self) -> dict[str, object]:
        """The fields that decide the data, stored with every build so that a config
        name reused with other settings is refused. `chunk_size` only decides how
        the work is cut, and the other family's size field is unused, so neither
        is among them."""
        unused = "width" if self.family == "taylor" else "order"
        return {field: getattr(self, field) for field in SETTINGS if field != unused}


# The data-deciding fields of a SquigglesConfig, in the order they are reported.
SETTINGS = (
    "family", "order", "width", "resolution", "seed", "train_size", "validation_size", "test_size",
)  # fmt: skip


def _everyday(name: str, family: str, resolution: int) -> SquigglesConfig:
    return SquigglesConfig(name=name, family=family, resolution=resolution)


def _paper(name: str, family: str) -> SquigglesConfig:
    return SquigglesConfig(
        name=name,
        family=family,
        train_size=PAPER_TRAIN_SIZE,
        validation_size=PAPER_TEST_SIZE,
        test_size=PAPER_TEST_SIZE,
        chunk_size=10_000,
    )


CONFIGS: dict[str, SquigglesConfig] = {
    config.name: config
    for config in [
        _everyday("taylor", "taylor", 60),
        _everyday("sine_net", "sine_net", 60),
        _everyday("taylor_120", "taylor", 120),
        _everyday("sine_net_120", "sine_net", 120),
        _paper("taylor_paper", "taylor"),
        _paper("sine_net_paper", "sine_net"),
    ]
}
DEFAULT_CONFIG_NAME = "taylor"
