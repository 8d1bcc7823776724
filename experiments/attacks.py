"""Adversarial perturbations: ℓ2 PGD in pixel or latent space, and Gaussian noise of
the same norm. Batched, jit-able, iterations in `lax.fori_loop`; `run_pgd` runs them
on a trained model in compiled blocks, and `attack_subset` runs it on some rows of a
batch, padded to a few shapes (the ε loops of the analyses are built on it).

An attack maximises a per-example loss `loss_fn(x) -> (B,)` (e.g. the cross-entropy
of the true label) over ‖x − x₀‖₂ ≤ ε per example: each step moves along the
gradient normalised to unit ℓ2 norm, then projects back onto the ball (scaling the
perturbation down only when it is outside) and, optionally, clips to a valid range.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

import squiggles
from experiments import metrics

DEFAULT_EPSILONS = (0.01875, 0.0375, 0.075, 0.15, 0.3, 0.6, 1.2, 2.4, 4.8)
STEPS = 100
STEP_FRACTION = 1 / 25  # step size ε/25


def _per_example_norm(x: jax.Array) -> jax.Array:
    """ℓ2 norm over all but the first axis, shaped to broadcast against x."""
    squared = jnp.sum(jnp.square(x), axis=tuple(range(1, x.ndim)), keepdims=True)
    return jnp.sqrt(squared)


def unit(x: jax.Array) -> jax.Array:
    """Each example scaled to unit ℓ2 norm (a zero one stays zero): PGD's step direction."""
    return x / jnp.maximum(_per_example_norm(x), jnp.finfo(x.dtype).tiny)


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
        return project(x + step_size * unit(gradient(x)), x0, epsilon, clip)

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


# ---------------------------------------------------------------- on a trained model


def cross_entropy(state, labels: jax.Array) -> Callable[[jax.Array], jax.Array]:
    """Per-example cross-entropy of the true labels: the loss an untargeted attack raises."""

    def loss(images: jax.Array) -> jax.Array:
        return optax.softmax_cross_entropy_with_integer_labels(
            metrics.logits(state, images), labels
        )

    return loss


def objective(
    state, labels: jax.Array, family: squiggles.Family | None, resolution: int, targeted: bool
) -> Callable[[jax.Array], jax.Array]:
    """What PGD maximises: the cross-entropy of `labels` (lowered instead when targeted,
    so `labels` are the classes to move towards), of images, or of rendered latents
    when a family is given."""
    loss = cross_entropy(state, labels)
    if family is not None:
        loss = through_renderer(loss, family, resolution)
    return (lambda x: -loss(x)) if targeted else loss


@functools.partial(
    jax.jit,
    static_argnames=("family", "resolution", "targeted", "steps", "step_fraction", "clip",
                     "unroll"),
)  # fmt: skip
def _pgd_block(
    state, x, x0, labels, epsilon, *, family, resolution, targeted, steps, step_fraction, clip,
    unroll,
):  # fmt: skip
    return pgd_steps(
        objective(state, labels, family, resolution, targeted), x, x0, epsilon, steps=steps,
        step_fraction=step_fraction, clip=clip, unroll=unroll,
    )  # fmt: skip


def run_pgd(
    state, x0, labels, epsilon: float, *, steps: int, step_fraction: float, block: int,
    clip: tuple[float, float] | None = None, family: squiggles.Family | None = None,
    resolution: int = squiggles.RESOLUTION, targeted: bool = False, key: jax.Array | None = None,
) -> jax.Array:  # fmt: skip
    """ℓ2 PGD against a trained state on images, or on latents when `family` is given,
    from x0 (or a random point of the ball when a key is given). block=0 runs all
    iterations in one jitted fori_loop; block=k runs jitted blocks of k unrolled
    iterations one after the other, without host synchronisation, which is faster on
    XLA:CPU (benchmarks/attack_cost.py)."""
    x0, labels = jnp.asarray(x0), jnp.asarray(labels)
    x = x0 if key is None else random_point(key, x0, epsilon, clip)
    options = dict(family=family, resolution=resolution, targeted=targeted,
                   step_fraction=step_fraction, clip=clip)  # fmt: skip
    if block == 0:
        return _pgd_block(state, x, x0, labels, epsilon, steps=steps, unroll=1, **options)
    for done in range(0, steps, block):
        x = _pgd_block(
            state, x, x0, labels, epsilon, steps=min(block, steps - done), unroll=True, **options
        )
    return x


def attack_subset(
    state, x0: np.ndarray, labels: np.ndarray, todo: np.ndarray, epsilon: float, *,
    batch: int, **pgd_options,
) -> np.ndarray:  # fmt: skip
    """`run_pgd` on the rows `todo` of x0, padded (by repeating the last row) to one of
    a few sizes up to `batch`, so that an ε loop attacking fewer rows each time
    compiles a few programs, not one per count. Returns the attacked rows."""
    size = bucket(len(todo), batch)
    attacked = run_pgd(
        state, padded(x0[todo], size), padded(np.asarray(labels)[todo], size), epsilon,
        **pgd_options,
    )  # fmt: skip
    return np.asarray(attacked)[: len(todo)]


def probabilities(state, images) -> np.ndarray:
    """P(intersecting) of each image, as a NumPy array."""
    return np.array(metrics.predict_probabilities(state, jnp.asarray(images)))


def norms(delta: np.ndarray) -> np.ndarray:
    """ℓ2 norm of each row."""
    return np.linalg.norm(np.asarray(delta).reshape(len(delta), -1), axis=1)


def padded(array: np.ndarray, size: int) -> np.ndarray:
    """`array` with its last row repeated up to `size` rows."""
    return np.concatenate([array, np.repeat(array[-1:], size - len(array), axis=0)])


def bucket(count: int, batch: int) -> int:
    """The padded size of `count` rows: a multiple of batch/8 (at least 8), so that loops
    over shrinking subsets of a batch compile a few shapes, not one per count; and a
    multiple of the device count, so the rows split evenly over the devices."""
    devices = jax.device_count()
    granularity = math.lcm(max(8, -(-batch // 8)), devices)
    return min(-(-count // granularity) * granularity, -(-max(batch, count) // devices) * devices)
