import numpy as np
import pytest

import squiggles

FAMILY = squiggles.SineNet(width=10)


@pytest.fixture(scope="module")
def source():
    return squiggles.data_source(FAMILY, "validation", 20, resolution=16, seed=3)


def test_item_i_is_example_i_of_the_splits_stream_as_stored(source):
    made = squiggles.generate_examples(
        FAMILY, 20, seed=3, stream=squiggles.VALIDATION_STREAM, resolution=16
    )
    assert len(source) == 20
    for i in (0, 7, 19):
        item = source[i]
        assert sorted(item) == ["image", "index", "label", "latent", "points"]
        assert item["image"].dtype == np.uint8 and item["image"].shape == (16, 16, 1)
        np.testing.assert_array_equal(item["image"], squiggles.quantize(made.image[i]))
        np.testing.assert_array_equal(item["latent"], made.latent[i])
        np.testing.assert_array_equal(item["points"], made.points[i])
        assert item["label"] == int(made.label[i]) and item["index"] == i


def test_a_batch_of_indices_in_any_order_gives_the_items_one_by_one(source):
    indices = [5, 2, 3, 19, 2, -1]
    batch = source.__getitems__(indices)
    for index, item in zip(indices, batch, strict=True):
        one = source[index]
        assert item["index"] == (index % 20)
        for name in one:
            np.testing.assert_array_equal(item[name], one[name])


def test_every_split_is_its_own_stream():
    test = squiggles.data_source(FAMILY, "test", 3, resolution=16)[0]["latent"]
    train = squiggles.data_source(FAMILY, "train", 3, resolution=16)[0]["latent"]
    assert not np.array_equal(test, train)
    np.testing.assert_array_equal(
        test, squiggles.stored_examples(FAMILY, 1, resolution=16).latent[0]
    )


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda s: s[20], IndexError, "index 20 is out of range for 20 examples"),
        (lambda s: s[-21], IndexError, "index -21 is out of range"),
        (lambda s: s[1.5], TypeError, "an index must be an integer, got 1.5"),
        (lambda s: s[0:3], TypeError, "one integer"),
    ],
)
def test_bad_indices_are_refused(source, make, error, message):
    with pytest.raises(error, match=message):
        make(source)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(split="dev"), "split must be one of \\['test', 'train', 'validation'\\], got 'dev'"),
        (dict(size=-1), "size must be an integer >= 0, got -1"),
        (dict(size=2.0), "size must be an integer >= 0, got 2.0"),
        (dict(resolution=1), "resolution must be"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    settings = dict(family=FAMILY, split="test", size=4, resolution=16) | kwargs
    with pytest.raises(ValueError, match=message):
        squiggles.data_source(**settings)
