"""Rendering on the host CPU with a compiled kernel: the forward pass of `render` on a CPU.

The kernel (`host_kernel`) draws the bits of the XLA program (`rendering`) several
times faster, comparing each pixel row only with the points near it. On a CPU,
`render` and `render_points` draw float32 curves with it (see `rendering`):
concrete arrays directly, traced ones (jit, vmap, grad) through `jax.pure_callback`
inside a custom VJP whose forward pass under differentiation, and so whose
gradient, is the XLA program's. `render_on_host` and `render_points_on_host`
choose it explicitly on any backend (float32 only; concrete curves give images
on the CPU).

If this process's XLA takes exp some other way than the kernel
(`xla_exp.exp_matches_xla` is false), the kernel returns distances and XLA:CPU's
`intensity` takes their exp: still the same bits, a little slower.

The callback calls no JAX function: it runs on one of XLA's threads while the
program that called it waits, so what it needs from JAX (the pixel centres, the
exp probe) is made when the program is traced; its worker threads run only the
kernel, which releases the GIL. In a process with several devices traced curves
take the XLA program instead, where a callback can hang (`callbacks_are_safe`).

numba is imported, and the kernel compiled or loaded from its cache, on the
first call: `import squiggles` does not load it.
"""

from __future__ import annotations

import functools
import math
import os
from concurrent.futures import ThreadPoolExecutor

import jax
import jax.numpy as jnp
import numpy as np

from squiggles.curves import check_finite_curves, check_latents, check_real
from squiggles.curves import points as curve_points
from squiggles.families import Family, Taylor, check_family
from squiggles.rendering import (
    RESOLUTION,
    _render_points,
    check_points_shape,
    check_resolution,
    intensity,
    pixel_centres,
)

CURVES_PER_TASK = 64  # below this a worker thread costs more than it saves
_ALIGNMENT = 64  # bytes; jax.device_put of an aligned array need not copy


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


@functools.lru_cache(maxsize=32)
def _centres(resolution: int) -> np.ndarray:
    with jax.ensure_compile_time_eval():  # concrete, even inside a trace
        return np.asarray(pixel_centres(resolution))


def _kernel_inputs(resolution: int) -> tuple[np.ndarray, bool]:
    """The pixel centres and whether the kernel takes exp itself, made by JAX now,
    even inside a trace, so that drawing later calls no JAX."""
    from squiggles import host_kernel, xla_exp  # noqa: F401  numba: loaded on first use

    with jax.ensure_compile_time_eval():
        return _centres(resolution), xla_exp.exp_matches_xla()


def _draw(points: np.ndarray, centres: np.ndarray, exponentiate: bool) -> np.ndarray:
    """Images (..., R, R) of float32 points (..., P, 2), NaN for curves with a NaN or
    inf point, as a NumPy array: exp(-R² d²), or d² without `exponentiate`.

    Split among worker threads, one per core (the kernel releases the GIL), each
    writing its slice of one aligned output array. Calls no JAX.
    """
    from squiggles import host_kernel

    resolution = centres.shape[0]
    leading, num_points = points.shape[:-2], points.shape[-2]
    curves = np.ascontiguousarray(np.asarray(points).reshape(-1, num_points, 2))
    if curves.flags.writeable:  # one compiled kernel for every caller: read-only input
        curves = curves.view()
        curves.flags.writeable = False
    count = curves.shape[0]
    scale = np.float32(-(resolution**2))
    radius = host_kernel.XLA_EXP_RADIUS if exponentiate else host_kernel.WINDOW_RADIUS
    images = _aligned_empty((count, resolution, resolution))
    workers = max(1, min(_worker_count(), count // CURVES_PER_TASK))
    bounds = np.linspace(0, count, workers + 1).astype(int)

    def draw(task: int) -> None:
        start, stop = bounds[task], bounds[task + 1]
        host_kernel.draw(
            curves[start:stop], centres, scale, exponentiate, radius, images[start:stop]
        )

    if workers == 1:
        draw(0)
    else:
        # A pool per call: a module-level pool would not survive a fork (Beam workers).
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(draw, range(workers)))
    images[~np.isfinite(curves).all(axis=(-2, -1))] = np.nan
    return images.reshape(*leading, resolution, resolution)


def _draw_now(points: np.ndarray, resolution: int, device: jax.Device) -> jax.Array:
    """Images of concrete float32 points, as a JAX array on `device` (a CPU)."""
    centres, in_place = _kernel_inputs(resolution)
    result = jax.device_put(_draw(points, centres, in_place), device)
    return result if in_place else intensity(result, resolution)


def _draw_in_callback(points: jax.Array, resolution: int) -> jax.Array:
    """Images of traced float32 points, drawn by the kernel when the program runs.

    Under vmap the callback gets the batch as leading axes, which the kernel takes.
    """
    centres, in_place = _kernel_inputs(resolution)
    shape = jax.ShapeDtypeStruct((*points.shape[:-2], resolution, resolution), jnp.float32)
    draw = functools.partial(_draw, centres=centres, exponentiate=in_place)
    images = jax.pure_callback(draw, shape, points, vmap_method="expand_dims")
    return images if in_place else intensity(images, resolution)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _drawn_on_host(points: jax.Array, resolution: int) -> jax.Array:
    """The kernel's images of traced points, differentiable: differentiated, the
    forward pass and the gradient are the XLA program's, as `render_points` had."""
    return _draw_in_callback(points, resolution)


def _drawn_on_host_fwd(points: jax.Array, resolution: int):
    return jax.vjp(lambda p: _render_points(p, resolution), points)


def _drawn_on_host_bwd(resolution: int, pullback, cotangent: jax.Array):
    return pullback(cotangent)


_drawn_on_host.defvjp(_drawn_on_host_fwd, _drawn_on_host_bwd)


def _single_device(values: jax.Array) -> jax.Device | None:
    devices = values.devices()
    return next(iter(devices)) if len(devices) == 1 else None


def callbacks_are_safe() -> bool:
    """Whether traced curves may be drawn through a callback: only in a process with
    one device (of JAX's default backend). With several, XLA:CPU copies a
    callback's input of 100 KiB or more on its thread pool, whose threads the other
    devices can hold while they wait in a collective for the device that runs the
    callback, and the program hangs (JAX 0.10.2, two host devices on two cores)."""
    return jax.device_count() == 1


def draws_here(points: jax.Array) -> bool:
    """Whether `render_points` draws these checked points with the kernel: float32
    points that the CPU draws. Concrete points: those on one CPU device (sharded
    points keep XLA's program and placement). Traced points: when JAX's default
    backend, where jit places a program unless told otherwise, is the CPU and has
    one device (`callbacks_are_safe`)."""
    if points.dtype != jnp.float32:
        return False  # other floats: the kernel cannot give the XLA program's bits
    if isinstance(points, jax.core.Tracer):
        return jax.default_backend() == "cpu" and callbacks_are_safe()
    device = _single_device(points)
    return device is not None and device.platform == "cpu"


def draw_points(points: jax.Array, resolution: int) -> jax.Array:
    """The kernel's images of checked float32 points (finite, if concrete): on
    their own CPU device if concrete, through a callback if traced (the XLA
    program where a callback is not safe)."""
    if isinstance(points, jax.core.Tracer):
        if not callbacks_are_safe():
            return _render_points(points, resolution)
        return _drawn_on_host(points, resolution)
    device = _single_device(points)
    on_cpu = device is not None and device.platform == "cpu"
    return _draw_now(np.asarray(points), resolution, device if on_cpu else _cpu())


def render_points_on_host(
    points: np.ndarray | jax.Array, resolution: int = RESOLUTION
) -> jax.Array:
    """Images (..., R, R) of float32 points (..., P, 2) in unit-square coordinates,
    bitwise equal to `render_points` on a CPU, drawn by the host kernel on any backend.

    Concrete points give a JAX array on the CPU. Traced points (jit, vmap, grad)
    are drawn through a callback, differentiably, as `render_points` draws them on
    a CPU; in a process with several devices, by the XLA program instead
    (`callbacks_are_safe`). TypeError for non-float32 points; ValueError for a bad shape or
    resolution, or for concrete curves with a NaN or inf point (naming them), as
    `render_points` does.
    """
    check_real(points, "points")
    if not isinstance(points, jax.core.Tracer):
        points = np.asarray(points)
    _check_float32(points.dtype, "points", "render_points")
    check_points_shape(points.shape)
    resolution = check_resolution(resolution)
    if isinstance(points, jax.core.Tracer):
        return draw_points(points, resolution)
    check_finite_curves(points, "points")
    return _draw_now(points, resolution, _cpu())


def render_on_host(
    z: np.ndarray | jax.Array, family: Family = Taylor(), resolution: int = RESOLUTION
) -> jax.Array:
    """Images (..., R, R) of the rescaled curves of float32 latents z (..., *latent_shape),
    bitwise equal to `render` on a CPU; the curve points are computed by JAX as
    `render` computes them. Errors as `render_points_on_host`, for latents."""
    check_family(family)
    check_real(z, "latents")
    _check_float32(z.dtype if hasattr(z, "dtype") else np.asarray(z).dtype, "latents", "render")
    z = check_latents(z, family)
    resolution = check_resolution(resolution)
    if isinstance(z, jax.core.Tracer):
        return draw_points(curve_points(z, family), resolution)
    check_finite_curves(z, "latents", curve_ndim=len(family.latent_shape))
    points = np.asarray(curve_points(z, family))
    check_finite_curves(points, "points")  # finite latents whose curve overflows
    return _draw_now(points, resolution, _cpu())
