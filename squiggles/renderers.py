"""The explicit choice of renderer for forward images, for callers that draw many.

- "xla": the XLA program, on JAX's default backend.
- "host": `render_points_on_host`, the numba kernel on the CPU: the bits of the
  eager XLA program on a CPU, several times faster.
- "auto": "host" when JAX's default backend is the CPU, else "xla", so that on
  an accelerator the images are drawn there.

`render` and `render_points` take the same `renderer` argument (see `rendering`);
this module resolves "auto" before drawing, for callers such as
`generate_examples` whose memory estimate depends on the program. On a CPU
"host" and "xla" give the same bits, so the choice changes only speed.
"""

from __future__ import annotations

import jax

from squiggles.host_rendering import render_points_on_host
from squiggles.rendering import RENDERERS, check_renderer, render_points

__all__ = ["RENDERERS", "render_points_with", "resolve_renderer"]


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
