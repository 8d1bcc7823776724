"""Adversarial perturbations: ℓ2 PGD in pixel or latent space, and Gaussian noise of
the same norm. Batched, jit-able, iterations in `lax.fori_loop`.

An attack maximises a per-example loss `loss_fn(x) -> (B,)` (e.g. the cross-entropy
of the true label) over ‖x − x₀‖₂ ≤ ε per example: each step moves along the
gradient normalised to unit ℓ2 norm, then projects back onto the ball (scaling the
perturbation down only when it is outside) and, optionally, clips to a valid range.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

import squiggles

DEFAULT_EPSILONS = (0.01875, 0.0375, 0.075, 0.15, 0.3, 0.6, 1.2, 2.4, 4.8)
STEPS = 100
STEP_FRACTION = 1 / 25  # step size ε/25


def _per_example_norm(x: jax.Array) -> jax.Array:
    """ℓ2 norm over all but the first axis, shaped to broadcast against x."""
    squared = jnp.sum(jnp.square(x), axis=tuple(range(1, x.ndim)), keepdims=True)
    return jnp.sqrt(squared)


def _as_column(epsilon: jax.Array | float, x: jax.Array) -> jax.Array:
    epsilon = jnp.asarray(epsilon, x.dtype)
    return jnp.reshape(jnp.broadcast_to(epsilon, x.shape[:1]), (-1,) + (1,) * (x.ndim - 1))


def project(x: jax.Array, x0: jax.Array, epsilon: jax.Array, clip: tuple[float, float] | None):
    """Onto the ℓ2 ball of radius ε around x0 (scaled down only when outside), then
    into [low, high]. Clipping cannot leave the ball when x0 is in the box."""
    delta = x - x0
    norm = _per_example_norm(delta)
    scale = jnp.minimum(1.0, epsilon / jnp.maximum(norm, jnp.finfo(x.dtype).tiny))
    x = x0 + delta * scale
    return x if clip is None else jnp.clip(x, *clip)


def pgd_l2(
    loss_fn: Callable[[jax.Array], jax.Array],
    x0: jax.Array,
    epsilon: jax.Array | float,
    *,
    steps: int = STEPS,
    step_fraction: float = STEP_FRACTION,
    clip: tuple[float, float] | None = (0.0, 1.0),
    random_start: bool = False,
    key: jax.Array | None = None,
    unroll: int | bool = 1,
) -> jax.Array:
    """Untargeted ℓ2 PGD from x0 (B, ...): `steps` steps of size ε·step_fraction."""
    x = x0
    if random_start:
        if key is None:
            raise ValueError("random_start needs a PRNG key")
        x = random_point(key, x0, epsilon, clip)
    return pgd_steps(
        loss_fn, x, x0, epsilon, steps=steps, step_fraction=step_fraction, clip=clip,
        unroll=unroll,
    )  # fmt: skip


def random_point(
    key: jax.Array, x0: jax.Array, epsilon: jax.Array | float, clip: tuple[float, float] | None
) -> jax.Array:
    """A random start: a uniformly random radius ≤ ε along a Gaussian direction."""
    epsilon = _as_column(epsilon, x0)
    direction_key, radius_key = jax.random.split(key)
    offset = _noise_at_norm(direction_key, x0, epsilon)
    radius = jax.random.uniform(radius_key, epsilon.shape, x0.dtype)
    return project(x0 + radius * offset, x0, epsilon, clip)


def pgd_steps(
    loss_fn: Callable[[jax.Array], jax.Array],
    x: jax.Array,
    x0: jax.Array,
    epsilon: jax.Array | float,
    *,
    steps: int,
    step_fraction: float = STEP_FRACTION,
    clip: tuple[float, float] | None = (0.0, 1.0),
    unroll: int | bool = 1,
) -> jax.Array:
    """`steps` PGD iterations from x, a point of the ball around x0, in a fori_loop.

    Calling this repeatedly continues one attack, so a runner can execute it in blocks
    of fully unrolled iterations (unroll=True, no loop left in the program): on XLA:CPU
    an iteration inside a loop body measured 1.3-1.5x slower than the same iteration
    as a plain program (benchmarks/attack_cost.py)."""
    epsilon = _as_column(epsilon, x0)
    step_size = epsilon * step_fraction
    gradient = jax.grad(lambda v: jnp.sum(loss_fn(v)))

    def step(_, x):
        g = gradient(x)
        direction = g / jnp.maximum(_per_example_norm(g), jnp.finfo(x.dtype).tiny)
        return project(x + step_size * direction, x0, epsilon, clip)

    return jax.lax.fori_loop(0, steps, step, x, unroll=unroll)


def _noise_at_norm(key: jax.Array, like: jax.Array, epsilon: jax.Array) -> jax.Array:
    noise = jax.random.normal(key, like.shape, like.dtype)
    return noise * (epsilon / _per_example_norm(noise))


def gaussian_at_norm(
    key: jax.Array,
    x0: jax.Array,
    epsilon: jax.Array | float,
    clip: tuple[float, float] | None = None,
) -> jax.Array:
    """x0 plus Gaussian noise rescaled to ℓ2 norm exactly ε per example (before any
    clipping), for comparing PGD with random perturbations of the same size."""
    x = x0 + _noise_at_norm(key, x0, _as_column(epsilon, x0))
    return x if clip is None else jnp.clip(x, *clip)


def latent_pgd(
    image_loss: Callable[[jax.Array], jax.Array],
    family: squiggles.Family,
    z0: jax.Array,
    epsilon: jax.Array | float,
    *,
    resolution: int = squiggles.RESOLUTION,
    **pgd_options,
) -> jax.Array:
    """PGD on the latent through `squiggles.render`: stays on the data manifold.
    `image_loss(images) -> (B,)` is maximised; latents are not clipped."""
    pgd_options.setdefault("clip", None)
    return pgd_l2(through_renderer(image_loss, family, resolution), z0, epsilon, **pgd_options)


def through_renderer(
    image_loss: Callable[[jax.Array], jax.Array], family: squiggles.Family, resolution: int
) -> Callable[[jax.Array], jax.Array]:
    """The loss of latents: `image_loss` of their rendered images."""
    return lambda z: image_loss(squiggles.render(z, family, resolution))


def true_labels(z: jax.Array, family: squiggles.Family) -> np.ndarray:
    """Ground truth of (attacked) latents, recomputed with Shapely: True = crosses."""
    return squiggles.is_self_intersecting(squiggles.points(z, family))


def latent_attack_summary(
    predicted: np.ndarray, label_before: np.ndarray, label_after: np.ndarray
) -> dict[str, float]:
    """Accuracy against the recomputed label, and how often the label survived.

    An attack that turns a simple curve into a crossing one and makes the model say
    "crossing" has not fooled it: accuracy counts it as correct."""
    predicted, before, after = (np.asarray(a, bool) for a in (predicted, label_before, label_after))
    return {
        "accuracy_vs_recomputed_label": float(np.mean(predicted == after)),
        "label_unchanged": float(np.mean(before == after)),
    }
