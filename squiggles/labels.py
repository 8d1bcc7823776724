"""Ground-truth labels: does the piecewise-linear path through the points cross or
touch itself? Decided by Shapely (GEOS), the reference for planar geometry."""

from __future__ import annotations

import numpy as np
import shapely


def is_self_intersecting(points: object) -> np.ndarray:
    """`not LineString(points).is_simple` for every curve of points (..., P, 2): bool (...).

    Vectorised with Shapely 2's array functions. Follows GEOS's notion of simple:
    a path that crosses, touches or runs back along itself is not simple; a closed
    loop whose only contact is its end returning to its start is simple.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim < 2 or points.shape[-1] != 2 or points.shape[-2] < 2:
        raise ValueError(
            f"points must have shape (..., num_points, 2) with num_points >= 2, got {points.shape}"
        )
    if not np.isfinite(points).all():
        bad = np.argwhere(~np.isfinite(points).all(axis=(-2, -1)))
        raise ValueError(
            f"points must be finite; {len(bad)} curve(s) hold NaN or inf, "
            f"the first at index {tuple(int(i) for i in bad[0])}"
        )
    batch_shape = points.shape[:-2]
    flat = points.reshape(-1, *points.shape[-2:])
    if flat.shape[0] == 0:
        return np.zeros(batch_shape, dtype=bool)
    simple = shapely.is_simple(shapely.linestrings(flat))
    return ~simple.reshape(batch_shape)
