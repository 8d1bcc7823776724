"""The features of one example, and the conversion between stored uint8 images and
the float images that `squiggles.render` produces."""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

import squiggles

CLASS_NAMES = ["simple", "intersecting"]


def features(family: squiggles.Family, resolution: int) -> tfds.features.FeaturesDict:
    return tfds.features.FeaturesDict(
        {
            "image": tfds.features.Image(
                shape=(resolution, resolution, 1), dtype=np.uint8, encoding_format="png"
            ),
            "points": tfds.features.Tensor(shape=(squiggles.NUM_POINTS, 2), dtype=np.float32),
            "latent": tfds.features.Tensor(shape=family.latent_shape, dtype=np.float32),
            "label": tfds.features.ClassLabel(names=CLASS_NAMES),
            "index": tfds.features.Scalar(dtype=np.int64),
        }
    )


def quantize(images: np.ndarray) -> np.ndarray:
    """Float images (..., R, R) in [0, 1] to the stored uint8 (..., R, R, 1):
    round(255 · intensity), halves to even (NumPy's rounding)."""
    return np.round(255 * np.asarray(images, np.float32))[..., None].astype(np.uint8)


def dequantize(images: np.ndarray) -> np.ndarray:
    """Stored uint8 images (..., R, R, 1) back to float32 (..., R, R) in [0, 1].
    Within 1/510 of the rendered intensity."""
    return np.asarray(images, np.float32)[..., 0] / 255
