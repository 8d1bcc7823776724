"""Checking that a directory can be written before long work starts."""

from __future__ import annotations

import uuid

from etils import epath


def ensure_writable_dir(path: str | epath.PathLike, what: str) -> epath.Path:
    """Creates `path` if needed and proves it writable, or raises PermissionError
    naming it. Returns it absolute (orbax needs that). Uses epath, like TFDS, so
    cloud storage paths work too."""
    path = epath.Path(path).expanduser().absolute()
    probe = path / f".squiggles-write-check-{uuid.uuid4().hex}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise PermissionError(f"cannot write {what} to {path}: {error}") from error
    return path
