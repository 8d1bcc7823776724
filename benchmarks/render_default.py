"""Images/s of `squiggles.render` as users call it, against the host kernel and the
XLA program, measured in one run on one machine; and whether their bits and
gradients are identical.

    python benchmarks/render_default.py                 # 1,024 Taylor latents, R = 60
    python benchmarks/render_default.py --batch 4096 --repeats 15

Rows: `render` eager and under `jax.jit` (the defaults: on a CPU the host kernel
draws the forward pass), `render_on_host` (the kernel, chosen explicitly), and the
XLA program (`renderer="xla"`) eager and under `jax.jit`; then `jax.jit(jax.grad)`
of a weighted sum of the images through `render` and through the XLA program.
Each figure is the median of `--repeats` timed calls after one untimed call that
compiles; the programs take turns within each repeat, each going first in turn,
so that the load of a shared machine falls on all of them alike.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

import squiggles


def programs(resolution: int) -> dict[str, Callable[[jax.Array], jax.Array]]:
    """The forward programs, by the name printed in the table."""

    def render(z):
        return squiggles.render(z, resolution=resolution)

    def xla(z):
        return squiggles.render(z, resolution=resolution, renderer="xla")

    return {
        "render, eager": render,
        "render, jit": jax.jit(render),
        "render_on_host": lambda z: squiggles.render_on_host(z, resolution=resolution),
        "XLA program, eager": xla,
        "XLA program, jit": jax.jit(xla),
    }


def gradients(resolution: int) -> dict[str, Callable[[jax.Array], jax.Array]]:
    """jit(grad) of one weighted sum of the images, through `render` and through the
    XLA program."""
    weights = jnp.sin(jnp.arange(resolution * resolution, dtype=jnp.float32))
    weights = weights.reshape(resolution, resolution)

    def through(renderer: str):
        def loss(z):
            images = squiggles.render(z, resolution=resolution, renderer=renderer)
            return jnp.sum(weights * images)

        return jax.jit(jax.grad(loss))

    return {"grad, render, jit": through("auto"), "grad, XLA program, jit": through("xla")}


def median_seconds(
    functions: dict[str, Callable[[jax.Array], jax.Array]], z: jax.Array, repeats: int
) -> dict[str, float]:
    """Median seconds of each function on z, after one untimed call; the functions
    take turns within each repeat, in a rotated order."""
    for function in functions.values():
        jax.block_until_ready(function(z))
    names = list(functions)
    times = {name: [] for name in names}
    for repeat in range(repeats):
        turn = repeat % len(names)  # each program goes first in turn
        for name in names[turn:] + names[:turn]:
            start = time.perf_counter()
            jax.block_until_ready(functions[name](z))
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(seconds) for name, seconds in times.items()}


def identical(arrays: list[jax.Array]) -> bool:
    first = np.asarray(arrays[0])
    return all(np.array_equal(np.asarray(other), first) for other in arrays[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1024, help="Taylor latents per call")
    parser.add_argument("--resolution", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    z = squiggles.sample_latents(squiggles.Taylor(), args.batch, seed=0)
    forward = programs(args.resolution)
    backward = gradients(args.resolution)
    seconds = median_seconds(forward, z, args.repeats)
    seconds |= median_seconds(backward, z, max(3, args.repeats // 3))

    print(
        f"{args.batch:,} Taylor latents, R = {args.resolution}, backend "
        f"{jax.default_backend()} ({jax.devices()[0].device_kind}), jax {jax.__version__}; "
        f"median of {args.repeats} calls ({max(3, args.repeats // 3)} for gradients)"
    )
    print("| program | ms per call | images/s |")
    print("|---|---|---|")
    for name, value in seconds.items():
        print(f"| {name} | {value * 1e3:.1f} | {args.batch / value:,.0f} |")
    host = seconds["render_on_host"]
    print()
    print(f"eager render / render_on_host: {host / seconds['render, eager']:.2f}x (target >= 0.8)")
    print(f"jit(render) / render_on_host: {host / seconds['render, jit']:.2f}x (target >= 0.8)")
    bits = identical([function(z) for function in forward.values()])
    grads = identical([function(z) for function in backward.values()])
    print(f"bits identical (all five programs): {'yes' if bits else 'no'}")
    print(f"grads identical (render and the XLA program): {'yes' if grads else 'no'}")


if __name__ == "__main__":
    main()
