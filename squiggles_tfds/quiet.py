"""Loading TensorFlow without its known-harmless start-up lines.

The filters themselves are `squiggles.quiet` (TensorFlow-free, so the JAX path can
use them); this module loads TensorFlow through them, and re-exports them for the
callers that find them here. It adds one filter of its own, on TFDS's warning that a
config of ours is custom.

What no code of ours can quiet: the `tfds` command loads TensorFlow, and TensorFlow
probes for GPUs (`failed call to cuInit` without CUDA), before it loads our builder;
and it prints the whole DatasetInfo after each build (docs/dataset.md).
"""

from __future__ import annotations

import logging
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
    "install_tfds_filters",
    "load_tensorflow",
    "quiet_tensorflow_start",
]


class OwnCustomConfigFilter(logging.Filter):
    """Drops TFDS's "Using custom data configuration: <config>" warning for configs of
    ours: every config made from JSON (`tfds build squiggles --imports squiggles_tfds
    --config '{...}'`, the documented way) or read back from a build is "custom" to
    TFDS, and the next lines name it again. Other datasets' custom configs still warn."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("Using custom data configuration"):
            return True
        args = record.args if isinstance(record.args, tuple) else ()
        return not any(type(arg).__module__.startswith("squiggles_tfds") for arg in args)


def install_tfds_filters() -> None:
    """Installs OwnCustomConfigFilter on absl's logger, which TFDS logs through (once)."""
    if os.environ.get(SHOW_ALL):
        return
    absl_logger = logging.getLogger("absl")
    if not any(isinstance(f, OwnCustomConfigFilter) for f in absl_logger.filters):
        absl_logger.addFilter(OwnCustomConfigFilter())


def quiet_tensorflow_start() -> None:
    """Loads TensorFlow and lists its devices with the harmless start-up lines
    dropped, and installs the log filters. Safe to call more than once; when
    TensorFlow is already loaded only its device listing can still be filtered."""
    install_log_filters()
    install_tfds_filters()
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
