"""Ford et al. (2019) in pixel space, part 2: distances to the nearest error.

Per test image: the distance to the nearest error found by ℓ2 PGD that stops at the first
misclassification (ball ε = max(2q, 1) for noise at `radius_sigma`, q by `radius`: the
99th percentile of the noise norm, this project's choice, or with "coordinate" the
99.999th percentile of one noise coordinate, as Ford et al.'s code; step ε/150), refined
by bisection; the distances from `noisy_points` samples of N(x, σ²I) at `noisy_sigma` and
their median (Fig. 4, the isoperimetric inequality); and, for the PGD error and the first
noisy sample that is an error, the nearest curve on the data manifold and what it says
(`experiments.attacks.manifold`).

When the same run directory holds `ford_rates` results, the summary compares the
distances with the half-space prediction 2.326·σ(x, 1 %) and the median noisy distance
with the isoperimetric bound −σ·Φ⁻¹(μ(x, σ)), image by image.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from scipy import stats

from experiments.analyses import common
from experiments.attacks import ford, manifold
from experiments.classifier import probabilities
from experiments.results import DistanceResults, halfspace_distance, halfspace_factor
from experiments.runs import store
from experiments.runs.chunk_examples import TestExamples

RESULTS = DistanceResults
PER_EPSILON = RESULTS.PER_EPSILON
SHARED = RESULTS.SHARED
KEY_STREAM = 4


def default_settings() -> ml_collections.ConfigDict:
    settings = ml_collections.ConfigDict()
    settings.steps = 200
    settings.bisection_steps = 10
    settings.radius_sigma = 0.1  # ε = max(2q, 1) for noise at this σ
    settings.radius = "norm"  # q of the noise norm; "coordinate": Ford et al.'s code's ε
    settings.noisy_sigma = 0.1
    settings.noisy_points = 1000  # the paper's; the authors' code attacks 200
    settings.manifold_steps = 200
    settings.manifold_learning_rate = 0.01
    settings.batch = ford.DEFAULT_BATCH
    settings.seed = 0
    return settings


def check(settings: ml_collections.ConfigDict) -> None:
    for field in ("steps", "noisy_points", "batch"):
        common.check_integer(settings, field, 1)
    for field in ("bisection_steps", "manifold_steps", "seed"):
        common.check_integer(settings, field, 0)
    for field in ("radius_sigma", "noisy_sigma", "manifold_learning_rate"):
        common.check_number(settings, field, 0, math.inf)
    if settings.radius not in ford.RADIUS_RULES:
        raise ValueError(f"radius must be one of {ford.RADIUS_RULES}, got {settings.radius!r}")


# Settings added after runs were made, with the value those runs used: left out of a run's
# identity at that value, so a run directory made before still resumes.
ADDED_SETTINGS = {"radius": "norm"}


def compute(context, examples: TestExamples) -> dict[str, np.ndarray]:
    settings, logits_fn, labels = context.settings, context.model.classifier, examples.labels
    images = jnp.asarray(examples.images)
    epsilon = radius(settings, images.shape[1] * images.shape[2])
    nearest = ford.distance_to_error(
        logits_fn, images, labels, steps=settings.steps, epsilon=epsilon,
        bisection_steps=settings.bisection_steps,
    )  # fmt: skip
    context.log(f"  distance to error (ε={epsilon:.3g}): found {nearest.found.mean():.3f}, "
                f"median {np.median(nearest.distance):.4f}")  # fmt: skip
    key = context.key(examples, 0)
    noisy = ford.median_noisy_distance(
        logits_fn, images, labels, settings.noisy_sigma, points=settings.noisy_points,
        steps=settings.steps, key=key, epsilon=epsilon, bisection_steps=settings.bisection_steps,
        batch=settings.batch,
    )  # fmt: skip
    context.log(f"  median noisy distance (σ={settings.noisy_sigma:g}): "
                f"median {np.median(noisy.median):.4f}")  # fmt: skip
    results = {
        "index": examples.indices,
        "label": labels,
        "clean_probability": probabilities(logits_fn, images),
        "distance": nearest.distance,
        "unrefined": nearest.unrefined,
        "found": nearest.found,
        "noisy_distances": noisy.distances,
        "noisy_median": noisy.median,
        "noisy_median_of_correct": noisy.median_of_correct,
    }
    noise_error, noise_found = first_noise_errors(images, noisy.distances, key, settings)
    for source, errors, found in (("pgd", nearest.point, nearest.found),
                                  ("noise", noise_error, noise_found)):  # fmt: skip
        distance, kind = on_manifold(context, examples, errors, found)
        results[f"{source}_manifold_distance"], results[f"{source}_manifold_kind"] = distance, kind
    results["noise_error_found"] = noise_found
    return results


def radius(settings: ml_collections.ConfigDict, dimension: int) -> float:
    """The PGD ball ε of every distance search, from `radius_sigma` by the `radius` rule."""
    return ford.pgd_radius(settings.radius_sigma, dimension, settings.radius)


def first_noise_errors(images, distances: np.ndarray, key: jax.Array, settings):
    """Per image, its first noisy sample that is an error (distance 0), regenerated from
    the key as `ford.median_noisy_distance` drew it; the image itself where none is."""
    found = (distances == 0).any(axis=1)
    first = np.argmax(distances == 0, axis=1)
    errors = np.array(images)
    for number in np.unique(first[found]):
        rows = np.flatnonzero(found & (first == number))
        sample = ford.noisy_sample(key, images, settings.noisy_sigma, int(number))
        errors[rows] = np.asarray(sample)[rows]  # the draw of the whole chunk, as it was made
    return errors, found


def on_manifold(context, examples: TestExamples, errors, found: np.ndarray):
    """The nearest-curve distance and kind of each error found (NaN and -1 elsewhere)."""
    distance, kind = np.full(len(found), np.nan, np.float32), np.full(len(found), -1, np.int32)
    if found.any() and context.settings.manifold_steps:
        nearest = manifold.nearest_curve(
            context.model.classifier, np.asarray(errors)[found],
            examples.latents[found], examples.labels[found], family=context.family,
            resolution=context.resolution, steps=context.settings.manifold_steps,
            learning_rate=context.settings.manifold_learning_rate,
        )  # fmt: skip
        distance[found], kind[found] = nearest.distance, nearest.kind
    return distance, kind


def kind_fractions(kind: np.ndarray, clean_correct: np.ndarray) -> dict:
    """How many errors of each kind, and their fractions among the errors, of the images
    classified right clean (the 'error' of one classified wrong is the image itself)."""
    kind = np.where(clean_correct, kind, -1)
    errors = kind >= 0
    counts = {name: int(np.sum(kind == k)) for k, name in enumerate(manifold.KINDS)}
    total = int(errors.sum())
    return {"errors": total, **counts,
            **{f"{name}_fraction": counts[name] / total if total else None
               for name in manifold.KINDS}}  # fmt: skip


def rate_comparison(results: DistanceResults, context) -> dict | None:
    """Against this run's `ford_rates` (same images): distance / (−Φ⁻¹(μ)·σ(x, μ)) and
    median noisy distance / the isoperimetric bound at noisy_sigma, image by image."""
    summary = store.read_summary(context.out) or {}
    if "ford_rates" not in summary:
        return None
    rates = store.read_results(context.out, "ford_rates")
    common_rows = np.isin(results.index, rates.index)
    if not common_rows.all():
        return {"note": f"ford_rates holds {len(rates.index)} examples; compare the first ones"}
    rows = np.searchsorted(rates.index, results.index)
    sigma = rates.sigma_at_mu[rows]
    usable = np.isfinite(sigma) & (sigma > 0) & np.isfinite(results.distance)
    factor = halfspace_factor(store.read_settings(context.out)["analyses"]["ford_rates"]["mu"])
    ratio = results.distance[usable] / (factor * sigma[usable])
    comparison = {
        "images_compared": int(usable.sum()),
        "median_distance_over_halfspace": float(np.median(ratio)) if usable.any() else None,
    }
    at = np.flatnonzero(np.isclose(rates.sigma, context.settings.noisy_sigma))
    if len(at):
        mu = rates.rate[at[0], rows]
        bound = np.asarray(halfspace_distance(context.settings.noisy_sigma, mu))
        has_errors = (mu > 0) & (mu < 0.5)
        over = results.noisy_median[has_errors] / bound[has_errors]
        comparison.update(
            isoperimetric_images=int(has_errors.sum()),
            median_noisy_over_bound=float(np.median(over)) if has_errors.any() else None,
            bound_violations=int(np.sum(results.noisy_median[has_errors] > bound[has_errors])),
        )
    return comparison


def summarise(results: DistanceResults, context) -> dict:
    settings = context.settings
    dimension = context.resolution**2
    noisy_norm = settings.noisy_sigma * math.sqrt(dimension)
    return {
        "clean_accuracy": float(np.mean(results.clean_correct)),
        "epsilon": radius(settings, dimension),
        "found": float(np.mean(results.found)),
        "median_distance": float(np.median(results.distance)),
        "median_unrefined": float(np.median(results.unrefined)),
        "noisy_sigma": settings.noisy_sigma,
        "noisy_points": settings.noisy_points,
        "noise_norm": noisy_norm,
        "noise_norm_99": settings.noisy_sigma * math.sqrt(stats.chi2.ppf(0.99, dimension)),
        "median_noisy_distance": float(np.median(results.noisy_median)),
        "noisy_error_fraction": float(np.mean(results.noisy_distances == 0)),
        "pgd_errors_on_manifold": kind_fractions(results.pgd_manifold_kind, results.clean_correct),
        "median_pgd_manifold_distance": common.finite_median(results.pgd_manifold_distance),
        "noise_errors_on_manifold": kind_fractions(
            results.noise_manifold_kind, results.clean_correct
        ),
        "median_noise_manifold_distance": common.finite_median(results.noise_manifold_distance),
        "versus_rates": rate_comparison(results, context),
    }


def table(results: DistanceResults, context) -> list[dict]:
    kinds = ("none", *manifold.KINDS)
    return [
        {
            "index": int(index),
            "label": int(results.label[i]),
            "clean_correct": int(results.clean_correct[i]),
            "distance": f"{results.distance[i]:.6g}",
            "unrefined": f"{results.unrefined[i]:.6g}",
            "noisy_median": f"{results.noisy_median[i]:.6g}",
            "noisy_median_of_correct": f"{results.noisy_median_of_correct[i]:.6g}",
            "pgd_manifold_distance": f"{results.pgd_manifold_distance[i]:.6g}",
            "pgd_error_kind": kinds[results.pgd_manifold_kind[i] + 1],
            "noise_manifold_distance": f"{results.noise_manifold_distance[i]:.6g}",
            "noise_error_kind": kinds[results.noise_manifold_kind[i] + 1],
        }
        for i, index in enumerate(results.index)
    ]
