"""Squiggles-C: corruptions of Squiggles images after ImageNet-C (Hendrycks &
Dietterich, 2019), for measuring corruption robustness beside adversarial
robustness (Ford et al., 2019, Section 6).

    from squiggles import corruptions
    noisy = corruptions.corrupt(images, "gaussian_noise", 3, jax.random.key(0))

Images are floats in [0, 1] of shape (..., R, R), any R. Every corruption has five
severities (`severities.TABLE`, documented in docs/corruptions.md); 0 is the clean
image. An image's corruption depends only on the image, its key and the severity,
bitwise, whatever batch it is in (`filters`: no step orders its additions by the
batch's shape). `corrupted_examples` makes the corrupted test examples of a stream, the
same ones the TFDS dataset `squiggles_c` stores.
"""

from squiggles.corruptions.apply import NEEDS_POINTS, ON_HOST, corrupt
from squiggles.corruptions.examples import corrupt_examples, corrupted_examples, corruption_keys
from squiggles.corruptions.severities import (
    CATEGORIES,
    CORRUPTIONS,
    LEFT_OUT,
    SEVERITIES,
    TABLE,
    check_corruption,
    check_severity,
)

__all__ = [
    "CATEGORIES",
    "CORRUPTIONS",
    "LEFT_OUT",
    "NEEDS_POINTS",
    "ON_HOST",
    "SEVERITIES",
    "TABLE",
    "check_corruption",
    "check_severity",
    "corrupt",
    "corrupt_examples",
    "corrupted_examples",
    "corruption_keys",
]
