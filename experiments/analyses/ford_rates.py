"""Ford et al. (2019) in pixel space, part 1: error rates in Gaussian noise.

Per test image: μ(x, σ) at each σ of `sigmas` from `samples` draws with its 95 %
Clopper–Pearson interval; whether each of `accuracy_draws` independent draws at each σ of
`accuracy_sigmas` is misclassified (accuracy in noise ± 1 SD over draws); and σ(x, μ) by
bisection on `sigma_samples` fixed draws. Noise is never clipped to [0, 1].
"""

from __future__ import annotations

import jax
import ml_collections
import numpy as np

from experiments.analyses import common
from experiments.attacks import ford
from experiments.classifier import probabilities
from experiments.results import RateResults, halfspace_factor
from experiments.runs.chunk_examples import TestExamples

RESULTS = RateResults
PER_EPSILON = RESULTS.PER_EPSILON
SHARED = RESULTS.SHARED
KEY_STREAM = 3


def default_settings() -> ml_collections.ConfigDict:
    settings = ml_collections.ConfigDict()
    settings.sigmas = (0.05, 0.1)  # μ(x, σ) with `samples` draws (the CDF of Fig. 4's σ)
    settings.samples = 1000
    settings.accuracy_sigmas = (0.0125, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8)
    settings.accuracy_draws = 10
    settings.mu = 0.01  # σ(x, μ)
    settings.sigma_samples = 1000
    settings.sigma_high = 1.0
    settings.sigma_tol = 1e-3
    settings.batch = ford.DEFAULT_BATCH  # images per forward pass
    settings.seed = 0
    return settings


def check(settings: ml_collections.ConfigDict) -> None:
    common.check_grid(settings, "sigmas")
    common.check_grid(settings, "accuracy_sigmas")
    for field in ("samples", "accuracy_draws", "sigma_samples", "batch"):
        common.check_integer(settings, field, 1)
    common.check_integer(settings, "seed", 0)
    common.check_number(settings, "mu", 0, 1)
    common.check_number(settings, "sigma_high", 0, float("inf"))
    common.check_number(settings, "sigma_tol", 0, settings.sigma_high)


def compute(context, examples: TestExamples) -> dict[str, np.ndarray]:
    settings, logits_fn = context.settings, context.model.classifier
    images, labels = examples.images, examples.labels
    options = dict(batch=settings.batch)
    key = context.key(examples, 0)
    results = {
        "index": examples.indices,
        "label": labels,
        "clean_probability": probabilities(logits_fn, images),
        "sigma": np.asarray(settings.sigmas, np.float64),
        "samples": np.asarray(settings.samples),
        "accuracy_sigma": np.asarray(settings.accuracy_sigmas, np.float64),
    }
    rates = [
        ford.error_rate(
            logits_fn,
            images,
            labels,
            sigma,
            samples=settings.samples,
            key=jax.random.fold_in(key, k),
            **options,
        )  # fmt: skip
        for k, sigma in enumerate(settings.sigmas)
    ]
    results["errors"] = np.stack([r.errors for r in rates]).astype(np.int32)
    results["rate_low"] = np.stack([r.low for r in rates])
    results["rate_high"] = np.stack([r.high for r in rates])
    for sigma, rate in zip(settings.sigmas, rates, strict=True):
        context.log(f"  σ={sigma:g}: mean μ {rate.rate.mean():.4f}")
    draws_key = context.key(examples, 1)
    results["noise_wrong"] = np.concatenate([
        ford.wrong_draws(logits_fn, images, labels, sigma, draws=settings.accuracy_draws,
                          key=jax.random.fold_in(draws_key, a), **options)
        for a, sigma in enumerate(settings.accuracy_sigmas)
    ])  # fmt: skip
    results["sigma_at_mu"] = ford.sigma_at_error_rate(
        logits_fn, images, labels, settings.mu, samples=settings.sigma_samples,
        key=context.key(examples, 2), high=settings.sigma_high, tol=settings.sigma_tol,
        **options,
    )  # fmt: skip
    context.log(f"  σ(x, {settings.mu:g}): median {np.median(results['sigma_at_mu']):.4f}")
    return results


def sigma_summary(values: np.ndarray, clean_correct: np.ndarray) -> dict:
    """σ(x, μ) over images: misclassified clean (0) and never reached (inf) counted."""
    reached = np.isfinite(values) & clean_correct
    return {
        "median": float(np.median(values)),
        "median_of_reached": float(np.median(values[reached])) if reached.any() else None,
        "misclassified_clean": int(np.sum(~clean_correct)),
        "not_reached": int(np.sum(~np.isfinite(values))),
    }


def summarise(results: RateResults, context) -> dict:
    settings = context.settings
    accuracy = results.accuracy_draws()
    return {
        "clean_accuracy": float(np.mean(results.clean_correct)),
        "samples": int(results.samples),
        "per_sigma": [
            {
                "sigma": float(sigma),
                "mean_rate": float(np.mean(results.rate[k])),
                "median_rate": float(np.median(results.rate[k])),
                "zero_rate": float(np.mean(results.errors[k] == 0)),
                "accuracy": float(1 - np.mean(results.rate[k])),
            }
            for k, sigma in enumerate(results.sigma)
        ],
        "accuracy_in_noise": [
            {
                "sigma": float(sigma),
                "mean": float(np.mean(row)),
                "sd": float(np.std(row, ddof=1)) if len(row) > 1 else 0.0,
                "draws": len(row),
            }  # fmt: skip
            for sigma, row in zip(results.accuracy_sigma, accuracy, strict=True)
        ],
        "mu": settings.mu,
        "sigma_at_mu": sigma_summary(results.sigma_at_mu, results.clean_correct),
        "halfspace_factor": halfspace_factor(settings.mu),
    }


def table(results: RateResults, context) -> list[dict]:
    return [
        {
            "index": int(index),
            "label": int(results.label[i]),
            "clean_correct": int(results.clean_correct[i]),
            **{
                f"mu_{sigma:g}": f"{results.rate[k, i]:.6g}"
                for k, sigma in enumerate(results.sigma)
            },
            **{
                f"mu_{sigma:g}_low": f"{results.rate_low[k, i]:.6g}"
                for k, sigma in enumerate(results.sigma)
            },  # fmt: skip
            **{
                f"mu_{sigma:g}_high": f"{results.rate_high[k, i]:.6g}"
                for k, sigma in enumerate(results.sigma)
            },  # fmt: skip
            "sigma_at_mu": f"{results.sigma_at_mu[i]:.6g}",
        }
        for i, index in enumerate(results.index)
    ]
