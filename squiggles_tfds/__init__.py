"""TFDS datasets `squiggles` and `squiggles_c` (its corrupted test splits). Importing
this package registers both:

import squiggles_tfds, tensorflow_datasets as tfds
ds = tfds.load("squiggles/sine_net", split="test")
ds_c = tfds.load("squiggles_c/gaussian_noise_3", split="test")
"""

# Before the libraries that log them load: drop known-harmless log lines. TensorFlow
# itself is loaded quietly where it is first needed (Builder, verify).
from squiggles_tfds import quiet  # isort: skip

quiet.install_log_filters()

# TFDS is an extra of the package: name it instead of "No module named ...".
from squiggles import tfds_extra  # noqa: E402

tfds_extra.require("squiggles_tfds")

# The shared constants live in `squiggles` (no TensorFlow); re-exported here.
from squiggles import CLASS_NAMES, SPLIT_STREAMS, dequantize, quantize  # noqa: E402
from squiggles_tfds.squiggles import CONFIGS, Builder, SquigglesConfig  # noqa: E402
from squiggles_tfds.squiggles_c import SquigglesCConfig  # noqa: E402

__all__ = [
    "Builder",
    "CLASS_NAMES",
    "CONFIGS",
    "SPLIT_STREAMS",
    "SquigglesCConfig",
    "SquigglesConfig",
    "dequantize",
    "quantize",
]
