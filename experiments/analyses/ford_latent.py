"""Ford et al. (2019) in latent space, with the ground truth only Squiggles has.

Per test latent: Gaussian noise z + σ_z·n at each σ_z of `sigmas`, each draw rendered for
the model and relabelled with Shapely (model errors, followed flips, missed flips;
`experiments.attacks.ford_latent`); σ(z, μ) against the model and against the true classifier;
and the latent distance to the model's nearest error (latent PGD that stops at the first
misclassification, refined by bisection) with the true label of the error found.

When the run directory also holds `boundary` results (the distance to the true decision
boundary, Fig. 8 of Kindermans & Staats), the summary sets it against σ(z, μ) of the
truth: how much of a half-space the true boundary itself is.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

import squiggles
from experiments.analyses import common
from experiments.attacks import ford, ford_latent
from experiments.classifier import probabilities
from experiments.results import LatentResults, halfspace_factor
from experiments.runs import store
from experiments.runs.chunk_examples import TestExamples

RESULTS = LatentResults
PER_EPSILON = RESULTS.PER_EPSILON
SHARED = RESULTS.SHARED
KEY_STREAM = 5
OUTCOMES = PER_EPSILON


def default_settings() -> ml_collections.ConfigDict:
    settings = ml_collections.ConfigDict()
    settings.sigmas = (0.05, 0.1, 0.2, 0.4)  # σ_z (Taylor latents lie in [-1, 1])
    settings.samples = 1000
    settings.mu = 0.01
    settings.sigma_samples = 1000
    settings.sigma_high = 4.0
    settings.sigma_tol = 1e-2
    settings.epsilon = 4.8  # latent ball of the distance search (the top of the ε grid)
    settings.steps = 200
    settings.bisection_steps = 10
    settings.batch = ford.DEFAULT_BATCH
    settings.seed = 0
    return settings


def check(settings: ml_collections.ConfigDict) -> None:
    common.check_grid(settings, "sigmas")
    for field in ("samples", "sigma_samples", "steps", "batch"):
        common.check_integer(settings, field, 1)
    common.check_integer(settings, "bisection_steps", 0)
    common.check_integer(settings, "seed", 0)
    common.check_number(settings, "mu", 0, 1)
    common.check_number(settings, "sigma_high", 0, math.inf)
    common.check_number(settings, "sigma_tol", 0, settings.sigma_high)
    common.check_number(settings, "epsilon", 0, math.inf)


def compute(context, examples: TestExamples) -> dict[str, np.ndarray]:
    settings, logits_fn = context.settings, context.model.classifier
    latents, labels = examples.latents, examples.labels
    options = dict(family=context.family, resolution=context.resolution, batch=settings.batch)
    key = context.key(examples, 0)
    outcomes = [
        ford_latent.latent_error_rate(
            logits_fn,
            latents,
            labels,
            sigma,
            samples=settings.samples,
            key=jax.random.fold_in(key, k),
            **options,
        )  # fmt: skip
        for k, sigma in enumerate(settings.sigmas)
    ]
    for sigma, outcome in zip(settings.sigmas, outcomes, strict=True):
        rates = {name: float(np.mean(value)) for name, value in outcome.rates().items()}
        context.log(f"  σ_z={sigma:g}: disagreements {rates['disagreements']:.4f}, of which "
                    f"followed flips {rates['followed_flips']:.4f}; missed flips "
                    f"{rates['missed_flips']:.4f}")  # fmt: skip
    results = {
        "index": examples.indices,
        "label": labels,
        # Of the rendered latent (not the stored image): what the noise and PGD start from.
        "clean_probability": probabilities(
            logits_fn, squiggles.render(jnp.asarray(latents), context.family, context.resolution)
        ),
        "sigma": np.asarray(settings.sigmas, np.float64),
        "samples": np.asarray(settings.samples),
        **{
            name: np.stack([getattr(o, name) for o in outcomes]).astype(np.int32)
            for name in OUTCOMES
        },  # fmt: skip
    }
    for against in ford_latent.Against:
        results[f"sigma_{against}"] = ford_latent.latent_sigma_at_error_rate(
            logits_fn, latents, labels, settings.mu, against=against,
            samples=settings.sigma_samples, key=context.key(examples, 1),
            high=settings.sigma_high, tol=settings.sigma_tol, **options,
        )  # fmt: skip
    nearest = ford_latent.latent_distance_to_error(
        logits_fn, latents, labels, family=context.family, resolution=context.resolution,
        epsilon=settings.epsilon, steps=settings.steps, bisection_steps=settings.bisection_steps,
    )  # fmt: skip
    results.update(distance=nearest.distance, found=nearest.found,
                   error_true_label=nearest.true_label)  # fmt: skip
    context.log(f"  σ(z, {settings.mu:g}): median model {np.median(results['sigma_model']):.3f}, "
                f"truth {np.median(results['sigma_truth']):.3f}; latent distance to error "
                f"median {np.median(nearest.distance):.3f}")  # fmt: skip
    return results


def _median(values: np.ndarray) -> float | None:
    return float(np.median(values)) if len(values) else None


def halfspace_ratio(distance: np.ndarray, sigma: np.ndarray, mu: float) -> float | None:
    """Median of distance / (−Φ⁻¹(μ)·σ) over images where both are finite and σ > 0."""
    usable = np.isfinite(distance) & np.isfinite(sigma) & (sigma > 0)
    return _median(distance[usable] / (halfspace_factor(mu) * sigma[usable]))


def boundary_comparison(results: LatentResults, context) -> dict | None:
    """The true boundary's distance (this directory's `boundary` results) against
    2.326·σ(z, μ) of the truth, on the images both hold."""
    if "boundary" not in (store.read_summary(context.out) or {}):
        return None
    boundary = store.read_results(context.out, "boundary")
    both = np.intersect1d(results.index, boundary.index)
    mine, theirs = np.searchsorted(results.index, both), np.searchsorted(boundary.index, both)
    distance = boundary.refined_distance[theirs]
    return {
        "images": int(len(both)),
        "median_true_boundary_distance": common.finite_median(distance),
        "median_true_distance_over_halfspace": halfspace_ratio(
            distance, results.sigma_truth[mine], context.settings.mu
        ),
    }  # fmt: skip


def summarise(results: LatentResults, context) -> dict:
    samples = float(results.samples)
    per_sigma = []
    for k, sigma in enumerate(results.sigma):
        disagreements = results.disagreements[k].sum()
        per_sigma.append({
            "sigma_z": float(sigma),
            **{f"{name}_rate": float(getattr(results, name)[k].mean() / samples)
               for name in OUTCOMES},
            "label_change_rate": float(results.label_changes[k].mean() / samples),
            "disagreement_rate": float(results.disagreements[k].mean() / samples),
            "true_error_rate": float(results.true_errors[k].mean() / samples),
            # Of what Ford et al. would count as errors in noise: real class changes.
            "disagreements_that_are_class_changes": float(results.followed_flips[k].sum()
                                                          / disagreements)
            if disagreements else None,
        })  # fmt: skip
    found = results.found & (results.distance > 0)  # an error other than the clean latent
    return {
        "clean_accuracy": float(np.mean(results.clean_correct)),
        "samples": int(results.samples),
        "per_sigma": per_sigma,
        "sigma_model": _median(results.sigma_model),
        "sigma_truth": _median(results.sigma_truth),
        "sigma_model_not_reached": int(np.sum(~np.isfinite(results.sigma_model))),
        "sigma_truth_not_reached": int(np.sum(~np.isfinite(results.sigma_truth))),
        "found": float(np.mean(found)),
        "median_distance": float(np.median(results.distance)),
        "median_distance_over_halfspace": halfspace_ratio(
            results.distance, results.sigma_model, context.settings.mu
        ),
        "errors_that_change_the_label": float(np.mean(results.error_true_label[found]
                                                      != results.label[found]))
        if found.any() else None,
        "true_boundary": boundary_comparison(results, context),
    }  # fmt: skip


def table(results: LatentResults, context) -> list[dict]:
    samples = float(results.samples)
    return [
        {
            "index": int(index),
            "label": int(results.label[i]),
            "clean_correct": int(results.clean_correct[i]),
            **{
                f"{name}_{sigma:g}": f"{getattr(results, name)[k, i] / samples:.6g}"
                for k, sigma in enumerate(results.sigma)
                for name in OUTCOMES
            },
            "sigma_model": f"{results.sigma_model[i]:.6g}",
            "sigma_truth": f"{results.sigma_truth[i]:.6g}",
            "distance": f"{results.distance[i]:.6g}",
            "error_true_label": int(results.error_true_label[i]),
        }  # fmt: skip
        for i, index in enumerate(results.index)
    ]
