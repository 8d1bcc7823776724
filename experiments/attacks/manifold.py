"""How far a pixel-space error lies from the data manifold, and what is there.

For an error image x (a misclassified noisy image or a PGD error) the nearest curve is
min over z of ‖render(z) − x‖₂, found by Adam on z from the example's own latent (the
manifold is not convex: this is a local minimum near the curve the error came from).
Its true label (Shapely) and the model's class of its image then say which kind of
error x is:
  class change   the nearest curve has the other true label: the "error" is a real
                 change of class, excusable;
  on manifold    the nearest curve keeps the clean label and the model is wrong on it
                 too: a genuine model error on the data manifold;
  off manifold   the nearest curve keeps the clean label and the model is right on it:
                 the error exists only off the manifold.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

import squiggles
from experiments import checks
from experiments.attacks import ford, pgd
from experiments.classifier import as_classifier
from experiments.results import MANIFOLD_KINDS

KINDS = MANIFOLD_KINDS


class NearestCurve(NamedTuple):
    """Per error image: the nearest latent found, ‖render(z) − x‖, its true label, the
    model's class of render(z), and the kind of error (an index into KINDS)."""

    latent: np.ndarray
    distance: np.ndarray
    true_label: np.ndarray
    prediction: np.ndarray
    kind: np.ndarray


@functools.partial(jax.jit, static_argnames=("family", "resolution", "steps"))
def _descend(images, z0, learning_rate, *, family, resolution, steps):
    """Adam on each latent's squared distance; the best latent seen is kept."""
    optimiser = optax.adam(learning_rate)

    def squared(z):
        rendered = squiggles.render(z, family, resolution)
        return jnp.sum(jnp.square(rendered - images), axis=(1, 2))

    def step(carry, _):
        z, state, best, best_z = carry
        value, gradient = jax.value_and_grad(lambda v: jnp.sum(squared(v)))(z)
        updates, state = optimiser.update(gradient, state, z)
        z = optax.apply_updates(z, updates)
        current = squared(z)
        better = current < best
        best_z = jnp.where(better.reshape((-1,) + (1,) * (z.ndim - 1)), z, best_z)
        return (z, state, jnp.minimum(best, current), best_z), None

    start = (z0, optimiser.init(z0), squared(z0), z0)
    (_, _, best, best_z), _ = jax.lax.scan(step, start, None, length=steps)
    return best_z, jnp.sqrt(best)


def nearest_curve(
    logits_fn, images, latents, labels, *, family: squiggles.Family, resolution: int,
    steps: int = 200, learning_rate: float = 0.01,
) -> NearestCurve:  # fmt: skip
    """The nearest curve to each error image (N, R, R) from its example's latent (N, ...),
    and what it says of the error against the clean labels (N,)."""
    images, labels = ford.check_inputs(images, labels)
    if images.shape[1] != resolution:
        raise ValueError(f"images must be {resolution}×{resolution}, got {images.shape[1:]}")
    latents = squiggles.curves.check_latents(latents, family).astype(jnp.float32)
    if latents.shape[0] != images.shape[0]:
        raise ValueError(f"one latent per image: {latents.shape[0]} latents, {len(images)} images")
    checks.check_integer(steps, "steps", 1)
    z, distance = _descend(images, latents, learning_rate, family=family,
                           resolution=resolution, steps=steps)  # fmt: skip
    truth = pgd.true_labels(z, family).astype(np.int32)
    logits = as_classifier(logits_fn)(squiggles.render(z, family, resolution))
    ford.check_finite_logits(logits, "nearest curves")
    prediction = np.asarray(jnp.argmax(logits, -1))
    labels = np.asarray(labels)
    kind = np.where(truth != labels, 2, np.where(prediction != labels, 1, 0))
    return NearestCurve(np.asarray(z), np.asarray(distance), truth, prediction, kind)
