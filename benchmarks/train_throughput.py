"""Images/s of the ResNet-34 train step and of each data source alone.

    python benchmarks/train_throughput.py --batch 64

The data sources must each deliver far more images/s than the step consumes, or
the accelerator waits for data. The step itself returns device arrays only (no
host synchronisation; tests/test_train_lib.py checks this with a transfer guard).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time

import jax
import tensorflow_datasets as tfds

import squiggles_tfds

sys.path.insert(
    0, str(pathlib.Path(__file__).resolve().parents[1])
)  # experiments/ is not installed
from experiments import data, train_lib  # noqa: E402
from experiments.configs import taylor_paper


def step_rate(config, steps: int) -> float:
    state = train_lib.create_train_state(config, jax.random.key(0))
    step = jax.jit(
        train_lib.train_step, static_argnames=("sigma", "sigma_max"), donate_argnames=("state",)
    )
    batch = data.generated_batch(
        data.family_of(config), config.batch_size, seed=0, stream=data.TRAIN_STREAM, start=0,
        resolution=config.resolution,
    )  # fmt: skip
    key = jax.random.key(1)
    state, _ = step(state, batch, key, sigma=0.0, sigma_max=0.0)
    jax.block_until_ready(state)
    start = time.perf_counter()
    for _ in range(steps):
        state, metrics = step(state, batch, key, sigma=0.0, sigma_max=0.0)
    jax.block_until_ready(metrics)
    return steps * config.batch_size / (time.perf_counter() - start)


def source_rate(batches, batch_size: int, count: int) -> float:
    jax.block_until_ready(next(batches))  # start-up and compilation
    start = time.perf_counter()
    for _ in range(count):
        batch = next(batches)
    jax.block_until_ready(batch)
    batches.close()
    return count * batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--source-batches", type=int, default=50)
    args = parser.parse_args()
    config = taylor_paper.get_config()
    config.batch_size = args.batch
    print(f"ResNet-34 ({config.model.stem} stem), {config.resolution}x{config.resolution}, "
          f"batch {args.batch}, devices {jax.devices()}")  # fmt: skip

    step = step_rate(config, args.steps)
    print(f"  train step (ResNet-34)   {step:10,.0f} images/s")

    online = source_rate(data.train_batches(config, 0), args.batch, args.source_batches)
    print(f"  online generation        {online:10,.0f} images/s  ({online / step:,.0f}x the step)")

    with tempfile.TemporaryDirectory() as data_dir:
        dataset = squiggles_tfds.SquigglesConfig(
            name="benchmark", train_size=20_000, validation_size=0, test_size=0
        )
        tfds.builder("squiggles", config=dataset, data_dir=data_dir).download_and_prepare()
        config.data.source, config.data.tfds_name = "tfds", "squiggles/benchmark"
        config.data.data_dir = data_dir
        stored = source_rate(data.train_batches(config, 0), args.batch, args.source_batches)
    print(f"  TFDS (tf.data)           {stored:10,.0f} images/s  ({stored / step:,.0f}x the step)")


if __name__ == "__main__":
    main()
