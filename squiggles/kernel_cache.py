"""Numba's disk cache for the host kernel, invalidated by an edit of any kernel source.

With `cache=True`, numba stamps a compiled function with the file that defines it
(its content hash in numba 0.68; mtime and size before). `host_kernel.draw` inlines
LLVM IR that `xla_exp` emits, so an edit of `xla_exp.py` alone would leave a stale
kernel in the cache. The locators here stamp every cached function of the kernel
source files (KERNEL_SOURCES) with one digest of all of their contents and of
numba's and llvmlite's versions: any edit recompiles every kernel. `rendering.py`
is not among them: the kernel uses none of its code or constants (the pixel centres
and scale are arguments), so an edit there cannot change the compiled code.

`install()` puts the locators first in numba's list, `CacheImpl._locator_classes`
(numba's extension point; an internal, hence the numba pin in setup.cfg). They keep
numba's order of places (NUMBA_CACHE_DIR, `__pycache__` beside the file, the user's
cache directory) and answer only for KERNEL_SOURCES, so other packages' caches are
left to numba. Setting NUMBA_CACHE_LOCATOR_CLASSES replaces numba's list, and these.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
from collections.abc import Sequence

import llvmlite
import numba
from numba.core import caching

_HERE = pathlib.Path(__file__).resolve().parent
# Every file whose code the compiled kernels contain.
KERNEL_SOURCES: tuple[pathlib.Path, ...] = (_HERE / "host_kernel.py", _HERE / "xla_exp.py")


def source_stamp(sources: Sequence[str | os.PathLike] | None = None) -> str:
    """SHA-256 (hex) of numba's and llvmlite's versions and of the name and content of
    every kernel source file (or of `sources`): it changes whenever any of them does."""
    digest = hashlib.sha256(f"numba {numba.__version__} llvmlite {llvmlite.__version__}\n".encode())
    for path in KERNEL_SOURCES if sources is None else sources:
        content = pathlib.Path(path).read_bytes()
        digest.update(f"{pathlib.Path(path).name} {len(content)}\n".encode())
        digest.update(content)
    return digest.hexdigest()


def is_kernel_source(py_file: str | os.PathLike) -> bool:
    """Whether a function defined in `py_file` is one of the host kernels."""
    return os.path.realpath(py_file) in {os.path.realpath(path) for path in KERNEL_SOURCES}


class _KernelSourcesStamp:
    """Mixin for numba's file-backed locators: the kernel files only, all sources' stamp."""

    @classmethod
    def from_function(cls, py_func, py_file):
        if not is_kernel_source(py_file):
            return None
        return super().from_function(py_func, py_file)

    def get_source_stamp(self) -> str:
        return source_stamp()


class UserProvidedKernelLocator(_KernelSourcesStamp, caching.UserProvidedCacheLocator):
    """In NUMBA_CACHE_DIR, when it is set."""


class InTreeKernelLocator(_KernelSourcesStamp, caching.InTreeCacheLocator):
    """In `squiggles/__pycache__`, when it is writable."""


class UserWideKernelLocator(_KernelSourcesStamp, caching.UserWideCacheLocator):
    """In the user's cache directory, otherwise."""


LOCATORS = (UserProvidedKernelLocator, InTreeKernelLocator, UserWideKernelLocator)


def install() -> None:
    """Puts LOCATORS, in order, before numba's own (once). Call before decorating a
    kernel with `numba.njit(cache=True)`: numba picks the locator when decorating."""
    classes = caching.CacheImpl._locator_classes
    if classes[: len(LOCATORS)] != list(LOCATORS):
        classes[:] = [*LOCATORS, *(c for c in classes if c not in LOCATORS)]
