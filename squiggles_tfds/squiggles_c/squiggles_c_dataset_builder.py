"""The TFDS dataset `squiggles_c` (Squiggles-C): the test split of a `squiggles`
config under one corruption at one severity, like `cifar10_corrupted` (see
README.md beside this file)."""

from __future__ import annotations

import pathlib

import tensorflow_datasets as tfds

from squiggles.splits import TEST_STREAM
from squiggles_tfds.features import features
from squiggles_tfds.generated_builder import GeneratedBuilder
from squiggles_tfds.squiggles_c import configs, generation

_HERE = pathlib.Path(__file__).parent


class Builder(GeneratedBuilder):
    """DatasetBuilder for `squiggles_c`; `tfds build squiggles_c --imports squiggles_tfds
    --config NAME`."""

    name = "squiggles_c"
    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {
        "1.0.0": "First release.",
        "1.1.0": "Every corruption adds its terms in a fixed order per image (no matrix "
        "product, FFT or batch-shaped reduction), so an example no longer depends on how a "
        "build is cut into chunks. Some pixels change by one level from 1.0.0: on the first "
        "200 test examples at severities 1 and 5, 0.17 % of pixelate 5's, 0.03 % of "
        "pixelate 1's, 0.008 % of defocus blur 1's, one pixel or none of the other blurs' "
        "and none of the rest.",
    }
    # `tfds build` builds every config in BUILDER_CONFIGS when none is named: only
    # the default, not all 85; `builder_configs` (which TFDS resolves names with)
    # lists all of them.
    ALL_CONFIGS = configs.CONFIGS
    BUILDER_CONFIGS = [configs.CONFIGS[configs.DEFAULT_CONFIG_NAME]]
    DEFAULT_BUILDER_CONFIG_NAME = configs.DEFAULT_CONFIG_NAME
    METADATA_DIR = _HERE

    def _create_builder_config(self, builder_config, version):
        # A custom config with a predefined config's settings (and so its derived
        # name) is that config, not a clash of names.
        if isinstance(builder_config, configs.SquigglesCConfig):
            predefined = configs.CONFIGS.get(builder_config.name)
            if predefined is not None and predefined.settings() == builder_config.settings():
                builder_config = predefined
        return super()._create_builder_config(builder_config, version)

    def _info(self) -> tfds.core.DatasetInfo:
        config = self.builder_config
        base = config.base_config
        return self.dataset_info_from_configs(
            features=features(base.make_family(), base.resolution, points=False),
            supervised_keys=("image", "label"),
            homepage="https://arxiv.org/abs/2204.11985",
            # Stored as metadata.json with the build; see build_settings.
            metadata=tfds.core.MetadataDict(**config.settings(), stream=TEST_STREAM),
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        return {
            "test": self._generate(
                TEST_STREAM, self.builder_config.test_size, generation.make_chunk
            )
        }
