"""Examples/s of building the `squiggles` TFDS dataset, beside TFDS's own floor.

Measures, in one run, on a config of 50,000 examples:
  (a) a single-process build (`download_and_prepare`, what `tfds build squiggles
      --imports squiggles_tfds` runs);
  (b) TFDS writing the same features from arrays already in memory: TFDS's own
      encoding and writing cost, the fastest any builder could be;
  (c) the same build on Apache Beam's DirectRunner with 2 worker processes;
  (d) Beam alone: the same runner and workers carrying as many dummy elements,
      each of the size of a serialized example, through the pipeline shape of
      TFDS's BeamWriter, with no generating or encoding at all.
A small build first loads TensorFlow, TFDS and the generator's compiled programs,
so that (a) and (b) are both measured warm, as in a long build.

    python benchmarks/tfds_build_throughput.py --examples 50000
"""

from __future__ import annotations

import argparse
import tempfile
import time

import tensorflow_datasets as tfds

import squiggles
import squiggles_tfds
from squiggles_tfds import chunks
from squiggles_tfds.squiggles import generation


class InMemoryBuilder(squiggles_tfds.Builder, skip_registration=True):
    """Writes pre-made chunks: everything of a build except generating the data."""

    chunks: dict[str, list] = {}

    def _split_generators(self, dl_manager):
        def examples(split):
            for chunk in self.chunks[split]:
                yield from chunks.chunk_to_examples(chunk)

        return {split: examples(split) for split in self.chunks}


def beam_alone(count: int, payload_bytes: int, chunk_size: int, options) -> float:
    """Seconds for Beam to carry `count` elements as TFDS's BeamWriter does: made
    on the workers, keyed, counted, the largest key found, then each assigned a
    shard (which waits for all of that) and grouped by shard."""
    import apache_beam as beam

    def elements(chunk: tuple[int, int]):
        start, size = chunk
        payload = bytes(payload_bytes)
        return ((index, payload) for index in range(start, start + size))

    start = time.perf_counter()
    with beam.Pipeline(options=options) as pipeline:
        keyed = (
            pipeline
            | beam.Create(squiggles.chunk_starts(count, chunk_size))
            | beam.Reshuffle()
            | beam.FlatMap(elements)
        )
        largest = beam.pvalue.AsSingleton(keyed | beam.Keys() | beam.combiners.Top.Largest(1))
        total = beam.pvalue.AsSingleton(
            keyed | beam.Values() | beam.Map(len) | beam.CombineGlobally(sum)
        )
        _ = keyed | beam.combiners.Count.Globally()
        _ = (
            keyed
            | beam.Map(lambda kv, top, size: (kv[0] * 16 // (top[0] + 1), kv), largest, total)
            | beam.GroupByKey()
            | beam.MapTuple(lambda shard, items: sum(len(value) for _, value in items))
        )
    return time.perf_counter() - start


def serialized_size(builder: tfds.core.DatasetBuilder, chunk: dict) -> int:
    """Bytes of one serialized example, as TFDS's writers pass it along."""
    serializer = tfds.core.example_serializer.ExampleSerializer(
        builder.info.features.get_serialized_info()
    )
    _, example = next(chunks.chunk_to_examples(chunk))
    return len(serializer.serialize_example(builder.info.features.encode_example(example)))


def timed_build(builder: tfds.core.DatasetBuilder, **kwargs) -> float:
    start = time.perf_counter()
    builder.download_and_prepare(**kwargs)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=50_000)
    parser.add_argument("--family", default="taylor")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    config = squiggles_tfds.SquigglesConfig(
        family=args.family, train_size=args.examples, validation_size=0, test_size=0
    )
    n = args.examples
    print(f"config {config.name}: {config.description}")

    with tempfile.TemporaryDirectory() as data_dir:
        warm_up = squiggles_tfds.SquigglesConfig(
            family=args.family, train_size=config.chunk_size, validation_size=0, test_size=0
        )
        timed_build(tfds.builder("squiggles", config=warm_up, data_dir=f"{data_dir}/warm"))

        single = timed_build(tfds.builder("squiggles", config=config, data_dir=f"{data_dir}/a"))
        print(f"(a) single-process build        {n / single:9,.0f} examples/s ({single:.1f} s)")

        InMemoryBuilder.chunks = {
            "train": [
                generation.make_chunk(config, squiggles.TRAIN_STREAM, start, count)
                for start, count in squiggles.chunk_starts(n, config.chunk_size)
            ]
        }
        floor = timed_build(InMemoryBuilder(config=config, data_dir=f"{data_dir}/b"))
        print(f"(b) TFDS writing from memory     {n / floor:9,.0f} examples/s ({floor:.1f} s)")

        from apache_beam.options.pipeline_options import PipelineOptions

        options = PipelineOptions(
            direct_running_mode="multi_processing", direct_num_workers=args.workers
        )
        beam = timed_build(
            tfds.builder("squiggles", config=config, data_dir=f"{data_dir}/c"),
            download_config=tfds.download.DownloadConfig(beam_options=options),
        )
        print(f"(c) Beam, {args.workers} workers  {n / beam:20,.0f} examples/s ({beam:.1f} s)")

        size = serialized_size(
            tfds.builder("squiggles", config=config, data_dir=f"{data_dir}/c"),
            InMemoryBuilder.chunks["train"][0],
        )
        alone = beam_alone(n, size, config.chunk_size, options)
        print(f"(d) Beam alone, {size:,} B elements {n / alone:11,.0f} elements/s ({alone:.1f} s)")

    print(f"(a)/(b) = {floor / single:.2f} (target >= 0.7)")
    print(f"(c) speed-up over (a) = {single / beam:.2f}x (target >= 1.5)")
    print(f"(d) Beam alone takes {alone / single:.2f} of the time of (a)")


if __name__ == "__main__":
    main()
