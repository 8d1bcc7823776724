"""Corrupted images per second for each Squiggles-C corruption, against the forward
rate of a model on the same machine: corrupting must never be what an evaluation
waits for.

    python benchmarks/corruption_throughput.py                 # cpu model, R = 60
    python benchmarks/corruption_throughput.py --model resnet34 --batch 512

Each corruption runs on a batch of stored-form test images with one key per image,
as `corrupted_examples` and `experiments.evaluate --corruptions` call it, at
severity 3; the time is the best of `--repeats` calls after one that compiles. The
forward rate is the jitted logits of the same batch (an untrained model of the
config runs exactly as fast as a trained one).
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import jax
import jax.numpy as jnp

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # experiments/
from timing import CONFIGS, best_seconds  # noqa: E402

import squiggles  # noqa: E402
from experiments.training import metrics, trainer
from squiggles import corruptions  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(CONFIGS), default="cpu")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--resolution", type=int, default=None, help="default: the model's")
    parser.add_argument("--severity", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default=None, help="comma-separated corruptions")
    args = parser.parse_args()

    config = CONFIGS[args.model].get_config()
    resolution = args.resolution or config.resolution
    examples = squiggles.generate_examples(
        squiggles.Taylor(), args.batch, stream=squiggles.TEST_STREAM, resolution=resolution
    )
    images = jnp.asarray(squiggles.dequantize(squiggles.quantize(examples.image)))
    state = trainer.create_train_state(config, jax.random.key(0))
    forward = jax.jit(metrics.logits)
    forward_rate = args.batch / best_seconds(lambda: forward(state, images), args.repeats)
    print(
        f"device: {jax.devices()[0].device_kind}, {jax.device_count()} device(s); "
        f"batch {args.batch}, R = {resolution}, severity {args.severity}"
    )
    print(f"{args.model} model forward: {forward_rate:,.0f} images/s\n")
    print("| corruption | images/s | × forward rate |\n|---|---|---|")
    names = args.only.split(",") if args.only else corruptions.CORRUPTIONS
    for name in names:
        keys = corruptions.corruption_keys(name, args.severity, examples.index)

        def run(name=name, keys=keys):
            return corruptions.corrupt(images, name, args.severity, keys, points=examples.points)

        rate = args.batch / best_seconds(run, args.repeats)
        print(f"| {name} | {rate:,.0f} | {rate / forward_rate:.1f} |", flush=True)


if __name__ == "__main__":
    main()
