"""Moved to `squiggles.storage` (no TensorFlow); re-exported for old imports."""

from squiggles.storage import ensure_writable_dir

__all__ = ["ensure_writable_dir"]
