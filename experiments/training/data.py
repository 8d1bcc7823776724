"""Training and evaluation data: float images in [0, 1] (B, R, R) and int32 labels.

Two training sources, both deterministic functions of the step, so a resumed run
sees exactly the batches an uninterrupted one would:
  * online: batch s is examples s·B .. s·B+B-1 of the train stream, rendered by
    `squiggles` on the accelerator and labelled by Shapely on the host, the same
    code that builds the dataset;
  * tfds: the built dataset, read with tf.data (stored uint8 images / 255).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_collections

import squiggles
from experiments import console, parallel
from squiggles.splits import TEST_STREAM, TRAIN_STREAM, VALIDATION_STREAM  # noqa: F401 (data.X_STREAM)


class Batch(NamedTuple):
    images: jax.Array  # float32 (B, R, R) in [0, 1]
    labels: jax.Array  # int32 (B,): 1 = self-intersecting


def family_of(config: ml_collections.ConfigDict) -> squiggles.Family:
    return squiggles.family_from_settings(config.family, order=config.order, width=config.width)


def generated_batch(
    family: squiggles.Family, count: int, *, seed: int, stream: int, start: int, resolution: int
) -> Batch:
    """Examples start .. start+count-1 of a stream, rendered (float, not quantised)."""
    examples = squiggles.generate_examples(
        family, count, seed=seed, stream=stream, start=start, resolution=resolution
    )
    return Batch(examples.image, jnp.asarray(examples.label, jnp.int32))


def prefetch(make: Callable[[int], Batch], first: int, depth: int) -> Iterator[Batch]:
    """make(first), make(first + 1), ... computed `depth` ahead on a background thread.

    XLA and Shapely release the GIL, so batches are made while the train step runs.
    """
    slots: queue.Queue = queue.Queue(maxsize=max(depth, 1))
    stop = threading.Event()

    def put(item) -> bool:
        """Waits for a free slot unless the consumer has stopped."""
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def worker() -> None:
        step = first
        while not stop.is_set():
            try:
                item = make(step)
            except Exception as error:  # handed to the consumer, raised there
                put(error)
                return
            if not put(item):
                return
            step += 1

    thread = threading.Thread(target=worker, daemon=True, name="squiggles-data")
    thread.start()
    try:
        while True:
            item = slots.get()
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        # Stop and wait for the worker: a thread still inside XLA when the
        # interpreter exits aborts the process.
        stop.set()
        thread.join()


def online_train_batches(config: ml_collections.ConfigDict, first_step: int) -> Iterator[Batch]:
    """This process's slice of each global batch (all of it with one process): every
    process makes only its own examples of step s, so together they are examples
    s·B .. s·B+B-1 whatever the number of processes."""
    family = family_of(config)
    mine = parallel.process_slice(config.batch_size)

    def make(step: int) -> Batch:
        return generated_batch(
            family,
            mine.stop - mine.start,
            seed=config.seed,
            stream=TRAIN_STREAM,
            start=step * config.batch_size + mine.start,
            resolution=config.resolution,
        )

    return prefetch(make, first_step, config.data.prefetch)


def prepared_builder(name: str, data_dir: str | None, resolution: int):
    """The TFDS builder of a built squiggles dataset whose images are R×R, or a clear error."""
    import tensorflow_datasets as tfds

    import squiggles_tfds  # noqa: F401  (registers the dataset)

    console.tensorflow_without_gpus()  # TensorFlow only feeds data
    hint = "run `tfds build` for it or use generated data"
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except ValueError as error:  # a custom config name that was never built
        raise FileNotFoundError(
            f"dataset {name} is not built in {data_dir or 'the default data_dir'}; {hint} ({error})"
        ) from error
    if not builder.is_prepared():
        raise FileNotFoundError(f"dataset {name} is not built in {builder.data_dir_root}; {hint}")
    stored = builder.info.features["image"].shape[0]
    if stored != resolution:
        raise ValueError(
            f"{name} holds {stored}x{stored} images, but the model works at "
            f"{resolution}x{resolution}"
        )
    return builder


def tfds_train_batches(config: ml_collections.ConfigDict, first_step: int) -> Iterator[Batch]:
    """Shuffled, repeated train split: a fixed order given the seed, skipped to the step.
    With several processes, each reads the global batch and keeps its own slice, so
    the examples of a step are the same whatever the number of processes."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    builder = prepared_builder(config.data.tfds_name, config.data.data_dir, config.resolution)
    dataset = builder.as_dataset(
        split="train", shuffle_files=True, read_config=tfds.ReadConfig(shuffle_seed=config.seed)
    )
    options = tf.data.Options()
    options.deterministic = True
    dataset = (
        dataset.with_options(options)
        .repeat()
        .shuffle(config.data.shuffle_buffer, seed=config.seed, reshuffle_each_iteration=True)
        .batch(config.batch_size, drop_remainder=True)
        .skip(first_step)
        .map(
            lambda e: (
                tf.cast(e["image"][..., 0], tf.float32) / 255.0,
                tf.cast(e["label"], tf.int32),
            )
        )
        .prefetch(config.data.prefetch)
    )
    mine = parallel.process_slice(config.batch_size)
    for images, labels in dataset.as_numpy_iterator():
        yield Batch(jnp.asarray(images[mine]), jnp.asarray(labels[mine]))


def train_batches(config: ml_collections.ConfigDict, first_step: int = 0) -> Iterator[Batch]:
    sources = {"online": online_train_batches, "tfds": tfds_train_batches}
    if config.data.source not in sources:
        raise ValueError(
            f"unknown data source {config.data.source!r}; expected one of {sorted(sources)}"
        )
    return sources[config.data.source](config, first_step)


def evaluation_batches(
    family: squiggles.Family,
    resolution: int,
    count: int,
    *,
    stream: int = TEST_STREAM,
    seed: int = squiggles.DATA_SEED,
    batch_size: int = 1000,
) -> Iterator[Batch]:
    """The first `count` examples of a split's stream as batches, as the TFDS dataset
    stores them (`squiggles.stored_examples`)."""
    for start in range(0, count, batch_size):
        examples = squiggles.stored_examples(
            family, min(batch_size, count - start), start=start, stream=stream, seed=seed,
            resolution=resolution,
        )  # fmt: skip
        yield Batch(jnp.asarray(examples.image), jnp.asarray(examples.label, jnp.int32))
