import jax.numpy as jnp
import numpy as np
import pytest

import squiggles
from squiggles import sampling

TAYLOR = squiggles.Taylor()


def test_shape_and_dtype():
    z = squiggles.sample_latents(TAYLOR, 5)
    assert z.shape == (5, 2, 7) and z.dtype == np.float32
    assert squiggles.sample_latents(squiggles.SineNet(width=4), 3).shape == (3, 4, 4)
    assert squiggles.sample_latents(TAYLOR, 0).shape == (0, 2, 7)


def test_slices_in_any_order_equal_one_call():
    whole = np.asarray(squiggles.sample_latents(TAYLOR, 1000, seed=3, stream=1))
    pieces = {}
    for start in np.random.default_rng(0).permutation(np.arange(0, 1000, 100)):
        pieces[start] = np.asarray(
            squiggles.sample_latents(TAYLOR, 100, seed=3, stream=1, start=int(start))
        )
    np.testing.assert_array_equal(np.concatenate([pieces[s] for s in sorted(pieces)]), whole)
    single = squiggles.sample_latents(TAYLOR, 1, seed=3, stream=1, start=537)
    np.testing.assert_array_equal(single[0], whole[537])


def _rows(latents) -> set[bytes]:
    array = np.asarray(latents)
    return {row.tobytes() for row in array.reshape(len(array), -1)}


def test_streams_are_disjoint():
    # Each stream must be new data, even at other offsets (a seed built as
    # `seed << 4 + code` makes the test set a slice of the training set).
    train = _rows(squiggles.sample_latents(TAYLOR, 20_000, seed=0, stream=0))
    for stream in (1, 2, 16, 32):
        other = _rows(squiggles.sample_latents(TAYLOR, 5_000, seed=0, stream=stream))
        assert not train & other, f"stream {stream} repeats latents of stream 0"
    assert len(train) == 20_000


def test_seeds_give_different_latents():
    a = _rows(squiggles.sample_latents(TAYLOR, 1000, seed=0))
    b = _rows(squiggles.sample_latents(TAYLOR, 1000, seed=1))
    assert not a & b


def test_golden_values_pin_the_generator():
    # If this fails, the PRNG changed and every dataset built before would differ.
    taylor = squiggles.sample_latents(TAYLOR, 1, seed=0, stream=0)[0, :, :3]
    np.testing.assert_allclose(
        taylor,
        [[-0.43456006, 0.57619452, -0.20483303], [0.16629457, -0.50969505, -0.57520318]],
        rtol=1e-6,
    )
    sine = squiggles.sample_latents(squiggles.SineNet(), 1, seed=0, stream=0)[0, :2]
    np.testing.assert_allclose(
        sine,
        [
            [-1.46291173, -0.35172847, -0.16139522, 0.51901507],
            [-0.78314239, 0.31716856, -0.35327983, 4.90583038],
        ],
        rtol=1e-5,
    )


def test_largest_indices_are_reachable():
    last = 2**32 - 1
    z = squiggles.sample_latents(TAYLOR, 1, seed=last, stream=last, start=last)
    assert np.isfinite(np.asarray(z)).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(count=-1), "count must be an integer >= 0"),
        (dict(count=2.0), "count must be an integer >= 0"),
        (dict(count=1, seed=-1), r"seed must be in \[0, 2\*\*32\)"),
        (dict(count=1, stream=2**32), r"stream must be in \[0, 2\*\*32\)"),
        (dict(count=1, start=1.5), "start must be an integer"),
        (dict(count=2, start=2**32 - 1), "start \\+ count = 4294967297 is too large"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        squiggles.sample_latents(TAYLOR, **kwargs)


def test_non_family_is_rejected():
    with pytest.raises(TypeError, match="expected a family"):
        squiggles.sample_latents("taylor", 1)


def test_latents_at_any_indices_equal_the_ranges():
    whole = np.asarray(squiggles.sample_latents(TAYLOR, 50, seed=2, stream=5))
    order = np.random.default_rng(1).permutation(50)
    np.testing.assert_array_equal(
        squiggles.sample_latents_at(TAYLOR, order, seed=2, stream=5), whole[order]
    )
    with pytest.raises(ValueError, match="1-D array of integers"):
        squiggles.sample_latents_at(TAYLOR, [0.5, 1.5])
    with pytest.raises(ValueError, match=r"indices must be in \[0, 2\*\*32\)"):
        squiggles.sample_latents_at(TAYLOR, [-1])


def test_a_count_that_cannot_fit_is_refused_before_anything_is_allocated():
    # 10**9 SineNet latents are 4.8 TB (and more while they are drawn).
    with pytest.raises(ValueError, match=r"1,000,000,000 latents .* need about [\d,]+ bytes"):
        squiggles.sample_latents(squiggles.SineNet(), 10**9)


def test_the_refusal_names_the_bytes_needed_and_available(monkeypatch):
    monkeypatch.setattr(sampling, "available_bytes", lambda: (1000, "on the test machine"))
    with pytest.raises(
        ValueError, match=r"need about 17,600 bytes .* only 1,000 bytes .* on the test machine"
    ):
        squiggles.sample_latents(TAYLOR, 100)
    with pytest.raises(ValueError, match="need about 17,600 bytes"):
        squiggles.sample_latents_at(TAYLOR, np.arange(100))


@pytest.mark.parametrize("empty", [[], (), np.array([], np.float64), np.array([], np.uint8)])
def test_latents_at_no_indices_are_an_empty_float32_array(empty):
    latents = squiggles.sample_latents_at(TAYLOR, empty)
    assert latents.shape == (0, 2, 7) and latents.dtype == jnp.float32


@pytest.mark.parametrize(
    "indices, message",
    [
        ([1.5, 2.0], "1-D array of integers, got dtype float64"),
        ([[1, 2]], r"1-D array of integers, got shape \(1, 2\)"),
        (3, r"1-D array of integers, got shape \(\)"),
        ([4, -1], r"indices must be in \[0, 2\*\*32\), got values from -1 to 4"),
        ([[1], [1, 2]], "1-D array of integers, got"),
    ],
)
def test_latents_at_bad_indices_raise(indices, message):
    with pytest.raises(ValueError, match=message):
        squiggles.sample_latents_at(TAYLOR, indices)
