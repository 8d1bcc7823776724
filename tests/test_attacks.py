"""PGD and Gaussian perturbations on small, analysable problems."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from experiments import attacks, results


def linear_loss(w, b, labels):
    """Cross-entropy of a two-class linear model whose logit difference is w·x + b."""

    def loss(x):
        margin = jnp.sum(x.reshape(x.shape[0], -1) * w, axis=1) + b
        logits = jnp.stack([jnp.zeros_like(margin), margin], axis=1)
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels)

    return loss


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
    for epsilon in attacks.DEFAULT_EPSILONS:
        x = attacks.pgd_l2(linear_loss(w, b, labels), x0, epsilon, steps=30)
        norms = jnp.linalg.norm((x - x0).reshape(16, -1), axis=1)
        assert float(norms.max()) <= epsilon * (1 + 1e-5)
        assert float(x.min()) >= 0 and float(x.max()) <= 1


def test_pixel_attack_reaches_the_analytic_distance_of_a_linear_classifier(problem):
    w, b, x0, labels, distance = problem
    loss = linear_loss(w, b, labels)
    # Without clipping the gradient of a linear model has one direction, so PGD walks
    # straight to the boundary: below the distance it stops at the ball's edge...
    x = attacks.pgd_l2(loss, x0, 0.5 * distance, clip=None)
    moved = jnp.linalg.norm((x - x0).reshape(16, -1), axis=1)
    np.testing.assert_allclose(moved, 0.5 * distance, rtol=1e-4)
    margin = jnp.sum(x.reshape(16, -1) * w, axis=1) + b
    np.testing.assert_allclose(jnp.abs(margin) / jnp.linalg.norm(w), 0.5 * distance, rtol=1e-3)
    # ...and just past it, every example crosses.
    x = attacks.pgd_l2(loss, x0, 1.01 * distance, clip=None)
    margin = jnp.sum(x.reshape(16, -1) * w, axis=1) + b
    np.testing.assert_array_equal(margin > 0, labels == 0)


def test_per_example_epsilon(problem):
    w, b, x0, labels, _ = problem
    epsilons = jnp.linspace(0.01, 0.3, 16)
    x = attacks.pgd_l2(linear_loss(w, b, labels), x0, epsilons, clip=None, steps=50)
    moved = jnp.linalg.norm((x - x0).reshape(16, -1), axis=1)
    assert bool(jnp.all(moved <= epsilons * (1 + 1e-5)))


def test_random_start_stays_in_the_ball(problem):
    w, b, x0, labels, _ = problem
    x = attacks.pgd_l2(linear_loss(w, b, labels), x0, 0.3, steps=0, random_start=True,
                       key=jax.random.key(3))  # fmt: skip
    moved = jnp.linalg.norm((x - x0).reshape(16, -1), axis=1)
    assert float(moved.max()) <= 0.3 * (1 + 1e-5) and float(moved.min()) > 0
    with pytest.raises(ValueError, match="random_start needs a PRNG key"):
        attacks.pgd_l2(linear_loss(w, b, labels), x0, 0.3, random_start=True)


def test_gaussian_noise_has_norm_epsilon(problem):
    _, _, x0, _, _ = problem
    for epsilon in (0.01875, 1.2, 4.8):
        x = attacks.gaussian_at_norm(jax.random.key(1), x0, epsilon)
        norms = jnp.linalg.norm((x - x0).reshape(16, -1), axis=1)
        np.testing.assert_allclose(norms, epsilon, rtol=1e-5)
    clipped = attacks.gaussian_at_norm(jax.random.key(1), x0, 4.8, clip=(0.0, 1.0))
    assert float(clipped.min()) >= 0 and float(clipped.max()) <= 1


def test_attack_is_jittable_and_uses_a_loop(problem):
    w, b, x0, labels, _ = problem
    attack = jax.jit(lambda x: attacks.pgd_l2(linear_loss(w, b, labels), x, 0.1, steps=100))
    text = jax.jit(attack).lower(x0).as_text()
    assert "while" in text  # fori_loop, not 100 unrolled steps
    assert attack(x0).shape == x0.shape


def test_latent_attack_that_flips_the_true_label_is_counted_as_such():
    import squiggles

    family = squiggles.Taylor()
    # x = t², y = t + t³ never crosses; with y = t³ - c·t (c > 0) the curve loops.
    z0 = jnp.array([[[0, 2, 0, 0, 0, 0, 0], [1, 0, 6, 0, 0, 0, 0]]], jnp.float32)
    before = attacks.true_labels(z0, family)
    assert not before[0]

    def ink_in_bottom_rows(images):  # a differentiable stand-in for a model's loss
        return jnp.sum(images[:, :5, :], axis=(1, 2))

    # A loss on the latent itself, to steer the attack where we want it to go.
    z = attacks.pgd_l2(lambda v: -v[:, 1, 0], z0, 2.5, clip=None)
    np.testing.assert_allclose(z[0, 1, 0], -1.5, atol=1e-5)
    after = attacks.true_labels(z, family)
    assert after[0]
    # The model still says "simple": wrong against the recomputed label.
    summary = results.latent_attack_summary([False], before, after)
    assert summary == {"accuracy_vs_recomputed_label": 0.0, "label_unchanged": 0.0}
    # Saying "crossing" is right: the attack changed the truth, not fooled the model.
    summary = results.latent_attack_summary([True], before, after)
    assert summary["accuracy_vs_recomputed_label"] == 1.0
    # Through the renderer the attack runs and stays in the ε-ball.
    moved = attacks.latent_pgd(ink_in_bottom_rows, family, z0, 0.3, steps=10, resolution=20)
    distance = float(jnp.linalg.norm(moved - z0))
    assert 0 < distance <= 0.3 * (1 + 1e-5)
    before_ink, after_ink = (
        float(ink_in_bottom_rows(squiggles.render(v, family, 20))[0]) for v in (z0, moved)
    )
    assert after_ink > before_ink
