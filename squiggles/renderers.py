"""`render` and `render_points`, the package's public drawing calls, and the choice of
the program that draws their forward pass (`renderer`, "auto" by default).

Which program draws the forward pass (`renderer`, "auto" by default): on a CPU,
the compiled host kernel (`host_rendering`), which draws the bits of the eager XLA
program below several times faster; elsewhere this XLA program. "auto" takes the
kernel for float32 curves that a CPU draws: concrete points on one CPU device, or
traced points when JAX's default backend is the CPU and has one device, decided
when the program is traced (a jit placed on an accelerator by hand still draws on
the host, with the CPU's bits). Traced, the kernel runs through `jax.pure_callback`
inside a custom VJP whose forward pass under differentiation is this XLA program,
so gradients are exactly this program's. Other floats (float16, bfloat16, float64),
accelerators and traced curves in a process with several devices (where a callback
can hang: `host_rendering.callbacks_are_safe`) take the XLA program. "xla" and
"host" force one or the other.

- "xla": the XLA program (`rendering`), on JAX's default backend.
- "host": the numba kernel on the CPU (`host_rendering`): the bits of the eager XLA
  program on a CPU, several times faster.
- "auto": as above. `resolve_renderer` resolves it before drawing, for callers such as
  `generate_examples` whose memory estimate depends on the program.
"""

from __future__ import annotations

import jax
import numpy as np

from squiggles import host_rendering
from squiggles.curves import check_finite_curves, check_latents
from squiggles.curves import points as curve_points
from squiggles.families import Family, Taylor, check_family
from squiggles.host_rendering import render_points_on_host
from squiggles.rendering import (
    RESOLUTION,
    _render_points,
    check_points,
    check_render_fits,
    check_resolution,
)

RENDERERS = ("auto", "host", "xla")


def check_renderer(renderer: object) -> str:
    if not isinstance(renderer, str) or renderer not in RENDERERS:
        raise ValueError(f"renderer must be one of {', '.join(RENDERERS)}, got {renderer!r}")
    return renderer


def resolve_renderer(renderer: str) -> str:
    """The renderer, "host" or "xla", that `renderer` (one of RENDERERS) means here."""
    if check_renderer(renderer) == "auto":
        return "host" if jax.default_backend() == "cpu" else "xla"
    return renderer


def render_points_with(renderer: str, points: jax.Array, resolution: int) -> jax.Array:
    """Images (..., R, R) of points (..., P, 2), drawn by `renderer` (one of RENDERERS)."""
    if resolve_renderer(renderer) == "host":
        return render_points_on_host(points, resolution)
    return render_points(points, resolution, "xla")


def render_points(
    points: jax.Array, resolution: int = RESOLUTION, renderer: str = "auto"
) -> jax.Array:
    """Images (..., R, R) in [0, 1] of curve points (..., P, 2) given in unit-square
    coordinates. `image[..., r, c]` is the intensity at x = c/(R-1), y = r/(R-1).

    Points must be finite. Called eagerly, a curve with a NaN or inf point raises
    ValueError naming the curves; under jit, grad or vmap (values unknown) its
    image is all NaN, so that a loss over it is NaN rather than silently blank.
    Called eagerly, images that cannot fit in memory (a resolution too large, or
    too many curves) raise ValueError naming the bytes needed and available.

    `renderer` (one of RENDERERS) draws the forward pass: "auto" the host kernel
    for float32 points on a CPU, else the XLA program (see the module docstring);
    "host" the kernel on any backend (float32 only: TypeError otherwise); "xla"
    the XLA program. On a CPU the kernel and the eager XLA program give the same
    bits, eager or traced; the XLA program fused into an outer jit may differ in
    the last bit of exp. Gradients are always the XLA program's.
    """
    points, resolution = check_points(points), check_resolution(resolution)
    renderer = check_renderer(renderer)
    if renderer == "host":
        return host_rendering.render_points_on_host(points, resolution)
    if not isinstance(points, jax.core.Tracer):
        check_finite_curves(points, "points")
        count = int(np.prod(points.shape[:-2], dtype=np.int64))
        check_render_fits(count, points.shape[-2], resolution)
    if renderer == "auto":
        if host_rendering.draws_here(points):
            return host_rendering.draw_points(points, resolution)
    return _render_points(points, resolution)


def render(
    z: jax.Array,
    family: Family = Taylor(),
    resolution: int = RESOLUTION,
    renderer: str = "auto",
) -> jax.Array:
    """Images (..., R, R) of the rescaled curves of latents z (..., *latent_shape).

    Differentiable in z; batched over any leading axes; works under jit, grad, vmap.
    Latents must be real and finite: called eagerly, non-finite latents (or latents
    whose curve overflows) raise ValueError naming the curves; under a trace their
    images are all NaN (see `render_points`, also for `renderer`).
    """
    check_family(family)
    renderer = check_renderer(renderer)
    z = check_latents(z, family)
    if not isinstance(z, jax.core.Tracer):
        check_finite_curves(z, "latents", curve_ndim=len(family.latent_shape))
    return render_points(curve_points(z, family), resolution, renderer)
