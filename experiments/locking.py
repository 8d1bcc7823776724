"""An exclusive lock on a run's directory, so two runs never write into one directory at once.

Two trainings on one workdir, or two attacks into one `--out`, interleave their files: duplicate
metric lines, chunks of one run overwritten by the other, checkpoints deleted under a reader. A run
therefore holds `locked_directory(path, what)` for its whole duration. The lock is an OS lock
(`fcntl.flock`) on `path/.lock`: the OS releases it when the process exits or dies, so the lock of a
killed run never blocks the next one. The holder writes its pid, host and start time into the file
so that a refused run can say who holds the directory.
"""

import contextlib
import datetime
import errno
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

LOCK_FILE = ".lock"


class DirectoryInUseError(ValueError):
    """Another live process holds the directory's lock."""


def _read_holder(lock_path: Path) -> dict:
    """What the lock file says about its holder (empty if it has not written it yet)."""
    try:
        holder = json.loads(lock_path.read_text())
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def _refusal(path: Path, what: str, lock_path: Path) -> DirectoryInUseError:
    holder = _read_holder(lock_path)
    who = (
        f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')}, "
        f"started {holder.get('started', '?')}"
        if holder
        else "a process that has not recorded its pid and host yet"
    )
    return DirectoryInUseError(
        f"{path} is in use by another {holder.get('what', what)} ({who}); cannot start this "
        f"{what}: wait for that one to finish or stop it, or use another directory"
    )


def _write_holder(fd: int, what: str) -> None:
    """Record this process as the holder (the file is ours alone while we hold the lock)."""
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "what": what,
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(holder).encode(), 0)


@contextlib.contextmanager
def locked_directory(path: str | os.PathLike, what: str) -> Iterator[None]:
    """Exclusive lock on a directory for the duration of a run (`what` e.g. "training run").

    Creates the directory (and its parents) if needed. Raises `DirectoryInUseError` at once, without
    waiting, if another process holds the lock. Released on any exit, including exceptions and
    KeyboardInterrupt, and by the OS if the process dies.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    lock_path = path / LOCK_FILE
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise _refusal(path, what, lock_path) from None
            raise
        try:
            _write_holder(fd, what)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.contextmanager
def lock_if_free(path: str | os.PathLike) -> Iterator[bool]:
    """The directory's lock, if its lock file exists and no other process holds it:
    yields True while held (without recording a holder), False otherwise. For tidying
    up after a refused run without ever touching a directory another run is using."""
    lock_path = Path(path) / LOCK_FILE
    try:
        fd = os.open(lock_path, os.O_RDWR)
    except OSError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
