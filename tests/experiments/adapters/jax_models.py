"""JAX models returned the ways a model spec's function may return them, for
tests/experiments/adapters/test_specs.py (loaded as path/to/jax_models.py:function)."""

import jax
import jax.numpy as jnp
import numpy as np

from experiments.classifier import Classifier

RESOLUTION = 8


def weights(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(RESOLUTION, RESOLUTION)).astype(np.float32)


def apply(params: dict, images: jax.Array) -> jax.Array:
    """A linear model: score = <w, x> + b; logits (-score, score)."""
    score = jnp.sum(images * params["w"], axis=(1, 2)) + params["b"]
    return jnp.stack([-score, score], axis=-1)


def pair():
    return apply, {"w": weights(0), "b": np.float32(0.5)}


def other_pair():
    return apply, {"w": weights(1), "b": np.float32(0.5)}


def partial():
    return jax.tree_util.Partial(apply, {"w": weights(0), "b": np.float32(0.5)})


def classifier():
    return Classifier(partial(), (0.0, 1.0))


def plain():
    params = {"w": jnp.asarray(weights(0)), "b": np.float32(0.5)}
    return lambda images: apply(params, images)


def plain_other():
    params = {"w": jnp.asarray(weights(1)), "b": np.float32(0.5)}
    return lambda images: apply(params, images)


def three_logits():
    return lambda images: jnp.zeros((images.shape[0], 3))


def a_number():
    return 42


def two_functions():
    return apply, apply


def torch_module():
    import torch

    return torch.nn.Linear(2, 2)


not_a_function = 3
