"""An image's corruption is a function of the image, its key and the severity alone:
bitwise the same in any batch, cut into any chunks, unbatched, in half precision
and in the slices that bound `corrupt`'s memory."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import squiggles
from squiggles import corruptions, sampling
from squiggles.corruptions import apply

RESOLUTION = 48  # XLA:CPU blocked matrix products by the batch at this size, not at 32
COUNT = 16
CUTS = ((1, 6, 9), (9, 1, 6))  # uneven chunks of the 16, a single image in each


@pytest.fixture(scope="module")
def stored() -> squiggles.Examples:
    """Test examples in stored form, as `corrupted_examples` corrupts them."""
    examples = squiggles.generate_examples(
        squiggles.Taylor(), COUNT, stream=squiggles.TEST_STREAM, resolution=RESOLUTION
    )
    return examples._replace(image=squiggles.dequantize(squiggles.quantize(examples.image)))


def corrupt_in_chunks(examples, name, severity, keys, cut) -> np.ndarray:
    edges = np.cumsum((0, *cut))
    parts = [
        corruptions.corrupt(examples.image[a:b], name, severity, keys[a:b],
                            points=examples.points[a:b])
        for a, b in zip(edges[:-1], edges[1:], strict=True)
    ]  # fmt: skip
    return np.concatenate(parts)


@pytest.mark.parametrize("name", corruptions.CORRUPTIONS)
def test_every_chunking_gives_the_same_bits(stored, name):
    for severity in (2, 5):
        keys = corruptions.corruption_keys(name, severity, stored.index)
        whole = np.asarray(
            corruptions.corrupt(stored.image, name, severity, keys, points=stored.points)
        )
        for cut in CUTS:
            chunked = corrupt_in_chunks(stored, name, severity, keys, cut)
            np.testing.assert_array_equal(chunked, whole, err_msg=f"{name} {severity} {cut}")
            np.testing.assert_array_equal(squiggles.quantize(chunked), squiggles.quantize(whole))
        # One image on its own, with its own key, is that image of the batch.
        alone = corruptions.corrupt(
            stored.image[4], name, severity, keys[4], points=stored.points[4]
        )
        np.testing.assert_array_equal(alone, whole[4], err_msg=f"{name} {severity} unbatched")


def test_a_single_key_is_one_images_key_and_a_batchs_to_split():
    image = jax.random.uniform(jax.random.key(1), (RESOLUTION, RESOLUTION))
    key = jax.random.key(5)
    alone = corruptions.corrupt(image, "gaussian_noise", 3, key)
    np.testing.assert_array_equal(
        alone, corruptions.corrupt(image[None], "gaussian_noise", 3, key[None])[0]
    )
    batch = corruptions.corrupt(image[None], "gaussian_noise", 3, key)  # split for a batch
    np.testing.assert_array_equal(
        batch[0], corruptions.corrupt(image, "gaussian_noise", 3, jax.random.split(key, 1)[0])
    )


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16])
@pytest.mark.parametrize("name", corruptions.CORRUPTIONS)
def test_half_precision_images_are_corrupted_in_float32_and_returned_in_theirs(stored, name, dtype):
    images = jnp.asarray(stored.image[:3], dtype)
    keys = corruptions.corruption_keys(name, 4, stored.index[:3])
    out = corruptions.corrupt(images, name, 4, keys, points=stored.points[:3])
    assert out.dtype == dtype and out.shape == images.shape
    in_float32 = corruptions.corrupt(
        images.astype(jnp.float32), name, 4, keys, points=stored.points[:3]
    )
    np.testing.assert_array_equal(out, in_float32.astype(dtype))
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


@pytest.mark.parametrize("name", ["elastic_transform", "thick_stroke", "jpeg_compression"])
def test_long_batches_are_corrupted_in_slices_with_the_same_bits(stored, name, monkeypatch):
    keys = corruptions.corruption_keys(name, 3, stored.index)
    whole = corruptions.corrupt(stored.image, name, 3, keys, points=stored.points)
    sizes = []
    run = apply._apply

    def spy(name, images, *args):
        sizes.append(len(images))
        return run(name, images, *args)

    monkeypatch.setattr(apply, "SLICE_PIXELS", 4 * RESOLUTION**2)
    monkeypatch.setattr(apply, "_apply", spy)
    sliced = corruptions.corrupt(stored.image, name, 3, keys, points=stored.points)
    assert sizes == [4, 4, 4, 4]
    np.testing.assert_array_equal(sliced, whole)


def test_memory_is_proportional_to_the_output_and_checked_before_allocating(monkeypatch):
    # 100,000 images of 60² (1.44 GB) need their output, the slices it is made of
    # and one slice's working arrays: not the 18x of one program over all of them.
    needed = apply.corrupt_bytes(100_000, 60, jnp.float32)
    assert needed < 2.2 * 100_000 * 60**2 * 4
    assert apply.corrupt_bytes(4, 60, jnp.float16) == 2 * 4 * 3600 * 2 + 4 * 3600 * 40
    monkeypatch.setattr(sampling, "available_bytes", lambda: (1000, "on the test machine"))
    images = jnp.zeros((3, 8, 8), jnp.float32)
    with pytest.raises(
        ValueError, match=r"3 images of 8×8 under elastic_transform need about 9,216 bytes .* "
        r"only 1,000 bytes .* on the test machine"
    ):  # fmt: skip
        corruptions.corrupt(images, "elastic_transform", 1, jax.random.key(0))
