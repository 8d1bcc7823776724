"""The host kernel's numba cache: stamped with every kernel source, so an edit recompiles."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import numba
from numba.core import caching

from squiggles import host_kernel, kernel_cache, xla_exp

SOURCES = kernel_cache.KERNEL_SOURCES


def _copies(tmp_path: pathlib.Path) -> tuple[pathlib.Path, ...]:
    """The kernel sources copied into tmp_path under their own names."""
    copies = tuple(tmp_path / source.name for source in SOURCES)
    for source, copy in zip(SOURCES, copies, strict=True):
        shutil.copy(source, copy)
    return copies


def test_the_stamp_changes_with_any_kernel_source_and_the_numba_version(tmp_path, monkeypatch):
    assert {path.name for path in SOURCES} == {"host_kernel.py", "xla_exp.py"}
    real = kernel_cache.source_stamp()
    copies = _copies(tmp_path)
    assert kernel_cache.source_stamp(copies) == real  # the contents are stamped, not the paths
    monkeypatch.setattr(kernel_cache, "KERNEL_SOURCES", copies)
    assert kernel_cache.source_stamp() == real
    for copy in copies:
        original = copy.read_bytes()
        copy.write_bytes(original + b"# an edit\n")
        assert kernel_cache.source_stamp() != real, copy.name
        copy.write_bytes(original.replace(b"LANES", b"SENAL", 1))  # the same size
        assert kernel_cache.source_stamp() != real, copy.name
        copy.write_bytes(original)
        assert kernel_cache.source_stamp() == real
    monkeypatch.setattr(numba, "__version__", "0.0.0")
    assert kernel_cache.source_stamp() != real


def test_the_kernels_and_only_they_use_the_kernel_locators():
    assert caching.CacheImpl._locator_classes[:3] == list(kernel_cache.LOCATORS)
    kernel_cache.install()  # a second time changes nothing
    assert caching.CacheImpl._locator_classes[:3] == list(kernel_cache.LOCATORS)
    assert len(set(caching.CacheImpl._locator_classes)) == len(caching.CacheImpl._locator_classes)
    for kernel in (host_kernel.draw, xla_exp._exponentiate):
        locator = kernel._cache._impl.locator
        assert isinstance(locator, kernel_cache.LOCATORS)
        assert locator.get_source_stamp() == kernel_cache.source_stamp()
    assert kernel_cache.is_kernel_source(host_kernel.__file__)
    assert not kernel_cache.is_kernel_source(kernel_cache.__file__)

    def elsewhere():
        pass

    for locator in kernel_cache.LOCATORS:
        assert locator.from_function(elsewhere, __file__) is None  # left to numba's own


# Renders with the host kernel in a fresh process whose numba cache is NUMBA_CACHE_DIR,
# stamping copies of the kernel sources (argv[1]) so that one can be edited.
_RUN = """
import functools, json, pathlib, sys
import numpy as np
from squiggles import kernel_cache
copies = [pathlib.Path(sys.argv[1]) / path.name for path in kernel_cache.KERNEL_SOURCES]
kernel_cache.source_stamp = functools.partial(kernel_cache.source_stamp, copies)
import squiggles
from squiggles import host_kernel
points = np.asarray(squiggles.points(squiggles.sample_latents(squiggles.Taylor(), 5)))
images = squiggles.render_points_on_host(points, 24)
stats = host_kernel.draw.stats
print(json.dumps({
    "hits": sum(stats.cache_hits.values()),
    "misses": sum(stats.cache_misses.values()),
    "path": stats.cache_path,
    "locator": type(host_kernel.draw._cache._impl.locator).__name__,
    "same": bool(np.array_equal(images, squiggles.render_points(points, 24))),
}))
"""


def test_the_kernel_loads_from_the_cache_until_a_kernel_source_is_edited(tmp_path):
    sources, cache = tmp_path / "sources", tmp_path / "cache"
    sources.mkdir()
    copies = _copies(sources)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), JAX_PLATFORMS="cpu")

    def run() -> dict:
        done = subprocess.run(
            [sys.executable, "-c", _RUN, str(sources)],
            capture_output=True, text=True, env=env, check=True,
        )  # fmt: skip
        return json.loads(done.stdout.strip().splitlines()[-1])

    first, second = run(), run()
    assert first["locator"] == "UserProvidedKernelLocator"
    assert first["path"].startswith(str(cache))
    assert (first["hits"], first["misses"]) == (0, 1)  # compiled and saved
    assert (second["hits"], second["misses"]) == (1, 0)  # loaded
    xla_exp_copy = copies[[path.name for path in copies].index("xla_exp.py")]
    xla_exp_copy.write_text(xla_exp_copy.read_text() + "# an edit\n")
    edited = run()
    assert (edited["hits"], edited["misses"]) == (0, 1)  # recompiled
    assert first["same"] and second["same"] and edited["same"]
