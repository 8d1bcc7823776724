"""Samples/s of each stage of the generator and of the whole path, batched, beside
the per-sample loop of the public reimplementation (one jitted call and one
`shapely.LineString(...).is_simple` per sample, no images). Images by each
renderer: the host kernel, the eager and the jitted XLA program; the dataset path
is `generate_examples` with its default renderer.

    python benchmarks/generator_throughput.py --family taylor --batch 10000
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable

import jax
import numpy as np
import shapely

import squiggles
from squiggles.renderers import resolve_renderer


def rate(fn: Callable[[], object], count: int, repeats: int) -> float:
    """Samples/s of fn (which makes `count` samples), best of `repeats` after a warm-up."""
    jax.block_until_ready(fn())
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - start)
    return count / best


def per_sample_loop_rate(family: squiggles.Family, count: int, repeats: int) -> float:
    """The reimplementation's way: a Python loop with one jitted call per sample, which
    draws the latent from (seed, index) and evaluates the curve, then one Shapely
    test. Best of `repeats` passes, like the batched stages.

    Exactly one jax dispatch per sample: slicing a pre-split key array (`keys[i]`)
    would add a second one and make the loop look about 2.5x slower than it is.
    """

    @jax.jit
    def one_curve(root: jax.Array, index: int) -> jax.Array:
        return squiggles.points(family.sample(jax.random.fold_in(root, index))[None], family)[0]

    root = jax.random.key(0)
    np.asarray(one_curve(root, 0))  # compile outside the timing
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        simple = [
            shapely.LineString(np.asarray(one_curve(root, i))).is_simple for i in range(count)
        ]
        best = min(best, time.perf_counter() - start)
    assert len(simple) == count
    return count / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=sorted(squiggles.FAMILIES), default="taylor")
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--resolution", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--loop-samples", type=int, default=2_000)
    args = parser.parse_args()

    family = squiggles.family_from_name(args.family)
    n, res = args.batch, args.resolution
    print(f"{family}, batch {n}, {res}x{res} images, devices {jax.devices()}")

    latents = squiggles.sample_latents(family, n)
    points = squiggles.points(latents, family)
    host_points = np.asarray(points)
    xla_render = jax.jit(
        functools.partial(squiggles.render_points, renderer="xla"), static_argnums=1
    )
    # The dataset path: generate_examples with its default renderer ("auto": the host
    # kernel when JAX's default backend is the CPU).
    dataset = f"end to end ({resolve_renderer('auto')}, dataset)"
    stages = {
        "sample_latents": lambda: squiggles.sample_latents(family, n),
        "points (rescaled)": lambda: squiggles.points(latents, family),
        "label (Shapely)": lambda: squiggles.is_self_intersecting(host_points),
        f"render_points_on_host {res}x{res}": lambda: squiggles.render_points_on_host(
            host_points, res
        ),
        "render_points, eager XLA": lambda: squiggles.render_points(points, res, "xla"),
        "  the same as one jitted XLA": lambda: xla_render(points, res),
        dataset: lambda: squiggles.generate_examples(family, n, resolution=res),
        "end to end (xla)": lambda: squiggles.generate_examples(
            family, n, resolution=res, renderer="xla"
        ),
    }
    rates = {}
    for name, fn in stages.items():
        rates[name] = rate(fn, n, args.repeats)
        print(f"  {name:30s} {rates[name]:12,.0f} samples/s")

    loop = per_sample_loop_rate(family, args.loop_samples, args.repeats)
    print(f"  {'per-sample loop, no images':30s} {loop:12,.0f} samples/s")
    print(f"end to end with images / per-sample loop without: {rates[dataset] / loop:.1f}x")


if __name__ == "__main__":
    main()
