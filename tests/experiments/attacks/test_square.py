"""The ℓ2 Square attack: its window shape and schedule, and what it finds on a two-class
linear model (robust iff |w·x₀ + b|/‖w‖ > ε), with and without a usable gradient."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.attacks import apgd, square
from experiments.classifier import Classifier
from tests.experiments.attacks.linear_problems import linear_logits, linear_problem, masked_logits

N, R = 32, 12
QUERIES = 500
CLEAN_ERRORS = 2


@pytest.fixture(scope="module")
def problem():
    w, b, x0, labels, distance = linear_problem(N, R, CLEAN_ERRORS, 0.3, 0.7)
    return w, b, x0, labels, distance, float(np.quantile(distance, 0.75))


def run(model, problem, key=2, **options):
    _, _, x0, labels, _, epsilon = problem
    options = dict(queries=QUERIES, key=jax.random.key(key)) | options
    return square.square(model, x0, labels, epsilon, **options)


def test_the_window_shape_has_two_halves_of_opposite_sign_heaviest_in_the_middle():
    shape = np.asarray(square.window_shape(jnp.asarray(7), 9))
    np.testing.assert_allclose(np.sum(shape**2), 1.0, rtol=1e-6)
    assert np.all(shape[7:] == 0) and np.all(shape[:, 7:] == 0)
    top, bottom = shape[:3, :7], shape[3:7, :7]  # h // 2 = 3 rows on top
    assert np.all(top > 0) and np.all(bottom < 0)
    np.testing.assert_allclose(np.sum(top**2), np.sum(bottom**2), rtol=1e-6)
    np.testing.assert_allclose(top, top[:, ::-1], rtol=1e-6)  # symmetric about column 3
    assert np.argmax(top) == np.ravel_multi_index((1, 3), top.shape)  # its centre
    assert np.argmin(bottom) == np.ravel_multi_index((2, 3), bottom.shape)
    # Concentric squares: the centre of the top half weighs 1 + 1/4 + 1/9 + 1/16, a cell
    # at distance 3 from it only 1/16.
    np.testing.assert_allclose(top[1, 3] / top[1, 0], 16 * (1 + 1 / 4 + 1 / 9 + 1 / 16))


def test_the_square_side_follows_the_papers_schedule_rescaled_to_the_budget():
    def sides(queries, iterations):
        return [int(square.side(jnp.asarray(i), queries, 0.1, 60)) for i in iterations]

    # p = 0.1 of 60 × 60: √360 = 19.0, then p/2: √180 = 13.4 → 13, p/4: 9.5 → 9 (odd) …
    assert sides(10_000, [0, 10, 11, 50, 51, 200, 201]) == [19, 19, 13, 13, 9, 9, 7]
    assert sides(1000, [0, 1, 2, 5, 6, 20, 21, 999]) == [19, 19, 13, 13, 9, 9, 7, 3]
    assert sides(10_000, [9999]) == [3]  # at least 3


def test_square_fools_the_near_examples_and_never_a_robust_one(problem):
    w, b, x0, labels, distance, epsilon = problem
    attacked = run(Classifier(jax.tree_util.Partial(linear_logits, w, b)), problem)
    clean_error = np.arange(N) < CLEAN_ERRORS
    assert np.all(attacked.found[(distance < 0.5 * epsilon) | clean_error])
    assert not np.any(attacked.found[(distance > epsilon) & ~clean_error])
    logits = linear_logits(w, b, attacked.point)
    np.testing.assert_array_equal(np.argmax(logits, -1) != labels, attacked.found)
    np.testing.assert_array_equal(attacked.point[:CLEAN_ERRORS], x0[:CLEAN_ERRORS])
    norms = np.linalg.norm((attacked.point - np.asarray(x0)).reshape(N, -1), axis=1)
    assert norms.max() <= epsilon * (1 + 1e-5)
    assert np.all(norms[~clean_error] > 0.5 * epsilon)  # it searches on the sphere
    assert 0 <= attacked.point.min() and attacked.point.max() <= 1


def test_a_gradient_masked_model_defeats_apgd_but_not_square(problem):
    w, b, x0, labels, distance, epsilon = problem
    masked = Classifier(jax.tree_util.Partial(masked_logits, w, b))
    clean_error = np.arange(N) < CLEAN_ERRORS
    gradient = apgd.apgd(masked, x0, labels, epsilon, loss="margin", steps=10)
    np.testing.assert_array_equal(gradient.found, clean_error)
    searched = run(masked, problem)
    assert np.all(searched.found[(distance < 0.5 * epsilon) | clean_error])
    assert searched.found.sum() > 2 * gradient.found.sum()


def test_the_same_key_gives_the_same_result_and_another_key_another(problem):
    w, b, *_ = problem
    model = Classifier(jax.tree_util.Partial(linear_logits, w, b))
    first, again, other = (run(model, problem, key=k) for k in (3, 3, 4))
    np.testing.assert_array_equal(first.point, again.point)
    np.testing.assert_array_equal(first.found, again.found)
    assert not np.allclose(first.point, other.point)


@pytest.mark.parametrize(
    "options, message",
    [(dict(queries=0), "queries must be an integer >= 1, got 0"),
     (dict(p_init=0.0), r"p_init must be a finite number in \(0, 1\], got 0.0"),
     (dict(p_init=1.5), r"p_init must be a finite number in \(0, 1\], got 1.5"),
     (dict(key=None), "square needs a key"),
     (dict(clip="yes"), "clip must be True or False, got 'yes'"),
     (dict(epsilon=np.nan), "epsilon must be finite and >= 0")],
)  # fmt: skip
def test_bad_arguments_are_refused_with_the_expected_value(problem, options, message):
    w, b, x0, labels, _, epsilon = problem
    epsilon = options.pop("epsilon", epsilon)
    options = dict(key=jax.random.key(0)) | options
    with pytest.raises(ValueError, match=message):
        square.square(jax.tree_util.Partial(linear_logits, w, b), x0, labels, epsilon, **options)


def test_images_must_be_square_and_large_enough_for_the_initial_grid(problem):
    w, b, *_ = problem
    model = jax.tree_util.Partial(linear_logits, w[:16], b)
    with pytest.raises(ValueError, match=r"images must be at least 5x5 .* got 4x4"):
        square.square(model, jnp.zeros((2, 4, 4)), [0, 1], 0.1, key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"images must have shape \(N, R, R\)"):
        square.square(model, jnp.zeros((2, 4, 6)), [0, 1], 0.1, key=jax.random.key(0))
