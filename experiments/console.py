"""What the experiments binaries show on the console: progress, results and real warnings.

Libraries log a great deal at INFO through absl and Python logging: orbax about 50 lines
per checkpoint, optax about constant schedules, JAX about the platforms it probes (`Unable
to initialize backend 'tpu'` on every machine without one). A user cannot tell those from
a problem. `setup()` keeps INFO lines of this project's packages only, and warnings and
errors of everyone. TensorFlow's C++ start-up lines (`failed call to cuInit` without a
GPU) are handled where TensorFlow is loaded, by `squiggles_tfds.quiet`.

Our INFO lines (training's progress, validation and checkpoints) reach the console as bare
lines, like what the other binaries print. absl's prefix (level, time, thread, file:line)
stays on warnings, and on every line of a log file if absl is asked to write one
(`use_absl_log_file`); --showprefixforinfo puts it back on the console.

Set SQUIGGLES_SHOW_ALL_LOGS=1, or pass --verbosity=1, to see every library's lines again,
with their prefixes.

`Progress` is the one rate-and-ETA of every long job: training steps, analysis chunks and
the Squiggles-C evaluation (a chunked run).
"""

from __future__ import annotations

import datetime
import logging
import os
import pathlib
import time

from absl import flags
from absl import logging as absl_logging

SHOW_ALL = "SQUIGGLES_SHOW_ALL_LOGS"
OUR_PACKAGES = ("experiments", "squiggles", "squiggles_tfds")
# Warnings that say nothing a user of this project can act on, by their first words:
# Beam's about BigQuery clients; orbax's about the read-only checkpoint managers with
# which evaluation and attacks restore, so as to never write into a training run.
HARMLESS_WARNINGS = ("apitools not found", "Given directory is read only")


def _package_dirs() -> tuple[str, ...]:
    root = pathlib.Path(__file__).resolve().parents[1]
    return tuple(str(root / name) + os.sep for name in OUR_PACKAGES)


class ProjectLinesFilter(logging.Filter):
    """Passes warnings and errors, and INFO or DEBUG lines logged by our own packages.

    absl's logger names every record "absl", so a record is ours when the file that
    logged it lies in one of our package directories (absl sets `pathname` to the
    caller); Python loggers are ours by name as well."""

    def __init__(self) -> None:
        super().__init__()
        self._dirs = _package_dirs()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return not str(record.msg).startswith(HARMLESS_WARNINGS)
        return record.name.split(".")[0] in OUR_PACKAGES or str(record.pathname).startswith(
            self._dirs
        )


def setup() -> None:
    """Call first in a binary's main(): from then on the console shows our progress
    and results and everyone's warnings. Safe to call more than once."""
    if os.environ.get(SHOW_ALL) or absl_logging.get_verbosity() > absl_logging.INFO:
        return
    handler = absl_logging.get_absl_handler()
    if not any(isinstance(f, ProjectLinesFilter) for f in handler.filters):
        handler.addFilter(ProjectLinesFilter())
    # absl leaves the prefix off INFO lines written to stderr only (never to a log file).
    if not flags.FLAGS["showprefixforinfo"].present:
        flags.FLAGS["showprefixforinfo"].value = False


def tensorflow_without_gpus():
    """TensorFlow, loaded without its harmless start-up lines and with every GPU hidden
    from it: it only feeds data and writes TensorBoard files, and left alone it would
    take the GPU memory JAX needs. Returns the module."""
    from squiggles_tfds import quiet

    quiet.quiet_tensorflow_start()
    import tensorflow as tf

    tf.config.set_visible_devices([], "GPU")
    return tf


class Progress:
    """How far a long job is: units done of `total`, their rate per second and the time
    the rest will take at that rate. The rate is over everything done since this began,
    or over the last interval (`interval=True`: training, whose speed changes once its
    step is compiled and around validations)."""

    def __init__(self, total: int, done: int = 0, *, unit: str, interval: bool = False):
        self.total, self.done, self.unit, self.interval = total, done, unit, interval
        self.rate = 0.0
        self._began = self._last = (done, time.perf_counter())

    def update(self, done: int) -> float:
        """Records that `done` units in all are finished; returns the rate."""
        now = time.perf_counter()
        since, then = self._last if self.interval else self._began
        self.rate = (done - since) / max(now - then, 1e-9)
        self.done, self._last = done, (done, now)
        return self.rate

    def advance(self, count: int) -> float:
        """Records `count` more units finished; returns the rate."""
        return self.update(self.done + count)

    def eta(self) -> str:
        """The time the remaining units take at the rate, as H:MM:SS."""
        seconds = round(max(self.total - self.done, 0) / max(self.rate, 1e-9))
        return str(datetime.timedelta(seconds=seconds))

    def rate_and_eta(self, separator: str = ", ") -> str:
        """ "12.34 examples/s, ETA 0:01:05": the end of every progress line."""
        return f"{self.rate:.2f} {self.unit}/s{separator}ETA {self.eta()}"
