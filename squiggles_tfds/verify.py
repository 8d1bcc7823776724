"""Checks on built data: does a build hold exactly what the generator makes, and do
two builds hold the same examples?

TFRecord bytes can differ between two builds of the same data (protobuf does not
fix the order of an Example's feature map), so builds are compared by decoded
feature values, split by split, in the order `shuffle_files=False` reads them.

    python -m squiggles_tfds.verify --config taylor --data_dir ~/tensorflow_datasets
    python -m squiggles_tfds.verify --config taylor --data_dir A --against B

A custom config is named as it was built (e.g. taylor_o7_r16_s0_30_8_12, or the
`name` given); its settings are read from the build. Exit status: 0 when every
check passed, 1 when the data is wrong (differs, unreadable shard or metadata.json,
missing examples), 2 when nothing could be checked (no complete build, bad arguments).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import re
import sys
import time
from collections.abc import Iterator, Sequence

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

import squiggles
from squiggles.quantization import quantize
from squiggles.renderers import render_points_with
from squiggles.splits import SPLIT_STREAMS
from squiggles_tfds import build_settings, interrupted_builds, quiet
from squiggles_tfds.squiggles import CONFIGS, Builder, SquigglesConfig

# Nothing above loads TensorFlow: load it now without its harmless start-up lines.
tf = quiet.load_tensorflow()

PROGRESS_EVERY_S = 10.0


class NothingToVerify(Exception):
    """No complete build to check (exit status 2)."""


class UnreadableBuild(Exception):
    """A build whose files cannot be read through, e.g. a shard failing its CRC (exit 1)."""


def examples(builder: tfds.core.DatasetBuilder, split: str) -> Iterator[dict[str, np.ndarray]]:
    """A split's examples as NumPy, in the stored order. Read once, so not cached
    (TFDS caches small datasets by default)."""
    read_config = tfds.ReadConfig(try_autocache=False)
    dataset = builder.as_dataset(split=split, shuffle_files=False, read_config=read_config)
    return iter(tfds.as_numpy(dataset))


def build_dir(config_name: str, data_dir: epath.PathLike) -> epath.Path:
    """Where a complete build of `config_name` lives: <data_dir>/squiggles/<config>/<version>."""
    return epath.Path(data_dir) / Builder.name / config_name / str(Builder.VERSION)


def find_build(config_name: str, data_dir: epath.PathLike) -> epath.Path:
    """The directory of a complete build, or NothingToVerify saying what is there instead."""
    path = build_dir(config_name, data_dir)
    if (path / "dataset_info.json").exists():
        return path
    found = f"no complete build of squiggles/{config_name} {Builder.VERSION} in {data_dir}"
    if not epath.Path(data_dir).exists():
        raise NothingToVerify(f"{found}: the directory does not exist")
    killed = interrupted_builds.leftovers(path)
    if killed:
        names = ", ".join(p.name for p in killed)
        raise NothingToVerify(f"{found}, only an interrupted one ({names}): build it again")
    raise NothingToVerify(f"{found} (expected {path}); build it with tfds build first")


def load_build(config_name: str, data_dir: epath.PathLike) -> tfds.core.DatasetBuilder:
    """The builder of a complete build, with the config it was made with: a predefined
    one, or a custom one rebuilt from the settings stored with the build."""
    path = find_build(config_name, data_dir)
    # A damaged metadata.json (DamagedMetadata) is named here, before TFDS reads it.
    build_settings.stored_settings(path)
    config = CONFIGS.get(config_name) or build_settings.config_from_build(config_name, path)
    return tfds.builder("squiggles", config=config, data_dir=os.fspath(data_dir))


def unreadable_shard(builder: tfds.core.DatasetBuilder, split: str) -> str | None:
    """'file: reason' for the first shard of a split that cannot be read through
    (TFRecord CRC or length check), or None."""
    for path in builder.info.splits[split].filepaths:
        try:
            for _ in tf.data.TFRecordDataset(os.fspath(path)):
                pass
        except tf.errors.OpError as error:
            return f"{path}: {_tf_message(error)}"
    return None


def _tf_message(error: tf.errors.OpError) -> str:
    """The reason of a TensorFlow error without its op and function names."""
    message = re.sub(r"\{\{.*?\}\}\s*", "", error.message.splitlines()[0])
    return re.sub(r"\s*\[Op:.*$", "", message).strip()


# TensorFlow's own lines about a read that failed, which our one line replaces.
READ_FAILURE_LINES = [
    re.compile(r"local_rendezvous\.cc:\d+\] Local rendezvous is aborting with status"),
    re.compile(r"cache_dataset_ops\.cc:\d+\] The calling iterator did not fully read"),
    # Sometimes, when the failed read cancels tf.data's background optimisation of the
    # other dataset of `--against` (a race: seen in one of about ten runs of the suite).
    re.compile(r"root_dataset\.cc:\d+\] Optimization loop failed: CANCELLED"),
]


@contextlib.contextmanager
def reading(split: str, *builders: tfds.core.DatasetBuilder) -> Iterator[None]:
    """Turns a TensorFlow read error inside the block into one UnreadableBuild line
    naming the split and the shard. TensorFlow's C++ lines in the block are shown
    when it ends (less the harmless ones, and those restating a failed read)."""
    with quiet.filtered_stderr(drop_on_error=READ_FAILURE_LINES):
        reason = None
        try:
            yield
        except tf.errors.OpError as error:
            reason = _tf_message(error)
        if reason is None:
            return
        for builder in builders:
            shard = unreadable_shard(builder, split)
            if shard:
                raise UnreadableBuild(f"{split} split: unreadable shard {shard}")
        raise UnreadableBuild(f"{split} split: cannot be read: {reason}")


class Progress:
    """A line every PROGRESS_EVERY_S seconds while a long split is checked."""

    def __init__(self, split: str, total: int):
        self.split, self.total, self.done = split, total, 0
        self.start = self.last = time.monotonic()

    def add(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY_S:
            self.last = now
            rate = self.done / max(now - self.start, 1e-9)
            print(f"  {self.split}: {self.done:,} / {self.total:,} examples ({rate:,.0f}/s)")


def split_difference(
    a: tfds.core.DatasetBuilder, b: tfds.core.DatasetBuilder, split: str
) -> tuple[int, str | None]:
    """(examples compared, None) when both builds hold the same examples of `split` in
    the same order, else (position, where they first differ)."""
    if (split in a.info.splits) != (split in b.info.splits):
        return 0, f"{split}: only one build has this split"
    if split not in a.info.splits:
        return 0, None
    progress = Progress(split, a.info.splits[split].num_examples)
    pairs = itertools.zip_longest(examples(a, split), examples(b, split))
    position = 0
    for position, (x, y) in enumerate(pairs):
        if x is None or y is None:
            return position, f"{split}: one build ends at example {position}"
        for feature in x:
            if not np.array_equal(x[feature], y[feature]):
                return (
                    position,
                    f"{split}, example {position} (index {x['index']}): {feature} differs",
                )
        progress.add(1)
    return progress.done, None


def first_difference(a: tfds.core.DatasetBuilder, b: tfds.core.DatasetBuilder) -> str | None:
    """None when both builds hold the same examples in the same order, else where
    they first differ."""
    for split in SPLIT_STREAMS:
        with reading(split, a, b):
            difference = split_difference(a, b, split)[1]
        if difference:
            return difference
    return None


def expected_examples(
    config: SquigglesConfig, stream: int, indices: np.ndarray
) -> dict[str, np.ndarray]:
    """What the generator makes for these indices of a stream, in the stored form."""
    family = config.make_family()
    latents = np.stack(
        [
            squiggles.sample_latents(family, 1, seed=config.seed, stream=stream, start=int(i))[0]
            for i in indices
        ]
    )
    points = np.asarray(squiggles.points(latents, family))
    return {
        "latent": latents,
        "points": points,
        "label": squiggles.is_self_intersecting(points).astype(np.int64),
        # The renderer the build used by default ("auto"); on a CPU both give the same bits.
        "image": quantize(render_points_with("auto", points, config.resolution)),
    }


def check_split(
    builder: tfds.core.DatasetBuilder, split: str, batch_size: int = 1000
) -> tuple[int, list[int]]:
    """(examples read, indices of those whose latent, points, label or image differ
    from what the generator makes for (seed, stream, index))."""
    config: SquigglesConfig = builder.builder_config
    stream = SPLIT_STREAMS[split]
    progress = Progress(split, builder.info.splits[split].num_examples)
    mismatched = []
    iterator = examples(builder, split)
    while batch := list(itertools.islice(iterator, batch_size)):
        stored = {name: np.stack([e[name] for e in batch]) for name in batch[0]}
        expected = expected_examples(config, stream, stored["index"])
        for row, index in enumerate(stored["index"]):
            if any(not np.array_equal(stored[k][row], expected[k][row]) for k in expected):
                mismatched.append(int(index))
        progress.add(len(batch))
    return progress.done, mismatched


def regeneration_mismatches(
    builder: tfds.core.DatasetBuilder, split: str, batch_size: int = 1000
) -> list[int]:
    """Indices of stored examples that differ from what the generator makes."""
    return check_split(builder, split, batch_size)[1]


def _size_note(builder: tfds.core.DatasetBuilder, split: str, count: int) -> str:
    stored = build_settings.stored_settings(builder.data_dir).get(f"{split}_size")
    if stored is None or stored == count:
        return ""
    return f" (of the config's {stored:,}: built with --max_examples_per_split?)"


def verify_against_generator(builder: tfds.core.DatasetBuilder) -> bool:
    """Checks every split of a build against the generator, printing a line per split
    and a summary; True when all match."""
    splits = [split for split in SPLIT_STREAMS if split in builder.info.splits]
    total = sum(builder.info.splits[split].num_examples for split in splits)
    print(
        f"checking {builder.info.full_name} in {builder.data_dir_root} against the generator: "
        f"{len(splits)} splits, {total:,} examples"
    )
    failed = False
    for split in splits:
        with reading(split, builder):
            count, bad = check_split(builder, split)
        listed = builder.info.splits[split].num_examples
        if count != listed:
            failed = True
            print(f"{split}: read {count:,} examples, dataset_info.json lists {listed:,}")
        failed |= bool(bad)
        print(
            f"{split}: {count:,} examples{_size_note(builder, split, count)}, "
            f"{len(bad):,} differ from the generator" + (f", e.g. index {bad[:5]}" if bad else "")
        )
    print(("FAILED" if failed else "OK") + f": {len(splits)} splits, {total:,} examples checked")
    return not failed


def verify_against(a: tfds.core.DatasetBuilder, b: tfds.core.DatasetBuilder) -> bool:
    """Compares two builds split by split, printing a line per split and the result;
    True when identical."""
    print(f"comparing {a.info.full_name} in {a.data_dir_root} and {b.data_dir_root}")
    compared = 0
    for split in SPLIT_STREAMS:
        with reading(split, a, b):
            count, difference = split_difference(a, b, split)
        if difference:
            print(f"differ: {difference}")
            return False
        if split in a.info.splits:
            compared += count
            print(f"{split}: {count:,} examples identical")
    print(f"identical: same examples, same order, every feature equal ({compared:,} examples)")
    return True


def _fail(lines: Sequence[str], status: int) -> None:
    for line in lines:
        print(f"error: {line}", file=sys.stderr)
    raise SystemExit(status)


def _load_all(config: str, data_dirs: Sequence[str]) -> list[tfds.core.DatasetBuilder]:
    """The builds of `config` in each data_dir, or a line per missing one and exit 2
    (exit 1 when one of them is damaged)."""
    builders, missing, status = [], [], 2
    for data_dir in data_dirs:
        try:
            builders.append(load_build(config, data_dir))
        except build_settings.DamagedMetadata as error:
            missing.append(str(error))
            status = 1
        except (NothingToVerify, ValueError) as error:
            missing.append(str(error))
    if missing:
        _fail(missing, status)
    return builders


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m squiggles_tfds.verify",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config", default="taylor", help=f"one of {sorted(CONFIGS)} or a built custom name"
    )
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--against", help="another data_dir holding the same config")
    args = parser.parse_args(argv)
    data_dirs = [args.data_dir] + ([args.against] if args.against else [])
    builders = _load_all(args.config, data_dirs)
    try:
        ok = verify_against(*builders) if args.against else verify_against_generator(*builders)
    except UnreadableBuild as error:
        _fail([str(error)], 1)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
