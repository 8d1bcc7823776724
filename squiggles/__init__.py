"""Squiggles: images of random planar curves, labelled by whether the curve crosses
itself, made by a differentiable generator (latent → points → pixels).

    import squiggles
    z = squiggles.sample_latents(squiggles.Taylor(), 16, seed=0)
    images = squiggles.render(z)                       # (16, 60, 60), differentiable
    labels = squiggles.is_self_intersecting(squiggles.points(z))
"""

from squiggles.curves import BOX_SIZE, NUM_POINTS, points, rescale, t_values
from squiggles.examples import Examples, generate_examples
from squiggles.families import (
    FAMILIES,
    Family,
    SineNet,
    Taylor,
    family_from_name,
    family_from_settings,
)
from squiggles.labels import is_self_intersecting
from squiggles.rendering import RESOLUTION, pixel_centres, render, render_points
from squiggles.sampling import sample_latents, sample_latents_at

__version__ = "0.1.0"

__all__ = [
    "BOX_SIZE",
    "Examples",
    "FAMILIES",
    "Family",
    "NUM_POINTS",
    "RESOLUTION",
    "SineNet",
    "Taylor",
    "family_from_name",
    "family_from_settings",
    "generate_examples",
    "is_self_intersecting",
    "pixel_centres",
    "points",
    "render",
    "render_points",
    "rescale",
    "sample_latents",
    "sample_latents_at",
    "t_values",
]
