"""Ground-truth labels: does the piecewise-linear path through the points cross or
touch itself? Decided by Shapely (GEOS), the reference for planar geometry."""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import shapely

from squiggles.curves import check_finite_curves, check_real

# Label 0 and label 1, as every dataset, metric and figure names them.
CLASS_NAMES = ("simple", "intersecting")

# Curves per thread, at least: below this a thread costs more than it saves.
CURVES_PER_WORKER = 1024
MAX_WORKERS = 16


def default_workers() -> int:
    """The CPU cores this process may use (its affinity), at most MAX_WORKERS."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_WORKERS))


@functools.cache
def _pool(workers: int, process: int) -> ThreadPoolExecutor:
    """One pool per process: a forked child (Beam's multi-process runner) inherits the
    parent's pool without its threads, and work sent to it would never run."""
    return ThreadPoolExecutor(workers, thread_name_prefix="squiggles-labels")


def is_self_intersecting(points: object, workers: int | None = None) -> np.ndarray:
    """`not LineString(points).is_simple` for every curve of points (..., P, 2): bool (...).

    Vectorised with Shapely 2's array functions. Follows GEOS's notion of simple:
    a path that crosses, touches or runs back along itself is not simple; a closed
    loop whose only contact is its end returning to its start is simple.

    Large batches are labelled by `workers` threads (default: this process's cores),
    since Shapely's array functions release the GIL: 2.05× the one-thread rate on the
    two cores of the development CPU (benchmarks/train_throughput.py). Each curve's
    label is the same either way.
    """
    check_real(points, "points")
    points = np.asarray(points, dtype=np.float64)
    if points.ndim < 2 or points.shape[-1] != 2 or points.shape[-2] < 2:
        raise ValueError(
            f"points must have shape (..., num_points, 2) with num_points >= 2, got {points.shape}"
        )
    check_finite_curves(points, "points")
    batch_shape = points.shape[:-2]
    flat = points.reshape(-1, *points.shape[-2:])
    if flat.shape[0] == 0:
        return np.zeros(batch_shape, dtype=bool)
    workers = default_workers() if workers is None else workers
    if not (isinstance(workers, (int, np.integer)) and workers >= 1):
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    parts = int(min(workers, max(1, flat.shape[0] // CURVES_PER_WORKER)))
    if parts == 1:
        simple = _simple(flat)
    else:
        simple = np.concatenate(
            list(_pool(parts, os.getpid()).map(_simple, np.array_split(flat, parts)))
        )
    return ~simple.reshape(batch_shape)


def _simple(curves: np.ndarray) -> np.ndarray:
    return shapely.is_simple(shapely.linestrings(curves))
