"""The TFDS dataset `squiggles`: images of random planar curves, labelled by
whether the curve crosses itself (see README.md beside this file)."""

from __future__ import annotations

import pathlib

import tensorflow_datasets as tfds
from tensorflow_datasets.core import dataset_metadata

from squiggles.splits import SPLIT_STREAMS
from squiggles.storage import ensure_writable_dir
from squiggles_tfds import build_settings, configs, generation, interrupted_builds, quiet
from squiggles_tfds.features import features

_HERE = pathlib.Path(__file__).parent


class Builder(tfds.core.GeneratorBasedBuilder):
    """DatasetBuilder for `squiggles`; `tfds build squiggles --config NAME`."""

    name = "squiggles"
    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {
        "1.0.0": "First release.",
        "1.1.0": "SineNet sums its terms in a fixed pairwise order, so points are the same "
        "for every batch size on every CPU (last-bit changes from 1.0.0); builds store "
        "their settings in metadata.json.",
    }
    # `tfds build` builds every config in BUILDER_CONFIGS when none is named, which
    # would include the 66-million-example paper configs; so it lists only the
    # default, and `builder_configs` (which TFDS resolves names with) lists all.
    BUILDER_CONFIGS = [configs.CONFIGS[configs.DEFAULT_CONFIG_NAME]]
    DEFAULT_BUILDER_CONFIG_NAME = configs.DEFAULT_CONFIG_NAME

    @tfds.core.utils.classproperty
    @classmethod
    def builder_configs(cls) -> dict[str, configs.SquigglesConfig]:
        return dict(configs.CONFIGS)

    def __init__(self, **kwargs):
        # Every use of a builder needs TensorFlow: load it (and let it look for
        # GPUs) now, with its known-harmless start-up lines kept off the console.
        quiet.quiet_tensorflow_start()
        super().__init__(**kwargs)
        # A build of this config name already there must have this config's
        # settings: TFDS would otherwise reuse (or read) the old data silently.
        if self.data_path.exists():
            build_settings.check_same_settings(self.builder_config, self.data_path)

    @classmethod
    def get_metadata(cls) -> dataset_metadata.DatasetMetadata:
        # Read README.md, CITATIONS.bib and TAGS.txt from this folder, also for
        # subclasses defined elsewhere (the `squiggles/` shim for `tfds build`).
        return dataset_metadata.load(_HERE)

    def _create_builder_config(self, builder_config, version):
        if isinstance(builder_config, str) and builder_config.split(":")[0] not in configs.CONFIGS:
            raise ValueError(
                f"unknown squiggles config {builder_config!r}; expected one of "
                f"{sorted(configs.CONFIGS)}, or a custom SquigglesConfig (JSON for tfds build)"
            )
        return super()._create_builder_config(builder_config, version)

    def _info(self) -> tfds.core.DatasetInfo:
        config = self.builder_config
        return self.dataset_info_from_configs(
            features=features(config.make_family(), config.resolution),
            supervised_keys=("image", "label"),
            homepage="https://arxiv.org/abs/2204.11985",
            # Stored as metadata.json with the build; see build_settings.
            metadata=tfds.core.MetadataDict(**config.settings(), split_streams=SPLIT_STREAMS),
        )

    def download_and_prepare(self, *args, **kwargs):
        ensure_writable_dir(
            self.data_dir_root, "the squiggles dataset (pass a writable --data_dir or data_dir=...)"
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

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        config = self.builder_config
        make = (
            generation.beam_generate_examples
            if getattr(self, "_use_beam", False)
            else generation.generate_examples
        )
        return {
            split: make(config, SPLIT_STREAMS[split], size)
            for split, size in config.split_sizes().items()
            if size > 0
        }

    def _generate_examples(self, **kwargs):
        raise NotImplementedError("examples are made by squiggles_tfds.generation")
