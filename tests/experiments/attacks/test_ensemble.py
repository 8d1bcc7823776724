"""The ensemble of APGD-CE, APGD-margin and Square on a two-class linear model (robust
iff classified right and |w·x₀ + b|/‖w‖ > ε): each member on every example, the
ensemble the OR of its members, any number of rows in padded slices."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.attacks import apgd, ensemble
from experiments.classifier import Classifier
from tests.experiments.attacks.linear_problems import linear_logits, linear_problem

N, R = 13, 10  # 13 rows: with batch 8, a full slice and a padded one
CLEAN_ERRORS = 2
SETTINGS = dict(steps=10, queries=200, batch=8)


@pytest.fixture(scope="module")
def problem():
    w, b, x0, labels, distance = linear_problem(N, R, CLEAN_ERRORS, 0.3, 0.7)
    ordered = np.sort(distance)
    epsilon = float(ordered[N // 2] + ordered[N // 2 + 1]) / 2
    fooled = (distance < epsilon) | (np.arange(N) < CLEAN_ERRORS)
    model = Classifier(jax.tree_util.Partial(linear_logits, w, b))
    return model, np.asarray(x0), labels, distance, epsilon, fooled


@pytest.fixture(scope="module")
def result(problem):
    model, x0, labels, _, epsilon, _ = problem
    return ensemble.ensemble(model, x0, labels, epsilon, key=jax.random.key(1), **SETTINGS)


def test_the_ensemble_is_the_or_of_its_members_and_counts_clean_errors(problem, result):
    model, x0, labels, distance, epsilon, fooled = problem
    assert tuple(result.by_attack) == ensemble.ATTACKS
    members = np.any([result.by_attack[name] for name in ensemble.ATTACKS], axis=0)
    np.testing.assert_array_equal(result.fooled, members)
    assert np.all(result.fooled[:CLEAN_ERRORS])
    for name in ensemble.ATTACKS:
        assert np.all(result.by_attack[name][:CLEAN_ERRORS])  # a clean error fools each
        assert result.fooled.mean() >= result.by_attack[name].mean()  # robust accuracy ≤
    # APGD is exact on a linear model, and nothing beyond ε can be fooled.
    np.testing.assert_array_equal(result.by_attack["apgd_ce"], fooled)
    np.testing.assert_array_equal(result.by_attack["apgd_margin"], fooled)
    np.testing.assert_array_equal(result.fooled, fooled)


def test_the_point_fools_the_model_within_the_ball_and_its_norm_is_reported(problem, result):
    model, x0, labels, _, epsilon, _ = problem
    assert result.point.shape == x0.shape and result.norm.shape == (N,)
    wrong = np.argmax(np.asarray(model(jnp.asarray(result.point))), -1) != labels
    np.testing.assert_array_equal(wrong, result.fooled)
    np.testing.assert_array_equal(result.point[~result.fooled], x0[~result.fooled])
    np.testing.assert_array_equal(result.point[:CLEAN_ERRORS], x0[:CLEAN_ERRORS])
    np.testing.assert_allclose(
        result.norm, np.linalg.norm((result.point - x0).reshape(N, -1), axis=1)
    )
    assert result.norm.max() <= epsilon * (1 + 1e-5)
    assert np.all(result.norm[CLEAN_ERRORS:][result.fooled[CLEAN_ERRORS:]] > 0)


def test_a_member_alone_gives_what_it_gave_in_the_ensemble(problem, result):
    model, x0, labels, _, epsilon, _ = problem
    alone = ensemble.ensemble(model, x0, labels, epsilon, key=jax.random.key(1),
                              attacks=("square",), **SETTINGS)  # fmt: skip
    assert tuple(alone.by_attack) == ("square",)
    np.testing.assert_array_equal(alone.by_attack["square"], result.by_attack["square"])
    np.testing.assert_array_equal(alone.fooled, alone.by_attack["square"])
    again = ensemble.ensemble(model, x0, labels, epsilon, key=jax.random.key(1),
                              attacks=("square",), **SETTINGS)  # fmt: skip
    np.testing.assert_array_equal(again.point, alone.point)


def test_any_number_of_rows_runs_in_one_padded_program(problem):
    model, x0, labels, _, epsilon, fooled = problem
    before = apgd._apgd_run._cache_size()
    for count in (13, 11, 9, 1):  # slices of 8 rows, and 5, 3 or 1 padded to 8
        got = ensemble.ensemble(model, x0[:count], labels[:count], epsilon,
                                key=jax.random.key(2), attacks=("apgd_margin",),
                                **SETTINGS)  # fmt: skip
        assert got.point.shape == (count, R, R) and got.norm.shape == (count,)
        np.testing.assert_array_equal(got.by_attack["apgd_margin"], fooled[:count])
    assert apgd._apgd_run._cache_size() - before <= 1


@pytest.mark.parametrize(
    "options, message",
    [(dict(attacks=("apgd_dlr",)), "attacks must be a non-empty selection of"),
     (dict(attacks=()), "attacks must be a non-empty selection of"),
     (dict(attacks="square"), "attacks must be a non-empty selection of"),
     (dict(key=None), "ensemble needs a key"),
     (dict(batch=0), "batch must be an integer >= 1, got 0"),
     (dict(block=-2), "block must be an integer >= 0"),
     (dict(steps=0), "steps must be an integer >= 1, got 0"),
     (dict(queries=-1), "queries must be an integer >= 1, got -1")],
)  # fmt: skip
def test_bad_arguments_are_refused_with_the_expected_value(problem, options, message):
    model, x0, labels, _, epsilon, _ = problem
    options = dict(key=jax.random.key(0)) | options
    with pytest.raises(ValueError, match=message):
        ensemble.ensemble(model, x0, labels, epsilon, **options)
