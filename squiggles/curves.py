"""From latents to curve points: evaluate Θ_z at evenly spaced t, then rescale.

Rescaling makes every curve fill the same box, so the label depends only on the
shape of the curve and images are comparable across families.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from squiggles.families import Family, Taylor, check_family

NUM_POINTS = 100
# After rescaling, the longer side of the bounding box measures BOX_SIZE and the
# box is centred on (0.5, 0.5): curves keep a 0.1 margin inside the unit square.
BOX_SIZE = 0.8


def check_num_points(num_points: object) -> int:
    if isinstance(num_points, bool) or not isinstance(num_points, (int, np.integer)):
        raise ValueError(f"num_points must be an integer >= 2, got {num_points!r}")
    if num_points < 2:
        raise ValueError(f"num_points must be >= 2 (a curve needs two points), got {num_points}")
    return int(num_points)


def check_real(values: object, name: str) -> None:
    """Refuses complex numbers, which a cast to float would silently truncate."""
    dtype = values.dtype if hasattr(values, "dtype") else np.asarray(values).dtype
    if np.issubdtype(dtype, np.complexfloating):
        raise ValueError(f"{name} must be real numbers, got {np.dtype(dtype).name}")


def check_finite_curves(values: object, name: str, curve_ndim: int = 2) -> None:
    """Raises ValueError naming the curves whose values hold NaN or inf.

    `values` has shape (..., *curve) with `curve_ndim` trailing axes per curve; the
    message counts the bad curves and gives the leading index of the first one.
    Concrete values only: under a trace they cannot be read.
    """
    finite = np.isfinite(np.asarray(values)).all(axis=tuple(range(-curve_ndim, 0)))
    if not finite.all():
        bad = np.argwhere(~finite)
        raise ValueError(
            f"{name} must be finite; {len(bad)} curve(s) hold NaN or inf, "
            f"the first at index {tuple(int(i) for i in bad[0])}"
        )


def check_latents(z: object, family: Family) -> jax.Array:
    """Converts z to a real float array and checks that it ends in the family's latent shape."""
    check_real(z, "latents")
    z = jnp.asarray(z)
    if not jnp.issubdtype(z.dtype, jnp.floating):
        z = z.astype(jnp.float32)
    expected = family.latent_shape
    if z.ndim < len(expected) or tuple(z.shape[z.ndim - len(expected) :]) != expected:
        raise ValueError(
            f"latents for {family} must have shape (..., {', '.join(map(str, expected))}), "
            f"got {tuple(z.shape)}"
        )
    return z


def t_values(family: Family, num_points: int = NUM_POINTS) -> np.ndarray:
    """The evenly spaced values of t at which curves are sampled, both ends included."""
    return np.linspace(family.t_min, family.t_max, check_num_points(num_points))


def _extreme(values: jax.Array, arg_extreme, axis: int) -> jax.Array:
    """The minimum or maximum along `axis` (kept), as the element at its arg-extreme.

    Its value is exactly jnp.min's or jnp.max's, but its gradient goes to that element
    by index. jnp.min's gradient goes to the elements equal to the minimum, and under
    jit XLA may recompute them in another fusion (with or without an FMA) for that
    comparison: in some batch shapes none was equal, and the box's gradient was lost
    (points(z) of one latent had the wrong gradient)."""
    index = jnp.expand_dims(arg_extreme(values, axis=axis), axis)
    return jnp.take_along_axis(values, index, axis=axis)


def rescale(points: jax.Array) -> jax.Array:
    """Scales and shifts each curve (..., P, 2) so that its bounding box has longer
    side 0.8 and is centred on (0.5, 0.5). A curve with zero extent maps to the centre.

    A curve with any NaN or inf value becomes all NaN: its box is undefined, and
    whether a min or max reduction propagates NaN is up to the backend.
    """
    points = jnp.asarray(points)
    low = _extreme(points, jnp.argmin, axis=-2)
    high = _extreme(points, jnp.argmax, axis=-2)
    centre = (low + high) / 2
    longest = _extreme(high - low, jnp.argmax, axis=-1)
    # Any extent above the smallest normal float gives a finite scale; below it the
    # curve is a single point and is left unscaled (the where keeps gradients finite).
    has_extent = longest > jnp.finfo(points.dtype).tiny
    scale = BOX_SIZE / jnp.where(has_extent, longest, 1.0)
    # Shift, then scale: a product followed by a sum could be fused into an FMA in
    # some compiled shapes and not others, making points depend on the batch size.
    rescaled = (points - (centre - 0.5 / scale)) * scale
    finite = jnp.isfinite(points).all(axis=(-2, -1), keepdims=True)
    return jnp.where(finite, rescaled, jnp.nan)


@functools.partial(jax.jit, static_argnames=("family", "num_points", "rescale_points"))
def _points(z: jax.Array, family: Family, num_points: int, rescale_points: bool) -> jax.Array:
    raw = family.curve(z, t_values(family, num_points))
    return rescale(raw) if rescale_points else raw


def points(
    z: jax.Array,
    family: Family = Taylor(),
    num_points: int = NUM_POINTS,
    rescale: bool = True,
) -> jax.Array:
    """Curve points (..., num_points, 2), last axis (x, y), for latents z (..., *latent_shape).

    With rescale=False, the raw values Θ_z(t); otherwise rescaled into [0.1, 0.9]².
    """
    check_family(family)
    num_points = check_num_points(num_points)
    z = check_latents(z, family)
    return _points(z, family, num_points, bool(rescale))
