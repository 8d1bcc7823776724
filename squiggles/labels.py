"""Ground-truth labels: does the piecewise-linear path through the points cross or
touch itself? Decided by Shapely (GEOS), the reference for planar geometry."""

from __future__ import annotations

import numpy as np
import shapely

from squiggles.curves import check_finite_curves, check_real

# Label 0 and label 1, as every dataset, metric and figure names them.
CLASS_NAMES = ("simple", "intersecting")


def is_self_intersecting(points: object) -> np.ndarray:
    """`not LineString(points).is_simple` for every curve of points (..., P, 2): bool (...).

    Vectorised with Shapely 2's array functions. Follows GEOS's notion of simple:
    a path that crosses, touches or runs back along itself is not simple; a closed
    loop whose only contact is its end returning to its start is simple.
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
    simple = shapely.is_simple(shapely.linestrings(flat))
    return ~simple.reshape(batch_shape)
