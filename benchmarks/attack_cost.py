"""Cost of one PGD iteration relative to one forward and backward pass of the model.

    python benchmarks/attack_cost.py --model cpu --batch 250
    python benchmarks/attack_cost.py --model resnet34 --batch 64

An iteration is one gradient plus normalisation, step, projection and clipping, inside
`lax.fori_loop`; the reference is the jitted input gradient of the same loss on the
same batch. In latent space both include `squiggles.render`; the latent iteration is
also compared with the model's pixel-space pass, to show what rendering adds.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import jax
import jax.numpy as jnp

sys.path.insert(
    0, str(pathlib.Path(__file__).resolve().parents[1])
)  # experiments/ is not installed
import squiggles  # noqa: E402
from experiments.attacks import pgd
from experiments.configs import cpu, taylor_paper, tiny  # noqa: E402
from experiments.runs.chunk_examples import TestExamples  # noqa: E402
from experiments.training import data, trained_run, trainer

CONFIGS = {"cpu": cpu, "resnet34": taylor_paper, "tiny": tiny}


def seconds(function, *args, repeats: int) -> float:
    """Best of `repeats` timed calls, after one call that compiles."""
    jax.block_until_ready(function(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(function(*args))
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(CONFIGS), default="cpu")
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--block", type=int, default=10, help="unrolled iterations per block")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    config = CONFIGS[args.model].get_config()
    state = trainer.create_train_state(config, jax.random.key(0))
    family = data.family_of(config)
    chunk = TestExamples.load(family, config.resolution, 0, args.batch)
    images, latents = jnp.asarray(chunk.images), jnp.asarray(chunk.latents)
    labels = jnp.asarray(chunk.labels, jnp.int32)
    model = trained_run.classifier(state)

    def total_loss(images):
        return jnp.sum(pgd.cross_entropy(model, labels)(images))

    def iteration(x0, block, **space):
        return seconds(
            lambda x: pgd.run_pgd(model, x, labels, 0.3, steps=args.iterations,
                                  step_fraction=1 / 25, block=block, **space).point,
            x0, repeats=args.repeats,
        ) / args.iterations  # fmt: skip

    latent_space = dict(family=family, resolution=config.resolution)
    pixel_pass = jax.jit(jax.grad(total_loss))
    latent_pass = jax.jit(
        jax.grad(lambda z: total_loss(squiggles.render(z, family, config.resolution)))
    )
    timings = {
        "pixel pass": seconds(pixel_pass, images, repeats=args.repeats),
        "latent pass": seconds(latent_pass, latents, repeats=args.repeats),
    }
    for block in (args.block, 0):
        loop = f"blocks of {block}" if block else "one fori_loop"
        timings[f"pixel iteration, {loop}"] = iteration(images, block, clip=True)
        timings[f"latent iteration, {loop}"] = iteration(latents, block, **latent_space)
    print(f"model {args.model} ({config.resolution}x{config.resolution}), batch {args.batch}, "
          f"{args.iterations} iterations, {jax.devices()[0].platform}")  # fmt: skip
    for name, value in timings.items():
        print(f"  {name:34s} {1e3 * value:9.2f} ms  ({args.batch / value:,.0f} examples/s)")
    print("  ratios (iteration / pass of the same space; latent also / pixel pass):")
    for name, value in timings.items():
        if "iteration" in name:
            space = name.split()[0]
            ratio = value / timings[f"{space} pass"]
            extra = f"  {value / timings['pixel pass']:5.2f}" if space == "latent" else ""
            print(f"  {name:34s} {ratio:5.2f}{extra}")


if __name__ == "__main__":
    main()
