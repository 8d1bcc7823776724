"""Adversarial perturbations: the one ℓ2 PGD engine of the project, in pixel or latent
space, and Gaussian noise of the same norm. `run_pgd` attacks a `Classifier` (or a plain
logits function) in compiled blocks of iterations, for a fixed number of steps (the ε
loops of the analyses, through `attack_subset`) or until each input's first
misclassified iterate (Ford et al.'s distance to the nearest error,
`experiments.attacks.ford.pgd_to_first_error`).

An attack maximises the cross-entropy of the labels (lowers it when targeted) over
‖x − x₀‖₂ ≤ ε per example: each step moves along the gradient normalised to unit ℓ2
norm, then projects back onto the ball (scaling the perturbation down only when it is
outside) and, optionally, clips to the classifier's input range. Latents are attacked
through the renderer (`through_renderer`) and never clipped.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

import squiggles
from experiments.classifier import Classifier, LogitsFn, as_classifier

DEFAULT_EPSILONS = (0.01875, 0.0375, 0.075, 0.15, 0.3, 0.6, 1.2, 2.4, 4.8)
STEPS = 100
STEP_FRACTION = 1 / 25  # step size ε/25
LATENT_RANGE = (-math.inf, math.inf)  # latents are never clipped


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


def random_point(
    key: jax.Array, x0: jax.Array, epsilon: jax.Array | float, clip: tuple[float, float] | None
) -> jax.Array:
    """A random start: a uniformly random radius ≤ ε along a Gaussian direction."""
    epsilon = _as_column(epsilon, x0)
    direction_key, radius_key = jax.random.split(key)
    offset = _noise_at_norm(direction_key, x0, epsilon)
    radius = jax.random.uniform(radius_key, epsilon.shape, x0.dtype)
    return project(x0 + radius * offset, x0, epsilon, clip)


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


def true_labels(z: jax.Array, family: squiggles.Family) -> np.ndarray:
    """Ground truth of (attacked) latents, recomputed with Shapely: True = crosses."""
    return squiggles.is_self_intersecting(squiggles.points(z, family))


# ---------------------------------------------------------------- the engine, on a Classifier

Model = Classifier | LogitsFn


@functools.cache
def _rendered(family: squiggles.Family, resolution: int) -> Callable:
    """f(logits_fn, z) = logits_fn(render(z)): one function object per (family,
    resolution), so every latent classifier of them compiles once."""

    def logits_of_latents(logits_fn, z):
        return logits_fn(squiggles.render(z, family, resolution))

    return logits_of_latents


def through_renderer(model: Model, family: squiggles.Family, resolution: int) -> Classifier:
    """The Classifier of latents that renders them (`squiggles.render`) for `model`, a
    classifier of images: latent attacks move along the data manifold. Latents are
    unbounded, so clipping never applies to them."""
    logits_fn = as_classifier(model).logits_fn
    return Classifier(jax.tree_util.Partial(_rendered(family, resolution), logits_fn),
                      LATENT_RANGE)  # fmt: skip


def cross_entropy(model: Model, labels: jax.Array) -> Callable[[jax.Array], jax.Array]:
    """Per-example cross-entropy of the true labels: the loss an untargeted attack raises."""
    model = as_classifier(model)

    def loss(x: jax.Array) -> jax.Array:
        return optax.softmax_cross_entropy_with_integer_labels(model(x), labels)

    return loss


def objective(model: Model, labels: jax.Array, targeted: bool = False) -> Callable:
    """What PGD maximises: the cross-entropy of `labels`, lowered instead when targeted
    (`labels` are then the classes to move towards)."""
    loss = cross_entropy(model, labels)
    return (lambda x: -loss(x)) if targeted else loss


def step_size(epsilon: jax.Array, step_fraction: float | None, step_divisor: int | None):
    """ε·step_fraction or ε/step_divisor, whichever is given: two roundings of one step
    (the analyses' ε/25 is ε·0.04, Ford et al.'s ε/150 a division), kept apart so that
    each caller's iterates stay what they were."""
    if (step_fraction is None) == (step_divisor is None):
        raise ValueError(f"give exactly one of step_fraction and step_divisor, got "
                         f"step_fraction={step_fraction}, step_divisor={step_divisor}")  # fmt: skip
    return epsilon * step_fraction if step_divisor is None else epsilon / step_divisor


def succeeded(model, x, labels, targeted):
    """Whether each input is where the attack wants it: its class differs from `labels`,
    or (targeted) is `labels`."""
    predicted = jnp.argmax(model(x), -1)
    return predicted == labels if targeted else predicted != labels


_succeeded_jit = jax.jit(succeeded, static_argnames=("targeted",))


@functools.partial(
    jax.jit,
    static_argnames=("steps", "step_fraction", "step_divisor", "clip", "targeted",
                     "stop_at_error", "unroll"),
)  # fmt: skip
def _pgd_block(
    model, x, x0, labels, epsilon, found, *, steps, step_fraction, step_divisor, clip,
    targeted, stop_at_error, unroll,
):  # fmt: skip
    """`steps` PGD iterations from x, a point of the ball ε around x0: all of them in a
    fori_loop (unrolled `unroll` times), or, with `stop_at_error`, in a while_loop in
    which each input stops at its first successful iterate (`found`: it already has)
    and that ends early once all have."""
    radius = _as_column(epsilon, x0)
    size = step_size(radius, step_fraction, step_divisor)
    gradient = jax.grad(lambda v: jnp.sum(objective(model, labels, targeted)(v)))
    bounds = model.input_range if clip else None

    def moved(x):
        return project(x + size * unit(gradient(x)), x0, radius, bounds)

    if not stop_at_error:
        return jax.lax.fori_loop(0, steps, lambda _, x: moved(x), x, unroll=unroll), found

    def unfinished(carry):
        number, _, found = carry
        return (number < steps) & ~jnp.all(found)

    def step(carry):
        number, x, found = carry
        x = jnp.where(found.reshape(radius.shape), x, moved(x))
        return number + 1, x, found | succeeded(model, x, labels, targeted)

    _, x, found = jax.lax.while_loop(unfinished, step, (0, x, found))
    return x, found


class Attacked(NamedTuple):
    """The last iterate of each input and, with `stop_at_error`, whether it is an error
    (the attack's success; None otherwise)."""

    point: jax.Array | np.ndarray
    found: np.ndarray | None


def run_pgd(
    model: Model, x0, labels, epsilon, *, steps: int, block: int,
    step_fraction: float | None = None, step_divisor: int | None = None, clip: bool = False,
    family: squiggles.Family | None = None, resolution: int = squiggles.RESOLUTION,
    targeted: bool = False, key: jax.Array | None = None, stop_at_error: bool = False,
) -> Attacked:  # fmt: skip
    """ℓ2 PGD against `model` (a Classifier or a logits function) on images, or on
    latents through the renderer when `family` is given, from x0 (or a random point of
    the ball when a key is given). Steps of ε·step_fraction or ε/step_divisor; iterates
    clipped to the model's input range when `clip`.

    Fixed steps: block=0 runs all iterations in one jitted fori_loop; block=k runs jitted
    blocks of k unrolled iterations one after the other, without host synchronisation,
    which is faster on XLA:CPU (benchmarks/attack_cost.py). With `stop_at_error` each
    input stops at its first misclassified iterate (or, targeted, the first of class
    `labels`): blocks of `block` steps in a while_loop run on the inputs still without
    one only (padded to a few batch sizes), so a few hard inputs do not keep the whole
    batch stepping."""
    model = as_classifier(model)
    if family is not None:
        model = through_renderer(model, family, resolution)
    x0 = jnp.asarray(x0)
    bounds = model.input_range if clip else None
    x = x0 if key is None else random_point(key, x0, epsilon, bounds)
    options = dict(step_fraction=step_fraction, step_divisor=step_divisor, clip=clip,
                   targeted=targeted)  # fmt: skip
    if stop_at_error:
        return _until_success(model, x, x0, labels, epsilon, steps=steps, block=block, **options)
    labels = jnp.asarray(labels)
    if block == 0:
        x, _ = _pgd_block(model, x, x0, labels, epsilon, None, steps=steps,
                          stop_at_error=False, unroll=1, **options)  # fmt: skip
        return Attacked(x, None)
    for done in range(0, steps, block):
        x, _ = _pgd_block(model, x, x0, labels, epsilon, None, steps=min(block, steps - done),
                          stop_at_error=False, unroll=True, **options)  # fmt: skip
    return Attacked(x, None)


def _until_success(model, x, x0, labels, epsilon, *, steps, block, targeted, **options):
    """`run_pgd` with `stop_at_error`: blocks of a while_loop on the unfinished rows."""
    labels = np.asarray(labels, np.int32)
    epsilon = np.broadcast_to(np.asarray(epsilon, x0.dtype), (len(x0),))
    found = np.array(_succeeded_jit(model, x, jnp.asarray(labels), targeted=targeted))
    x, origin = np.array(x), np.asarray(x0)
    for done in range(0, steps, block or steps):
        active = np.flatnonzero(~found)
        if not len(active):
            break
        rows = padded(active, bucket(len(active), len(x0)))
        moved, reached = _pgd_block(
            model, x[rows], origin[rows], labels[rows], epsilon[rows], found[rows],
            steps=min(block or steps, steps - done), targeted=targeted, stop_at_error=True,
            unroll=1, **options,
        )  # fmt: skip
        x[active], found[active] = (
            np.asarray(moved)[: len(active)],
            np.asarray(reached)[: len(active)],
        )
    return Attacked(x, found)


def attack_subset(
    model: Model, x0: np.ndarray, labels: np.ndarray, todo: np.ndarray, epsilon: float, *,
    batch: int, **pgd_options,
) -> np.ndarray:  # fmt: skip
    """`run_pgd` (fixed steps) on the rows `todo` of x0, padded (by repeating the last
    row) to one of a few sizes up to `batch`, so that an ε loop attacking fewer rows each
    time compiles a few programs, not one per count. Returns the attacked rows."""
    size = bucket(len(todo), batch)
    attacked = run_pgd(
        model, padded(x0[todo], size), padded(np.asarray(labels)[todo], size), epsilon,
        **pgd_options,
    )  # fmt: skip
    return np.asarray(attacked.point)[: len(todo)]


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
