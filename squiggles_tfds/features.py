"""The features of one example. The class names and the conversion between stored
uint8 images and float images live in `squiggles` (no TensorFlow) and are
re-exported here."""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

import squiggles
from squiggles.labels import CLASS_NAMES
from squiggles.quantization import dequantize, quantize

__all__ = ["CLASS_NAMES", "dequantize", "features", "quantize"]


def features(
    family: squiggles.Family, resolution: int, *, points: bool = True
) -> tfds.features.FeaturesDict:
    """The features of a `squiggles` example; `points=False` leaves out the curve
    points (`squiggles_c`, whose points are those of `squiggles` and recomputable
    from the latent)."""
    curve = (
        {"points": tfds.features.Tensor(shape=(squiggles.NUM_POINTS, 2), dtype=np.float32)}
        if points
        else {}
    )
    return tfds.features.FeaturesDict(
        {
            "image": tfds.features.Image(
                shape=(resolution, resolution, 1), dtype=np.uint8, encoding_format="png"
            ),
            **curve,
            "latent": tfds.features.Tensor(shape=family.latent_shape, dtype=np.float32),
            "label": tfds.features.ClassLabel(names=list(CLASS_NAMES)),
            "index": tfds.features.Scalar(dtype=np.int64),
        }
    )
