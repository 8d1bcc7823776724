"""Squiggles: images of random planar curves, labelled by whether the curve crosses
itself, made by a differentiable generator (latent → points → pixels).

    import squiggles
    z = squiggles.sample_latents(squiggles.Taylor(), 16, seed=0)
    images = squiggles.render(z)                       # (16, 60, 60), differentiable
    labels = squiggles.is_self_intersecting(squiggles.points(z))

`render` and `render_points` work eagerly and under jit, grad and vmap. On a CPU a
compiled host kernel draws their forward pass (float32 curves), with the bits of
the XLA program that draws it elsewhere and that differentiation always uses;
`renderer="xla"` or `"host"` forces one of them, and `render_on_host` and
`render_points_on_host` the kernel.

The constants every user of the data shares live here, free of TensorFlow: the
stream of each split (SPLIT_STREAMS, TRAIN_STREAM, ...), CLASS_NAMES, and the
uint8 storage of images (quantize, dequantize).
"""

from squiggles.curves import BOX_SIZE, NUM_POINTS, points, rescale, t_values
from squiggles.data_source import DataSource, data_source
from squiggles.examples import Examples, chunk_starts, generate_examples, stored_examples
from squiggles.families import (
    FAMILIES,
    Family,
    SineNet,
    Taylor,
    family_from_name,
    family_from_settings,
)
from squiggles.host_rendering import render_on_host, render_points_on_host
from squiggles.labels import CLASS_NAMES, is_self_intersecting
from squiggles.quantization import dequantize, quantize
from squiggles.renderers import RENDERERS, render, render_points
from squiggles.rendering import RESOLUTION, pixel_centres
from squiggles.sampling import sample_latents, sample_latents_at
from squiggles.splits import (
    DATA_SEED,
    SPLIT_STREAMS,
    TEST_STREAM,
    TRAIN_STREAM,
    VALIDATION_STREAM,
)

__version__ = "0.1.0"


def __getattr__(name: str):
    """`squiggles.corruptions` on first use: dm-pix loads only when it is needed."""
    if name == "corruptions":
        import importlib

        return importlib.import_module("squiggles.corruptions")
    raise AttributeError(f"module 'squiggles' has no attribute {name!r}")


__all__ = [
    "BOX_SIZE",
    "CLASS_NAMES",
    "DataSource",
    "Examples",
    "FAMILIES",
    "Family",
    "NUM_POINTS",
    "RENDERERS",
    "RESOLUTION",
    "DATA_SEED",
    "SPLIT_STREAMS",
    "SineNet",
    "TEST_STREAM",
    "TRAIN_STREAM",
    "Taylor",
    "VALIDATION_STREAM",
    "chunk_starts",
    "data_source",
    "dequantize",
    "family_from_name",
    "family_from_settings",
    "generate_examples",
    "stored_examples",
    "is_self_intersecting",
    "pixel_centres",
    "points",
    "quantize",
    "render",
    "render_on_host",
    "render_points",
    "render_points_on_host",
    "rescale",
    "sample_latents",
    "sample_latents_at",
    "t_values",
]
