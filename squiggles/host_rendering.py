"""Rendering on the host CPU with a compiled kernel: explicit, forward only, fast.

`render_points_on_host` and `render_on_host` give bit for bit the images of eager
`render_points` and `render` on a CPU (the eager XLA program), several times
faster: the kernel (`host_kernel`) compares each pixel row only with the points
near it. They draw concrete float32 arrays (NumPy, or JAX arrays, which are
copied to the host) and return JAX arrays on the CPU; they cannot be traced or
differentiated, so jit, grad, vmap and accelerators use `render`.
`generate_examples(renderer="auto")` chooses this path when JAX's default
backend is the CPU.

If this process's XLA takes exp some other way than the kernel
(`xla_exp.exp_matches_xla` is false), the kernel returns distances and XLA:CPU's
`intensity` takes their exp: still the same bits, a little slower.

numba is imported, and the kernel compiled or loaded from its cache, on the
first call: `import squiggles` does not load it.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import jax
import numpy as np

from squiggles.curves import check_finite_curves, check_latents, check_real
from squiggles.curves import points as curve_points
from squiggles.families import Family, Taylor, check_family
from squiggles.rendering import (
    RESOLUTION,
    check_points_shape,
    check_resolution,
    intensity,
    pixel_centres,
)

CURVES_PER_TASK = 64  # below this a worker thread costs more than it saves
_ALIGNMENT = 64  # bytes; jax.device_put of an aligned array need not copy


def _check_concrete(values: object, name: str, instead: str) -> None:
    if isinstance(values, jax.core.Tracer):
        raise TypeError(
            f"{name} are traced (inside jit, grad or vmap): the host kernel draws concrete "
            f"arrays only; use squiggles.{instead}, which runs the XLA program under a trace"
        )


def _check_float32(dtype: np.dtype, name: str, instead: str) -> None:
    if dtype != np.float32:
        raise TypeError(
            f"the host kernel draws float32 {name}, got {np.dtype(dtype).name}: convert them "
            f"(e.g. np.float32(...)), or use squiggles.{instead}, which takes any float"
        )


def _cpu() -> jax.Device:
    return jax.local_devices(backend="cpu")[0]  # this process's own


def _aligned_empty(shape: tuple[int, ...]) -> np.ndarray:
    size = math.prod(shape) * 4
    raw = np.empty(size + _ALIGNMENT, np.uint8)
    offset = -raw.ctypes.data % _ALIGNMENT
    return raw[offset : offset + size].view(np.float32).reshape(shape)


def _worker_count() -> int:
    """Cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _draw_on_host(points: np.ndarray, resolution: int) -> jax.Array:
    """Images of checked, finite float32 points (..., P, 2), split among worker
    threads, one per core (the kernel releases the GIL), each writing its slice of
    one aligned output array."""
    from squiggles import host_kernel, xla_exp  # numba: loaded on first use

    leading, num_points = points.shape[:-2], points.shape[-2]
    curves = np.ascontiguousarray(points.reshape(-1, num_points, 2))
    count = curves.shape[0]
    centres = np.asarray(pixel_centres(resolution))
    scale = np.float32(-(resolution**2))
    in_place = xla_exp.exp_matches_xla()
    radius = host_kernel.XLA_EXP_RADIUS if in_place else host_kernel.WINDOW_RADIUS
    images = _aligned_empty((count, resolution, resolution))
    workers = max(1, min(_worker_count(), count // CURVES_PER_TASK))
    bounds = np.linspace(0, count, workers + 1).astype(int)

    def draw(task: int) -> None:
        start, stop = bounds[task], bounds[task + 1]
        host_kernel.draw(curves[start:stop], centres, scale, in_place, radius, images[start:stop])

    if workers == 1:
        draw(0)
    else:
        # A pool per call: a module-level pool would not survive a fork (Beam workers).
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(draw, range(workers)))
    result = jax.device_put(images.reshape(*leading, resolution, resolution), _cpu())
    return result if in_place else intensity(result, resolution)


def render_points_on_host(
    points: np.ndarray | jax.Array, resolution: int = RESOLUTION
) -> jax.Array:
    """Images (..., R, R) of float32 points (..., P, 2) in unit-square coordinates,
    bitwise equal to eager `render_points` on a CPU, as a JAX array on the CPU.

    TypeError for traced or non-float32 points; ValueError for a bad shape or
    resolution, or for curves with a NaN or inf point (naming them), as eager
    `render_points` does.
    """
    _check_concrete(points, "points", "render_points")
    check_real(points, "points")
    points = np.asarray(points)
    _check_float32(points.dtype, "points", "render_points")
    check_points_shape(points.shape)
    resolution = check_resolution(resolution)
    check_finite_curves(points, "points")
    return _draw_on_host(points, resolution)


def render_on_host(
    z: np.ndarray | jax.Array, family: Family = Taylor(), resolution: int = RESOLUTION
) -> jax.Array:
    """Images (..., R, R) of the rescaled curves of float32 latents z (..., *latent_shape),
    bitwise equal to eager `render` on a CPU; the curve points are computed by JAX as
    `render` computes them. Errors as `render_points_on_host`, for latents."""
    check_family(family)
    _check_concrete(z, "latents", "render")
    check_real(z, "latents")
    _check_float32(z.dtype if hasattr(z, "dtype") else np.asarray(z).dtype, "latents", "render")
    z = check_latents(z, family)
    resolution = check_resolution(resolution)
    check_finite_curves(z, "latents", curve_ndim=len(family.latent_shape))
    points = np.asarray(curve_points(z, family))
    check_finite_curves(points, "points")  # finite latents whose curve overflows
    return _draw_on_host(points, resolution)
