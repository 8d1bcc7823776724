"""Losses an attack raises, per example, from a classifier's logits.

AutoAttack's DLR loss (Croce & Hein 2020) divides the margin by z_π1 − z_π3, the gap
between the largest and the third-largest logit, so that it does not change when the
logits are scaled. With two classes there is no third logit. Nor can any function of
the two logits at x alone be both shift- and scale-invariant and still have a gradient:
the logits' difference m = z_y − z_other is the only shift-invariant quantity, and the
only scale-invariant function of m is its sign, whose gradient is zero almost
everywhere. So the scale has to come from somewhere else: here, from the clean input.
`relative_margin_loss` is −m(x) / |m(x₀)|, the margin at x in units of the margin at
the clean point x₀. Scaling the logits by a > 0 (or adding a constant to both) leaves
it unchanged, it is −1 at x₀ for a correctly classified x₀, and it crosses 0 exactly
where the class changes, so an attack that raises it past 0 has found an error.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def margin(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """z_y − max_{j≠y} z_j per example: > 0 where the class of `labels` wins."""
    labels = jnp.asarray(labels)
    true = jnp.take_along_axis(logits, labels[:, None], axis=-1)[:, 0]
    others = jnp.where(jax.nn.one_hot(labels, logits.shape[-1], dtype=bool), -jnp.inf, logits)
    return true - jnp.max(others, axis=-1)


def relative_margin_loss(
    logits: jax.Array, labels: jax.Array, clean_margin: jax.Array
) -> jax.Array:
    """−margin(logits) / |clean_margin|: the margin at x in units of the clean margin
    (`margin` of the clean input's logits), per example. Invariant to scaling the
    logits by a > 0 and to shifting them; a clean margin of 0 counts as the smallest
    positive float, so the loss stays finite."""
    scale = jnp.maximum(jnp.abs(clean_margin), jnp.finfo(logits.dtype).tiny)
    return -margin(logits, labels) / jax.lax.stop_gradient(scale)
