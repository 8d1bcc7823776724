"""What the builders of the generated datasets `squiggles` and `squiggles_c` share:
the workings of a builder that do not depend on the dataset."""

from __future__ import annotations

import difflib
import pathlib
from typing import ClassVar

import tensorflow_datasets as tfds
from tensorflow_datasets.core import dataset_metadata

from squiggles.storage import ensure_writable_dir
from squiggles_tfds import build_settings, chunks, interrupted_builds, quiet

# Unknown config names: list every known one up to this many, else the closest.
_LISTED_CONFIGS = 10


class GeneratedBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """What the builders of generated datasets share: configs resolved from
    `ALL_CONFIGS`, stored settings checked, TensorFlow started quietly (and TFDS's
    warnings that say nothing about our builds left out), leftovers of
    killed builds removed, and Beam only when asked for. Subclasses define `_info`
    and `_split_generators` (with `_generate`)."""

    # Every predefined config by name; `BUILDER_CONFIGS` lists only those that
    # `tfds build` makes when no config is named.
    ALL_CONFIGS: ClassVar[dict[str, tfds.core.BuilderConfig]] = {}
    # The dataset's folder: README.md, CITATIONS.bib and TAGS.txt.
    METADATA_DIR: ClassVar[pathlib.Path]

    @tfds.core.utils.classproperty
    @classmethod
    def builder_configs(cls) -> dict[str, tfds.core.BuilderConfig]:
        return dict(cls.ALL_CONFIGS)

    def __init__(self, **kwargs):
        # Every use of a builder needs TensorFlow: load it (and let it look for
        # GPUs) now, with its known-harmless start-up lines kept off the console.
        quiet.quiet_tensorflow_start()
        super().__init__(**kwargs)
        # A build of this config name already there must have this config's
        # settings: TFDS would otherwise reuse (or read) the old data silently.
        if self.data_path.exists():
            build_settings.check_same_settings(self.builder_config, self.data_path, self.name)

    def is_prepared(self) -> bool:
        # Asked before every `tfds build`; TFDS would warn "Variant folder ... has no
        # dataset_info.json" about a build that is simply not there yet.
        return self.data_path.exists() and super().is_prepared()

    @classmethod
    def get_metadata(cls) -> dataset_metadata.DatasetMetadata:
        # Read README.md, CITATIONS.bib and TAGS.txt from the dataset's folder, also
        # for subclasses defined elsewhere (e.g. benchmarks/tfds_build_throughput.py).
        return dataset_metadata.load(cls.METADATA_DIR)

    def _create_builder_config(self, builder_config, version):
        if isinstance(builder_config, str) and builder_config.split(":")[0] not in self.ALL_CONFIGS:
            raise ValueError(self.unknown_config_message(builder_config.split(":")[0]))
        return super()._create_builder_config(builder_config, version)

    @classmethod
    def unknown_config_message(cls, name: str) -> str:
        names = sorted(cls.ALL_CONFIGS)
        if len(names) <= _LISTED_CONFIGS:
            expected = f"one of {names}"
        else:
            close = difflib.get_close_matches(name, names, n=5) or names[:5]
            expected = f"one of {len(names)} names such as {close}"
        config_class = type(next(iter(cls.ALL_CONFIGS.values()))).__name__
        return (
            f"unknown {cls.name} config {name!r}; expected {expected}, "
            f"or a custom {config_class} (JSON for tfds build)"
        )

    def download_and_prepare(self, *args, **kwargs):
        ensure_writable_dir(
            self.data_dir_root,
            f"the {self.name} dataset (pass a writable --data_dir or data_dir=...)",
        )
        result = super().download_and_prepare(*args, **kwargs)
        interrupted_builds.remove_leftovers(self.data_path)
        return result

    def _download_and_prepare(self, dl_manager, download_config):
        # TFDS runs this with data_path set to its `incomplete.*` directory.
        interrupted_builds.claim(self.data_path)
        # Beam only when the user asked for it (--beam_pipeline_options or a
        # runner); otherwise a plain generator, which has no pipeline overhead.
        self._use_beam = bool(download_config.beam_runner or download_config.beam_options)
        result = super()._download_and_prepare(dl_manager, download_config)
        interrupted_builds.release(self.data_path)
        return result

    def _generate(self, stream: int, size: int, make: chunks.MakeChunk):
        """The examples of one split, made by `make` (the dataset's `make_chunk`)
        chunk by chunk: a Beam PTransform when Beam was asked for, else a generator."""
        generate = (
            chunks.beam_generate_examples
            if getattr(self, "_use_beam", False)
            else chunks.generate_examples
        )
        return generate(self.builder_config, stream, size, make)

    def _generate_examples(self, **kwargs):
        raise NotImplementedError("examples are made by squiggles_tfds.chunks")
