"""The TFDS dataset `squiggles`: images of random planar curves, labelled by
whether the curve crosses itself (see README.md beside this file). The workings it
shares with `squiggles_c` are `squiggles_tfds.generated_builder.GeneratedBuilder`."""

from __future__ import annotations

import pathlib

import tensorflow_datasets as tfds

from squiggles.splits import SPLIT_STREAMS  # the core package, not this folder
from squiggles_tfds.features import features
from squiggles_tfds.generated_builder import GeneratedBuilder
from squiggles_tfds.squiggles import configs, generation

_HERE = pathlib.Path(__file__).parent


class Builder(GeneratedBuilder):
    """DatasetBuilder for `squiggles`; `tfds build squiggles --imports squiggles_tfds
    --config NAME`."""

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
    ALL_CONFIGS = configs.CONFIGS
    BUILDER_CONFIGS = [configs.CONFIGS[configs.DEFAULT_CONFIG_NAME]]
    DEFAULT_BUILDER_CONFIG_NAME = configs.DEFAULT_CONFIG_NAME
    METADATA_DIR = _HERE

    def _info(self) -> tfds.core.DatasetInfo:
        config = self.builder_config
        return self.dataset_info_from_configs(
            features=features(config.make_family(), config.resolution),
            supervised_keys=("image", "label"),
            homepage="https://arxiv.org/abs/2204.11985",
            # Stored as metadata.json with the build; see build_settings.
            metadata=tfds.core.MetadataDict(**config.settings(), split_streams=SPLIT_STREAMS),
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        return {
            split: self._generate(SPLIT_STREAMS[split], size, generation.make_chunk)
            for split, size in self.builder_config.split_sizes().items()
            if size > 0
        }
