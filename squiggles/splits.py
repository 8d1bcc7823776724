"""Which stream of the generator each split of a dataset draws from.

Each split is its own stream, so no latent is ever in two splits. The dataset
builder, online training and the analyses all number streams here, and none of
them needs TensorFlow to do so.
"""

from __future__ import annotations

TRAIN_STREAM, VALIDATION_STREAM, TEST_STREAM = 0, 1, 2

SPLIT_STREAMS: dict[str, int] = {
    "train": TRAIN_STREAM,
    "validation": VALIDATION_STREAM,
    "test": TEST_STREAM,
}

DATA_SEED = 0  # the seed of the predefined TFDS configs: their splits, stored
