"""Differentiable rendering of curve points into R×R intensity images.

Pixel centres lie on linspace(0, 1, R) in both axes and `image[..., r, c]` is the
intensity at x = c/(R-1), y = r/(R-1): rows follow y upwards, so show images with
`origin="lower"` to see curves as plotted. The intensity of a pixel is
max_k exp(-R² d²(pixel, point_k)) = exp(-R² min_k d²), the Gaussian of the nearest
point.

Memory stays proportional to the output, forward and backward. The minimum over
points is a running elementwise minimum over stored squared distances (..., P, R)
in each axis, fused loops over 25 points at a time in a `lax.scan`, with no
(batch, points, R, R) array: a `min`
reduction would be handed by XLA:CPU to YNNPACK, which materialises that array
(3.6 GB for one curve at R = 3000). Autodiff of a minimum would store a (P, R, R)
mask per curve for the backward pass; the custom VJP below keeps only the points
and the minimum and recomputes the rest one point at a time.

A curve with any NaN or inf point has no image: called eagerly, `render_points`
and `render` raise ValueError naming the curves; under jit, grad or vmap, where
values cannot be read, every pixel of its image is NaN, so a loss over it is NaN.

The public `render` and `render_points` (`squiggles.renderers`) draw the forward pass
with this XLA program or with the compiled host kernel (`host_rendering`), which draws
the same bits on a CPU several times faster; gradients are always this program's.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from squiggles import sampling
from squiggles.curves import check_real

RESOLUTION = 60


def check_resolution(resolution: object) -> int:
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)):
        raise ValueError(f"resolution must be an integer >= 2, got {resolution!r}")
    if resolution < 2:
        raise ValueError(f"resolution must be >= 2 (pixels per side), got {resolution}")
    return int(resolution)


def pixel_centres(resolution: int) -> jax.Array:
    """Coordinates of pixel centres along either axis: linspace(0, 1, R)."""
    return jnp.linspace(0.0, 1.0, resolution, dtype=jnp.float32)


@functools.partial(jax.jit, static_argnames=("resolution",))
def axis_squared_distances(points: jax.Array, resolution: int) -> tuple[jax.Array, jax.Array]:
    """(dx², dy²), each (..., R): squared distances from points (..., 2) to the pixel
    columns x = c/(R-1) and rows y = r/(R-1)."""
    centres = pixel_centres(resolution).astype(points.dtype)
    dx2 = jnp.square(points[..., 0, None] - centres)
    dy2 = jnp.square(points[..., 1, None] - centres)
    return dx2, dy2


# Points per step of the running minimum: one fused loop over this many points,
# and a `lax.scan` over the steps. 25 keeps compiling about as fast as a `min`
# reduction (an unrolled chain of 100 took 2.5 s more per block of 10 PGD
# iterations) at 1.15x the forward time of a single fused step of 100 on a CPU;
# the backward pass, which dominates attacks, is unaffected.
POINTS_PER_STEP = 25


def _running_minimum(dx2: jax.Array, dy2: jax.Array, minimum: jax.Array) -> jax.Array:
    """minimum(minimum, dy2[k, r] + dx2[k, c]) folded over the points k of (..., K, R)
    squares, as a chain of elementwise ops that XLA fuses into one loop."""
    for k in range(dx2.shape[-2]):
        minimum = jnp.minimum(minimum, dy2[..., k, :, None] + dx2[..., k, None, :])
    return minimum


def _in_steps(squares: jax.Array, steps: int) -> jax.Array:
    """(..., P, R) -> (steps, ..., POINTS_PER_STEP, R), padded by repeating the last
    point (a repeated point leaves a minimum unchanged)."""
    pad = steps * POINTS_PER_STEP - squares.shape[-2]
    last = jnp.broadcast_to(squares[..., -1:, :], (*squares.shape[:-2], pad, squares.shape[-1]))
    padded = jnp.concatenate([squares, last], axis=-2)
    blocks = padded.reshape(*squares.shape[:-2], steps, POINTS_PER_STEP, squares.shape[-1])
    return jnp.moveaxis(blocks, -3, 0)


@functools.partial(jax.jit, static_argnames=("resolution",))
def _nearest_squared_distance(points: jax.Array, resolution: int) -> jax.Array:
    """min over points k of dy²[k, r] + dx²[k, c]: (..., R, R) indexed [r, c].

    The barrier makes XLA store the squares before the minimum, so each sum is a
    single addition of two stored numbers. Were the squares fused into it, the
    compiler could contract square-and-add into an FMA in some batch shapes and
    not in others; this way results are bitwise independent of the batch size.
    A minimum is exact, so the order over points does not change a bit.

    Curves with a NaN or inf point get NaN everywhere, explicitly: whether a
    minimum propagates NaN should not be left to the backend.
    """
    dx2, dy2 = jax.lax.optimization_barrier(axis_squared_distances(points, resolution))
    inf = jnp.full((*points.shape[:-2], resolution, resolution), jnp.inf, points.dtype)
    steps = -(-points.shape[-2] // POINTS_PER_STEP)
    if steps == 1:
        nearest = _running_minimum(dx2, dy2, inf)
    else:

        def step(minimum: jax.Array, block: tuple[jax.Array, jax.Array]):
            return _running_minimum(*block, minimum), None

        blocks = (_in_steps(dx2, steps), _in_steps(dy2, steps))
        nearest, _ = jax.lax.scan(step, inf, blocks)
    finite = jnp.isfinite(points).all(axis=(-2, -1))
    return jnp.where(finite[..., None, None], nearest, jnp.nan)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def nearest_squared_distance(points: jax.Array, resolution: int) -> jax.Array:
    """Squared distance (..., R, R) from every pixel centre to the nearest point (..., P, 2)."""
    return _nearest_squared_distance(points, resolution)


def _nearest_fwd(points: jax.Array, resolution: int):
    nearest = nearest_squared_distance(points, resolution)
    return nearest, (points, nearest)


def _nearest_bwd(resolution: int, residuals, cotangent: jax.Array):
    """Sends each pixel's cotangent to the point(s) nearest to it.

    Loops over points with `lax.scan` so that only (..., R, R) arrays are live: XLA
    would otherwise store (P, R, R) masks to feed its reductions.
    """
    points, nearest = residuals
    dtype = points.dtype
    # The distances are recomputed, possibly in a differently fused kernel, so a
    # point counts as nearest within a few ulps rather than by exact equality.
    threshold = nearest * (1 + 8 * jnp.finfo(dtype).eps) + jnp.finfo(dtype).tiny
    points_first = jnp.moveaxis(points, -2, 0)  # (P, ..., 2): scanned over points

    def is_nearest(point: jax.Array) -> jax.Array:
        dx2, dy2 = axis_squared_distances(point, resolution)
        return dy2[..., :, None] + dx2[..., None, :] <= threshold

    def count_ties(count: jax.Array, point: jax.Array):
        return count + is_nearest(point), None

    ties, _ = jax.lax.scan(count_ties, jnp.zeros(nearest.shape, jnp.int32), points_first)
    # Tied points share the gradient, as they do for jnp.min.
    share = cotangent / jnp.maximum(ties, 1)
    centres = pixel_centres(resolution).astype(dtype)

    def point_gradient(carry: None, point: jax.Array):
        weight = jnp.where(is_nearest(point), share, 0.0)  # (..., R, R)
        # d/dp of |p - q|² is 2 (p - q), summed over the pixels q that p is nearest to.
        grad_x = jnp.sum(weight * (point[..., 0, None, None] - centres[None, :]), axis=(-2, -1))
        grad_y = jnp.sum(weight * (point[..., 1, None, None] - centres[:, None]), axis=(-2, -1))
        return carry, 2 * jnp.stack([grad_x, grad_y], axis=-1)

    _, grads = jax.lax.scan(point_gradient, None, points_first)
    return (jnp.moveaxis(grads, 0, -2),)


nearest_squared_distance.defvjp(_nearest_fwd, _nearest_bwd)


@functools.partial(jax.jit, static_argnames=("resolution",))
def intensity(nearest: jax.Array, resolution: int) -> jax.Array:
    """exp(-R² d²) of the squared distance to the nearest point.

    A program of its own when called eagerly: fused into the reduction, XLA
    evaluates exp differently for some shapes (last-bit differences). A NaN
    distance (a non-finite curve) stays NaN: XLA:CPU's exp clamps its argument
    and can turn NaN into a number. R² enters as a float (the same float32 as the
    integer would round to), which an int32 could not hold beyond R = 46,340.
    """
    scale = -(float(resolution) ** 2)
    return jnp.where(jnp.isnan(nearest), jnp.nan, jnp.exp(scale * nearest))


def check_points_shape(shape: tuple[int, ...]) -> None:
    """Raises ValueError unless `shape` is (..., num_points, 2) with num_points >= 1."""
    if len(shape) < 2 or shape[-1] != 2 or shape[-2] < 1:
        raise ValueError(
            f"points must have shape (..., num_points, 2) with num_points >= 1, got {tuple(shape)}"
        )


def check_points(points: object) -> jax.Array:
    """Converts points to a real float array of shape (..., num_points, 2)."""
    check_real(points, "points")
    points = jnp.asarray(points)
    if not jnp.issubdtype(points.dtype, jnp.floating):
        points = points.astype(jnp.float32)
    check_points_shape(points.shape)
    return points


def render_bytes(num_points: int, resolution: int) -> int:
    """Peak bytes of drawing one curve's image, estimated: the image, the nearest
    squared distances it is made from, and the (P, R) squares of each axis."""
    return 2 * 4 * resolution**2 + 2 * 4 * num_points * resolution


def check_render_fits(count: int, num_points: int, resolution: int) -> None:
    """Refuses images that cannot fit in memory before anything is allocated: a
    resolution too large for one image, or too many images at once."""
    one = render_bytes(num_points, resolution)
    available, where = sampling.available_bytes()
    if one > available:
        raise ValueError(
            f"resolution {resolution} is too large: one {resolution}×{resolution} image needs "
            f"about {one:,} bytes ({one / 1e9:.3g} GB) to draw, but only {available:,} bytes "
            f"({available / 1e9:.3g} GB) are available {where}"
        )
    sampling.check_fits(count * one, f"{count:,} images of {resolution}×{resolution}")


def _render_points(points: jax.Array, resolution: int) -> jax.Array:
    # Two jitted stages: called eagerly they run as separate programs, which pins
    # every rounding step; under an outer jit they are inlined.
    return intensity(nearest_squared_distance(points, resolution), resolution)
