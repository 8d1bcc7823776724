"""experiments.attacks.ford and experiments.attacks.ford_latent refuse what they cannot judge,
and offer
Ford et al.'s own choices beside this project's: the PGD ball of their code
(`pgd_radius(..., "coordinate")`) and their rule for reaching μ (`strict`).

Uses the linear model of test_ford.py, whose closed forms that file documents.
"""

import math

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats
from test_ford import IMAGES, KEY, LABELS, D, R, images_at, linear_logits, signed_draws
from test_ford_latent import FAMILY, LATENTS, RESOLUTION, constant

from experiments.analyses import ford_distance
from experiments.attacks import ford, ford_latent
from experiments.results import HALF_SPACE_FACTOR, halfspace_distance

EMPTY = jnp.zeros((0, R, R))


def flat_logits(x):
    """One number per image, (N,): what a binary model with a sigmoid output returns."""
    return linear_logits(x)[:, 1]


def one_logit(x):
    return linear_logits(x)[:, 1:]


CALLS = {
    "count_errors": lambda f, x, y, **o: ford.count_errors(f, x, y, 0.1, samples=4, key=KEY, **o),
    "error_rate": lambda f, x, y, **o: ford.error_rate(f, x, y, 0.1, samples=4, key=KEY, **o),
    "sigma_at_error_rate": lambda f, x, y, **o: ford.sigma_at_error_rate(
        f, x, y, samples=4, key=KEY, tol=0.25, **o
    ),
    "wrong_draws": lambda f, x, y, **o: ford.wrong_draws(f, x, y, 0.1, draws=1, key=KEY, **o),
    "distance_to_error": lambda f, x, y, **o: ford.distance_to_error(f, x, y, steps=2, **o),
    "median_noisy_distance": lambda f, x, y, **o: ford.median_noisy_distance(
        f, x, y, 0.1, points=1, steps=2, key=KEY, **o
    ),
}


# ---------------------------------------------------------------- labels, logits, sizes


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
@pytest.mark.parametrize(
    "labels, match",
    [
        ([0, 1, 2, 0, 1, 0, 1, 0], r"labels must be class indices in \{0, 1\}, got 2 at index 2"),
        ([0, 1, 0, -1, 1, 0, 1, 0], r"labels must be class indices .*got -1 at index 3"),
        ([0, 0.5, 0, 1, 1, 0, 1, 0], r"labels must be class indices .*got 0.5 at index 1"),
        ([0, 1, 0, 1, 1, 0, 1, np.nan], r"labels must be class indices .*got nan at index 7"),
        (["0"] * 8, "labels must be class indices"),
    ],
)
def test_labels_that_are_not_class_indices_are_refused(call, labels, match):
    with pytest.raises(ValueError, match=match):
        call(linear_logits, IMAGES, np.asarray(labels))


def test_labels_as_bool_or_whole_floats_count_as_the_integers():
    errors = ford.count_errors(linear_logits, IMAGES, LABELS, 0.3, samples=4, key=KEY)
    assert 0 < errors.sum() < 8 * 4  # a count that a wrong label would change
    for same in (np.asarray(LABELS, np.float32), np.asarray(LABELS, bool)):
        again = ford.count_errors(linear_logits, IMAGES, same, 0.3, samples=4, key=KEY)
        np.testing.assert_array_equal(again, errors)


def test_a_label_beyond_the_models_classes_names_them():
    def three_classes(x):
        return jnp.concatenate([linear_logits(x), jnp.zeros((len(x), 1))], axis=1)

    labels = np.asarray(LABELS).copy()
    labels[5] = 2
    assert ford.count_errors(three_classes, IMAGES, labels, 0.1, samples=4, key=KEY).shape == (8,)
    labels[5] = 3
    with pytest.raises(ValueError, match=r"in \{0, \.\.\., 2\}, got 3 at index 5"):
        ford.count_errors(three_classes, IMAGES, labels, 0.1, samples=4, key=KEY)


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
@pytest.mark.parametrize(
    "logits_fn, shape", [(flat_logits, r"\(8,\)"), (one_logit, r"\(8, 1\)")], ids=["N", "N,1"]
)
def test_logits_of_the_wrong_shape_are_refused(call, logits_fn, shape):
    match = rf"logits_fn must return logits of shape \(N, C\), C >= 2, .*got {shape} for 8 images"
    with pytest.raises(ValueError, match=match):
        call(logits_fn, IMAGES, LABELS)


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_an_empty_batch_is_refused(call):
    with pytest.raises(ValueError, match=r"images must hold at least one image, got shape \(0, 6"):
        call(linear_logits, EMPTY, np.zeros(0, np.int32))


# ---------------------------------------------------------------- σ, steps, μ


@pytest.mark.parametrize(
    "sigma, match",
    [
        (-0.1, r"sigma must be a finite number >= 0, got -0.1"),
        (math.nan, r"sigma must be a finite number >= 0, got nan"),
        (math.inf, r"sigma must be a finite number >= 0, got inf"),
        ("0.1", r"sigma must be a finite number >= 0, got '0.1'"),
        ([0.1] * 8, r"sigma must be one number \(finite, >= 0\), got an array of shape \(8,\)"),
    ],
)
@pytest.mark.parametrize("epsilon", [None, 1.0])
def test_distance_to_error_checks_sigma_by_its_name_even_with_an_epsilon(sigma, match, epsilon):
    with pytest.raises(ValueError, match=match):
        ford.distance_to_error(linear_logits, IMAGES, LABELS, sigma=sigma, epsilon=epsilon)


def test_median_noisy_distance_takes_one_sigma_and_says_so():
    with pytest.raises(ValueError, match=r"sigma must be one number .*array of shape \(8,\)"):
        ford.median_noisy_distance(linear_logits, IMAGES, LABELS, [0.1] * 8, points=2, key=KEY)
    with pytest.raises(ValueError, match="sigma must be a finite number >= 0, got -0.1"):
        ford.median_noisy_distance(linear_logits, IMAGES, LABELS, -0.1, points=2, key=KEY)


@pytest.mark.parametrize("steps", [2.5, -1, True, "3"])
@pytest.mark.parametrize(
    "call",
    [
        lambda s: ford.distance_to_error(linear_logits, IMAGES, LABELS, bisection_steps=s),
        lambda s: ford.median_noisy_distance(
            linear_logits, IMAGES, LABELS, 0.1, points=2, key=KEY, bisection_steps=s
        ),
        lambda s: ford.refine_to_error(linear_logits, IMAGES, IMAGES, LABELS, LABELS, steps=s),
    ],
    ids=["distance_to_error", "median_noisy_distance", "refine_to_error"],
)
def test_bisection_steps_must_be_a_whole_number(call, steps):
    with pytest.raises(
        ValueError, match=rf"bisection_steps must be an integer >= 0, got {steps!r}"
    ):
        call(steps)


def test_zero_bisection_steps_keep_the_pgd_point():
    result = ford.distance_to_error(linear_logits, IMAGES, LABELS, bisection_steps=0)
    np.testing.assert_allclose(result.distance, result.unrefined, rtol=1e-6)


@pytest.mark.parametrize(
    "sigma, mu, match",
    [
        (-0.1, 0.01, "sigma must be finite and >= 0, got -0.1"),
        (math.nan, 0.01, "sigma must be finite and >= 0, got nan"),
        (0.1, -0.1, r"mu must be error rates in \[0, 1\], got -0.1"),
        (0.1, 1.5, r"mu must be error rates in \[0, 1\], got 1.5"),
        (0.1, math.nan, r"mu must be error rates in \[0, 1\], got nan"),
        (0.1, [0.01, 2.0, math.nan], r"mu must be error rates .*got 2.0 \(2 of 3 bad\)"),
        (0.1, "0.01", r"mu must be error rates in \[0, 1\], got '0.01'"),
        (True, 0.01, "sigma must be finite and >= 0, got True"),
    ],
)
def test_halfspace_distance_refuses_what_has_no_distance(sigma, mu, match):
    with pytest.raises(ValueError, match=match):
        halfspace_distance(sigma, mu)


def test_halfspace_distance_at_the_ends_of_zero_one():
    distance = np.asarray(halfspace_distance(0.1, [0.0, 0.01, 0.5, 1.0]))
    assert distance[0] == np.inf  # no error in noise: no half-space at a finite distance
    np.testing.assert_allclose(distance[1], 0.1 * HALF_SPACE_FACTOR, rtol=1e-6)
    np.testing.assert_array_equal(distance[2:], 0)
    assert float(halfspace_distance(0.0, 0.0)) == 0  # no noise, no distance


# ---------------------------------------------------------------- the PGD ball (Ford et al.'s)


def test_pgd_radius_of_ford_et_als_code_is_from_one_coordinate():
    z = stats.norm.ppf(1 - 1e-5)  # 4.265: the 99.999th percentile of one coordinate
    assert ford.pgd_radius(0.1, 3600, "coordinate") == 1.0  # 2·0.4265 < 1
    assert ford.pgd_radius(0.2, 3600, "coordinate") == pytest.approx(2 * 0.2 * z)
    assert ford.pgd_radius(0.2, 36, "coordinate") == ford.pgd_radius(0.2, 3600, "coordinate")
    # This project's: from the norm, 12.3 at σ = 0.1 and R = 60.
    assert ford.pgd_radius(0.1, 3600) == pytest.approx(12.329, abs=1e-3)
    assert ford.pgd_radius(0.1, 3600, "norm") == ford.pgd_radius(0.1, 3600)


@pytest.mark.parametrize(
    "arguments, match",
    [
        ((0.1, 36, "authors"), r"rule must be one of \('norm', 'coordinate'\), got 'authors'"),
        ((-0.1, 36), "sigma must be a finite number >= 0, got -0.1"),
        ((0.1, 0), "dimension must be an integer >= 1, got 0"),
    ],
)
def test_pgd_radius_rejects_bad_input(arguments, match):
    with pytest.raises(ValueError, match=match):
        ford.pgd_radius(*arguments)


def test_distance_to_error_with_the_coordinate_ball():
    images, labels, d = images_at([0.05, 0.2, 0.4, 1.5])
    result = ford.distance_to_error(
        linear_logits, images, labels, sigma=0.1, radius="coordinate", bisection_steps=20
    )
    # ε = 1: the plane is found within it, not beyond it (norm ball: ε = 1.53 reaches 1.5).
    np.testing.assert_array_equal(result.found, [True, True, True, False])
    np.testing.assert_allclose(result.distance[:3], d[:3], rtol=1e-4)
    assert ford.distance_to_error(linear_logits, images, labels, sigma=0.1).found.all()


def test_ford_distance_offers_the_coordinate_ball_as_a_setting():
    settings = ford_distance.default_settings()
    assert settings.radius == "norm"  # this project's ball stays the default
    assert ford_distance.radius(settings, 60 * 60) == pytest.approx(12.329, abs=1e-3)
    settings.radius = "coordinate"
    ford_distance.check(settings)
    assert ford_distance.radius(settings, 60 * 60) == 1.0
    settings.radius = "authors"
    with pytest.raises(ValueError, match=r"radius must be one of \('norm', 'coordinate'\)"):
        ford_distance.check(settings)


# ---------------------------------------------------------------- reaching μ: >= or >


def test_bisect_sigma_strict_needs_a_rate_above_mu():
    def rate_at(sigma):  # exactly μ = 0.01 on [0.3, 0.6), above it from 0.6
        return np.where(sigma < 0.3, 0.0, np.where(sigma < 0.6, 0.01, 0.02))

    options = dict(low=0.0, high=1.0, tol=1e-4)
    at_least = ford.bisect_sigma(rate_at, 2, 0.01, **options)
    above = ford.bisect_sigma(rate_at, 2, 0.01, strict=True, **options)
    assert np.all((at_least >= 0.3) & (at_least <= 0.3 + 1e-4))
    assert np.all((above >= 0.6) & (above <= 0.6 + 1e-4))
    with pytest.raises(ValueError, match="strict must be True or False, got 1"):
        ford.bisect_sigma(rate_at, 2, 0.01, strict=1, **options)


def test_sigma_at_error_rate_strict_is_one_draw_later():
    samples, mu, tol = 200, 0.01, 1e-4  # 1 % of 200: 2 errors reach it, or 3 with strict
    near = np.arange(6)  # correct, with crossings below high = 1
    per_pass = min(ford.draws_per_pass(len(IMAGES), ford.DEFAULT_BATCH), samples)
    h = np.sort(signed_draws(KEY, IMAGES, LABELS, samples, per_pass), axis=1)
    sigma = {
        strict: ford.sigma_at_error_rate(
            linear_logits, IMAGES, LABELS, mu, samples=samples, key=KEY, tol=tol, strict=strict
        )
        for strict in (False, True)
    }
    for strict, errors in ((False, 2), (True, 3)):
        crossing = -D[near] / h[near, errors - 1]
        assert np.all(sigma[strict][near] >= crossing - 1e-5)
        assert np.all(sigma[strict][near] <= crossing + tol + 1e-5)
    assert np.all(sigma[True][near] > sigma[False][near])
    other = np.setdiff1d(np.arange(8), near)  # misclassified clean (0) or never (inf): as is
    np.testing.assert_array_equal(sigma[True][other], sigma[False][other])


# ---------------------------------------------------------------- latent space


def test_latent_analyses_refuse_labels_beyond_two_classes_and_bad_bisection_steps():
    labels = np.array([0, 0, 0, 1, 1, 2])
    options = dict(family=FAMILY, resolution=RESOLUTION)
    with pytest.raises(ValueError, match=r"in \{0, 1\}, got 2 at index 5"):
        ford_latent.latent_error_rate(
            constant(0), LATENTS, labels, 0.1, samples=2, key=KEY, **options
        )
    with pytest.raises(ValueError, match=r"labels must be class indices .*got 0.5 at index 0"):
        ford_latent.latent_distance_to_error(constant(0), LATENTS, [0.5] * 6, **options)
    with pytest.raises(ValueError, match="bisection_steps must be an integer >= 0, got 2.5"):
        ford_latent.latent_distance_to_error(
            constant(0), LATENTS, [0] * 6, bisection_steps=2.5, **options
        )
