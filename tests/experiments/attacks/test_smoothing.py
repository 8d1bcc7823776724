"""Randomized smoothing on the linear model, where everything has a closed form: the
smoothed classifier of f(x) = [w·x + b > 0] is g = f, with p_A = Φ(|m|/σ) for the
distance m to the boundary, and g's exact robust radius is m = σ·Φ⁻¹(p_A). CERTIFY must
return a radius below m except with probability α, and PREDICT a wrong class at most
with probability α (Cohen et al., Theorem 1 and Proposition 1)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from experiments.attacks import ford, smoothing
from tests.experiments.attacks.linear_problems import linear_logits

SIZE = 4  # 4×4 images: the draws are cheap, the maths is that of any dimension
KEY = jax.random.key(3)


def unit_model(direction_seed: int = 0):
    """f(x) = [u·x + b > 0] with ‖u‖ = 1, as a logits function, and u."""
    u = jax.random.normal(jax.random.key(direction_seed), (SIZE * SIZE,))
    u = u / jnp.linalg.norm(u)
    return jax.tree_util.Partial(linear_logits, u, jnp.float32(0.0)), u


def at_margins(u, margins) -> jax.Array:
    """Images at signed distances `margins` from the boundary u·x = 0."""
    base = jax.random.normal(jax.random.key(9), (len(margins), SIZE * SIZE))
    base = base - (base @ u)[:, None] * u  # on the boundary
    return (base + jnp.asarray(margins, jnp.float32)[:, None] * u).reshape(-1, SIZE, SIZE)


def test_class_counts_add_up_and_agree_with_count_errors():
    model, u = unit_model()
    images = at_margins(u, [0.05, -0.1, 0.3])
    counts = ford.class_counts(model, images, 0.2, samples=300, key=KEY, batch=64)
    assert counts.shape == (3, 2)
    np.testing.assert_array_equal(counts.sum(axis=1), 300)
    labels = np.array([1, 0, 1])
    errors = ford.count_errors(model, images, labels, 0.2, samples=300, key=KEY, batch=64)
    np.testing.assert_array_equal(errors, 300 - counts[np.arange(3), labels])
    # The share of class 1 is Φ(m/σ): within 4 standard errors of 300 draws.
    expected = stats.norm.cdf(np.array([0.05, -0.1, 0.3]) / 0.2)
    assert np.all(np.abs(counts[:, 1] / 300 - expected) < 4 * np.sqrt(0.25 / 300))


def test_certified_radius_approaches_the_exact_radius_from_below():
    model, u = unit_model()
    margins = np.array([0.1, -0.2, 0.3, -0.4])
    sigma = 0.25
    certificate = smoothing.certify(model, at_margins(u, margins), sigma, selection_samples=50,
                                    samples=20_000, alpha=0.001, key=KEY)  # fmt: skip
    np.testing.assert_array_equal(certificate.prediction, (margins > 0).astype(int))
    exact = np.abs(margins)  # σ·Φ⁻¹(Φ(|m|/σ))
    assert np.all(certificate.radius < exact)
    # What the bound gives on the expected count: the radius within a few hundredths of it.
    p = stats.norm.cdf(exact / sigma)
    typical = sigma * stats.norm.ppf(smoothing.lower_confidence_bound(p * 20_000, 20_000, 0.001))
    np.testing.assert_allclose(certificate.radius, typical, atol=0.03)
    np.testing.assert_array_equal(certificate.top_count <= 20_000, True)


def test_the_radius_formula_is_sigma_times_the_normal_quantile():
    np.testing.assert_allclose(smoothing.certified_radius([0.5, 0.8413447, 0.99], 0.5),
                               [0.0, 0.5, 0.5 * stats.norm.ppf(0.99)], atol=1e-6)  # fmt: skip
    np.testing.assert_array_equal(smoothing.certified_radius([0.2, 0.0], 1.0), [0.0, 0.0])


def test_one_sided_lower_bound_is_clopper_pearsons():
    # 990 of 1,000: the exact one-sided 99.9 % bound solves P(X >= 990 | p) = 0.001.
    bound = float(smoothing.lower_confidence_bound(990, 1000, 0.001))
    assert stats.binom.sf(989, 1000, bound) == pytest.approx(0.001, rel=1e-3)
    assert smoothing.lower_confidence_bound(0, 10, 0.01) == 0.0


def test_on_the_boundary_certify_and_predict_abstain():
    model, u = unit_model()
    images = at_margins(u, np.zeros(40))
    certificate = smoothing.certify(model, images, 0.3, selection_samples=20, samples=400,
                                    alpha=0.01, key=KEY)  # fmt: skip
    # p = 1/2 exactly: each answers with probability <= α = 0.01 per image.
    bound = 0.01 + 3 * np.sqrt(0.01 / 40)
    abstained = certificate.prediction == smoothing.ABSTAIN
    assert np.mean(~abstained) <= bound
    np.testing.assert_array_equal(certificate.radius[abstained], 0.0)
    assert np.all(certificate.radius[~abstained] > 0)
    prediction = smoothing.predict(model, images, 0.3, samples=400, alpha=0.01, key=KEY)
    assert np.mean(prediction.prediction != smoothing.ABSTAIN) <= bound
    assert np.all(prediction.p_value[prediction.prediction == smoothing.ABSTAIN] > 0.01)


@functools.cache
def wrong_certificate_rate(alpha: float, images: int, samples: int) -> tuple[float, float]:
    """Share of CERTIFY's answers on the linear model that are wrong (another class, or a
    radius beyond the exact one), and of abstentions."""
    model, u = unit_model(1)
    margins = np.linspace(-0.3, 0.3, images)  # p_A from 1/2 to Φ(1.5) = 0.93 at σ = 0.2
    certificate = smoothing.certify(model, at_margins(u, margins), 0.2, selection_samples=20,
                                    samples=samples, alpha=alpha, key=KEY, batch=4096)  # fmt: skip
    answered = certificate.prediction != smoothing.ABSTAIN
    wrong = answered & (
        (certificate.prediction != (margins > 0)) | (certificate.radius > np.abs(margins))
    )
    return float(np.mean(wrong)), float(np.mean(~answered))


def test_wrong_certificates_are_at_most_alpha_within_sampling_error():
    alpha, images = 0.05, 2000
    wrong, abstained = wrong_certificate_rate(alpha, images, 100)
    assert wrong <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / images)
    assert wrong > 0  # the guarantee is not vacuous here: some bounds do overshoot
    assert 0.05 < abstained < 0.6  # near the boundary it abstains, far from it it answers


def test_predict_returns_the_top_class_of_three():
    def three(images):
        mean = jnp.mean(images, axis=(1, 2))
        return jnp.stack([mean, 2 * mean, jnp.zeros_like(mean)], axis=1)

    images = jnp.full((2, SIZE, SIZE), 1.0).at[1].set(-1.0)
    prediction = smoothing.predict(three, images, 0.01, samples=50, alpha=0.001, key=KEY)
    np.testing.assert_array_equal(prediction.prediction, [1, 2])
    assert prediction.counts.shape == (2, 3)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"alpha": 0.0}, "alpha must be a number in (0, 1)"),
        ({"samples": 0}, "samples must be"),
        ({"selection_samples": 1.5}, "selection_samples must be"),
    ],
)
def test_bad_arguments_are_refused(change, message):
    model, u = unit_model()
    options = {"selection_samples": 4, "samples": 4, "alpha": 0.01, "key": KEY, **change}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        smoothing.certify(model, at_margins(u, [0.1]), 0.1, **options)


@pytest.mark.parametrize(
    "sigma, message",
    [(-0.1, "sigma must be a finite number >= 0"), (0.0, "sigma must be a finite number > 0")],
)
def test_a_sigma_that_smooths_nothing_is_refused(sigma, message):
    model, u = unit_model()
    with pytest.raises(ValueError, match=message):
        smoothing.certify(model, at_margins(u, [0.1]), sigma, samples=4, key=KEY)
    with pytest.raises(ValueError, match=message):
        smoothing.predict(model, at_margins(u, [0.1]), sigma, samples=4, key=KEY)
