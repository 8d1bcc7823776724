"""The settings stored with a build, and the checks that use them.

TFDS finds a build by dataset, config name and version only, so a custom config
name reused with other settings would silently reuse the old data. Every build
stores its config's settings (`SquigglesConfig.settings()`, or
`SquigglesCConfig.settings()` for `squiggles_c`) in `metadata.json` beside
`dataset_info.json`; a builder whose settings differ from the stored ones is
refused, and a build can be read back with the config it was made with.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Protocol

from etils import epath

from squiggles_tfds.squiggles.configs import SETTINGS, SquigglesConfig

METADATA_FILE = "metadata.json"


class HasSettings(Protocol):
    """A builder config that reports the fields that decide its data."""

    name: str

    def settings(self) -> dict[str, object]: ...


class DamagedMetadata(ValueError):
    """A build whose metadata.json cannot be read (a full disk, a killed copy): named,
    never a bare JSON parser message."""


def _damaged(problem: str, dataset_dir: epath.PathLike) -> str:
    return f"{problem}: the build is damaged; delete {dataset_dir} and build it again"


def stored_settings(
    dataset_dir: epath.PathLike, fields: Iterable[str] = SETTINGS
) -> dict[str, object]:
    """The data-deciding settings (`fields`, by default those of a `squiggles` build)
    stored in a build's `metadata.json` (empty when the build has none: made before
    settings were stored)."""
    path = epath.Path(dataset_dir) / METADATA_FILE
    if not path.exists():
        return {}
    try:
        metadata = json.loads(path.read_text())
    except ValueError as error:  # not JSON, or not UTF-8
        raise DamagedMetadata(
            _damaged(f"{path} is not valid JSON ({error})", dataset_dir)
        ) from None
    if not isinstance(metadata, dict):
        raise DamagedMetadata(_damaged(f"{path} holds no JSON object", dataset_dir))
    return {field: metadata[field] for field in fields if field in metadata}


def setting_differences(stored: Mapping[str, object], new: Mapping[str, object]) -> list[str]:
    """'field: stored X, new Y' for each setting of `new` that the build stored
    with another value. Settings the build did not store cannot be compared."""
    return [
        f"{field}: stored {stored[field]!r}, new {value!r}"
        for field, value in new.items()
        if field in stored and stored[field] != value
    ]


def check_same_settings(
    config: HasSettings, dataset_dir: epath.PathLike, dataset: str = "squiggles"
) -> None:
    """Raises ValueError naming the differing fields when `dataset_dir` holds a build
    of `config.name` (of `dataset`) made with other settings (only `chunk_size` may
    differ)."""
    settings = config.settings()
    differences = setting_differences(stored_settings(dataset_dir, settings), settings)
    if differences:
        raise ValueError(
            f"{dataset} config {config.name!r} is already built in {dataset_dir} with other "
            f"settings ({'; '.join(differences)}). Give the new settings another name (or "
            "omit `name` to derive one from them), or delete that directory to rebuild."
        )


def config_from_build(name: str, dataset_dir: epath.PathLike) -> SquigglesConfig:
    """The SquigglesConfig a custom config named `name` was built with, from its
    stored settings; ValueError when the build stored none."""
    settings = stored_settings(dataset_dir)
    missing = [field for field in ("family", "resolution", "seed") if field not in settings]
    if missing:
        raise ValueError(
            f"the build of squiggles/{name} in {dataset_dir} does not store its settings "
            f"({', '.join(missing)} missing from {METADATA_FILE}): it predates stored "
            "settings; rebuild it"
        )
    return SquigglesConfig(name=name, **settings)
