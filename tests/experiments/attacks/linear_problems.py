"""The two-class linear model the attack tests share: its ℓ2 robust accuracy at ε is
exact (an example is robust if and only if it is classified right and its distance
|w·x₀ + b| / ‖w‖ to the boundary exceeds ε), so an attack's result can be checked
example by example."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


def linear_logits(w, b, x):
    """Logits (0, w·x + b) of a batch: the logit difference is linear in x."""
    margin = jnp.sum(x.reshape(x.shape[0], -1) * w, axis=1) + b
    return jnp.stack([jnp.zeros_like(margin), margin], axis=1)


def masked_logits(w, b, x):
    """The linear model behind stop_gradient: right values, zero gradient everywhere."""
    return jax.lax.stop_gradient(linear_logits(w, b, x))


class LinearProblem(NamedTuple):
    """N images in a box inside [0, 1], their labels (the first `clean_errors` wrong on
    purpose) and each one's distance to the model's boundary."""

    w: jax.Array
    b: jax.Array
    x0: jax.Array
    labels: np.ndarray
    distance: np.ndarray


def linear_problem(count: int, size: int, clean_errors: int, low: float, high: float):
    """Random weights, images uniform in [low, high] (so clipping to [0, 1] never binds
    near them), the boundary through the median example."""
    key = jax.random.key(0)
    w = jax.random.normal(key, (size * size,))
    x0 = jax.random.uniform(jax.random.fold_in(key, 1), (count, size, size), minval=low,
                            maxval=high)  # fmt: skip
    margin = jnp.sum(x0.reshape(count, -1) * w, axis=1)
    b = -jnp.median(margin)
    margin = np.asarray(margin + b)
    labels = (margin > 0).astype(np.int32)
    labels[:clean_errors] = 1 - labels[:clean_errors]
    distance = np.abs(margin) / float(jnp.linalg.norm(w))
    return LinearProblem(w, b, x0, labels, distance)
