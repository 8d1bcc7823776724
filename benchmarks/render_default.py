"""Images/s of `squiggles.render` as users call it, against the host kernel and the
XLA program, measured in one run on one machine; and whether their bits and
gradients are identical.

    python benchmarks/render_default.py                 # 1,024 Taylor latents, R = 60
    python benchmarks/render_default.py --batch 4096 --repeats 15

Rows: `render` eager and under `jax.jit` (the defaults: on a CPU the host kernel
draws the forward pass), `render_on_host` (the kernel, chosen explicitly), and the
XLA program (`renderer="xla"`) eager and under `jax.jit`; then `jax.jit(jax.grad)`
of a weighted sum of the images through `render` and through the XLA program.
Each figure is the median (and the best) of `--repeats` timed calls after one
untimed call that compiles; the kernel's three programs take turns within each repeat, each going
first in turn, so that the load of a shared machine falls on all of them alike.
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
    """The programs that the kernel draws, by the name printed in the table."""

    def render(z):
        return squiggles.render(z, resolution=resolution)

    return {
        "render, eager": render,
        "render, jit": jax.jit(render),
        "render_on_host": lambda z: squiggles.render_on_host(z, resolution=resolution),
    }


def xla_programs(resolution: int) -> dict[str, Callable[[jax.Array], jax.Array]]:
    """The XLA program, eager and jitted. Timed apart from the kernel's programs:
    XLA's worker threads stay busy for a moment after a program ends, which would
    slow whichever call came next on a machine with few cores."""

    def xla(z):
        return squiggles.render(z, resolution=resolution, renderer="xla")

    return {"XLA program, eager": xla, "XLA program, jit": jax.jit(xla)}


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


def timed_seconds(
    functions: dict[str, Callable[[jax.Array], jax.Array]], z: jax.Array, repeats: int
) -> dict[str, list[float]]:
    """Seconds of `repeats` calls of each function on z, after one untimed call; the
    functions take turns within each repeat, in a rotated order."""
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
    return times


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
    forward, xla, backward = (
        programs(args.resolution),
        xla_programs(args.resolution),
        gradients(args.resolution),
    )
    seconds = timed_seconds(forward, z, args.repeats)
    seconds |= timed_seconds(xla, z, args.repeats)
    seconds |= timed_seconds(backward, z, max(3, args.repeats // 3))
    median = {name: statistics.median(times) for name, times in seconds.items()}
    best = {name: min(times) for name, times in seconds.items()}

    print(
        f"{args.batch:,} Taylor latents, R = {args.resolution}, backend "
        f"{jax.default_backend()} ({jax.devices()[0].device_kind}), jax {jax.__version__}; "
        f"median and best of {args.repeats} calls ({max(3, args.repeats // 3)} for gradients)"
    )
    print("| program | ms per call (median) | images/s (median) | images/s (best) |")
    print("|---|---|---|---|")
    for name in seconds:
        print(
            f"| {name} | {median[name] * 1e3:.1f} | {args.batch / median[name]:,.0f} "
            f"| {args.batch / best[name]:,.0f} |"
        )
    print()
    for label, name in (("eager render", "render, eager"), ("jit(render)", "render, jit")):
        ratio = median["render_on_host"] / median[name]
        print(
            f"{label} / render_on_host: {ratio:.2f}x median "
            f"({best['render_on_host'] / best[name]:.2f}x best; target >= 0.8)"
        )
    bits = identical([function(z) for function in (forward | xla).values()])
    grads = identical([function(z) for function in backward.values()])
    print(f"bits identical (all five programs): {'yes' if bits else 'no'}")
    print(f"grads identical (render and the XLA program): {'yes' if grads else 'no'}")


if __name__ == "__main__":
    main()
