"""The true-class distance in pixels: for each example, an upper bound on the ℓ2 distance
from its image to an image of the *other* true class that the generator can draw.

Only Squiggles can compute it: every candidate curve is relabelled with Shapely, so the
bound is always valid, whatever the search does. The search has two stages:
  1. across the true boundary in latent space (the `boundary` analysis's search): a
     targeted latent PGD toward the other class, guided by a navigator classifier, at
     growing ε until the true label changes, then a bisection on the true label along the
     path, which gives a latent just across the boundary (`flip_search`, `bisect`);
  2. along the boundary in pixel space (`descend_along_boundary`): each boundary point
     is the first crossing on a ray from the example's latent; the ray is turned, by a
     gradient step on ‖render(b) − x‖² or a random step, both tangent to it, and the
     crossing found again by bisection, keeping the nearer image (a (1+1) evolution
     strategy with a gradient proposal).
Stage 2 works for any differentiable renderer and any labelling, which is how it is tested
where the exact distance is known (a linear renderer and a half-space label).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import squiggles
from experiments import checks
from experiments.attacks import pgd
from experiments.classifier import Classifier

# The step after a success and after a failure: it holds where about 1 try in 5 succeeds
# (Rechenberg's 1/5 rule), the rate of a well-sized step.
GROW, SHRINK = 2.0, 0.85
Labeller = Callable[[np.ndarray], np.ndarray]  # latents (B, ...) -> labels (B,), on the host


class TrueClassDistance(NamedTuple):
    """Per example: the distance to the nearest other-class image found (inf where the
    search never crossed the true boundary), the pixel distance of the first crossing
    (stage 1 alone), the latent distance of that crossing, whether one was found, and the
    other-class latent the distance is measured to (the example's own where none)."""

    distance: np.ndarray
    crossing_distance: np.ndarray
    latent_distance: np.ndarray
    found: np.ndarray
    latent: np.ndarray


def bisect(
    label_fn: Labeller, start: np.ndarray, end: np.ndarray, label: np.ndarray, steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """For each row, a point on the segment start → end whose label (`label_fn`) differs
    from `label` (end's label must differ, start's must not), closest to start after
    `steps` halvings. Returns (fraction of the segment, point)."""
    start, end = np.asarray(start, np.float32), np.asarray(end, np.float32)
    low = np.zeros(len(start), np.float32)
    high = np.ones(len(start), np.float32)

    def along(fraction: np.ndarray) -> np.ndarray:
        return start + fraction.reshape((-1,) + (1,) * (start.ndim - 1)) * (end - start)

    for _ in range(steps):
        middle = (low + high) / 2
        changed = np.asarray(label_fn(along(middle))) != label
        high = np.where(changed, middle, high)
        low = np.where(changed, low, middle)
    return high, along(high)


def shapely_labeller(family: squiggles.Family) -> Labeller:
    """The true label of latents of `family` (Shapely), as 0/1."""
    return lambda z: pgd.true_labels(z, family).astype(np.int32)


def bisect_on_true_label(
    family: squiggles.Family, start: np.ndarray, end: np.ndarray, label: np.ndarray, steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """`bisect` on the true (Shapely) label of latents of `family`."""
    return bisect(shapely_labeller(family), start, end, np.asarray(label, np.int32), steps)


def flip_search(
    navigator: Classifier, latents: np.ndarray, labels: np.ndarray, epsilons, *,
    family: squiggles.Family, resolution: int, batch: int, steps: int, step_fraction: float,
    block: int, log: Callable[[str], None] = lambda line: None,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Targeted latent PGD toward the other class at each ε of `epsilons` in turn, on the
    latents whose true label has not changed yet. Returns the ε number where it first
    did (-1: never) and the attacked latent (the example's own where never)."""
    labels = np.asarray(labels, np.int32)
    found_at = np.full(len(labels), -1, np.int32)
    end = np.array(latents, np.float32)
    for k, epsilon in enumerate(epsilons):
        todo = np.flatnonzero(found_at < 0)
        if not len(todo):
            break
        attacked = pgd.attack_subset(
            navigator, latents, 1 - labels, todo, epsilon, batch=batch, family=family,
            resolution=resolution, targeted=True, steps=steps, step_fraction=step_fraction,
            block=block,
        )  # fmt: skip
        changed = pgd.true_labels(attacked, family) != labels[todo]
        found_at[todo[changed]] = k
        end[todo[changed]] = attacked[changed]
        log(f"  ε={epsilon:g}: attacked {len(todo)}, true label changed for {changed.sum()}")
    return found_at, end


@functools.partial(jax.jit, static_argnames=("render_fn",))
def _tangent_step(render_fn, z, origins, targets, length):
    """From boundary points z, a step of `length` (per row) along −∇‖render(z) − x‖² with
    its component along the ray origin → z removed, so the step turns the ray."""

    def squared(v):
        return jnp.sum(jnp.square(render_fn(v) - targets), axis=(1, 2))

    gradient = jax.grad(lambda v: jnp.sum(squared(v)))(z).reshape(len(z), -1)
    ray = (z - origins).reshape(len(z), -1)
    ray = ray / jnp.maximum(jnp.linalg.norm(ray, axis=1, keepdims=True), 1e-12)
    tangent = gradient - jnp.sum(gradient * ray, axis=1, keepdims=True) * ray
    tangent = tangent / jnp.maximum(jnp.linalg.norm(tangent, axis=1, keepdims=True), 1e-12)
    return z - length.reshape((-1,) + (1,) * (z.ndim - 1)) * tangent.reshape(z.shape)


@functools.partial(jax.jit, static_argnames=("render_fn",))
def _pixel_distance(render_fn, z, targets):
    return jnp.sqrt(jnp.sum(jnp.square(render_fn(z) - targets), axis=(1, 2)))


def descend_along_boundary(
    render_fn: Callable, label_fn: Labeller, origins, labels, starts, *, iterations: int = 240,
    step: float = 0.5, reach: float = 2.0, bisection_steps: int = 12, seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Stage 2: the latent of another label whose image is nearest render(origin), among
    boundary points b = origin + t·u on rays u from each origin (label `labels`). From the
    ray through `starts` (latents of another label), each iteration tries two turns of
    the ray, tangent to it: a gradient step on ‖render(b) − render(origin)‖² and a random
    one, of length `step` times the ray's length; each is extended to `reach` times that
    length and bisected on the label from the origin to its first crossing. The nearer
    crossing is kept if it improves and the step grows (GROW); else it shrinks (SHRINK):
    a (1+1) evolution strategy with a gradient proposal. `render_fn` must be
    hashable (a static argument of the jitted step). Returns (latents, distances) of the
    nearest images; rows whose start has the origin's label keep it, at distance inf."""
    checks.check_integer(iterations, "iterations", 0)
    checks.check_integer(bisection_steps, "bisection_steps", 1)
    for name, value, low in (("step", step, 0), ("reach", reach, 1)):
        if not (checks.is_number(value) and low < value < np.inf):
            raise ValueError(f"{name} must be a finite number > {low}, got {value!r}")
    origins = np.asarray(origins, np.float32)
    labels = np.asarray(labels)
    count = len(origins)
    targets = render_fn(jnp.asarray(origins))
    best_z = np.array(starts, np.float32)
    valid = np.asarray(label_fn(best_z)) != labels
    best = np.where(valid, np.asarray(_pixel_distance(render_fn, jnp.asarray(best_z), targets)),
                    np.inf)  # fmt: skip
    fraction = np.full(count, step, np.float32)
    rng = np.random.default_rng(seed)
    twice = np.concatenate([origins, origins])
    for _ in range(iterations):
        length = fraction * pgd.norms(best_z - origins).astype(np.float32)
        gradient = np.asarray(_tangent_step(render_fn, jnp.asarray(best_z), jnp.asarray(origins),
                                            targets, jnp.asarray(length)))  # fmt: skip
        random = _random_tangent_step(rng, best_z, origins, length)
        turned = np.concatenate([gradient, random])
        far = twice + reach * (turned - twice)
        crosses = np.tile(valid, 2) & (np.asarray(label_fn(far)) != np.tile(labels, 2))
        candidate = np.concatenate([best_z, best_z])
        if crosses.any():
            _, candidate[crosses] = bisect(
                label_fn, twice[crosses], far[crosses], np.tile(labels, 2)[crosses], bisection_steps
            )
        distance = np.asarray(_pixel_distance(render_fn, jnp.asarray(candidate),
                                              jnp.concatenate([targets, targets])))  # fmt: skip
        distance = np.where(crosses, distance, np.inf).reshape(2, count)
        pick = np.argmin(distance, axis=0)
        nearest = distance[pick, np.arange(count)]
        better = nearest < best
        chosen = candidate.reshape(2, count, *origins.shape[1:])[pick, np.arange(count)]
        best[better], best_z[better] = nearest[better], chosen[better]
        fraction = np.where(better, fraction * GROW, fraction * SHRINK).astype(np.float32)
    return best_z, best


def _random_tangent_step(rng: np.random.Generator, z: np.ndarray, origins: np.ndarray,
                         length: np.ndarray) -> np.ndarray:  # fmt: skip
    """z moved by `length` (per row) in a random direction orthogonal to origin → z."""
    flat = rng.standard_normal((len(z), int(np.prod(z.shape[1:])))).astype(np.float32)
    ray = (z - origins).reshape(len(z), -1)
    ray = ray / np.maximum(np.linalg.norm(ray, axis=1, keepdims=True), 1e-12)
    flat -= np.sum(flat * ray, axis=1, keepdims=True) * ray
    flat /= np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-12)
    return z + (length[:, None] * flat).reshape(z.shape)


@functools.cache
def squiggles_renderer(family: squiggles.Family, resolution: int) -> Callable:
    """render(z) of one (family, resolution), one function object each (a static argument)."""
    return functools.partial(squiggles.render, family=family, resolution=resolution)


def true_class_distance(
    navigator: Classifier, latents, labels, *, family: squiggles.Family, resolution: int,
    epsilons, batch: int, steps: int, step_fraction: float, block: int,
    crossing_bisection_steps: int = 20, iterations: int = 240, step: float = 0.5,
    bisection_steps: int = 12, navigator_resolution: int | None = None,
    log: Callable[[str], None] = lambda line: None,
) -> TrueClassDistance:  # fmt: skip
    """Both stages for test latents (N, ...) of `family` with their true labels (N,): an
    upper bound on the pixel distance from each image to an image of the other true
    class. Every latent it returns has been relabelled with Shapely. The navigator sees
    images at `navigator_resolution` (default: `resolution`, that of the distances)."""
    latents = np.asarray(squiggles.curves.check_latents(latents, family), np.float32)
    labels = np.asarray(labels, np.int32)
    found_at, end = flip_search(
        navigator, latents, labels, epsilons, family=family,
        resolution=navigator_resolution or resolution, batch=batch,
        steps=steps, step_fraction=step_fraction, block=block, log=log,
    )  # fmt: skip
    found = found_at >= 0
    crossing = latents.copy()
    if found.any():
        _, crossing[found] = bisect_on_true_label(
            family, latents[found], end[found], labels[found], crossing_bisection_steps
        )
    render_fn = squiggles_renderer(family, resolution)
    targets = np.asarray(squiggles.render(latents, family, resolution))
    label_fn = shapely_labeller(family)
    latent_distance = np.where(found, pgd.norms(crossing - latents), np.inf)
    crossing_distance = np.where(
        found, np.asarray(_pixel_distance(render_fn, jnp.asarray(crossing), targets)), np.inf
    )
    nearest, distance = latents.copy(), np.full(len(labels), np.inf)
    if found.any():
        nearest[found], distance[found] = descend_along_boundary(
            render_fn, label_fn, latents[found], labels[found], crossing[found],
            iterations=iterations, step=step, bisection_steps=bisection_steps,
        )  # fmt: skip
    log(
        f"  true-class distance: crossed for {found.sum()} of {len(found)}, median "
        f"{np.median(distance):.3f} (first crossing {np.median(crossing_distance):.3f})"
    )
    return TrueClassDistance(
        distance=distance,
        crossing_distance=crossing_distance,
        latent_distance=latent_distance,
        found=found,
        latent=nearest,
    )
