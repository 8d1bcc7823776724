"""Removing what killed builds leave behind.

TFDS writes a build into `<config>/incomplete.XXXXXX_<version>/` and renames it at
the end, so a killed build leaves that directory forever. It cannot be told from
the directory of a build still running in another process, so each build records
its owner (host, PID namespace, PID) in the directory it writes, and once a build
of the same config and version has succeeded, the leftovers whose owner process is
gone are removed. A leftover without an owner record (made by an older version of
this package) or owned by a process on another host is left alone with a warning:
it may belong to a build still running. A reused PID makes a leftover look alive,
which only leaves it in place, never removes a live one.
"""

from __future__ import annotations

import json
import os
import socket

from absl import logging
from etils import epath

OWNER_FILE = ".squiggles-build-owner.json"
INCOMPLETE_PREFIX = "incomplete."  # tensorflow_datasets.core.constants.INCOMPLETE_PREFIX


def _this_process() -> dict[str, object]:
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = None
    return {"host": socket.gethostname(), "pid_namespace": namespace, "pid": os.getpid()}


def claim(incomplete_dir: epath.PathLike) -> None:
    """Records this process as the owner of the build directory it writes."""
    (epath.Path(incomplete_dir) / OWNER_FILE).write_text(json.dumps(_this_process()))


def release(incomplete_dir: epath.PathLike) -> None:
    """Removes the owner record before the directory becomes the finished build."""
    (epath.Path(incomplete_dir) / OWNER_FILE).unlink(missing_ok=True)


def _pid_is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def owner_is_gone(incomplete_dir: epath.PathLike) -> bool:
    """True only when the directory's recorded owner is a process of this host (and
    PID namespace) that no longer runs."""
    try:
        owner = json.loads((epath.Path(incomplete_dir) / OWNER_FILE).read_text())
    except (OSError, ValueError):
        return False
    here = _this_process()
    if any(owner.get(key) != here[key] for key in ("host", "pid_namespace")):
        return False
    pid = owner.get("pid")
    return isinstance(pid, int) and pid != here["pid"] and not _pid_is_running(pid)


def leftovers(dataset_dir: epath.PathLike) -> list[epath.Path]:
    """The `incomplete.*` directories of the same config and version as `dataset_dir`
    (`<data_dir>/squiggles/<config>/<version>`)."""
    dataset_dir = epath.Path(dataset_dir)
    pattern = f"{INCOMPLETE_PREFIX}*_{dataset_dir.name}"
    return sorted(path for path in dataset_dir.parent.glob(pattern) if path.is_dir())


def remove_leftovers(dataset_dir: epath.PathLike) -> list[epath.Path]:
    """After a successful build in `dataset_dir`: removes the leftovers of killed
    builds of it, warns about those that may belong to a running build, and
    returns the removed ones."""
    removed = []
    for path in leftovers(dataset_dir):
        if owner_is_gone(path):
            path.rmtree()
            removed.append(path)
        else:
            logging.warning(
                "Left %s in place: it may belong to a build still running (no owner record, "
                "or its owner runs or is on another host); delete it if no build is running.",
                path,
            )
    for path in removed:
        logging.info("Removed %s, left by a killed build.", path)
    return removed
