"""TFDS dataset `squiggles_c` (Squiggles-C). Importing `squiggles_tfds` registers it:

import squiggles_tfds, tensorflow_datasets as tfds
ds = tfds.load("squiggles_c/gaussian_noise_3", split="test")
"""

from squiggles_tfds.squiggles_c.configs import CONFIGS, SquigglesCConfig
from squiggles_tfds.squiggles_c.squiggles_c_dataset_builder import Builder

__all__ = ["Builder", "CONFIGS", "SquigglesCConfig"]
