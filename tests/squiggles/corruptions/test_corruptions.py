"""Squiggles-C corruptions: shape, dtype and range, determinism, severities that
grow, the documented parameters, and clear errors for bad input."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import squiggles
from squiggles import corruptions
from squiggles.corruptions import severities, strokes

RESOLUTION = 32
KEY = jax.random.key(7)
RANDOM = ("gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "motion_blur",
          "glass_blur", "elastic_transform", "occlusion")  # fmt: skip


@pytest.fixture(scope="module")
def examples() -> squiggles.Examples:
    examples = squiggles.generate_examples(
        squiggles.Taylor(), 6, stream=squiggles.TEST_STREAM, resolution=RESOLUTION
    )
    return examples._replace(image=squiggles.dequantize(squiggles.quantize(examples.image)))


def corrupt(examples, name, severity, key=KEY):
    return corruptions.corrupt(examples.image, name, severity, key, points=examples.points)


def change(examples, name, severity) -> float:
    """ℓ2 distance from the clean image, averaged over the batch."""
    difference = corrupt(examples, name, severity) - examples.image
    return float(jnp.sqrt(jnp.square(difference).sum(axis=(-2, -1))).mean())


def test_every_corruption_has_five_documented_severities():
    assert len(corruptions.CORRUPTIONS) == 17
    assert set(corruptions.CORRUPTIONS) == set(corruptions.TABLE)
    for name in corruptions.CORRUPTIONS:
        assert len(corruptions.TABLE[name].values) == 5, name
    assert sum(map(len, corruptions.CATEGORIES.values())) == len(corruptions.CORRUPTIONS)
    assert not set(corruptions.LEFT_OUT) & set(corruptions.CORRUPTIONS)


@pytest.mark.parametrize("name", corruptions.CORRUPTIONS)
def test_shape_dtype_and_range_for_any_leading_shape(examples, name):
    images = examples.image.reshape(2, 3, RESOLUTION, RESOLUTION)
    points = examples.points.reshape(2, 3, -1, 2)
    for severity in (1, 5):
        out = corruptions.corrupt(images, name, severity, KEY, points=points)
        assert out.shape == images.shape and out.dtype == jnp.float32
        assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
        assert bool(jnp.isfinite(out).all())


@pytest.mark.parametrize("name", corruptions.CORRUPTIONS)
def test_severity_zero_is_the_clean_image_and_change_grows_with_severity(examples, name):
    np.testing.assert_array_equal(corrupt(examples, name, 0), examples.image)
    changes = [change(examples, name, severity) for severity in corruptions.SEVERITIES]
    assert changes[0] > 0, name
    assert (np.diff(changes) > 0).all(), (name, changes)


MILD = ("shot_noise", "speckle_noise", "gaussian_blur", "motion_blur", "jpeg_compression",
        "thin_stroke", "occlusion")  # fmt: skip


@pytest.mark.parametrize("name", MILD)
def test_severity_one_of_the_mild_corruptions_is_close_to_the_clean_image(examples, name):
    norm = float(jnp.sqrt(jnp.square(examples.image).sum(axis=(-2, -1))).mean())
    assert change(examples, name, 1) < 0.3 * norm


@pytest.mark.parametrize("name", corruptions.CORRUPTIONS)
def test_deterministic_given_the_key_and_random_ones_change_with_it(examples, name):
    first, again = corrupt(examples, name, 3), corrupt(examples, name, 3)
    np.testing.assert_array_equal(first, again)
    other = corrupt(examples, name, 3, jax.random.key(8))
    assert (not np.array_equal(first, other)) == (name in RANDOM)


@pytest.mark.parametrize(
    "name", ["gaussian_noise", "motion_blur", "glass_blur", "elastic_transform", "occlusion"]
)
def test_one_key_per_image_makes_an_image_independent_of_its_batch(examples, name):
    keys = jax.random.split(KEY, len(examples.image))
    whole = corruptions.corrupt(examples.image, name, 4, keys, points=examples.points)
    part = corruptions.corrupt(examples.image[2:4], name, 4, keys[2:4], points=examples.points[2:4])
    np.testing.assert_allclose(part, whole[2:4], atol=1e-6)


def test_raw_uint32_keys_are_accepted(examples):
    typed = corrupt(examples, "gaussian_noise", 2, jax.random.key(3))
    raw = corrupt(examples, "gaussian_noise", 2, jax.random.PRNGKey(3))
    np.testing.assert_array_equal(typed, raw)


def test_traceable_corruptions_run_under_jit(examples):
    jitted = jax.jit(lambda images: corruptions.corrupt(images, "glass_blur", 2, KEY))
    np.testing.assert_allclose(
        jitted(examples.image), corrupt(examples, "glass_blur", 2), atol=1e-6
    )


def test_parameters_mean_what_the_table_says():
    grey = jnp.full((4000, 8, 8), 0.5, jnp.float32)
    sigma = severities.TABLE["gaussian_noise"].values[1]
    noisy = corruptions.corrupt(grey, "gaussian_noise", 2, KEY)
    assert float(jnp.std(noisy - grey)) == pytest.approx(sigma, rel=0.02)
    fraction = severities.TABLE["impulse_noise"].values[4]
    flipped = corruptions.corrupt(grey, "impulse_noise", 5, KEY) != 0.5
    assert float(flipped.mean()) == pytest.approx(fraction, rel=0.03)
    ramp = jnp.linspace(0.0, 1.0, 64, dtype=jnp.float32).reshape(1, 8, 8)
    delta = severities.TABLE["brightness"].values[2]
    np.testing.assert_allclose(
        corruptions.corrupt(ramp, "brightness", 3, KEY), jnp.clip(ramp + delta, 0, 1), atol=1e-6
    )
    factor = severities.TABLE["contrast"].values[0]
    expected = (ramp - ramp.mean()) * factor + ramp.mean()
    np.testing.assert_allclose(corruptions.corrupt(ramp, "contrast", 1, KEY), expected, atol=1e-6)


def test_pixelation_makes_constant_blocks_with_the_mean_of_each():
    image = jax.random.uniform(KEY, (1, 10, 10))
    out = np.asarray(corruptions.corrupt(image, "pixelate", 4, KEY))[0]  # fraction 0.5
    np.testing.assert_allclose(out[:2, :2], np.asarray(image)[0, :2, :2].mean(), rtol=1e-5)
    assert len(np.unique(out.round(6))) == 25


def test_a_stroke_of_width_one_is_the_generators_stroke(examples):
    drawn = strokes.stroke_width(examples.points, jnp.float32(1.0), RESOLUTION)
    np.testing.assert_allclose(
        drawn, squiggles.render_points(examples.points, RESOLUTION), atol=1e-6
    )
    thin, thick = corrupt(examples, "thin_stroke", 3), corrupt(examples, "thick_stroke", 3)
    assert float(thin.sum()) < float(examples.image.sum()) < float(thick.sum())


def test_spatial_parameters_scale_with_resolution():
    assert severities.value("gaussian_blur", 5, 120) == pytest.approx(1.5 * math.sqrt(2))
    assert severities.value("elastic_transform", 1, 120) == pytest.approx(8.0)
    assert severities.value("gaussian_noise", 5, 120) == 0.38
    assert severities.value("glass_blur", 5, 240) == pytest.approx((1.2, 2, 8))


@pytest.mark.parametrize("severity", [6, -1, 1.5, True, "3", None])
def test_bad_severity_is_a_clear_error(examples, severity):
    with pytest.raises(ValueError, match="severity must be an integer from 1 to 5"):
        corrupt(examples, "gaussian_noise", severity)


@pytest.mark.parametrize(
    "shape", [(32,), (4, 5), (2, 3, 3), (3, 8, 9)], ids=["1-D", "not square", "too small", "3x8x9"]
)
def test_bad_shape_is_a_clear_error(shape):
    with pytest.raises(ValueError, match=r"shape \(\.\.\., R, R\) with R >= 4"):
        corruptions.corrupt(jnp.zeros(shape), "contrast", 1, KEY)


def test_bad_images_and_names_are_clear_errors(examples):
    with pytest.raises(
        ValueError, match="unknown corruption 'fog'; expected one of gaussian_noise"
    ):
        corrupt(examples, "fog", 1)
    with pytest.raises(ValueError, match="dtype uint8"):
        corruptions.corrupt(squiggles.quantize(examples.image)[..., 0], "contrast", 1, KEY)
    with pytest.raises(ValueError, match=r"in \[0, 1\], got values from 0.0 to 2.0"):
        corruptions.corrupt(2 * examples.image, "contrast", 1, KEY)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        corruptions.corrupt(
            jnp.asarray(examples.image).at[0, 0, 0].set(jnp.nan), "contrast", 1, KEY
        )
    with pytest.raises(ValueError, match="re-renders the stroke from the curve: pass points"):
        corruptions.corrupt(examples.image, "thick_stroke", 1, KEY)
    with pytest.raises(ValueError, match=r"points must have shape \(6, 'P', 2\)"):
        corruptions.corrupt(examples.image, "thin_stroke", 1, KEY, points=examples.points[:3])
    with pytest.raises(ValueError, match=r"one per image \(shape \(6,\)\), got shape \(3,\)"):
        corrupt(examples, "occlusion", 1, jax.random.split(KEY, 3))
    with pytest.raises(ValueError, match="key must be a JAX PRNG key"):
        corrupt(examples, "occlusion", 1, 7)
    with pytest.raises(TypeError, match="jpeg_compression runs an encoder on the host"):
        jax.jit(lambda x: corruptions.corrupt(x, "jpeg_compression", 1, KEY))(examples.image)


def test_corrupted_examples_are_the_same_however_a_range_is_cut():
    family = squiggles.Taylor()
    whole = corruptions.corrupted_examples(family, "occlusion", 5, 6, resolution=RESOLUTION)
    part = corruptions.corrupted_examples(family, "occlusion", 5, 3, start=3, resolution=RESOLUTION)
    np.testing.assert_array_equal(part.image, whole.image[3:])
    np.testing.assert_array_equal(part.label, whole.label[3:])
    stored = np.asarray(whole.image) * 255
    np.testing.assert_allclose(stored, np.round(stored), atol=1e-3)  # stored as uint8
    keys = [corruptions.corruption_keys(name, 1, [0, 1]) for name in ("occlusion", "impulse_noise")]
    assert not np.array_equal(jax.random.key_data(keys[0]), jax.random.key_data(keys[1]))


@pytest.mark.parametrize("name", corruptions.NEEDS_POINTS)
def test_stroke_corruptions_refuse_points_that_are_not_rescaled_curves(examples, name):
    points = np.asarray(examples.points)

    def stroke(bad):
        return corruptions.corrupt(examples.image, name, 2, KEY, points=bad)

    nan = points.copy()
    nan[2, 5, 0] = np.nan
    with pytest.raises(ValueError, match=r"points must be finite; 1 curve\(s\) .* index \(2,\)"):
        stroke(nan)
    with pytest.raises(ValueError, match=r"num_points >= 1, got \(6, 0, 2\)"):
        stroke(points[:, :0])
    raw = np.asarray(squiggles.points(examples.latent, rescale=False))
    unrescaled = r"rescaled points of each curve, in \[0, 1\]² \(squiggles\.points\(z\) .*\), got"
    with pytest.raises(ValueError, match=unrescaled + r" coordinates from -\d"):
        stroke(raw)
    with pytest.raises(ValueError, match="points must be real numbers, got complex64"):
        stroke(points.astype(np.complex64))


@pytest.mark.parametrize(
    "indices, message",
    [([-1], r"in \[0, 2\*\*32\), got values from -1"), ([1.7], "integers, got dtype float64"),
     ([2**32], r"in \[0, 2\*\*32\), got values from 4294967296"), (3, r"got shape \(\)")],
)  # fmt: skip
def test_corruption_keys_refuse_indices_outside_a_stream(indices, message):
    with pytest.raises(ValueError, match=f"indices must .*{message}"):
        corruptions.corruption_keys("occlusion", 1, indices)
