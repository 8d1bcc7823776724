"""Throughput of `experiments.attacks.ford.error_rate` against the model's plain forward rate.

    python benchmarks/noise_cost.py --model cpu --images 100 --samples 200 --batch 1000
    python benchmarks/noise_cost.py --workdir models/cpu_taylor

Both classify the same number of images per forward pass (`--batch`): the forward rate is
a jitted `logits` of a batch of test images; error_rate draws the noise, adds it,
classifies and counts inside one jitted scan over passes. The ratio is the share of the
forward rate that error_rate keeps (noise generation and counting cost the rest). It also
times σ(x, 1 %) and the distance to the nearest error on the same images.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # experiments/
from timing import CONFIGS, best_seconds  # noqa: E402

from experiments.attacks import ford
from experiments.runs.chunk_examples import TestExamples  # noqa: E402
from experiments.training import data, metrics, trained_run, trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(CONFIGS), default="cpu")
    parser.add_argument("--workdir", help="a trained run (default: --model, untrained)")
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--samples", type=int, default=200, help="noise draws per image")
    parser.add_argument("--batch", type=int, default=1000, help="images per forward pass")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no_extras", action="store_true", help="skip σ(x, 1 %%), distance")
    args = parser.parse_args()

    if args.workdir:
        state, config = trained_run.load_run(args.workdir)
    else:
        config = CONFIGS[args.model].get_config()
        state = trainer.create_train_state(config, jax.random.key(0))
    chunk = TestExamples.load(data.family_of(config), config.resolution, 0, args.images)
    images, labels = jnp.asarray(chunk.images), jnp.asarray(chunk.labels, jnp.int32)
    logits_fn = trained_run.classifier(state)
    per_pass = ford.draws_per_pass(args.images, args.batch)
    batch = args.images * per_pass
    forward_images = jnp.tile(images, (-(-batch // args.images), 1, 1))[:batch]
    forward = jax.jit(metrics.logits)
    passes = -(-args.samples // per_pass)

    def forwards():
        return [forward(state, forward_images) for _ in range(passes)]

    forward_rate = passes * batch / best_seconds(forwards, args.repeats)
    key = jax.random.key(0)
    seconds = best_seconds(
        lambda: ford.count_errors(logits_fn, images, labels, 0.1, samples=args.samples,
                                   key=key, batch=args.batch),
        args.repeats,
    )  # fmt: skip
    noise_rate = args.images * args.samples / seconds
    print(
        f"device: {jax.devices()[0].device_kind}, model {args.workdir or args.model}, "
        f"{args.images} images × {args.samples} draws, {batch} images per forward pass"
    )
    print(f"plain forward:  {forward_rate:10,.0f} images/s")
    print(
        f"error_rate:     {noise_rate:10,.0f} images·samples/s "
        f"({noise_rate / forward_rate:.2f}× the forward rate)"
    )
    if args.no_extras:
        return
    start = time.perf_counter()
    sigma = ford.sigma_at_error_rate(logits_fn, images, labels, 0.01, samples=args.samples,
                                      key=key, batch=args.batch)  # fmt: skip
    print(
        f"σ(x, 1 %), {args.samples} draws, tol 1e-3: {time.perf_counter() - start:.1f} s "
        f"(median {np.median(sigma):.4f})"
    )
    start = time.perf_counter()
    distance = ford.distance_to_error(logits_fn, images, labels, steps=200)
    print(
        f"distance to error, ≤200 steps: {time.perf_counter() - start:.1f} s "
        f"(median {np.median(distance.distance):.4f}, found {distance.found.mean():.2f})"
    )


if __name__ == "__main__":
    main()
