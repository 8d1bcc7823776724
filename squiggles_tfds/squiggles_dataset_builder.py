"""The TFDS dataset `squiggles`: images of random planar curves, labelled by
whether the curve crosses itself (see README.md beside this file)."""

from __future__ import annotations

import pathlib

import tensorflow_datasets as tfds
from tensorflow_datasets.core import dataset_metadata

from squiggles_tfds import configs, generation
from squiggles_tfds.features import features
from squiggles_tfds.storage import ensure_writable_dir

_HERE = pathlib.Path(__file__).parent


class Builder(tfds.core.GeneratorBasedBuilder):
    """DatasetBuilder for `squiggles`; `tfds build squiggles --config NAME`."""

    name = "squiggles"
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    # `tfds build` builds every config in BUILDER_CONFIGS when none is named, which
    # would include the 66-million-example paper configs; so it lists only the
    # default, and `builder_configs` (which TFDS resolves names with) lists all.
    BUILDER_CONFIGS = [configs.CONFIGS[configs.DEFAULT_CONFIG_NAME]]
    DEFAULT_BUILDER_CONFIG_NAME = configs.DEFAULT_CONFIG_NAME

    @tfds.core.utils.classproperty
    @classmethod
    def builder_configs(cls) -> dict[str, configs.SquigglesConfig]:
        return dict(configs.CONFIGS)

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
            metadata=tfds.core.MetadataDict(
                family=config.family,
                order=config.order,
                width=config.width,
                resolution=config.resolution,
                seed=config.seed,
                split_streams=configs.SPLIT_STREAMS,
            ),
        )

    def download_and_prepare(self, *args, **kwargs):
        ensure_writable_dir(
            self.data_dir_root, "the squiggles dataset (pass a writable --data_dir or data_dir=...)"
        )
        return super().download_and_prepare(*args, **kwargs)

    def _download_and_prepare(self, dl_manager, download_config):
        # Beam only when the user asked for it (--beam_pipeline_options or a
        # runner); otherwise a plain generator, which has no pipeline overhead.
        self._use_beam = bool(download_config.beam_runner or download_config.beam_options)
        return super()._download_and_prepare(dl_manager, download_config)

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        config = self.builder_config
        make = (
            generation.beam_generate_examples
            if getattr(self, "_use_beam", False)
            else generation.generate_examples
        )
        return {
            split: make(config, configs.SPLIT_STREAMS[split], size)
            for split, size in config.split_sizes().items()
            if size > 0
        }

    def _generate_examples(self, **kwargs):
        raise NotImplementedError("examples are made by squiggles_tfds.generation")
