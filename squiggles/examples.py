"""Complete examples in one call: latent, points, label and image for a range of a
stream, and the cutting of long ranges into chunks. The dataset builder, online
training and the analyses all make their data here, so they can never disagree on
how an example is made."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import jax
import numpy as np

from squiggles.curves import NUM_POINTS
from squiggles.curves import points as curve_points
from squiggles.families import Family
from squiggles.labels import is_self_intersecting
from squiggles.quantization import dequantize, quantize
from squiggles.renderers import render_points_with, resolve_renderer
from squiggles.rendering import RESOLUTION, check_resolution
from squiggles.sampling import check_fits, latent_bytes, sample_latents
from squiggles.splits import DATA_SEED, TEST_STREAM


class Examples(NamedTuple):
    """A batch of examples; field i of each array belongs to example `index[i]`."""

    index: np.ndarray  # int64 (N,): position in the stream
    latent: jax.Array  # float32 (N, *latent_shape)
    points: jax.Array  # float32 (N, P, 2), rescaled
    label: np.ndarray  # bool (N,): True when the curve crosses or touches itself
    image: jax.Array  # float32 (N, R, R) in [0, 1]


def chunk_starts(size: int, chunk_size: int) -> list[tuple[int, int]]:
    """(start, count) of each chunk covering indices 0 .. size-1."""
    return [(start, min(chunk_size, size - start)) for start in range(0, size, chunk_size)]


def example_bytes(family: Family, resolution: int, renderer: str = "auto") -> int:
    """Peak bytes per example, estimated: sampling the latent, the points (float32,
    rescaled, and float64 for Shapely, whose LineString holds another copy), the
    image (drawn by XLA, also the program's distances), index and label."""
    points = NUM_POINTS * 2 * (4 + 4 + 8 + 8)
    image = 4 * resolution**2
    if resolve_renderer(renderer) == "xla":
        image += 4 * resolution**2 + 2 * 4 * NUM_POINTS * resolution
    return latent_bytes(family, 1) + points + image + 8 + 1


def generate_examples(
    family: Family,
    count: int,
    *,
    seed: int = 0,
    stream: int = 0,
    start: int = 0,
    resolution: int = RESOLUTION,
    renderer: str = "auto",
) -> Examples:
    """Examples number start .. start+count-1 of a stream, made in vectorised batches.

    All of them are held in memory at once: a count whose arrays cannot fit is
    refused with a ValueError naming the bytes needed and available (make a long
    range in several calls; any split gives the same examples).

    `renderer` draws the images (see `squiggles.renderers`): "host", the numba
    kernel on the CPU; "xla", the XLA program on JAX's default backend; "auto"
    (default), "host" when that backend is the CPU, else "xla". On a CPU both give
    the same bits. Images are drawn in a background thread (both release the GIL)
    while Shapely labels the curves.
    """
    resolution = check_resolution(resolution)
    renderer = resolve_renderer(renderer)
    if isinstance(count, (int, np.integer)) and not isinstance(count, bool) and count > 0:
        check_fits(
            example_bytes(family, resolution, renderer) * int(count),
            f"{int(count):,} examples of {family} at resolution {resolution}",
        )
    latent = sample_latents(family, count, seed=seed, stream=stream, start=start)
    points = curve_points(latent, family)
    with ThreadPoolExecutor(1) as pool:
        drawing = pool.submit(render_points_with, renderer, points, resolution)
        label = is_self_intersecting(np.asarray(points))
        image = drawing.result()
    index = np.arange(start, start + count, dtype=np.int64)
    return Examples(index=index, latent=latent, points=points, label=label, image=image)


def stored_form(examples: Examples, *, points: bool = True) -> dict[str, np.ndarray]:
    """Examples as the arrays the TFDS datasets store (`points=False`: without the points):
    the uint8 image (R, R, 1), points, latent, int64 label and index."""
    chunk = {
        "image": quantize(examples.image),
        "points": np.asarray(examples.points),
        "latent": np.asarray(examples.latent),
        "label": examples.label.astype(np.int64),
        "index": examples.index,
    }
    if not points:
        del chunk["points"]
    return chunk


def stored_examples(
    family: Family,
    count: int,
    *,
    start: int = 0,
    stream: int = TEST_STREAM,
    seed: int = DATA_SEED,
    resolution: int = RESOLUTION,
) -> Examples:
    """Examples start .. start+count-1 of a split's stream exactly as the TFDS dataset
    stores them: `generate_examples` with the images quantised to uint8 and back to
    [0, 1]. Evaluations and analyses read their test examples here, without TensorFlow."""
    examples = generate_examples(
        family, count, seed=seed, stream=stream, start=start, resolution=resolution
    )
    return examples._replace(image=dequantize(quantize(examples.image)))
