"""experiments.attacks.ford_latent and experiments.attacks.manifold on a few Taylor latents
at 16×16.

A constant model is never right for the reason it should be, but its outcomes are known
exactly from the Shapely labels of the noisy latents, which the tests recompute from the
documented draws: draw j of latent i is normal(fold_in(key, j // per_pass))[i, j % per_pass].
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import squiggles
from experiments.attacks import ford_latent, manifold

FAMILY = squiggles.Taylor()
RESOLUTION = 16
SAMPLES = 20  # one pass: min(1024 // 6, 20) draws per latent
SIGMA_Z = 0.3  # labels change in most latents' draws, but not all
KEY = jax.random.key(0)


def pick_latents():
    """Three latents of each label, from the start of seed 0's stream."""
    z = squiggles.sample_latents(FAMILY, 48, seed=0)
    labels = np.asarray(squiggles.is_self_intersecting(squiggles.points(z, FAMILY)), np.int32)
    chosen = np.concatenate([np.flatnonzero(labels == 0)[:3], np.flatnonzero(labels == 1)[:3]])
    assert len(chosen) == 6
    return z[chosen], labels[chosen]


LATENTS, LABELS = pick_latents()
ZERO, ONE = LABELS == 0, LABELS == 1


def constant_with(logits, images):
    return jnp.broadcast_to(logits, (images.shape[0], 2))


def constant(label):
    """A model that always says `label` (one compiled program for both labels)."""
    return jax.tree_util.Partial(constant_with, jax.nn.one_hot(label, 2))


def nan_logits(images):
    return jnp.full((images.shape[0], 2), jnp.nan)


def noisy_truth(key, sigma):
    """(N, SAMPLES) Shapely labels of the documented noisy draws."""
    draws = jax.random.normal(
        jax.random.fold_in(key, 0), (len(LATENTS), SAMPLES, *FAMILY.latent_shape), jnp.float32
    )
    z = LATENTS[:, None] + jnp.float32(sigma) * draws
    truth = squiggles.is_self_intersecting(squiggles.points(z.reshape(-1, 2, 7), FAMILY))
    return np.asarray(truth, np.int32).reshape(len(LATENTS), SAMPLES)


def outcomes(label, key=KEY):
    return ford_latent.latent_error_rate(
        constant(label), LATENTS, LABELS, SIGMA_Z, family=FAMILY, resolution=RESOLUTION,
        samples=SAMPLES, key=key,
    )  # fmt: skip


def test_outcomes_of_constant_models_follow_from_the_shapely_labels():
    changes = np.sum(noisy_truth(KEY, SIGMA_Z) != LABELS[:, None], axis=1)
    assert changes[ZERO].sum() > 0 and changes[ONE].sum() > 0  # the test means something
    assert np.all(changes < SAMPLES)
    for label in (0, 1):
        result = outcomes(label)
        assert result.samples == SAMPLES
        total = result.model_errors + result.followed_flips + result.missed_flips
        assert np.all(total <= SAMPLES)
        np.testing.assert_array_equal(result.label_changes, changes)
        agree = LABELS == label  # the model is right on the clean latent
        # Right clean: an unchanged label is never an error, a change is always missed.
        np.testing.assert_array_equal(result.model_errors[agree], 0)
        np.testing.assert_array_equal(result.followed_flips[agree], 0)
        np.testing.assert_array_equal(result.missed_flips[agree], changes[agree])
        # Wrong clean: every unchanged draw is an error, every change is followed.
        np.testing.assert_array_equal(result.model_errors[~agree], SAMPLES - changes[~agree])
        np.testing.assert_array_equal(result.followed_flips[~agree], changes[~agree])
        np.testing.assert_array_equal(result.missed_flips[~agree], 0)
        # Ford et al.'s disagreement: prediction ≠ clean label.
        np.testing.assert_array_equal(result.disagreements, np.where(agree, 0, SAMPLES))
        rates = result.rates()
        np.testing.assert_array_equal(rates["true_errors"], result.true_errors / SAMPLES)
        np.testing.assert_array_equal(rates["label_changes"], changes / SAMPLES)


def test_latent_error_rate_is_deterministic_in_the_key():
    first = outcomes(0)
    for name in ("model_errors", "followed_flips", "missed_flips"):
        np.testing.assert_array_equal(getattr(outcomes(0), name), getattr(first, name))
    other = outcomes(0, jax.random.key(1))
    expected = np.sum(noisy_truth(jax.random.key(1), SIGMA_Z) != LABELS[:, None], axis=1)
    np.testing.assert_array_equal(other.label_changes, expected)


def test_sigma_against_the_truth_is_independent_of_the_model():
    def sigma(model, against, key=KEY):
        return ford_latent.latent_sigma_at_error_rate(
            model, LATENTS, LABELS, 0.1, against=against, family=FAMILY,
            resolution=RESOLUTION, samples=SAMPLES, key=key,
        )  # fmt: skip

    truth = sigma(constant(0), "truth")
    np.testing.assert_array_equal(truth, sigma(constant(1), "truth"))
    np.testing.assert_array_equal(truth, sigma(nan_logits, "truth"))  # never asked
    assert np.isfinite(truth).sum() >= 2 and np.all(truth > 0)  # clean labels are right
    np.testing.assert_array_equal(truth, sigma(constant(0), "truth"))
    # At the σ found, at least 10 % of the draws change label (within tol above it).
    finite = np.isfinite(truth)
    for i in np.flatnonzero(finite):
        assert np.mean(noisy_truth(KEY, truth[i])[i] != LABELS[i]) >= 0.1
    # Against a constant model: 0 where it is wrong clean, inf where it is right (it
    # never changes its mind).
    model = sigma(constant(0), "model")
    np.testing.assert_array_equal(model[ONE], 0)
    np.testing.assert_array_equal(model[ZERO], np.inf)


def test_latent_distance_to_error_of_a_constant_model():
    result = ford_latent.latent_distance_to_error(
        constant(0), LATENTS, LABELS, family=FAMILY, resolution=RESOLUTION, steps=3
    )
    np.testing.assert_array_equal(result.found, ONE)  # wrong clean: found at once
    np.testing.assert_array_equal(result.distance, np.where(ONE, 0, np.inf))
    np.testing.assert_array_equal(result.point, LATENTS)  # no gradient: nowhere to go
    np.testing.assert_array_equal(result.true_label, LABELS.astype(bool))


@pytest.mark.parametrize(
    "latents, labels, match",
    [
        (LATENTS[:, :, :5], LABELS, "must have shape"),  # a Taylor latent is (2, 7)
        (LATENTS[:, :1], LABELS, "must have shape"),
        (LATENTS[0], LABELS[:1], r"latents must have shape \(N, 2, 7\)"),
        (LATENTS, LABELS[:4], r"labels must have shape \(6,\), one per latent"),
    ],
)
def test_latent_error_rate_rejects_bad_latents(latents, labels, match):
    with pytest.raises(ValueError, match=match):
        ford_latent.latent_error_rate(
            constant(0), latents, labels, SIGMA_Z, family=FAMILY, resolution=RESOLUTION,
            samples=SAMPLES, key=KEY,
        )  # fmt: skip


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"against": "foo"}, "against must be one of"),
        ({"mu": 1.5}, "mu must be a number in"),
        ({"samples": 0}, "samples must be an integer >= 1"),
    ],
)
def test_latent_sigma_rejects_bad_arguments(changes, match):
    arguments = dict(against="truth", samples=SAMPLES, key=KEY)
    arguments.update(changes)
    with pytest.raises(ValueError, match=match):
        ford_latent.latent_sigma_at_error_rate(
            constant(0), LATENTS, LABELS, family=FAMILY, resolution=RESOLUTION, **arguments
        )


def test_nan_logits_on_noisy_latents_raise():
    with pytest.raises(ValueError, match="not finite"):
        ford_latent.latent_error_rate(
            nan_logits, LATENTS, LABELS, SIGMA_Z, family=FAMILY, resolution=RESOLUTION,
            samples=SAMPLES, key=KEY,
        )  # fmt: skip


# ---------------------------------------------------------------- manifold.nearest_curve


def nearest(images, start, steps=30):
    return manifold.nearest_curve(
        constant(0), images, start, LABELS, family=FAMILY, resolution=RESOLUTION, steps=steps
    )


def test_nearest_curve_to_a_clean_render_is_itself():
    images = squiggles.render(LATENTS, FAMILY, RESOLUTION)
    result = nearest(images, LATENTS)
    assert np.all(result.distance <= 1e-3)
    np.testing.assert_array_equal(result.true_label, LABELS)
    assert np.all(result.kind != manifold.KINDS.index("class_change"))
    # The constant model is right on label 0 (off manifold) and wrong on label 1 (on).
    np.testing.assert_array_equal(result.prediction, 0)
    np.testing.assert_array_equal(
        np.asarray(manifold.KINDS)[result.kind], np.where(ZERO, "off_manifold", "on_manifold")
    )


def test_nearest_curve_from_a_perturbed_latent_gets_closer():
    images = squiggles.render(LATENTS, FAMILY, RESOLUTION)
    start = LATENTS + 0.05 * jax.random.normal(jax.random.key(1), LATENTS.shape)
    before = np.linalg.norm(
        np.asarray(squiggles.render(start, FAMILY, RESOLUTION) - images).reshape(6, -1), axis=1
    )
    result = nearest(images, start)
    assert np.all(result.distance < before)
    assert np.mean(result.distance) < 0.5 * np.mean(before)
    # The distance reported is that of the latent returned.
    rendered = squiggles.render(jnp.asarray(result.latent), FAMILY, RESOLUTION)
    after = np.linalg.norm(np.asarray(rendered - images).reshape(6, -1), axis=1)
    np.testing.assert_allclose(result.distance, after, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(
        result.true_label, squiggles.is_self_intersecting(squiggles.points(result.latent, FAMILY))
    )


def test_nearest_curve_rejects_mismatched_inputs():
    images = jnp.zeros((6, RESOLUTION, RESOLUTION))
    with pytest.raises(ValueError, match="images must be 16×16"):
        nearest(jnp.zeros((6, 8, 8)), LATENTS)
    with pytest.raises(ValueError, match="one latent per image"):
        nearest(images, LATENTS[:5])
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        nearest(images, LATENTS, steps=0)
