"""Loading TensorFlow without its known-harmless start-up lines.

The filters themselves are `squiggles.quiet` (TensorFlow-free, so the JAX path can
use them); this module loads TensorFlow through them, and re-exports them for the
callers that find them here.
"""

from __future__ import annotations

import os

from squiggles.quiet import (
    HARMLESS_LINES,
    NO_DRIVER,
    NO_GPU_LINES,
    SHOW_ALL,
    cuda_driver_missing,
    filtered_stderr,
    install_log_filters,
    keep_lines,
)

__all__ = [
    "HARMLESS_LINES",
    "NO_DRIVER",
    "NO_GPU_LINES",
    "SHOW_ALL",
    "cuda_driver_missing",
    "filtered_stderr",
    "install_log_filters",
    "keep_lines",
    "load_tensorflow",
    "quiet_tensorflow_start",
]


def quiet_tensorflow_start() -> None:
    """Loads TensorFlow and lists its devices with the harmless start-up lines
    dropped, and installs the log filters. Safe to call more than once; when
    TensorFlow is already loaded only its device listing can still be filtered."""
    install_log_filters()
    if os.environ.get(SHOW_ALL):
        return
    with filtered_stderr():
        import tensorflow as tf

        tf.config.list_physical_devices()


def load_tensorflow():
    """`import tensorflow` through quiet_tensorflow_start; returns the module."""
    quiet_tensorflow_start()
    import tensorflow as tf

    return tf
