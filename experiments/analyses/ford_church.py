"""Church-window slices (Ford et al. 2019, Fig. 3 and App. G), and their latent twin.

Pixel slice of each test image x: the plane through x, a Gaussian-noise error n (the
first of `noise_draws` draws at `noise_sigma` that is misclassified, σ doubled up to
`noise_doublings` times when none is) and the PGD error p of `ford.distance_to_error`,
on the Gram–Schmidt basis e1 = (p − x)/‖p − x‖, e2 ⟂ e1 towards n; the model's class on a
`grid`×`grid` lattice spanning ±`pixel_extent`·max(‖n − x‖, ‖p − x‖).

Latent slice of its latent z: along the direction to the model's nearest latent error
(`ford_latent.latent_distance_to_error`) and a random direction orthogonal to it,
±`latent_extent`; each lattice point rendered for the model and labelled with Shapely,
so the figure draws the true decision boundary over the model's classes. Where no error
was found, that axis is a random direction too.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments.analyses import common
from experiments.attacks import ford, ford_latent, pgd
from experiments.classifier import probabilities
from experiments.results import ChurchResults
from experiments.runs.chunk_examples import TestExamples

RESULTS = ChurchResults
PER_EPSILON = RESULTS.PER_EPSILON
SHARED = RESULTS.SHARED
KEY_STREAM = 6


def default_settings() -> ml_collections.ConfigDict:
    settings = ml_collections.ConfigDict()
    settings.grid = 81
    settings.pixel_extent = 1.25
    settings.noise_sigma = 0.1
    settings.noise_draws = 1000
    settings.noise_doublings = 3
    settings.steps = 200
    settings.latent_grid = 61
    settings.latent_extent = 1.0
    settings.latent_epsilon = 4.8
    settings.batch = ford.DEFAULT_BATCH
    settings.seed = 0
    return settings


def check(settings: ml_collections.ConfigDict) -> None:
    for field in ("grid", "latent_grid"):
        common.check_integer(settings, field, 2)
    for field in ("noise_draws", "steps", "batch"):
        common.check_integer(settings, field, 1)
    common.check_integer(settings, "noise_doublings", 0)
    common.check_integer(settings, "seed", 0)
    for field in ("pixel_extent", "noise_sigma", "latent_extent", "latent_epsilon"):
        common.check_number(settings, field, 0, math.inf)


def unit_rows(x: np.ndarray) -> np.ndarray:
    flat = x.reshape(len(x), -1)
    return (flat / np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-30)).reshape(x.shape)


def orthogonal(direction: np.ndarray, other: np.ndarray) -> np.ndarray:
    """`other` minus its component along the unit `direction`, normalised (Gram–Schmidt)."""
    d, o = direction.reshape(len(direction), -1), other.reshape(len(other), -1)
    return unit_rows((o - np.sum(o * d, axis=1, keepdims=True) * d).reshape(other.shape))


def first_noise_error(logits_fn, image, label: int, key, settings):
    """The first misclassified draw of image + σ·n and its σ, σ doubling when none is;
    (None, nan) if there is none at all."""
    for doubling in range(settings.noise_doublings + 1):
        sigma = settings.noise_sigma * 2**doubling
        draws = ford.noisy_sample(
            jax.random.fold_in(key, doubling),
            jnp.broadcast_to(image, (settings.noise_draws, *image.shape)), sigma, 0,
        )  # fmt: skip
        classes = classify(logits_fn, np.asarray(draws), settings.batch)
        wrong = np.flatnonzero(classes != label)
        if len(wrong):
            return np.asarray(draws[wrong[0]]), sigma
    return None, math.nan


def classify(logits_fn, inputs: np.ndarray, batch: int) -> np.ndarray:
    """The model's class of each input, `batch` at a time."""
    return np.concatenate([
        np.asarray(jnp.argmax(logits_fn(jnp.asarray(inputs[i : i + batch])), -1))
        for i in range(0, len(inputs), batch)
    ])  # fmt: skip


def lattice(origin: np.ndarray, e1: np.ndarray, e2: np.ndarray, offsets: np.ndarray):
    """origin + u·e1 + v·e2 for every (v, u) of the offsets: (G·G, ...), v the slow axis."""
    v, u = np.meshgrid(offsets, offsets, indexing="ij")
    return (
        origin[None]
        + u.reshape(-1, *[1] * origin.ndim) * e1
        + v.reshape(-1, *[1] * origin.ndim) * e2
    )


def compute(context, examples: TestExamples) -> dict[str, np.ndarray]:
    settings, logits_fn, family = context.settings, context.model.classifier, context.family
    latent_model = pgd.through_renderer(logits_fn, family, context.resolution)
    images, latents, labels = examples.images, examples.latents, examples.labels
    count, grid, latent_grid = len(labels), settings.grid, settings.latent_grid
    key = context.key(examples, 0)
    pgd_error = ford.distance_to_error(logits_fn, images, labels, steps=settings.steps,
                                  sigma=settings.noise_sigma)  # fmt: skip
    latent_error = ford_latent.latent_distance_to_error(
        logits_fn, latents, labels, family=family, resolution=context.resolution,
        epsilon=settings.latent_epsilon, steps=settings.steps,
    )  # fmt: skip
    random = np.asarray(jax.random.normal(jax.random.fold_in(key, 1), images.shape))
    random_latent = np.asarray(jax.random.normal(jax.random.fold_in(key, 2), latents.shape))
    second_latent = np.asarray(jax.random.normal(jax.random.fold_in(key, 3), latents.shape))
    results = {
        "index": examples.indices,
        "label": labels,
        "clean_probability": probabilities(logits_fn, images),
        "offsets": np.linspace(-1, 1, grid),  # times each image's pixel_extent
        "pixel_extent": np.zeros(count),
        "pixel_class": np.zeros((count, grid, grid), np.int8),
        "pgd_point": np.full((count, 2), np.nan),
        "noise_point": np.full((count, 2), np.nan),
        "noise_sigma": np.full(count, np.nan),
        "latent_offsets": np.linspace(
            -settings.latent_extent, settings.latent_extent, latent_grid
        ),  # fmt: skip
        "latent_class": np.zeros((count, latent_grid, latent_grid), np.int8),
        "latent_truth": np.zeros((count, latent_grid, latent_grid), np.int8),
        "latent_error_point": np.full((count, 2), np.nan),
    }
    for i in range(count):
        x, label = images[i], int(labels[i])
        has_pgd = bool(
            pgd_error.found[i] and pgd_error.distance[i] > 0
        )  # 0: wrong clean, no direction
        e1 = unit_rows((pgd_error.point[i] - x if has_pgd else random[i])[None])[0]
        error, sigma = first_noise_error(logits_fn, x, label, jax.random.fold_in(key, 10 + i),
                                         settings)  # fmt: skip
        e2 = orthogonal(e1[None], (error - x if error is not None else random[i][::-1])[None])[0]
        reach = [float(pgd_error.distance[i]) if has_pgd else 0.0]
        if error is not None:
            offset = (error - x).ravel()
            results["noise_point"][i] = (offset @ e1.ravel(), offset @ e2.ravel())
            results["noise_sigma"][i] = sigma
            reach.append(np.linalg.norm(offset))
        if has_pgd:
            results["pgd_point"][i] = (pgd_error.distance[i], 0.0)
        # With no error at all, the typical noise norm σ√d sets the scale.
        scale = max(reach) or settings.noise_sigma * math.sqrt(x.size)
        extent = settings.pixel_extent * scale
        results["pixel_extent"][i] = extent
        points = lattice(x, e1, e2, results["offsets"] * extent)
        results["pixel_class"][i] = classify(logits_fn, points, settings.batch).reshape(grid, grid)
        z = latents[i]
        if latent_error.found[i] and latent_error.distance[i] > 0:
            f1 = unit_rows((latent_error.point[i] - z)[None])[0]
            results["latent_error_point"][i] = (latent_error.distance[i], 0.0)
        else:
            f1 = unit_rows(random_latent[i][None])[0]
        f2 = orthogonal(f1[None], second_latent[i][None])[0]
        points = lattice(z, f1, f2, results["latent_offsets"]).astype(np.float32)
        results["latent_class"][i] = classify(latent_model, points, settings.batch).reshape(
            latent_grid, latent_grid)  # fmt: skip
        results["latent_truth"][i] = pgd.true_labels(points, family).reshape(
            latent_grid, latent_grid)  # fmt: skip
    context.log(f"  church windows of {count} examples")
    return results


def summarise(results: ChurchResults, context) -> dict:
    agree = np.mean(results.latent_class == results.latent_truth, axis=(1, 2))
    return {
        "examples": len(results.index),
        "noise_errors_found": int(np.sum(np.isfinite(results.noise_sigma))),
        "pgd_errors_found": int(np.sum(np.isfinite(results.pgd_point[:, 0]))),
        "latent_slice_agreement_with_truth": [float(a) for a in agree],
    }


def table(results: ChurchResults, context) -> list[dict]:
    agreement = np.mean(results.latent_class == results.latent_truth, axis=(1, 2))
    return [
        {
            "index": int(index),
            "label": int(results.label[i]),
            "pgd_distance": f"{results.pgd_point[i, 0]:.6g}",
            "noise_sigma": f"{results.noise_sigma[i]:.6g}",
            "noise_u": f"{results.noise_point[i, 0]:.6g}",
            "noise_v": f"{results.noise_point[i, 1]:.6g}",
            "latent_error_distance": f"{results.latent_error_point[i, 0]:.6g}",
            "latent_agreement": f"{agreement[i]:.4f}",
        }
        for i, index in enumerate(results.index)
    ]
