"""The two-class margin loss that replaces AutoAttack's DLR (which needs a third logit)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.attacks import losses

W = jnp.array([[0.7, -0.2], [-0.4, 0.9], [0.1, 0.3]])  # a linear model of 3 inputs


def logits_of(x, scale=1.0, shift=0.0):
    return scale * (x @ W) + shift


X0 = jnp.array([[1.0, 0.2, -0.3], [0.1, 1.2, 0.4], [0.5, 0.5, 0.5]])
LABELS = jnp.array([0, 1, 1])


def test_the_margin_is_the_true_logit_minus_the_best_other():
    logits = jnp.array([[2.0, -1.0, 0.5], [0.0, 3.0, 4.0]])
    np.testing.assert_allclose(losses.margin(logits, jnp.array([0, 1])), [1.5, -1.0])


@pytest.mark.parametrize("scale, shift", [(1.0, 0.0), (7.5, 0.0), (0.01, -3.0), (250.0, 40.0)])
def test_the_loss_and_its_gradient_do_not_depend_on_the_logits_scale(scale, shift):
    def loss(x, scale, shift):
        clean = losses.margin(logits_of(X0, scale, shift), LABELS)
        return losses.relative_margin_loss(logits_of(x, scale, shift), LABELS, clean)

    x = X0 + jnp.array([[0.3, -0.1, 0.2], [-0.5, 0.1, 0.0], [0.2, -0.4, 0.1]])
    # float32: a shift of the logits costs digits of their difference at a small scale.
    np.testing.assert_allclose(loss(x, scale, shift), loss(x, 1.0, 0.0), rtol=1e-4)
    gradient = jax.grad(lambda v: jnp.sum(loss(v, scale, shift)))(x)
    np.testing.assert_allclose(gradient, jax.grad(lambda v: jnp.sum(loss(v, 1.0, 0.0)))(x),
                               rtol=1e-4, atol=1e-6)  # fmt: skip
    # The cross-entropy is not: scaling the logits changes it.
    assert scale == 1.0 or not np.allclose(
        jax.nn.log_softmax(logits_of(x, scale, shift))[:, 0],
        jax.nn.log_softmax(logits_of(x))[:, 0],
    )


def test_the_loss_is_minus_one_at_the_clean_point_and_crosses_zero_at_the_boundary():
    clean = losses.margin(logits_of(X0), LABELS)
    right = clean > 0
    np.testing.assert_allclose(
        losses.relative_margin_loss(logits_of(X0), LABELS, clean),
        np.where(right, -1.0, 1.0),
        rtol=1e-6,
    )
    # Along the segment to a point of the other class, the loss is > 0 exactly where the
    # predicted class is not the label.
    direction = jnp.array([-1.0, 1.0, 0.0])
    for t in np.linspace(0, 3, 31):
        x = X0 + t * direction * jnp.where(LABELS[:, None] == 0, 1.0, -1.0)
        loss = np.asarray(losses.relative_margin_loss(logits_of(x), LABELS, clean))
        wrong = np.asarray(jnp.argmax(logits_of(x), -1) != LABELS)
        decided = np.abs(loss) > 1e-5  # not on the boundary itself
        np.testing.assert_array_equal((loss > 0)[decided], wrong[decided])
    assert wrong.all() and (loss > 0).all()  # the segment did cross every boundary


def test_a_clean_margin_of_zero_keeps_the_loss_finite():
    logits = jnp.array([[1.0, 1.0]])
    loss = losses.relative_margin_loss(logits, jnp.array([0]), jnp.array([0.0]))
    assert np.isfinite(np.asarray(loss)).all()
