"""The one model convention: a Classifier is a pytree of its weights with a static input
range, so jitted attacks take the weights as arguments and compile once per shape."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.classifier import Classifier, as_classifier, probabilities


def linear(weights, images):
    score = jnp.sum(images * weights, axis=(1, 2))
    return jnp.stack([-score, score], axis=-1)


def test_the_weights_are_leaves_and_the_input_range_is_static():
    weights = jnp.ones((3, 3))
    model = Classifier(jax.tree_util.Partial(linear, weights), (0.0, 1.0))
    leaves, treedef = jax.tree_util.tree_flatten(model)
    assert len(leaves) == 1 and leaves[0] is weights
    rebuilt = jax.tree_util.tree_unflatten(treedef, [2 * weights])
    assert rebuilt.input_range == (0.0, 1.0)
    images = jnp.full((2, 3, 3), 0.5)
    np.testing.assert_allclose(rebuilt(images), 2 * model(images))


def test_classifiers_of_the_same_shapes_share_one_compilation():
    traced = []

    @jax.jit
    def logits(model, images):
        traced.append(1)
        return model(images)

    images = jnp.full((2, 3, 3), 0.5)
    for scale in (1.0, 2.0, 3.0):
        logits(Classifier(jax.tree_util.Partial(linear, scale * jnp.ones((3, 3)))), images)
    assert len(traced) == 1
    logits(Classifier(jax.tree_util.Partial(linear, jnp.ones((3, 3))), (-1.0, 1.0)), images)
    assert len(traced) == 2  # another input range is another program


def test_a_plain_function_is_a_classifier_of_images_in_the_unit_range():
    model = as_classifier(lambda images: linear(jnp.ones((3, 3)), images))
    assert isinstance(model, Classifier) and model.input_range == (0.0, 1.0)
    assert as_classifier(model) is model
    images = np.full((4, 3, 3), 0.1, np.float32)
    np.testing.assert_allclose(
        probabilities(model, images), jax.nn.softmax(linear(jnp.ones((3, 3)), images))[:, 1]
    )


def test_what_is_not_a_model_is_refused():
    with pytest.raises(ValueError, match="a model must be a Classifier or a callable"):
        as_classifier(np.ones(3))
