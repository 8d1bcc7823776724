"""Images/s of the train step against the online data that feeds it, on whatever device
JAX picks, with the host cores the data takes.

    python benchmarks/train_throughput.py --config taylor_paper --batch 512
    python benchmarks/train_throughput.py --config cpu --batch 128 --tfds

It reports, in order:
  * the train step alone, on a batch already on the device (images/s);
  * Shapely labelling alone, on one thread and on the label threads (curves/s);
  * the online source alone (render + labels, prefetched), and the host cores it kept
    busy (process CPU time / wall time);
  * a training loop fed by the online source: images/s, the fraction of the wall
    time the loop waited for a batch, and the time the config's whole run would take;
  * with --tfds, the TFDS source alone (needs TensorFlow; skipped on the JAX path).

The data must deliver more images/s than the step consumes, or the accelerator waits.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pathlib
import sys
import tempfile
import time

import jax
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # experiments/
from timing import best_seconds  # noqa: E402  (benchmarks/timing.py)

import squiggles  # noqa: E402
from experiments import parallel
from experiments.training import data, trainer
from squiggles import labels  # noqa: E402


def jitted_step():
    return jax.jit(
        trainer.train_step, static_argnames=("sigma", "sigma_max"), donate_argnames=("state",)
    )


def replicated_state(config, data_mesh):
    """A fresh train state on every device, as training holds it."""
    state = trainer.create_train_state(config, jax.random.key(0))
    return jax.device_put(state, parallel.replicated(data_mesh))


def step_rate(config, steps: int) -> float:
    """The step alone, on one batch kept on the device."""
    data_mesh = parallel.mesh()
    state = replicated_state(config, data_mesh)
    step = jitted_step()
    batch = parallel.global_batch(next(data.train_batches(config, 0)), data_mesh)
    key = jax.random.key(1)
    state, metrics = step(state, batch, key, sigma=0.0, sigma_max=0.0)
    jax.block_until_ready(metrics)
    start = time.perf_counter()
    for _ in range(steps):
        state, metrics = step(state, batch, key, sigma=0.0, sigma_max=0.0)
    jax.block_until_ready(metrics)
    return steps * config.batch_size / (time.perf_counter() - start)


def label_rate(family, count: int, workers: int) -> float:
    """Best of 5, after a pause: XLA's CPU threads spin a while after their last work
    and would take cores from the label threads."""
    points = np.asarray(squiggles.points(squiggles.sample_latents(family, count), family))
    time.sleep(1.0)
    return count / best_seconds(lambda: labels.is_self_intersecting(points, workers=workers), 5)


def source_rate(batches, batch_size: int, count: int) -> tuple[float, float]:
    """Images/s of a source alone, and the host cores it kept busy meanwhile."""
    jax.block_until_ready(next(batches))  # start-up and compilation
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        batch = next(batches)
    jax.block_until_ready(batch)
    wall = time.perf_counter() - start
    cores = (time.process_time() - cpu) / wall
    batches.close()
    return count * batch_size / wall, cores


def fed_loop(config, steps: int) -> tuple[float, float]:
    """A training loop on the online source: images/s and the fraction of its wall time
    spent waiting for the next batch (the step runs asynchronously meanwhile)."""
    data_mesh = parallel.mesh()
    state = replicated_state(config, data_mesh)
    step, key = jitted_step(), jax.random.key(1)
    batches = data.train_batches(config, 0)
    batch = parallel.global_batch(next(batches), data_mesh)
    state, metrics = step(state, batch, key, sigma=0.0, sigma_max=0.0)  # compiled
    jax.block_until_ready(metrics)
    waited, start = 0.0, time.perf_counter()
    for _ in range(steps):
        asked = time.perf_counter()
        batch = parallel.global_batch(next(batches), data_mesh)
        waited += time.perf_counter() - asked
        state, metrics = step(state, batch, key, sigma=0.0, sigma_max=0.0)
    jax.block_until_ready(metrics)
    wall = time.perf_counter() - start
    batches.close()
    return steps * config.batch_size / wall, waited / wall


def tfds_rate(config, count: int) -> tuple[float, float]:
    import tensorflow_datasets as tfds

    import squiggles_tfds

    with tempfile.TemporaryDirectory() as data_dir:
        dataset = squiggles_tfds.SquigglesConfig(
            name="benchmark", train_size=20_000, validation_size=0, test_size=0
        )
        tfds.builder("squiggles", config=dataset, data_dir=data_dir).download_and_prepare()
        config.data.source, config.data.tfds_name = "tfds", "squiggles/benchmark"
        config.data.data_dir = data_dir
        return source_rate(data.train_batches(config, 0), config.batch_size, count)


def check_counts(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Each count of steps or batches must be at least 1: the rates divide by them (a
    usage error naming the flag, not a ZeroDivisionError after minutes of work)."""
    for flag in ("steps", "source_batches"):
        value = getattr(args, flag)
        if value < 1:
            parser.error(f"--{flag.replace('_', '-')} must be >= 1, got {value}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="taylor_paper", help="experiments/configs/ module")
    parser.add_argument("--batch", type=int, default=None, help="default: the config's")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--source-batches", type=int, default=20)
    parser.add_argument("--dtype", default=None, help="compute dtype, e.g. bfloat16")
    parser.add_argument("--tfds", action="store_true", help="also time the TFDS source")
    args = parser.parse_args(argv)
    check_counts(parser, args)
    try:
        config = importlib.import_module(f"experiments.configs.{args.config}").get_config()
    except ModuleNotFoundError:
        parser.error(f"no config experiments/configs/{args.config}.py (e.g. cpu, taylor_paper)")
    if args.batch is not None:
        config.batch_size = args.batch
    if args.dtype is not None:
        config.dtype = args.dtype
    try:
        trainer.check_config(config)
    except ValueError as error:
        parser.error(str(error))
    cores, workers = os.cpu_count(), labels.default_workers()
    print(f"{args.config}: ResNet stages {tuple(config.model.stage_sizes)} width "
          f"{config.model.width}, {config.dtype}, {config.resolution}x"
          f"{config.resolution}, batch {config.batch_size}, {config.data.prefetch} batches "
          f"prefetched; devices {jax.devices()}; host: {cores} cores, {workers} label "
          f"threads")  # fmt: skip

    step = step_rate(config, args.steps)
    print(f"  train step alone            {step:10,.0f} images/s")
    family = data.family_of(config)
    one, many = label_rate(family, 16_384, 1), label_rate(family, 16_384, workers)
    print(f"  labels, 1 thread            {one:10,.0f} curves/s")
    print(f"  {f'labels, {workers} threads':<28}{many:10,.0f} curves/s  ({many / one:.2f}x)")
    online, busy = source_rate(data.train_batches(config, 0), config.batch_size,
                               args.source_batches)  # fmt: skip
    print(f"  online source alone         {online:10,.0f} images/s  ({online / step:,.2f}x "
          f"the step; {busy:.1f} host cores busy)")  # fmt: skip
    fed, waiting = fed_loop(config, args.steps)
    print(f"  training on online data     {fed:10,.0f} images/s  (waiting for data "
          f"{waiting:.0%} of the time)")  # fmt: skip
    hours = config.num_steps * config.batch_size / fed / 3600
    print(f"  projected for the config's {config.num_steps:,} steps: {hours:,.1f} hours")
    if args.tfds:
        stored, busy = tfds_rate(config, args.source_batches)
        print(f"  TFDS source alone           {stored:10,.0f} images/s  ({stored / step:,.2f}x "
              f"the step; {busy:.1f} host cores busy)")  # fmt: skip


if __name__ == "__main__":
    main()
