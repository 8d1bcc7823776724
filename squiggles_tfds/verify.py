"""Checks on built data: does a build hold exactly what the generator makes, and do
two builds hold the same examples?

TFRecord bytes can differ between two builds of the same data (protobuf does not
fix the order of an Example's feature map), so builds are compared by decoded
feature values, split by split, in the order `shuffle_files=False` reads them.

    python -m squiggles_tfds.verify --config taylor --data_dir ~/tensorflow_datasets
    python -m squiggles_tfds.verify --config taylor --data_dir A --against B
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Iterator, Sequence

import numpy as np
import tensorflow_datasets as tfds

import squiggles
from squiggles_tfds.configs import CONFIGS, SPLIT_STREAMS, SquigglesConfig
from squiggles_tfds.features import quantize


def examples(builder: tfds.core.DatasetBuilder, split: str) -> Iterator[dict[str, np.ndarray]]:
    """A split's examples as NumPy, in the stored order."""
    return iter(tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False)))


def first_difference(a: tfds.core.DatasetBuilder, b: tfds.core.DatasetBuilder) -> str | None:
    """None when both builds hold the same examples in the same order, else where
    they first differ."""
    for split in SPLIT_STREAMS:
        if split not in a.info.splits and split not in b.info.splits:
            continue
        pairs = itertools.zip_longest(examples(a, split), examples(b, split))
        for position, (x, y) in enumerate(pairs):
            if x is None or y is None:
                return f"{split}: one build ends at example {position}"
            for feature in x:
                if not np.array_equal(x[feature], y[feature]):
                    return f"{split}, example {position} (index {x['index']}): {feature} differs"
    return None


def regeneration_mismatches(
    builder: tfds.core.DatasetBuilder, split: str, batch_size: int = 1000
) -> list[int]:
    """Indices of stored examples whose latent, points, label or image differ from
    what the generator makes for (seed, stream, index)."""
    config: SquigglesConfig = builder.builder_config
    family, stream = config.make_family(), SPLIT_STREAMS[split]
    mismatched = []
    iterator = examples(builder, split)
    while batch := list(itertools.islice(iterator, batch_size)):
        stored = {name: np.stack([e[name] for e in batch]) for name in batch[0]}
        latents = np.stack(
            [
                squiggles.sample_latents(family, 1, seed=config.seed, stream=stream, start=int(i))[
                    0
                ]
                for i in stored["index"]
            ]
        )
        points = np.asarray(squiggles.points(latents, family))
        expected = {
            "latent": latents,
            "points": points,
            "label": squiggles.is_self_intersecting(points).astype(np.int64),
            "image": quantize(squiggles.render_points(points, config.resolution)),
        }
        for row, index in enumerate(stored["index"]):
            if any(not np.array_equal(stored[k][row], expected[k][row]) for k in expected):
                mismatched.append(int(index))
    return mismatched


def _builder(config: str, data_dir: str) -> tfds.core.DatasetBuilder:
    return tfds.builder(f"squiggles/{config}", data_dir=data_dir)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m squiggles_tfds.verify", description=__doc__)
    parser.add_argument(
        "--config", default="taylor", help=f"one of {sorted(CONFIGS)} or a built custom name"
    )
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--against", help="another data_dir holding the same config")
    args = parser.parse_args(argv)
    builder = _builder(args.config, args.data_dir)
    if args.against:
        difference = first_difference(builder, _builder(args.config, args.against))
        print(difference or "identical: same examples, same order, every feature equal")
        raise SystemExit(1 if difference else 0)
    failed = False
    for split in builder.info.splits:
        bad = regeneration_mismatches(builder, split)
        failed |= bool(bad)
        print(
            f"{split}: {len(bad)} examples differ from the generator"
            + (f", e.g. index {bad[:5]}" if bad else "")
        )
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
