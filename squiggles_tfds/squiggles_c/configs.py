"""Builder configs of `squiggles_c`: the test split of a `squiggles` config under one
corruption at one severity.

Configs are validated when made, so a bad custom config (from Python or from
`tfds build squiggles_c --imports squiggles_tfds --config '{...}'`) fails before any
file is written.
"""

from __future__ import annotations

import dataclasses

import tensorflow_datasets as tfds

from squiggles import corruptions
from squiggles.corruptions.apply import MIN_RESOLUTION
from squiggles.corruptions.severities import value
from squiggles_tfds.squiggles import configs as squiggles_configs
from squiggles_tfds.squiggles.configs import SquigglesConfig

DEFAULT_BASE = "taylor"  # the base of the predefined configs
# Settings of the base that do not decide a Squiggles-C build: it holds only the
# test split, of its own size.
_UNUSED_BASE_SETTINGS = ("train_size", "validation_size", "test_size")


def _check_base(base: object) -> str | SquigglesConfig:
    """A registered `squiggles` config name, or a SquigglesConfig (a dict of its fields,
    from JSON, is made into one); a SquigglesConfig with a registered config's name
    and settings becomes that name."""
    if isinstance(base, dict):
        base = SquigglesConfig(**base)
    if isinstance(base, str):
        if base not in squiggles_configs.CONFIGS:
            raise ValueError(
                f"unknown squiggles config {base!r} for base; expected one of "
                f"{sorted(squiggles_configs.CONFIGS)}, or a SquigglesConfig"
            )
        return base
    if not isinstance(base, SquigglesConfig):
        raise ValueError(
            f"base must be the name of a squiggles config or a SquigglesConfig, got {base!r}"
        )
    registered = squiggles_configs.CONFIGS.get(base.name)
    if registered is not None:
        if registered.settings() != base.settings():
            raise ValueError(
                f"a custom base must not be named like the squiggles config {base.name!r} "
                "(omit `name` to derive one from its settings)"
            )
        return base.name
    return base


def _check_severity(severity: object) -> int:
    """An integer 1-5 (`corruptions.check_severity` also allows 0, the clean image)."""
    try:
        checked = corruptions.check_severity(severity)
    except ValueError:
        checked = None
    if checked not in corruptions.SEVERITIES:
        clean = " (severity 0, the clean images, is squiggles' test split)" if checked == 0 else ""
        raise ValueError(f"severity must be an integer from 1 to 5, got {severity!r}{clean}")
    return checked


@dataclasses.dataclass(eq=False)
class SquigglesCConfig(tfds.core.BuilderConfig):
    """The test split of `base` under `corruption` at `severity`. Omit `name` to get
    one derived from the settings: `{corruption}_{severity}` for the whole test split
    of `taylor`, else prefixed with the base's name and suffixed with `test_size`
    where it differs from the base's."""

    name: str = ""
    base: str | SquigglesConfig = DEFAULT_BASE  # a squiggles config, or its name
    corruption: str = corruptions.CORRUPTIONS[0]
    severity: int = corruptions.SEVERITIES[0]
    test_size: int | None = None  # None: the base's; may be smaller, not larger

    def __post_init__(self) -> None:
        self.base = _check_base(self.base)
        self.corruption = corruptions.check_corruption(self.corruption)
        self.severity = _check_severity(self.severity)
        base = self.base_config
        if base.resolution < MIN_RESOLUTION:
            raise ValueError(
                f"squiggles_c needs a base resolution >= {MIN_RESOLUTION}, got {base.resolution}"
            )
        if self.test_size is None:
            self.test_size = base.test_size
        squiggles_configs._check_count("test_size", self.test_size, 1)
        if self.test_size > base.test_size:
            raise ValueError(
                f"test_size must be at most the base's test_size ({base.test_size:,}), got "
                f"{self.test_size:,}: Squiggles-C corrupts the base's test split"
            )
        if not self.name:
            self.name = self.derived_name()
        if not self.description:
            self.description = (
                f"{self.corruption} at severity {self.severity} "
                f"({corruptions.TABLE[self.corruption].parameter}: {self.parameter_value()}) "
                f"of the test split of squiggles/{base.name}: {self.test_size:,} examples."
            )

    @property
    def base_config(self) -> SquigglesConfig:
        if isinstance(self.base, str):
            return squiggles_configs.CONFIGS[self.base]
        return self.base

    @property
    def chunk_size(self) -> int:
        """Examples per unit of work: the base's."""
        return self.base_config.chunk_size

    def derived_name(self) -> str:
        base = self.base_config
        name = f"{self.corruption}_{self.severity}"
        if base.name != DEFAULT_BASE:
            name = f"{base.name}_{name}"
        if self.test_size != base.test_size:
            name = f"{name}_{self.test_size}"
        return name

    def parameter_value(self) -> object:
        """The corruption's parameter at this severity, as applied at the base's
        resolution (spatial ones scale with it; see docs/corruptions.md)."""
        applied = value(self.corruption, self.severity, self.base_config.resolution)
        return list(applied) if isinstance(applied, tuple) else applied  # as JSON stores it

    def settings(self) -> dict[str, object]:
        """The fields that decide the data, stored with every build so that a config
        name reused with other settings is refused: the base's (less its split
        sizes), the size, the corruption, its severity and its parameter."""
        base = self.base_config
        return {
            "base": base.name,
            **{k: v for k, v in base.settings().items() if k not in _UNUSED_BASE_SETTINGS},
            "test_size": self.test_size,
            "corruption": self.corruption,
            "severity": self.severity,
            "parameter": corruptions.TABLE[self.corruption].parameter,
            "parameter_value": self.parameter_value(),
        }


def _predefined(corruption: str, severity: int) -> SquigglesCConfig:
    return SquigglesCConfig(corruption=corruption, severity=severity)


# Like cifar10_corrupted: the whole test split of `taylor`, one config per
# corruption and severity, `{corruption}_{severity}`.
CONFIGS: dict[str, SquigglesCConfig] = {
    config.name: config
    for config in (
        _predefined(corruption, severity)
        for corruption in corruptions.CORRUPTIONS
        for severity in corruptions.SEVERITIES
    )
}
DEFAULT_CONFIG_NAME = f"{corruptions.CORRUPTIONS[0]}_{corruptions.SEVERITIES[0]}"
