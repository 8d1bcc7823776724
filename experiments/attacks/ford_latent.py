"""Ford et al.'s noise quantities in latent space, where Squiggles knows the truth.

Gaussian noise on a latent, z + σ_z·n, is rendered and relabelled with Shapely, so each
noisy sample is one of:
  followed flip   the true label changed and the model follows it (not an error);
  model error     the true label did not change and the model is wrong;
  missed flip     the true label changed and the model keeps the old class.
Ford et al. can only count the model's disagreement with the clean label (model errors
plus followed flips) and must assume the label is unchanged.

The same σ(z, μ) bisection as in pixel space (`experiments.attacks.ford.bisect_sigma`) runs
against the model (disagreement with the clean label) and against the true classifier
(the Shapely label itself), so the half-space-ness of the true decision boundary, the
floor of any model's noise error, is measured too. Draw j of latent i is
normal(fold_in(key, j // per_pass))[i, j % per_pass], the same at every σ.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import squiggles
from experiments import checks
from experiments.attacks import ford, pgd
from experiments.results import OutcomeCounts
from squiggles.curves import check_latents as check_family_latents

Against = ("model", "truth")


@dataclasses.dataclass(frozen=True)
class LatentOutcomes(OutcomeCounts):
    """Counts per latent among `samples` noisy draws."""

    samples: int
    model_errors: np.ndarray
    followed_flips: np.ndarray
    missed_flips: np.ndarray

    def rates(self) -> dict[str, np.ndarray]:
        fields = ("model_errors", "followed_flips", "missed_flips", "label_changes",
                  "disagreements", "true_errors")  # fmt: skip
        return {name: getattr(self, name) / self.samples for name in fields}


@functools.partial(jax.jit, static_argnames=("per_pass",))
def _noisy_latents(latents, sigma, key, number, *, per_pass):
    shape = (latents.shape[0], per_pass, *latents.shape[1:])
    draws = jax.random.normal(jax.random.fold_in(key, number), shape, latents.dtype)
    scale = sigma.reshape((-1, 1) + (1,) * (latents.ndim - 1))
    return (latents[:, None] + scale * draws).reshape(-1, *latents.shape[1:])


@jax.jit
def _predict(latent_model, z):
    logits = latent_model(z)
    return jnp.argmax(logits, -1), jnp.all(jnp.isfinite(logits))


def check_latents(latents, labels, family: squiggles.Family):
    """Latents (N, *latent shape) of `family` and labels (N,), or a ValueError."""
    latents = check_family_latents(latents, family).astype(jnp.float32)
    labels = np.asarray(labels)
    if latents.ndim != 1 + len(family.latent_shape):
        raise ValueError(f"latents must have shape (N, {', '.join(map(str, family.latent_shape))})"
                         f" for {family}, got {tuple(latents.shape)}")  # fmt: skip
    if labels.shape != latents.shape[:1]:
        raise ValueError(f"labels must have shape ({len(latents)},), one per latent, "
                         f"got {labels.shape}")  # fmt: skip
    if not len(latents):
        raise ValueError(f"latents must hold at least one latent, got shape {latents.shape}")
    return latents, ford.check_labels(labels)


def outcome_passes(
    logits_fn, latents, labels, sigma, *, family: squiggles.Family, resolution: int,
    samples: int, key: jax.Array, batch: int, want: tuple[str, ...] = Against,
):  # fmt: skip
    """Yields, per pass of at most `batch` renders, the (N, k) predictions and true labels
    of k noisy draws per latent (None for what `want` leaves out)."""
    latents, labels = check_latents(latents, labels, family)
    samples = checks.check_integer(samples, "samples", 1)
    checks.check_integer(batch, "batch", 1)
    sigma = ford.check_sigmas(sigma, len(latents), "sigma_z")
    per_pass = min(ford.draws_per_pass(len(latents), batch), samples)
    model, labels = ford.check_model(pgd.through_renderer(logits_fn, family, resolution), latents,
                                      labels)  # fmt: skip
    for number in range(math.ceil(samples / per_pass)):
        used = min(per_pass, samples - number * per_pass)
        z = _noisy_latents(latents, sigma, key, number, per_pass=per_pass)
        prediction = truth = None
        if "model" in want:
            prediction, finite = _predict(model, z)  # dispatched; Shapely runs meanwhile
        if "truth" in want:
            truth = squiggles.is_self_intersecting(squiggles.points(z, family))
            truth = truth.reshape(len(latents), per_pass)[:, :used].astype(np.int32)
        if prediction is not None:
            if not bool(finite):
                raise ValueError("the model's logits are not finite on some noisy latents' "
                                 "images; check the model")  # fmt: skip
            prediction = np.asarray(prediction).reshape(len(latents), per_pass)[:, :used]
        yield prediction, truth


def latent_error_rate(
    logits_fn, latents, labels, sigma_z, *, family: squiggles.Family, resolution: int,
    samples: int, key: jax.Array, batch: int = ford.DEFAULT_BATCH,
) -> LatentOutcomes:  # fmt: skip
    """Noise z + σ_z·n on each latent, each sample rendered for the model and relabelled
    with Shapely: counts of model errors, followed flips and missed flips per latent."""
    labels_column = np.asarray(labels, np.int32)[:, None]
    counts = np.zeros((3, len(labels_column)), np.int64)
    for prediction, truth in outcome_passes(
        logits_fn, latents, labels, sigma_z, family=family, resolution=resolution,
        samples=samples, key=key, batch=batch,
    ):  # fmt: skip
        changed = truth != labels_column
        counts[0] += np.sum(~changed & (prediction != labels_column), axis=1)
        counts[1] += np.sum(changed & (prediction == truth), axis=1)
        counts[2] += np.sum(changed & (prediction != truth), axis=1)
    return LatentOutcomes(samples, *counts)


def latent_sigma_at_error_rate(
    logits_fn, latents, labels, mu: float = 0.01, *, against: str, family: squiggles.Family,
    resolution: int, samples: int = 1000, key: jax.Array, low: float = 0.0,
    high: float = 4.0, tol: float = 1e-2, batch: int = ford.DEFAULT_BATCH,
    strict: bool = False,
) -> np.ndarray:  # fmt: skip
    """σ(z, μ) per latent by bisection on one fixed set of draws, against the model (the
    fraction of draws it classifies otherwise than the clean label) or against the truth
    (the fraction whose Shapely label differs: the true boundary's own σ). 0 where the
    model is wrong on the clean latent; inf where the rate stays below μ at `high`. The
    rate reaches μ at >= μ, or at > μ with `strict`, as `ford.sigma_at_error_rate`."""
    if against not in Against:
        raise ValueError(f"against must be one of {Against}, got {against!r}")
    labels_column = np.asarray(labels, np.int32)[:, None]

    def rate_at(sigma: np.ndarray) -> np.ndarray:
        differ = np.zeros(len(labels_column), np.int64)
        for prediction, truth in outcome_passes(
            logits_fn, latents, labels, sigma, family=family, resolution=resolution,
            samples=samples, key=key, batch=batch, want=(against,),
        ):  # fmt: skip
            judged = prediction if against == "model" else truth
            differ += np.sum(judged != labels_column, axis=1)
        return differ / samples

    return ford.bisect_sigma(rate_at, len(labels_column), mu, low=low, high=high, tol=tol,
                              strict=strict)  # fmt: skip


class LatentErrorDistance(NamedTuple):
    """Per latent: the latent distance to the model's nearest error found (inf where
    none), whether one was found, the error latent, and its true label (whether the
    model's error there is in fact a real change of class)."""

    distance: np.ndarray
    found: np.ndarray
    point: np.ndarray
    true_label: np.ndarray


def latent_distance_to_error(
    logits_fn, latents, labels, *, family: squiggles.Family, resolution: int,
    epsilon: float = 4.8, steps: int = 200, bisection_steps: int = 10,
) -> LatentErrorDistance:  # fmt: skip
    """`ford.distance_to_error` in latent space: latent PGD through the renderer (ball ε,
    step ε/150) until the model's class differs from the clean label, then a bisection
    on the segment; the true label of the point found is recomputed with Shapely."""
    latents, labels = check_latents(latents, labels, family)
    model, labels = ford.check_model(pgd.through_renderer(logits_fn, family, resolution), latents,
                                      labels)  # fmt: skip
    checks.check_integer(steps, "steps", 1)
    checks.check_integer(bisection_steps, "bisection_steps", 0)
    ford.check_epsilon(epsilon)
    ford.check_finite_logits(model(latents), "latents")
    radius = jnp.full(len(latents), epsilon, latents.dtype)
    end, found = ford.pgd_to_first_error(model, latents, labels, radius, steps=steps)
    point = ford.refine_to_error(model, latents, jnp.asarray(end), jnp.asarray(labels), found,
                                  steps=bisection_steps)  # fmt: skip
    found = np.asarray(found)
    distance = np.where(found, pgd.norms(np.asarray(point - latents)), np.inf)
    return LatentErrorDistance(distance, found, np.asarray(point),
                               pgd.true_labels(point, family))  # fmt: skip
