"""PGD and Gaussian perturbations on small, analysable problems."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from experiments import results
from experiments.attacks import ford, pgd
from experiments.classifier import Classifier


def linear_model(w, b):
    """Logits of a two-class linear model whose logit difference is w·x + b."""

    def logits(x):
        margin = jnp.sum(x.reshape(x.shape[0], -1) * w, axis=1) + b
        return jnp.stack([jnp.zeros_like(margin), margin], axis=1)

    return logits


def attack(model, x0, labels, epsilon, *, steps=pgd.STEPS, clip=True, **options):
    """Fixed-step PGD of step ε/25 in one fori_loop, as the pixel analysis runs it."""
    return pgd.run_pgd(model, x0, labels, epsilon, steps=steps, block=0,
                       step_fraction=pgd.STEP_FRACTION, clip=clip, **options).point  # fmt: skip


@pytest.fixture
def problem():
    key = jax.random.key(0)
    w = jax.random.normal(key, (64,))
    x0 = jax.random.uniform(jax.random.fold_in(key, 1), (16, 8, 8), minval=0.2, maxval=0.8)
    b = -jnp.sum(x0.reshape(16, -1) * w, axis=1).mean()
    margin = jnp.sum(x0.reshape(16, -1) * w, axis=1) + b
    labels = (margin > 0).astype(jnp.int32)
    distance = jnp.abs(margin) / jnp.linalg.norm(w)  # to the decision boundary
    return w, b, x0, labels, distance


def test_perturbation_norm_never_exceeds_epsilon_and_pixels_stay_in_range(problem):
    w, b, x0, labels, _ = problem
    for epsilon in pgd.DEFAULT_EPSILONS:
        x = attack(linear_model(w, b), x0, labels, epsilon, steps=30)
        norms = jnp.linalg.norm((x - x0).reshape(16, -1), axis=1)
        assert float(norms.max()) <= epsilon * (1 + 1e-5)
        assert float(x.min()) >= 0 and float(x.max()) <= 1


def test_pixel_attack_reaches_the_analytic_distance_of_a_linear_classifier(problem):
    w, b, x0, labels, distance = problem
    model = linear_model(w, b)
    # Without clipping the gradient of a linear model has one direction, so PGD walks
    # straight to the boundary: below the distance it stops at the ball's edge...
    x = attack(model, x0, labels, 0.5 * distance, clip=False)
    moved = jnp.linalg.norm((x - x0).reshape(16, -1), axis=1)
    np.testing.assert_allclose(moved, 0.5 * distance, rtol=1e-4)
    margin = jnp.sum(x.reshape(16, -1) * w, axis=1) + b
    np.testing.assert_allclose(jnp.abs(margin) / jnp.linalg.norm(w), 0.5 * distance, rtol=1e-3)
    # ...and just past it, every example crosses.
    x = attack(model, x0, labels, 1.01 * distance, clip=False)
    margin = jnp.sum(x.reshape(16, -1) * w, axis=1) + b
    np.testing.assert_array_equal(margin > 0, labels == 0)


def test_per_example_epsilon(problem):
    w, b, x0, labels, _ = problem
    epsilons = jnp.linspace(0.01, 0.3, 16)
    x = attack(linear_model(w, b), x0, labels, epsilons, clip=False, steps=50)
    moved = jnp.linalg.norm((x - x0).reshape(16, -1), axis=1)
    assert bool(jnp.all(moved <= epsilons * (1 + 1e-5)))


def test_random_start_stays_in_the_ball(problem):
    w, b, x0, labels, _ = problem
    x = attack(linear_model(w, b), x0, labels, 0.3, steps=0, key=jax.random.key(3))
    moved = jnp.linalg.norm((x - x0).reshape(16, -1), axis=1)
    assert float(moved.max()) <= 0.3 * (1 + 1e-5) and float(moved.min()) > 0
    assert float(x.min()) >= 0 and float(x.max()) <= 1


def test_gaussian_noise_has_norm_epsilon(problem):
    _, _, x0, _, _ = problem
    for epsilon in (0.01875, 1.2, 4.8):
        x = pgd.gaussian_at_norm(jax.random.key(1), x0, epsilon)
        norms = jnp.linalg.norm((x - x0).reshape(16, -1), axis=1)
        np.testing.assert_allclose(norms, epsilon, rtol=1e-5)
    clipped = pgd.gaussian_at_norm(jax.random.key(1), x0, 4.8, clip=(0.0, 1.0))
    assert float(clipped.min()) >= 0 and float(clipped.max()) <= 1


def test_attack_is_jittable_and_uses_a_loop(problem):
    w, b, x0, labels, _ = problem
    jitted = jax.jit(lambda x: attack(linear_model(w, b), x, labels, 0.1, steps=100))
    text = jitted.lower(x0).as_text()
    assert "while" in text  # fori_loop, not 100 unrolled steps
    assert jitted(x0).shape == x0.shape


def test_latent_attack_that_flips_the_true_label_is_counted_as_such():
    import squiggles

    family = squiggles.Taylor()
    # x = t², y = t + t³ never crosses; with y = t³ - c·t (c > 0) the curve loops.
    z0 = jnp.array([[[0, 2, 0, 0, 0, 0, 0], [1, 0, 6, 0, 0, 0, 0]]], jnp.float32)
    before = pgd.true_labels(z0, family)
    assert not before[0]

    def ink_in_bottom_rows(images):  # a differentiable stand-in for a model's loss
        return jnp.sum(images[:, :5, :], axis=(1, 2))

    def raising(loss):  # logits whose cross-entropy of class 0 grows with `loss`
        return lambda x: jnp.stack([jnp.zeros(len(x)), loss(x)], axis=1)

    # A model of the latent itself, to steer the attack where we want it to go.
    z = attack(raising(lambda v: -v[:, 1, 0]), z0, [0], 2.5, clip=False)
    np.testing.assert_allclose(z[0, 1, 0], -1.5, atol=1e-5)
    after = pgd.true_labels(z, family)
    assert after[0]
    # The model still says "simple": wrong against the recomputed label.
    summary = results.latent_attack_summary([False], before, after)
    assert summary == {"accuracy_vs_recomputed_label": 0.0, "label_unchanged": 0.0}
    # Saying "crossing" is right: the attack changed the truth, not fooled the model.
    summary = results.latent_attack_summary([True], before, after)
    assert summary["accuracy_vs_recomputed_label"] == 1.0
    # Through the renderer the attack runs and stays in the ε-ball.
    moved = attack(
        raising(ink_in_bottom_rows), z0, [0], 0.3, steps=10, clip=True, family=family, resolution=20
    )  # latents are never clipped
    distance = float(jnp.linalg.norm(moved - z0))
    assert 0 < distance <= 0.3 * (1 + 1e-5)
    before_ink, after_ink = (
        float(ink_in_bottom_rows(squiggles.render(v, family, 20))[0]) for v in (z0, moved)
    )
    assert after_ink > before_ink


def reference_fixed_steps(loss, x, x0, epsilon, *, steps, step_fraction, clip):
    """The formula of the fixed-step attack written out: x ← Π(x + ε·f·∇/‖∇‖)."""
    epsilon = jnp.reshape(jnp.broadcast_to(jnp.asarray(epsilon, x0.dtype), x0.shape[:1]),
                          (-1,) + (1,) * (x0.ndim - 1))  # fmt: skip
    gradient = jax.grad(lambda v: jnp.sum(loss(v)))

    def step(_, x):
        return pgd.project(x + epsilon * step_fraction * pgd.unit(gradient(x)), x0, epsilon, clip)

    return jax.lax.fori_loop(0, steps, step, x)


def reference_first_error(logits, x0, labels, epsilon, *, steps):
    """Ford et al.'s PGD written out: step ε/150, no clipping, each input frozen at its
    first misclassified iterate."""
    step = (epsilon / ford.STEP_DIVISOR).reshape(-1, 1, 1)

    def loss(x):
        return jnp.sum(optax.softmax_cross_entropy_with_integer_labels(logits(x), labels))

    x, found = x0, jnp.argmax(logits(x0), -1) != labels
    for _ in range(steps):
        moved = pgd.project(x + step * pgd.unit(jax.grad(loss)(x)), x0, epsilon[:, None, None],
                            None)  # fmt: skip
        x = jnp.where(found[:, None, None], x, moved)
        found = found | (jnp.argmax(logits(x), -1) != labels)
    return x, found


@pytest.mark.parametrize("block", [0, 3])
@pytest.mark.parametrize("targeted", [False, True])
def test_fixed_steps_give_the_exact_iterates_of_the_formula(problem, block, targeted):
    w, b, x0, labels, _ = problem
    model = Classifier(jax.tree_util.Partial(linear_model(w, b)), (0.1, 0.9))
    loss = pgd.objective(model, labels, targeted)
    expected = jax.jit(
        lambda x: reference_fixed_steps(
            loss, x, x, 0.3, steps=7, step_fraction=0.04, clip=(0.1, 0.9)
        )  # fmt: skip
    )(x0)
    got = pgd.run_pgd(model, x0, labels, 0.3, steps=7, step_fraction=0.04, block=block,
                      clip=True, targeted=targeted).point  # fmt: skip
    np.testing.assert_array_equal(got, expected)
    assert float(got.min()) >= 0.1 and float(got.max()) <= 0.9  # the classifier's range


def test_stop_at_error_gives_the_exact_iterates_of_the_formula(problem):
    w, b, x0, labels, distance = problem
    epsilon = jnp.full(16, 0.5) * (1 + jnp.arange(16) % 3)  # some reach an error, some not
    expected_x, expected_found = jax.jit(
        lambda x: reference_first_error(linear_model(w, b), x, labels, epsilon, steps=25)
    )(x0)
    x, found = pgd.run_pgd(linear_model(w, b), x0, labels, epsilon, steps=25, block=10,
                           step_divisor=ford.STEP_DIVISOR, stop_at_error=True)  # fmt: skip
    assert 0 < found.sum() < 16
    np.testing.assert_array_equal(found, expected_found)
    np.testing.assert_array_equal(x, expected_x)


def test_a_step_is_a_fraction_or_a_divisor_of_epsilon(problem):
    w, b, x0, labels, _ = problem
    with pytest.raises(ValueError, match="exactly one of step_fraction and step_divisor"):
        pgd.run_pgd(linear_model(w, b), x0, labels, 0.3, steps=1, block=0)
    with pytest.raises(ValueError, match="exactly one of step_fraction and step_divisor"):
        pgd.run_pgd(linear_model(w, b), x0, labels, 0.3, steps=1, block=0, step_fraction=0.04,
                    step_divisor=150)  # fmt: skip


def test_latents_through_the_renderer_share_one_function_per_family_and_resolution():
    import squiggles

    family = squiggles.Taylor()
    first = pgd.through_renderer(lambda x: x, family, 20)
    second = pgd.through_renderer(lambda x: 2 * x, family, 20)
    assert first.logits_fn.func is second.logits_fn.func
    assert pgd.through_renderer(lambda x: x, family, 24).logits_fn.func is not first.logits_fn.func
    z = jnp.zeros((1, *family.latent_shape))
    np.testing.assert_array_equal(second(z), 2 * squiggles.render(z, family, 20))
