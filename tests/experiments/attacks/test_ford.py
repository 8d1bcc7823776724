"""experiments.attacks.ford against the closed forms of a linear model.

For logits (−s, s), s = w·x + b with ‖w‖ = 1, an image at distance d = |w·x + b| from
the plane and correctly labelled has: μ(x, σ) = Φ(−d/σ); σ(x, μ) = −d/Φ⁻¹(μ); distance
to the nearest error d; and a noisy sample x + σ·n lies at distance max(0, d + σ·g),
g = w·n ~ N(0, 1), so the median noisy distance is d = halfspace_distance(σ, Φ(−d/σ)).
Since the draws are documented, most tests also recompute them and check exactly.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from experiments.attacks import ford
from experiments.results import HALF_SPACE_FACTOR, check_rate, halfspace_distance

R = 6  # images R×R
W64 = np.random.default_rng(42).normal(size=R * R)
W64 /= np.linalg.norm(W64)
W = W64.astype(np.float32)
W64 = W.astype(np.float64)  # the float32 weights the model uses, exactly
B = 0.1
KEY = jax.random.key(0)


def linear_with(w, b, x):
    s = x.reshape(x.shape[0], -1) @ w + b
    return jnp.stack([-s, s], -1)


def linear_logits(x):
    return linear_with(jnp.asarray(W), B, x)


def nan_logits(x):
    return jnp.full((x.shape[0], 2), jnp.nan)


def nan_when_far(x):
    """Finite on images in [0, 1], NaN on any image with a pixel beyond 5."""
    logits = linear_logits(x)
    bad = jnp.any(jnp.abs(x) > 5, axis=(1, 2))
    return jnp.where(bad[:, None], jnp.nan, logits)


def margins(images):
    """w·x + b per image, in float64."""
    return np.asarray(images, np.float64).reshape(len(images), -1) @ W64 + B


def images_at(distances, seed=0, flip=()):
    """Images at the given distances from the plane, alternately on either side, with
    their correct labels (wrong for the indices in `flip`) and exact distances."""
    count = len(distances)
    side = np.where(np.arange(count) % 2 == 0, 1.0, -1.0)
    base = np.random.default_rng(seed).uniform(0.3, 0.7, (count, R * R))
    base += (side * np.asarray(distances) - (base @ W64 + B))[:, None] * W64
    images = jnp.asarray(base.reshape(count, R, R), jnp.float32)
    s = margins(images)
    labels = (s > 0).astype(np.int32)
    labels[list(flip)] = 1 - labels[list(flip)]
    return images, jnp.asarray(labels), np.abs(s)


def signed_draws(key, images, labels, samples, per_pass):
    """y·(w·n) of draw j of image i, y = ±1 the side of its label, drawn as documented:
    normal(fold_in(key, j // per_pass))[i, j % per_pass]."""
    count = len(images)
    passes = -(-samples // per_pass)
    shape = (count, per_pass, R, R)
    g = np.concatenate([
        np.asarray(jax.random.normal(jax.random.fold_in(key, p), shape, jnp.float32))
        .reshape(count, per_pass, -1).astype(np.float64) @ W64
        for p in range(passes)
    ], axis=1)[:, :samples]  # fmt: skip
    y = np.where(np.asarray(labels) == 1, 1.0, -1.0)
    return y[:, None] * g


def expected_errors(images, labels, sigma, g):
    """Misclassified draws of each image: y·(s + σ·g) <= 0."""
    y = np.where(np.asarray(labels) == 1, 1.0, -1.0)
    sigma = np.broadcast_to(np.asarray(sigma, np.float64), (len(images),))
    return np.sum((y * margins(images))[:, None] + sigma[:, None] * g <= 0, axis=1)


def phi(x):
    return stats.norm.cdf(x)


# One set of images for most tests, so that the jitted programs compile once: correctly
# labelled at these distances, but for FAR (beyond every ball and σ) and FLIPPED (wrong
# clean). Counting uses SAMPLES draws: passes of 128 = min(1024 // 8, 400) draws per image,
# the last one short (400 = 3·128 + 16).
DISTANCES = [0.02, 0.05, 0.1, 0.2, 0.4, 1.0, 3.0, 0.3]
FAR, FLIPPED = 6, 7
IMAGES, LABELS, D = images_at(DISTANCES, flip=[FLIPPED])
SIGNED = np.where(np.asarray(LABELS) == 1, 1.0, -1.0) * margins(IMAGES)  # y·s: < 0 if wrong
CORRECT = SIGNED > 0
SAMPLES, PER_PASS = 400, 128


def true_rate(sigma):
    """μ(x, σ) = P(y·(s + σ·g) <= 0) = Φ(−y·s/σ), for either side."""
    return phi(-SIGNED / sigma)


def errors_at(sigma, logits_fn=linear_logits, key=KEY, **options):
    return ford.count_errors(logits_fn, IMAGES, LABELS, sigma, samples=SAMPLES, key=key, **options)


# ---------------------------------------------------------------- error rate


def test_error_rate_counts_exactly_the_documented_draws_and_covers_the_true_rate():
    assert ford.draws_per_pass(len(IMAGES), ford.DEFAULT_BATCH) == PER_PASS
    sigma = 0.25
    result = ford.error_rate(linear_logits, IMAGES, LABELS, sigma, samples=SAMPLES, key=KEY)
    g = signed_draws(KEY, IMAGES, LABELS, SAMPLES, PER_PASS)
    np.testing.assert_array_equal(result.errors, expected_errors(IMAGES, LABELS, sigma, g))
    assert result.samples == SAMPLES
    np.testing.assert_array_equal(result.rate, result.errors / SAMPLES)
    low, high = ford.clopper_pearson(result.errors, SAMPLES)
    np.testing.assert_array_equal(result.low, low)
    np.testing.assert_array_equal(result.high, high)
    mu = true_rate(sigma)
    covered = (result.low <= mu) & (mu <= result.high)
    assert covered.sum() >= len(IMAGES) - 1, (mu, result.low, result.high)
    # The rates are near the closed form, not only inside wide intervals.
    se = np.sqrt(mu * (1 - mu) / SAMPLES)
    assert np.all(np.abs(result.rate - mu) <= 4 * se + 1e-9)
    assert result.errors[FAR] == 0


def test_error_rate_is_deterministic_in_the_key():
    def errors(key):
        return ford.error_rate(linear_logits, IMAGES, LABELS, 0.2, samples=SAMPLES, key=key).errors

    np.testing.assert_array_equal(errors(jax.random.key(3)), errors(jax.random.key(3)))
    assert not np.array_equal(errors(jax.random.key(3)), errors(jax.random.key(4)))


def test_sigma_per_image_matches_scalar_sigma_on_the_same_draws():
    sigmas = np.array([0.05, 0.1, 0.2, 0.4, 0.1, 0.5, 1.0, 0.2])
    per_image = errors_at(sigmas)
    for i, sigma in enumerate(sigmas):
        assert per_image[i] == errors_at(float(sigma))[i]
    np.testing.assert_array_equal(errors_at(np.full(8, 0.2)), errors_at(0.2))
    g = signed_draws(KEY, IMAGES, LABELS, SAMPLES, PER_PASS)
    np.testing.assert_array_equal(per_image, expected_errors(IMAGES, LABELS, sigmas, g))


def test_draws_are_fixed_across_sigma_so_errors_are_monotone_in_sigma():
    counts = [errors_at(sigma) for sigma in (0.0, 0.05, 0.1, 0.2, 0.4)]
    np.testing.assert_array_equal(counts[0], np.where(CORRECT, 0, SAMPLES))  # σ = 0: clean
    for smaller, larger in zip(counts, counts[1:], strict=False):
        # A correct image is wrong where g < −d/σ: more draws as σ grows; a misclassified
        # one is wrong where g < d/σ: fewer.
        assert np.all(larger[CORRECT] >= smaller[CORRECT])
        assert np.all(larger[~CORRECT] <= smaller[~CORRECT])
    assert counts[-1][CORRECT].sum() > counts[1][CORRECT].sum()


def test_batch_does_not_change_the_counts_when_draws_per_pass_is_unchanged():
    assert ford.draws_per_pass(8, 1031) == ford.draws_per_pass(8, 1024) == PER_PASS
    np.testing.assert_array_equal(errors_at(0.2, batch=1031), errors_at(0.2, batch=1024))


def test_a_logits_function_as_a_partial_of_its_weights_gives_the_same_counts():
    partial = jax.tree_util.Partial(linear_with, jnp.asarray(W), jnp.float32(B))
    np.testing.assert_array_equal(errors_at(0.2, partial), errors_at(0.2))


def test_wrong_draws_and_accuracy_in_noise():
    sigma, draws = 0.2, 40
    wrong = ford.wrong_draws(linear_logits, IMAGES, LABELS, sigma, draws=draws, key=KEY)
    assert wrong.shape == (draws, len(IMAGES)) and wrong.dtype == bool
    for number in (0, draws - 1):
        one = ford.count_errors(
            linear_logits, IMAGES, LABELS, sigma, samples=1, key=jax.random.fold_in(KEY, number)
        )
        np.testing.assert_array_equal(wrong[number], one > 0)
    accuracy = ford.accuracy_in_noise(linear_logits, IMAGES, LABELS, sigma, draws=draws, key=KEY)
    np.testing.assert_allclose(accuracy, 1 - wrong.mean(axis=1))
    mu = true_rate(sigma)
    se = math.sqrt(np.sum(mu * (1 - mu))) / len(IMAGES) / math.sqrt(draws)
    assert abs(accuracy.mean() - (1 - mu.mean())) <= 4 * se


@pytest.mark.parametrize("errors, samples", [(0, 10), (3, 10), (10, 10), (1, 1), (47, 400)])
def test_clopper_pearson_is_the_exact_binomial_interval(errors, samples):
    low, high = ford.clopper_pearson(errors, samples)
    expected = stats.binomtest(errors, samples).proportion_ci(0.95, method="exact")
    np.testing.assert_allclose([low, high], [expected.low, expected.high], rtol=1e-9, atol=1e-12)


def test_clopper_pearson_ends():
    low, high = ford.clopper_pearson(np.array([0, 20]), 20)
    np.testing.assert_allclose(low, [0.0, 0.025 ** (1 / 20)])
    np.testing.assert_allclose(high, [1 - 0.025 ** (1 / 20), 1.0])


# ---------------------------------------------------------------- σ(x, μ)


def test_sigma_at_one_percent_is_the_crossing_of_the_fixed_draws_and_near_d_over_2326():
    samples, mu, tol = 1000, 0.01, 1e-3

    def sigma_at(key=KEY, high=1.0):
        return ford.sigma_at_error_rate(
            linear_logits, IMAGES, LABELS, mu, samples=samples, key=key, tol=tol, high=high
        )

    sigma = sigma_at()
    near = np.arange(6)  # correct, with d / 2.326 < high = 1
    assert sigma[FLIPPED] == 0  # misclassified clean: its rate at σ = 0 is 1
    assert sigma[FAR] == np.inf  # 3 / 2.326 > 1: below 1 % up to high
    # Exactly: the rate on the fixed draws first reaches μ (10 errors) at −d / h₁₀, h the
    # sorted signed projections; the bisection ends within tol above it.
    h = np.sort(signed_draws(KEY, IMAGES, LABELS, samples, PER_PASS), axis=1)
    crossing = -D / h[:, round(mu * samples) - 1]
    assert np.all(sigma[near] >= crossing[near] - 1e-5)
    assert np.all(sigma[near] <= crossing[near] + tol + 1e-5)
    # Against the closed form −d/Φ⁻¹(μ) = d / 2.326: the empirical 1 % quantile of n draws
    # has a standard error of √(μ(1−μ)/n)/φ(Φ⁻¹(μ)), relative to |Φ⁻¹(μ)|.
    z = stats.norm.ppf(mu)
    relative_se = math.sqrt(mu * (1 - mu) / samples) / stats.norm.pdf(z) / abs(z)
    true_sigma = D[near] / HALF_SPACE_FACTOR
    np.testing.assert_allclose(true_sigma, -D[near] / z, rtol=1e-6)
    allowed = 4 * relative_se + tol / true_sigma
    assert np.all(np.abs(sigma[near] / true_sigma - 1) <= allowed)
    # Eq. 1 turns it back into d, within the same error.
    back = np.asarray(halfspace_distance(sigma[near], mu))
    assert np.all(np.abs(back / D[near] - 1) <= allowed)
    # The same draws at every call: the same key gives the same σ, another key others.
    np.testing.assert_array_equal(sigma_at(), sigma)
    assert not np.array_equal(sigma_at(jax.random.key(1)), sigma)
    # A lower `high`: inf where the crossing is above it, the same crossings elsewhere.
    lower = sigma_at(high=0.3)
    assert lower[5] == np.inf  # 1 / 2.326 = 0.43
    assert np.all(np.abs(lower[:5] - sigma[:5]) <= tol) and lower[FLIPPED] == 0


def test_bisect_sigma_on_a_known_rate():
    scale = np.array([1.0, 10.0, 0.001, 1000.0])  # rate σ/scale, crossing at μ·scale

    def rate_at(sigma):
        return np.clip(sigma / scale, 0, 1)

    result = ford.bisect_sigma(rate_at, 4, 0.05, low=0.0, high=1.0, tol=1e-4)
    crossing = 0.05 * scale
    assert np.all(result[:2] >= crossing[:2]) and np.all(result[:2] <= crossing[:2] + 1e-4)
    assert result[2] <= 1e-4  # crossing at 5e-5, within tol of low
    assert result[3] == np.inf  # 50 > high
    at_low = ford.bisect_sigma(lambda s: np.ones_like(s), 2, 0.05, low=0.2, high=1.0, tol=0.01)
    np.testing.assert_array_equal(at_low, 0.2)


@pytest.mark.parametrize(
    "low, high, tol, match",
    [
        (-0.1, 1.0, 1e-3, "low"),
        (1.0, 1.0, 1e-3, "low"),
        (0.0, math.inf, 1e-3, "low"),
        (0.0, 1.0, 0.0, "tol"),
        (0.0, 1.0, 1.0, "tol"),
    ],
)
def test_bisect_sigma_rejects_bad_bounds(low, high, tol, match):
    with pytest.raises(ValueError, match=match):
        ford.bisect_sigma(lambda s: s, 1, 0.5, low=low, high=high, tol=tol)


# ---------------------------------------------------------------- half-space and PGD radius


def test_halfspace_distance():
    sigma = 0.3
    assert float(halfspace_distance(sigma, 0.5)) == 0
    np.testing.assert_allclose(halfspace_distance(sigma, phi(-1.0)), sigma, rtol=1e-5)
    np.testing.assert_allclose(
        halfspace_distance(sigma, 0.01), HALF_SPACE_FACTOR * sigma, rtol=1e-6
    )
    np.testing.assert_allclose(HALF_SPACE_FACTOR, 2.3263479, rtol=1e-6)
    np.testing.assert_array_equal(halfspace_distance(sigma, [0.5, 0.7, 1.0]), 0)
    d, sigmas = np.array([0.1, 0.5, 1.0]), np.array([0.05, 0.2, 1.0])
    np.testing.assert_allclose(halfspace_distance(sigmas, phi(-d / sigmas)), d, rtol=1e-5)


@pytest.mark.parametrize("sigma, dimension", [(0.1, 36), (0.01, 36), (0.5, 64), (0.0, 16)])
def test_pgd_radius_is_twice_the_noise_quantile_at_least_one(sigma, dimension):
    q = sigma * math.sqrt(stats.chi2.ppf(0.99, dimension))
    assert ford.pgd_radius(sigma, dimension) == pytest.approx(max(2 * q, 1.0))
    assert ford.pgd_radius(sigma, dimension) >= 1.0


def test_pgd_radius_of_the_default_sigma():
    # χ²₃₆ at 0.99 is 58.619: q = 0.766, ε = 1.53.
    assert ford.pgd_radius(0.1, 36) == pytest.approx(2 * 0.1 * math.sqrt(58.619), rel=1e-4)
    assert ford.pgd_radius(0.01, 36) == 1.0


# ---------------------------------------------------------------- distance to error


def test_distance_to_error_finds_the_plane():
    result = ford.distance_to_error(linear_logits, IMAGES, LABELS)
    step = ford.pgd_radius(0.1, R * R) / ford.STEP_DIVISOR  # ε = 1.53 < D[FAR] = 3
    np.testing.assert_array_equal(result.found, np.arange(8) != FAR)
    # Correctly classified, within the ball: d ≤ distance ≤ unrefined ≤ d + one step, and
    # the bisection leaves at most unrefined / 2¹⁰ of slack.
    near = np.arange(6)
    distance, unrefined = result.distance[near], result.unrefined[near]
    assert np.all(distance <= unrefined)
    assert np.all(distance >= D[near] - 1e-5)
    assert np.all(distance <= D[near] + unrefined / 2**10 + 1e-5)
    assert np.all(unrefined <= D[near] + step * (1 + 1e-3) + 1e-5)
    np.testing.assert_allclose(distance[1:], D[near][1:], rtol=1e-3)
    # The point is an error, at that distance.
    wrong = np.argmax(linear_logits(jnp.asarray(result.point)), -1) != np.asarray(LABELS)
    np.testing.assert_array_equal(wrong, np.arange(8) != FAR)
    moved = np.linalg.norm((result.point - np.asarray(IMAGES)).reshape(8, -1), axis=1)
    np.testing.assert_allclose(moved[near], distance, rtol=1e-5)
    # Beyond the ball: none found; misclassified clean: 0, at the image itself.
    assert result.distance[FAR] == np.inf and result.unrefined[FAR] == np.inf
    np.testing.assert_array_equal(result.point[FAR], IMAGES[FAR])
    assert result.distance[FLIPPED] == 0 and result.unrefined[FLIPPED] == 0
    np.testing.assert_array_equal(result.point[FLIPPED], IMAGES[FLIPPED])


def test_more_bisection_steps_and_a_larger_ball():
    tight = ford.distance_to_error(linear_logits, IMAGES, LABELS, bisection_steps=20)
    np.testing.assert_allclose(tight.distance[:6], D[:6], rtol=1e-4)
    # A ball of 5 reaches FAR too, in steps of 5/150, still at most one step past the plane.
    bigger = ford.distance_to_error(linear_logits, IMAGES, LABELS, epsilon=5.0)
    assert np.all(bigger.found)
    correct = np.flatnonzero(CORRECT)
    assert np.all(bigger.unrefined[correct] <= D[correct] + 5.0 / ford.STEP_DIVISOR * 1.001)
    assert np.all(bigger.distance[correct] >= D[correct] - 1e-5)
    assert np.all(bigger.distance <= bigger.unrefined)


def test_median_noisy_distance_is_d_the_isoperimetric_bound_of_a_half_space():
    images, labels, d = images_at([0.05, 0.2, 0.4, 0.5], flip=[3])
    sigma, points, correct = 0.1, 64, slice(0, 3)
    key = jax.random.key(7)

    def run(batch):
        return ford.median_noisy_distance(
            linear_logits, images, labels, sigma, points=points, key=key, batch=batch
        )

    result = run(ford.DEFAULT_BATCH)  # one pass of 64 samples per image
    assert result.distances.shape == (4, points)
    # Exactly: sample k is noisy_sample(key, images, σ, k), at distance max(0, y·s).
    y = np.where(np.asarray(labels) == 1, 1.0, -1.0)
    signed = np.stack(
        [y * margins(ford.noisy_sample(key, images, sigma, k)) for k in range(points)], axis=1
    )
    np.testing.assert_allclose(result.distances, np.maximum(0, signed), atol=1e-3)
    np.testing.assert_array_equal(result.distances == 0, signed <= 0)
    np.testing.assert_array_equal(result.median, np.median(result.distances, axis=1))
    for row, median in zip(result.distances[correct], result.median_of_correct, strict=False):
        assert median == np.median(row[row > 0])
    # Misclassified clean and 5σ from the plane: every sample is an error.
    np.testing.assert_array_equal(result.distances[3], 0)
    assert result.median[3] == 0 and np.isnan(result.median_of_correct[3])
    # Statistically: the median of d + σ·g over K samples has SE σ·√(π/2)/√K.
    se = sigma * math.sqrt(math.pi / 2) / math.sqrt(points)
    assert np.all(np.abs(result.median[correct] - d[correct]) <= 4 * se)
    bound = np.asarray(halfspace_distance(sigma, phi(-d[correct] / sigma)))
    np.testing.assert_allclose(bound, d[correct], rtol=1e-4)
    assert np.all(np.abs(result.median[correct] - bound) <= 4 * se)
    # Sample k is the same whatever the batch: here two passes of 32.
    np.testing.assert_allclose(run(128).distances, result.distances, atol=1e-6)


def test_noisy_sample_is_not_clipped_and_reproducible():
    images = jnp.zeros((2, R, R))
    sample = ford.noisy_sample(KEY, images, 1.0, 3)
    np.testing.assert_array_equal(sample, ford.noisy_sample(KEY, images, 1.0, 3))
    assert float(sample.min()) < 0 and float(sample.max()) > 1
    expected = jax.random.normal(jax.random.fold_in(KEY, 3), images.shape, images.dtype)
    np.testing.assert_array_equal(sample, expected)


# ---------------------------------------------------------------- bad input


def error_rate_with(**changes):
    arguments = dict(
        logits_fn=linear_logits, images=IMAGES, labels=LABELS, sigma=0.1,
        samples=SAMPLES, key=KEY,
    )  # fmt: skip
    arguments.update(changes)
    return ford.error_rate(**arguments)


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"sigma": -0.1}, "sigma must be finite and >= 0"),
        ({"sigma": math.nan}, "sigma must be finite and >= 0"),
        ({"sigma": math.inf}, "sigma must be finite and >= 0"),
        ({"sigma": [0.1] * 7 + [-0.1]}, "sigma must be finite and >= 0"),
        ({"sigma": [0.1, 0.2]}, r"sigma must be a scalar or one value per image \(8\)"),
        ({"sigma": [[0.1] * 4]}, "sigma must be a scalar or one value per image"),
        ({"samples": 0}, "samples must be an integer >= 1"),
        ({"samples": -1}, "samples must be an integer >= 1"),
        ({"samples": 1.5}, "samples must be an integer >= 1"),
        ({"samples": True}, "samples must be an integer >= 1"),
        ({"samples": "10"}, "samples must be an integer >= 1"),
        ({"batch": 0}, "batch must be an integer >= 1"),
        ({"images": IMAGES.reshape(8, -1)}, r"images must have shape \(N, R, R\)"),
        ({"images": IMAGES[:, :, :5]}, r"images must have shape \(N, R, R\)"),
        ({"images": IMAGES[..., None]}, r"images must have shape \(N, R, R\)"),
        ({"images": IMAGES[0]}, r"images must have shape \(N, R, R\)"),
        ({"images": np.zeros((8, R, R), np.int32)}, "images must be floating point"),
        ({"labels": LABELS[:3]}, r"labels must have shape \(8,\), one per image"),
        ({"labels": LABELS[:, None]}, r"labels must have shape \(8,\), one per image"),
        ({"logits_fn": 3}, "logits_fn must be callable"),
    ],
)
def test_error_rate_rejects_bad_input(changes, match):
    with pytest.raises(ValueError, match=match):
        error_rate_with(**changes)


@pytest.mark.parametrize("mu", [0, 1, 0.0, 1.0, -0.5, 1.5, math.nan, True, "0.5", None])
def test_sigma_at_error_rate_rejects_a_rate_outside_zero_one(mu):
    with pytest.raises(ValueError, match="mu must be a number in"):
        ford.sigma_at_error_rate(linear_logits, IMAGES, LABELS, mu, samples=SAMPLES, key=KEY)


@pytest.mark.parametrize("mu", [0.01, 0.5, 0.999])
def test_check_rate_accepts_rates_in_zero_one(mu):
    assert check_rate(mu) == mu


def test_check_sigmas_broadcasts_to_float32_per_image():
    sigmas = ford.check_sigmas(0.25, 3)
    assert sigmas.shape == (3,) and sigmas.dtype == jnp.float32
    np.testing.assert_array_equal(sigmas, 0.25)
    np.testing.assert_array_equal(ford.check_sigmas([0, 1, 2], 3), [0, 1, 2])
    with pytest.raises(ValueError, match="sigma_z must be"):
        ford.check_sigmas(-1, 3, "sigma_z")


def test_check_finite_logits_names_the_count_and_the_first():
    ford.check_finite_logits(np.zeros((3, 2)), "images")
    logits = np.array([[0.0, 1.0], [np.nan, 1.0], [0.0, np.inf]])
    with pytest.raises(ValueError, match=r"not finite for 2 of 3 images \(first: 1\)"):
        ford.check_finite_logits(logits, "images")


@pytest.mark.parametrize(
    "call",
    [
        lambda f: ford.count_errors(f, IMAGES, LABELS, 0.1, samples=SAMPLES, key=KEY),
        lambda f: ford.error_rate(f, IMAGES, LABELS, 0.1, samples=SAMPLES, key=KEY),
        lambda f: ford.sigma_at_error_rate(f, IMAGES, LABELS, samples=SAMPLES, key=KEY),
        lambda f: ford.distance_to_error(f, IMAGES, LABELS, steps=5),
    ],
    ids=["count_errors", "error_rate", "sigma_at_error_rate", "distance_to_error"],
)
def test_nan_logits_raise_instead_of_counting(call):
    with pytest.raises(ValueError, match="not finite"):
        call(nan_logits)


def test_nan_logits_on_noisy_images_only_raise_too():
    assert np.all(np.isfinite(nan_when_far(IMAGES)))
    with pytest.raises(ValueError, match="not finite on some noisy images"):
        ford.count_errors(nan_when_far, IMAGES, LABELS, 100.0, samples=SAMPLES, key=KEY)
    # At a σ that never reaches a pixel beyond 5, it counts.
    ford.count_errors(nan_when_far, IMAGES, LABELS, 0.01, samples=SAMPLES, key=KEY)


@pytest.mark.parametrize("epsilon", [0, -1.0, math.inf, math.nan, "1"])
def test_distance_to_error_rejects_a_bad_epsilon(epsilon):
    with pytest.raises(ValueError, match="epsilon must be a finite number > 0"):
        ford.distance_to_error(linear_logits, IMAGES, LABELS, epsilon=epsilon)


@pytest.mark.parametrize("steps", [0, -3, 2.5, True])
def test_distance_to_error_rejects_bad_steps(steps):
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        ford.distance_to_error(linear_logits, IMAGES, LABELS, steps=steps)


@pytest.mark.parametrize("points", [0, 1.5, True])
def test_median_noisy_distance_rejects_bad_points(points):
    with pytest.raises(ValueError, match="points must be an integer >= 1"):
        ford.median_noisy_distance(linear_logits, IMAGES, LABELS, 0.1, points=points, key=KEY)


@pytest.mark.parametrize("draws", [0, 2.0, False])
def test_wrong_draws_rejects_bad_draws(draws):
    with pytest.raises(ValueError, match="draws must be an integer >= 1"):
        ford.wrong_draws(linear_logits, IMAGES, LABELS, 0.1, draws=draws, key=KEY)
