"""The true-class distance search. Where the exact answer is known (a linear renderer
and a half-space label: the nearest other-class image is a quadratic programme with a
closed form) the search must come close to it and never below it; on Squiggles every
image it returns must be of the other true class (Shapely), at the distance it reports."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import squiggles
from experiments.attacks import pgd, true_class

LATENT, PIXELS = 6, 3  # latents of 6 numbers rendered linearly to 3×3 images
MIXING = np.array(jax.random.normal(jax.random.key(0), (LATENT, PIXELS * PIXELS)))
MIXING[:, :LATENT] += 3 * np.eye(LATENT)  # well conditioned, far from isotropic
NORMAL = np.asarray(jax.random.normal(jax.random.key(1), (LATENT,)), np.float64)
OFFSET = 1.0


def linear_render(z):
    return (z @ jnp.asarray(MIXING, jnp.float32)).reshape(len(z), PIXELS, PIXELS)


def half_space_label(z) -> np.ndarray:
    return (np.asarray(z, np.float64) @ NORMAL > OFFSET).astype(np.int32)


def exact_distance(origins: np.ndarray) -> np.ndarray:
    """min ‖(z − z₀)·A‖ over w·z = c: (c − w·z₀) / √(wᵀ(AAᵀ)⁻¹w)."""
    metric = MIXING @ MIXING.T
    return (OFFSET - origins @ NORMAL) / np.sqrt(NORMAL @ np.linalg.solve(metric, NORMAL))


@functools.cache
def linear_search(iterations: int):
    origins = np.array(jax.random.normal(jax.random.key(2), (12, LATENT)), np.float32) * 0.3
    origins -= np.maximum(origins @ NORMAL - OFFSET + 0.2, 0)[:, None] * NORMAL / (NORMAL @ NORMAL)
    labels = half_space_label(origins)
    # Start across the boundary along a random direction, as a navigator would land.
    directions = np.array(jax.random.normal(jax.random.key(3), (12, LATENT)), np.float32)
    directions *= np.sign(directions @ NORMAL)[:, None]
    starts = origins + directions * ((OFFSET - origins @ NORMAL) / (directions @ NORMAL))[:, None]
    starts += 1e-3 * NORMAL / np.linalg.norm(NORMAL)
    latents, distance = true_class.descend_along_boundary(
        linear_render, half_space_label, origins, labels, starts.astype(np.float32),
        iterations=iterations, step=0.5, bisection_steps=20,
    )  # fmt: skip
    start_distance = pgd.norms(np.asarray(linear_render(starts) - linear_render(origins)))
    return origins, labels, latents, distance, start_distance


def test_on_a_linear_renderer_the_search_comes_within_five_percent_of_the_exact_distance():
    origins, labels, latents, distance, start_distance = linear_search(120)
    assert np.all(labels == 0)
    exact = exact_distance(origins.astype(np.float64))
    assert np.all(distance >= exact * (1 - 1e-4))  # an upper bound, never below the truth
    assert np.all(distance <= exact * 1.05)
    assert np.median(distance / exact) < 1.02
    assert np.median(start_distance / exact) > 1.2  # the start alone is far from it
    np.testing.assert_array_equal(half_space_label(latents), 1)  # of the other class


def test_more_iterations_never_give_a_larger_bound():
    few, many = linear_search(5)[3], linear_search(120)[3]
    assert np.all(many <= few + 1e-6)


def test_bisect_finds_the_first_change_of_label_to_the_requested_precision():
    start = np.zeros((2, LATENT), np.float32)
    end = np.stack([NORMAL, 3 * NORMAL]).astype(np.float32)  # w·end = |w|², 3|w|²
    fraction, point = true_class.bisect(half_space_label, start, end, np.zeros(2), steps=20)
    exact = OFFSET / (NORMAL @ NORMAL) / np.array([1.0, 3.0])
    np.testing.assert_allclose(fraction, exact, atol=2e-6)
    assert np.all(fraction >= exact)  # on the changed side
    np.testing.assert_array_equal(half_space_label(point), 1)


def test_a_start_of_the_same_class_is_reported_as_not_found():
    origins = np.zeros((1, LATENT), np.float32)
    latents, distance = true_class.descend_along_boundary(
        linear_render, half_space_label, origins, np.zeros(1), origins, iterations=2
    )
    assert distance[0] == np.inf
    np.testing.assert_array_equal(latents, origins)


@pytest.mark.parametrize(
    "options, message",
    [({"step": 0.0}, "step must be a finite number > 0"), ({"reach": 1.0}, "reach must be")],
)
def test_bad_search_settings_are_refused(options, message):
    origins = np.zeros((1, LATENT), np.float32)
    with pytest.raises(ValueError, match=message):
        true_class.descend_along_boundary(
            linear_render, half_space_label, origins, np.zeros(1), origins, **options
        )


def test_on_squiggles_every_image_found_is_of_the_other_true_class():
    family = squiggles.family_from_name("taylor")
    latents = np.asarray(squiggles.sample_latents(family, 6, seed=5))
    labels = pgd.true_labels(latents, family).astype(np.int32)

    def navigator(images):  # a fixed random linear classifier: only a guide
        weight = jax.random.normal(jax.random.key(6), images.shape[1:]) / 60
        score = jnp.sum(images * weight, axis=(1, 2))
        return jnp.stack([-score, score], axis=1)

    found = true_class.true_class_distance(
        navigator, latents, labels, family=family, resolution=32, epsilons=(1.2, 4.8), batch=8,
        steps=5, step_fraction=0.25, block=5, crossing_bisection_steps=8, iterations=2,
        bisection_steps=4,
    )  # fmt: skip
    assert found.found.any()
    hit = found.found
    np.testing.assert_array_equal(pgd.true_labels(found.latent[hit], family), 1 - labels[hit])
    images = np.asarray(squiggles.render(latents, family, 32))
    others = np.asarray(squiggles.render(found.latent, family, 32))
    np.testing.assert_allclose(pgd.norms(others - images)[hit], found.distance[hit], rtol=1e-4)
    assert np.all(found.distance[hit] <= found.crossing_distance[hit] + 1e-5)
    assert np.all(found.distance[~hit] == np.inf)
