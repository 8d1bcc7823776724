"""Certified robustness with the ground truth: randomized smoothing's certificates
(Cohen, Rosenfeld & Kolter, 2019) against each example's true-class distance.

Per test example: CERTIFY of the model smoothed at σ (n₀ selection draws, n estimation
draws, level α; `experiments.attacks.smoothing`), and an upper bound on the ℓ2 distance
from its image to an image of the other true class (`experiments.attacks.true_class`:
across the true boundary in latent space, guided by a navigator, then along it in pixel
space; every point relabelled with Shapely). A certificate is *provably wrong* when it is
right at the example and its radius exceeds that distance: the smoothed classifier is
then proven to keep its class on a real curve of the other class. PREDICT of the smoothed
classifier on that other-class image (n draws, level α) shows it doing so.

The summary gives, per radius of `radii`, Cohen et al.'s certified accuracy, the share of
examples certified there with an other-class image inside the radius, and the share whose
true-class distance is at least the radius (what a classifier that is right everywhere
could certify at most). The figures (`experiments.figures --certify_runs`) add the attack
ensemble's robust accuracy at the same radii when the run holds `ensemble` results.
"""

from __future__ import annotations

import ml_collections
import numpy as np

import squiggles
from experiments.analyses import common
from experiments.attacks import ford, pgd, smoothing, true_class
from experiments.classifier import probabilities
from experiments.results import CertifyResults, predicted
from experiments.runs.chunk_examples import TestExamples

RESULTS = CertifyResults
PER_EPSILON = RESULTS.PER_EPSILON
SHARED = RESULTS.SHARED
KEY_STREAM = 8  # the noise draws: fold_in(key(seed), 8)
SUMMARY_SETTINGS = ("radii",)  # they change only the summary
NOT_CHECKED = -2  # other_prediction of an example whose certificate covers no class change


def default_settings() -> ml_collections.ConfigDict:
    settings = ml_collections.ConfigDict()
    settings.sigma = 0.25  # the smoothing noise: the σ the model was trained with
    settings.selection_samples = 100  # n₀ (the paper's)
    settings.samples = 100_000  # n (the paper's)
    settings.alpha = 0.001
    settings.batch = ford.DEFAULT_BATCH  # images per forward pass of the draws
    settings.radii = (0.0, 0.25, 0.5, 0.75, 1.0)  # of the summary's curve
    # The classifier that guides the search across the true boundary (unset: the analysed
    # model), and that search's settings (the `boundary` analysis's).
    settings.navigator = ml_collections.config_dict.placeholder(str)
    settings.epsilons = (0.15, 0.3, 0.6, 1.2, 2.4, 4.8)
    settings.steps = pgd.STEPS
    settings.step_fraction = pgd.STEP_FRACTION
    settings.block = 10
    settings.crossing_bisection_steps = 20
    # The search along the boundary in pixel space.
    settings.search_iterations = 240
    settings.search_step = 0.5
    settings.search_bisection_steps = 12
    settings.seed = 0
    return settings


def check(settings: ml_collections.ConfigDict) -> None:
    common.check_number(settings, "sigma", 0, float("inf"))
    common.check_number(settings, "alpha", 0, 1)
    for field in ("selection_samples", "samples", "batch", "crossing_bisection_steps",
                  "search_bisection_steps"):  # fmt: skip
        common.check_integer(settings, field, 1)
    common.check_integer(settings, "search_iterations", 0)
    common.check_integer(settings, "seed", 0)
    common.check_number(settings, "search_step", 0, float("inf"))
    common.check_grid(settings, "radii")
    common.check_epsilons(settings)
    common.check_pgd(settings)


def models(settings: ml_collections.ConfigDict) -> dict[str, str | None]:
    return {"navigator": settings.navigator}


def compute(context, examples: TestExamples) -> dict[str, np.ndarray]:
    settings, model = context.settings, context.model.classifier
    certificate = smoothing.certify(
        model, examples.images, settings.sigma, selection_samples=settings.selection_samples,
        samples=settings.samples, alpha=settings.alpha, key=context.key(examples, 0),
        batch=settings.batch,
    )  # fmt: skip
    correct = certificate.prediction == examples.labels
    context.log(
        f"  certify σ={settings.sigma:g}: right and certified {correct.mean():.3f}, "
        f"abstained {np.mean(certificate.prediction == smoothing.ABSTAIN):.3f}"
    )
    navigator = context.models["navigator"]
    nearest = true_class_search(
        settings, navigator.classifier, examples.latents, examples.labels,
        family=context.family, resolution=context.resolution, batch=context.batch,
        navigator_resolution=navigator.resolution, log=context.log,
    )  # fmt: skip
    other = np.asarray(squiggles.render(nearest.latent, context.family, context.resolution))
    other = np.where(nearest.found[:, None, None], other, examples.images)
    covered = correct & (certificate.radius > nearest.distance)
    other_prediction = np.full(len(covered), NOT_CHECKED, np.int8)
    if covered.any():  # the smoothed model on the other-class image its certificate covers
        other_prediction[covered] = smoothing.predict(
            model, other[covered], settings.sigma, samples=settings.samples,
            alpha=settings.alpha, key=context.key(examples, 1), batch=settings.batch,
        ).prediction  # fmt: skip
    return {
        "index": examples.indices,
        "label": examples.labels,
        "clean_probability": probabilities(model, examples.images),
        "sigma": np.asarray(settings.sigma, np.float64),
        "samples": np.asarray(settings.samples),
        "prediction": certificate.prediction.astype(np.int8),
        "radius": certificate.radius,
        "p_lower": certificate.p_lower,
        "top_count": certificate.top_count.astype(np.int32),
        "distance": nearest.distance,
        "crossing_distance": nearest.crossing_distance,
        "latent_distance": nearest.latent_distance,
        "image": examples.images.astype(np.float16),
        "other_image": other.astype(np.float16),
        "other_prediction": other_prediction,
    }  # fmt: skip


def true_class_search(
    settings: ml_collections.ConfigDict, navigator, latents, labels, *,
    family: squiggles.Family, resolution: int, batch: int,
    navigator_resolution: int | None = None, log=lambda line: None,
) -> true_class.TrueClassDistance:  # fmt: skip
    """`true_class.true_class_distance` with this analysis's search settings."""
    return true_class.true_class_distance(
        navigator, latents, np.asarray(labels, np.int32), family=family, resolution=resolution,
        epsilons=settings.epsilons, batch=batch, steps=settings.steps,
        step_fraction=settings.step_fraction, block=settings.block,
        crossing_bisection_steps=settings.crossing_bisection_steps,
        iterations=settings.search_iterations, step=settings.search_step,
        bisection_steps=settings.search_bisection_steps,
        navigator_resolution=navigator_resolution, log=log,
    )  # fmt: skip


def share(chosen: np.ndarray) -> dict:
    """A share of the examples with its count and 95 % Clopper–Pearson interval."""
    count, total = int(np.sum(chosen)), len(chosen)
    low, high = ford.clopper_pearson(count, total)
    return {"share": count / total, "count": count, "low": float(low), "high": float(high)}


def summarise(results: CertifyResults, context) -> dict:
    settings = context.settings
    right = results.correct
    finite = np.isfinite(results.distance)
    return {
        "examples": len(results.index),
        "sigma": float(results.sigma),
        "samples": int(results.samples),
        "selection_samples": settings.selection_samples,
        "alpha": settings.alpha,
        "base_clean_accuracy": float(np.mean(results.clean_correct)),
        "smoothed_accuracy": share(right),
        "abstained": share(results.prediction == smoothing.ABSTAIN),
        "median_radius": float(np.median(np.where(right, results.radius, 0.0))),
        "median_radius_of_right": common.finite_median(results.radius[right]),
        "wrong_certificates": share(results.wrong_certificate),
        "wrong_of_right_certificates": share(results.wrong_certificate[right]) if right.any()
        else None,
        "distance_found": share(finite),
        "median_true_class_distance": float(np.median(results.distance)),
        "median_crossing_distance": float(np.median(results.crossing_distance)),
        "median_radius_ratio": common.finite_median(results.radius_ratio[right & finite]),
        "per_radius": [
            {
                "radius": float(radius),
                "certified_accuracy": share(results.certified(radius)),
                "provably_wrong": share(results.provably_wrong(radius)),
                "true_class_beyond": share(results.distance >= radius),
            }
            for radius in settings.radii
        ],
    }  # fmt: skip


def table(results: CertifyResults, context) -> list[dict]:
    """One row per example: its certificate and its true-class distance."""
    return [
        {
            "index": int(index),
            "label": int(results.label[i]),
            "base_prediction": int(predicted(results.clean_probability[i])),
            "smoothed_prediction": int(results.prediction[i]),
            "radius": f"{results.radius[i]:.6g}",
            "p_lower": f"{results.p_lower[i]:.6g}",
            "true_class_distance": f"{results.distance[i]:.6g}",
            "crossing_distance": f"{results.crossing_distance[i]:.6g}",
            "wrong_certificate": int(results.wrong_certificate[i]),
        }
        for i, index in enumerate(results.index)
    ]
