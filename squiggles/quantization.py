"""Stored uint8 images and the float images that `squiggles.render` produces.

The dataset stores round(255 · intensity); training on stored data and analyses that
recreate it must convert the same way, so both directions live here (NumPy only).
"""

from __future__ import annotations

import numpy as np


def quantize(images: np.ndarray) -> np.ndarray:
    """Float images (..., R, R) in [0, 1] to the stored uint8 (..., R, R, 1):
    round(255 · intensity), halves to even (NumPy's rounding)."""
    return np.round(255 * np.asarray(images, np.float32))[..., None].astype(np.uint8)


def dequantize(images: np.ndarray) -> np.ndarray:
    """Stored uint8 images (..., R, R, 1) back to float32 (..., R, R) in [0, 1].
    Within 1/510 of the rendered intensity."""
    return np.asarray(images, np.float32)[..., 0] / 255
