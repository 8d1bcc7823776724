"""APGD on a two-class linear model, whose ℓ2 robust accuracy at ε is known exactly: an
example is robust iff it is classified right and |w·x₀ + b|/‖w‖ > ε."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.attacks import apgd
from experiments.classifier import Classifier
from tests.experiments.attacks.linear_problems import linear_logits, linear_problem, masked_logits

N, R = 32, 8
CLEAN_ERRORS = 3  # the first rows get the wrong label


def scaled_logits(w, b, scale, x):
    """The linear model's logits times `scale`."""
    return scale * linear_logits(w, b, x)


def linear_model(w, b, scale=1.0):
    return Classifier(jax.tree_util.Partial(scaled_logits, w, b, jnp.float32(scale)))


def mlp_logits(hidden, out, x):
    """A small nonlinear two-class model, whose iterates keep moving."""
    activations = jnp.tanh(x.reshape(x.shape[0], -1) @ hidden)
    return jnp.stack([jnp.zeros(x.shape[0]), activations @ out], axis=1)


@pytest.fixture(scope="module")
def problem():
    w, b, x0, labels, distance = linear_problem(N, R, CLEAN_ERRORS, 0.2, 0.8)
    ordered = np.sort(distance)
    epsilon = float(ordered[N // 2 - 1] + ordered[N // 2]) / 2  # half the examples within
    assert np.min(np.abs(distance / epsilon - 1)) > 0.01  # none on the sphere's edge
    fooled = (distance < epsilon) | (np.arange(N) < CLEAN_ERRORS)
    return w, b, x0, labels, distance, epsilon, fooled


def norms(point, x0):
    return np.linalg.norm((np.asarray(point) - np.asarray(x0)).reshape(len(x0), -1), axis=1)


@pytest.mark.parametrize("loss", ["ce", "margin"])
@pytest.mark.parametrize("clip", [False, True])  # x0 lies deep inside [0, 1]: same answer
def test_apgd_gives_the_analytic_robust_accuracy_within_the_ball(problem, loss, clip):
    w, b, x0, labels, _, epsilon, fooled = problem
    attacked = apgd.apgd(linear_model(w, b), x0, labels, epsilon, loss=loss, steps=10, clip=clip)
    np.testing.assert_array_equal(attacked.found, fooled)
    assert attacked.point.shape == x0.shape
    assert norms(attacked.point, x0).max() <= epsilon * (1 + 1e-5)
    assert 0 <= attacked.point.min() and attacked.point.max() <= 1
    # A found point is misclassified; a clean error is reported as the clean image.
    logits = linear_logits(w, b, attacked.point)
    np.testing.assert_array_equal(np.argmax(logits, -1) != labels, fooled)
    np.testing.assert_array_equal(attacked.point[:CLEAN_ERRORS], x0[:CLEAN_ERRORS])


def test_per_example_epsilon(problem):
    w, b, x0, labels, distance, _, _ = problem
    epsilons = np.where(np.arange(N) % 2, 1.05, 0.95) * distance  # every other one reachable
    attacked = apgd.apgd(linear_model(w, b), x0, labels, epsilons, loss="margin", steps=10)
    np.testing.assert_array_equal(attacked.found, (np.arange(N) % 2 == 1) | (np.arange(N) < 3))
    # float32 differences of pixels near 0.5: an absolute tolerance for the tiny balls
    assert np.all(norms(attacked.point, x0) <= epsilons * (1 + 1e-5) + 1e-6)


def test_the_margin_loss_is_blind_to_the_logits_scale_and_cross_entropy_is_not(problem):
    w, b, x0, labels, _, epsilon, fooled = problem
    reference = apgd.apgd(linear_model(w, b), x0, labels, epsilon, loss="margin", steps=10)
    for scale in (0.01, 100.0):
        scaled = apgd.apgd(linear_model(w, b, scale), x0, labels, epsilon, loss="margin",
                           steps=10)  # fmt: skip
        np.testing.assert_array_equal(scaled.found, reference.found)
        np.testing.assert_allclose(scaled.point, reference.point, atol=1e-5)
    # Cross-entropy is exact at scale 0.01, but at scale 100 softmax saturates: the
    # gradient underflows to 0 on the examples far from the boundary and APGD-CE stalls.
    small = apgd.apgd(linear_model(w, b, 0.01), x0, labels, epsilon, loss="ce", steps=10)
    np.testing.assert_array_equal(small.found, fooled)
    large = apgd.apgd(linear_model(w, b, 100.0), x0, labels, epsilon, loss="ce", steps=10)
    assert large.found.sum() < fooled.sum() and not np.any(large.found & ~fooled)


def test_the_checkpoints_are_the_papers():
    assert apgd.checkpoints(100) == (0, 22, 41, 57, 70, 80, 87, 93, 99)
    assert apgd.checkpoints(1000) == (0, 220, 410, 570, 700, 800, 870, 930, 990)
    assert apgd.checkpoints(10) == (0, 3, 5, 6, 7, 8, 9, 10)  # ⌈2.2⌉ = 3, ⌈4.1⌉ = 5, …
    is_check, length = apgd._schedule(100)
    np.testing.assert_array_equal(np.flatnonzero(is_check), [22, 41, 57, 70, 80, 87, 93, 99])
    np.testing.assert_array_equal(length[is_check], [22, 19, 16, 13, 10, 7, 6, 6])


def test_the_step_size_halves_at_every_checkpoint_when_the_loss_never_rises(problem):
    # Behind stop_gradient the iterates never move, so no step raises the loss and
    # condition 1 holds at each checkpoint of 10 steps reached (3, 5, 6, 7, 8, 9).
    w, b, x0, labels, _, epsilon, _ = problem
    masked = Classifier(jax.tree_util.Partial(masked_logits, w, b))
    *_, eta = apgd._apgd_run(masked, x0, jnp.asarray(labels), jnp.full(N, epsilon), None,
                             steps=10, loss="margin", clip=True)  # fmt: skip
    np.testing.assert_allclose(eta, 2 * epsilon / 2**6, rtol=1e-6)


def test_blocks_of_unrolled_programs_run_the_same_attack(problem):
    _, _, x0, labels, _, _, _ = problem
    key = jax.random.key(3)
    hidden = jax.random.normal(key, (R * R, 16)) / R
    out = jax.random.normal(jax.random.fold_in(key, 1), (16,))
    model = Classifier(jax.tree_util.Partial(mlp_logits, hidden, out))
    arguments = (model, x0, jnp.asarray(labels), jnp.full(N, 0.5), None)
    options = dict(steps=7, loss="margin", clip=True)
    whole = apgd._apgd_run(*arguments, **options)
    blocks = apgd._apgd_blocks(*arguments, block=3, **options)  # 1 + 3 + 3 steps
    for one, other in zip(whole, blocks, strict=True):
        np.testing.assert_allclose(one, other, rtol=1e-5, atol=1e-6)
    assert 0 < whole[2].sum() < N  # some fooled, some not: a real attack
    assert len(np.unique(whole[4])) > 1  # the step sizes went different ways
    public = apgd.apgd(model, x0, labels, 0.5, loss="margin", steps=7, block=3)
    np.testing.assert_array_equal(public.found, whole[2])


def test_random_restarts_are_exact_in_the_ball_and_repeat_with_the_key(problem):
    w, b, x0, labels, _, epsilon, fooled = problem
    model = linear_model(w, b)
    runs = [apgd.apgd(model, x0, labels, epsilon, loss="margin", steps=10, restarts=2,
                      key=jax.random.key(seed)) for seed in (5, 5, 6)]  # fmt: skip
    for attacked in runs:
        np.testing.assert_array_equal(attacked.found, fooled)
        assert norms(attacked.point, x0).max() <= epsilon * (1 + 1e-5)
    np.testing.assert_array_equal(runs[0].point, runs[1].point)
    assert not np.allclose(runs[0].point[~fooled], runs[2].point[~fooled])


def test_a_gradient_masked_model_defeats_apgd(problem):
    w, b, x0, labels, _, epsilon, _ = problem
    masked = Classifier(jax.tree_util.Partial(masked_logits, w, b))
    for loss in apgd.LOSSES:
        attacked = apgd.apgd(masked, x0, labels, epsilon, loss=loss, steps=10)
        np.testing.assert_array_equal(attacked.found, np.arange(N) < CLEAN_ERRORS)
        np.testing.assert_array_equal(attacked.point, x0)  # zero gradient: it never moves


def test_one_compilation_serves_models_of_the_same_shapes(problem):
    w, b, x0, labels, _, epsilon, _ = problem
    before = apgd._apgd_run._cache_size()
    for scale in (1.0, 2.0, 3.0):
        apgd.apgd(linear_model(scale * w, b), x0, labels, epsilon, loss="margin", steps=7)
    apgd.apgd(linear_model(w, b), x0, labels, np.full(N, epsilon), loss="margin", steps=7)
    assert apgd._apgd_run._cache_size() == before + 1
    text = apgd._apgd_run.lower(linear_model(w, b), x0, jnp.asarray(labels),
                                jnp.full(N, epsilon), None, steps=7, loss="ce",
                                clip=True).as_text()  # fmt: skip
    assert "while" in text  # the iterations are a loop in one program


@pytest.mark.parametrize(
    "options, message",
    [(dict(loss="dlr"), r"loss must be one of \('ce', 'margin'\), got 'dlr'"),
     (dict(steps=0), "steps must be an integer >= 1, got 0"),
     (dict(restarts=0), "restarts must be an integer >= 1, got 0"),
     (dict(block=-1), r"block must be an integer >= 0 \(0: one program\), got -1"),
     (dict(restarts=2), "restarts=2 needs a key"),
     (dict(clip=1), "clip must be True or False, got 1"),
     (dict(epsilon=-0.1), "epsilon must be finite and >= 0"),
     (dict(epsilon=np.ones(3)), r"epsilon must be a scalar or one value per image \(32\)"),
     (dict(labels=np.zeros(5)), r"labels must have shape \(32,\)"),
     (dict(labels=np.full(N, 2)), r"labels must be class indices in \{0, 1\}, got 2")],
)  # fmt: skip
def test_bad_arguments_are_refused_with_the_expected_value(problem, options, message):
    w, b, x0, labels, _, epsilon, _ = problem
    arguments = dict(labels=labels, epsilon=epsilon) | options
    labels, epsilon = arguments.pop("labels"), arguments.pop("epsilon")
    with pytest.raises(ValueError, match=message):
        apgd.apgd(linear_model(w, b), x0, labels, epsilon, **arguments)
