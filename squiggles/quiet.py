"""Keeping known-harmless start-up lines of TensorFlow, JAX and Beam off the console.

On a machine without a GPU, loading TensorFlow prints lines such as `Could not find
cuda drivers` and `failed call to cuInit: ... UNKNOWN ERROR (303)` from C++ (absl
logging before it is initialised, which TF_CPP_MIN_LOG_LEVEL does not reach); JAX
logs `Unable to initialize backend 'tpu'` (INFO, shown by `tfds build`); importing
Beam logs `apitools not found` (a warning about BigQuery clients nobody here uses).
None of them is a problem, and a new user reads them as errors.

The C++ lines are written straight to file descriptor 2, so TensorFlow is loaded
(and its devices listed, which is when cuInit runs) with descriptor 2 sent to a
temporary file; afterwards every line not in the known list below goes to stderr.
The cuInit failure is dropped only when there is no CUDA driver (TensorFlow said
so, or libcuda.so.1 cannot be loaded), so a broken driver is still reported. The
Python log lines are dropped by logging filters matching their exact text. Nothing else is
hidden, and log levels are left as they are. Set SQUIGGLES_SHOW_ALL_LOGS=1 to see
every line.

This module loads nothing (no TensorFlow), so that code on the JAX path can filter
stderr too (`experiments.training.restore` around orbax's reads); `squiggles_tfds.quiet`
loads TensorFlow through it.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Sequence

# Set to any value to see every line again.
SHOW_ALL = "SQUIGGLES_SHOW_ALL_LOGS"
NO_DRIVER = re.compile(r"cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine")
# C++ start-up lines that say nothing the user must act on.
HARMLESS_LINES = [
    re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\) is called"),
    NO_DRIVER,
    re.compile(r"cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized"),
    re.compile(r"^To enable the following instructions: .* rebuild TensorFlow"),
    # Printed where the CPU has AVX-512 (VNNI, BF16) or AMX: oneDNN kernels are on.
    re.compile(r"port\.cc:\d+\] oneDNN custom operations are on\. You may see slightly"),
    # TFDS reads TFRecords with a larger buffer than TensorFlow's default.
    re.compile(
        r"tf_record_dataset_op\.cc:\d+\] The default buffer size is \d+, which is overridden"
    ),
    re.compile(r"tf_record_dataset_op\.cc:\d+\] TFRecordDataset `buffer_size` is unspecified"),
]
# Harmless only where there is no CUDA driver at all.
NO_GPU_LINES = [re.compile(r"cuda_platform\.cc:\d+\] failed call to cuInit: ")]


@functools.cache
def cuda_driver_missing() -> bool:
    """True when the CUDA driver library cannot be loaded: no GPU can be used, so
    TensorFlow's failing cuInit says nothing new."""
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return True
    return False


def keep_lines(text: str, no_driver: bool | None = None) -> list[str]:
    """The lines of captured stderr to show: all but the known-harmless ones.
    `no_driver` (found out when None) says whether cuInit failures are harmless."""
    lines = text.splitlines(keepends=True)
    if no_driver is None:
        no_driver = any(NO_DRIVER.search(line) for line in lines) or cuda_driver_missing()
    harmless = HARMLESS_LINES + (NO_GPU_LINES if no_driver else [])
    return [line for line in lines if not any(p.search(line) for p in harmless)]


@contextlib.contextmanager
def filtered_stderr(drop_on_error: Sequence[re.Pattern] = ()) -> Iterator[None]:
    """Sends file descriptor 2 to a temporary file inside the block, then writes
    the lines worth showing to stderr (also when the block raises; then the lines
    matching `drop_on_error`, which only restate the error, are dropped too)."""
    failed = False
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = keep_lines(captured.read().decode(errors="replace"))
            if failed:
                kept = [line for line in kept if not any(p.search(line) for p in drop_on_error)]
            sys.stderr.writelines(kept)
            sys.stderr.flush()


class _DropMessages(logging.Filter):
    """Drops log records whose message starts with one of `prefixes` at or below
    `max_level`."""

    def __init__(self, prefixes: tuple[str, ...], max_level: int):
        super().__init__()
        self.prefixes, self.max_level = prefixes, max_level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > self.max_level:
            return True
        return not str(record.msg).startswith(self.prefixes)


def install_log_filters() -> None:
    """Drops the known-harmless Python log lines (cheap; loads nothing)."""
    if os.environ.get(SHOW_ALL):
        return
    # Beam logs it on the root logger when its BigQuery clients cannot be imported.
    root = logging.getLogger()
    if not any(isinstance(f, _DropMessages) for f in root.filters):
        root.addFilter(_DropMessages(("apitools not found",), logging.WARNING))
    # JAX probes every platform it knows; the failures it logs at INFO are expected.
    xla_bridge = logging.getLogger("jax._src.xla_bridge")
    if not any(isinstance(f, _DropMessages) for f in xla_bridge.filters):
        xla_bridge.addFilter(_DropMessages(("Unable to initialize backend",), logging.INFO))
