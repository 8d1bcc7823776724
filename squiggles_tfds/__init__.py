"""TFDS dataset `squiggles`. Importing this package registers it:

import squiggles_tfds, tensorflow_datasets as tfds
ds = tfds.load("squiggles/sine_net", split="test")
"""

from squiggles_tfds.configs import CONFIGS, SPLIT_STREAMS, SquigglesConfig
from squiggles_tfds.features import CLASS_NAMES, dequantize, quantize
from squiggles_tfds.squiggles_dataset_builder import Builder

__all__ = [
    "Builder",
    "CLASS_NAMES",
    "CONFIGS",
    "SPLIT_STREAMS",
    "SquigglesConfig",
    "dequantize",
    "quantize",
]
