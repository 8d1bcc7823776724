"""Restoring the newest checkpoint of a run that can be restored.

A checkpoint can be unreadable (a disk error, a copy killed half-way): training and
the commands that read a run then use the newest one that restores, and say so in one
warning line instead of orbax's tracebacks. Training sets the unreadable ones aside
(renamed, never deleted); readers leave them in place and write nothing.
"""

from __future__ import annotations

import datetime
import gc
import logging as logging_std
import re
import sys
import traceback as tb_module
import warnings
from typing import TypeVar

import orbax.checkpoint as ocp
from absl import logging
from etils import epath

from squiggles import quiet

T = TypeVar("T")


class CheckpointError(ValueError):
    """No checkpoint of a run can be restored."""


def _describe(error: BaseException, limit: int = 300) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= limit else text[:limit] + " ..."


def restore_newest(manager: ocp.CheckpointManager, template: T, set_aside: bool) -> tuple[T, int]:
    """The newest checkpoint that restores, and its step; (template, 0) if there is none.

    Checkpoints newer than it that fail to restore (a disk error, a killed copy) are
    reported with a warning and, if `set_aside`, renamed to corrupt-<step>-<time> beside
    them (never deleted), where orbax no longer sees them, so training can save that
    step again. If none restores, CheckpointError: nothing is renamed, since a run of
    another model fails the same way on every checkpoint."""
    failures: list[tuple[int, BaseException]] = []
    for step in sorted(manager.all_steps(), reverse=True):
        try:
            state = _restore_quietly(manager, step, template)
        except Exception as error:  # orbax and TensorStore raise many kinds
            failures.append((step, error))
            continue
        for bad, error in failures:
            where = _set_aside(manager.directory, bad) if set_aside else "left in place"
            logging.warning(
                "the checkpoint at step %d does not restore (%s); using the one at step %d "
                "instead; the unreadable one is %s",
                bad, _describe(error), step, where,
            )  # fmt: skip
        return state, step
    if failures:
        details = "; ".join(f"step {step}: {_describe(error)}" for step, error in failures)
        raise CheckpointError(
            f"no checkpoint in {manager.directory} can be restored: each is unreadable or does "
            f"not match its config.json (another model or resolution?); they are left in "
            f"place. {details}"
        )
    return template, 0


ANY_LINE = re.compile("")


def _restore_quietly(manager: ocp.CheckpointManager, step: int, template: T):
    """manager.restore(step), whose failure the caller reports in one line: what orbax's
    concurrent reads leave on stderr when they fail (a traceback per unread array, as
    their tasks are collected, and errors of reads that end after orbax's event loop
    closed) is dropped. Nothing else is hidden."""
    with quiet.filtered_stderr(drop_on_error=(ANY_LINE,)):
        try:
            return manager.restore(step, args=ocp.args.StandardRestore(template))
        except Exception:
            _quiet_leftovers_of_failed_reads(manager.directory / str(step))
            gc.collect()  # the failed reads' tasks report their errors now, while captured
            raise


def _quiet_leftovers_of_failed_reads(step_directory: epath.Path) -> None:
    """For the rest of the process, drops the reports that the failed reads of
    `step_directory` may still make: asyncio's "exception was never retrieved" naming
    it, "coroutine ... was never awaited" warnings, and "Event loop is closed" errors
    raised in the callbacks of reads that ended after orbax closed its event loop."""
    logging_std.getLogger("asyncio").addFilter(_OrphanedReadFilter(f"{step_directory}/"))
    warnings.filterwarnings("ignore", r"coroutine '.*' was never awaited", RuntimeWarning)
    if not isinstance(sys.excepthook, _ClosedLoopHook):
        sys.excepthook = _ClosedLoopHook(sys.excepthook)


class _OrphanedReadFilter(logging_std.Filter):
    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def filter(self, record: logging_std.LogRecord) -> bool:
        message = record.getMessage()
        return not ("never retrieved" in message and self.path in message)


class _ClosedLoopHook:
    """sys.excepthook that ignores "Event loop is closed" raised by asyncio itself
    (TensorStore prints errors of its callbacks through sys.excepthook)."""

    def __init__(self, previous):
        self.previous = previous

    def __call__(self, kind, error, traceback) -> None:
        frames = [frame.filename for frame, _ in tb_module.walk_tb(traceback)]
        closed_loop = kind is RuntimeError and str(error) == "Event loop is closed"
        if not (closed_loop and frames and all("asyncio" in name for name in frames)):
            self.previous(kind, error, traceback)


def _set_aside(directory: epath.Path, step: int) -> str:
    """Renames checkpoint `step` out of orbax's step naming and says where it went."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    target = directory / f"corrupt-{step}-{stamp}"
    suffix = 1
    while target.exists():
        target = directory / f"corrupt-{step}-{stamp}-{suffix}"
        suffix += 1
    (directory / str(step)).rename(target)
    return f"kept as {target}"
