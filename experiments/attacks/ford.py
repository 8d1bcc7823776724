"""The quantities of Ford, Gilmer, Carlini & Cubuk (2019), *Adversarial examples are a
natural consequence of test error in noise*, for any classifier of images, and their
latent-space counterparts that only Squiggles can compute (it knows the true label of
every latent).

Every function takes the model as a `Classifier` (`experiments.classifier`; a trained
run's is `trained_run.classifier(state)`) or as a plain batched logits function, images
(B, R, R) → logits (B, C), which `as_classifier` wraps. It is passed to the jitted
programs as a pytree: the weights inside it are arguments of the compiled program, not
constants baked into it, and two calls with the same function and weights of the same
shapes share one compilation.
Noise is never clipped to [0, 1], as in the paper: the error set in noise and the error
set PGD finds are then subsets of one space, R^(R·R).

Pixel space:
  error_rate            μ(x, σ): the fraction of x + σ·n, n ~ N(0, I), misclassified,
                        with a 95 % Clopper–Pearson interval;
  sigma_at_error_rate   σ(x, μ) by bisection on one fixed set of draws, as Ford et al.'s
                        code (which counts a rate > μ, `strict`; >= μ by default);
  distance_to_error     ℓ2 PGD that stops at the first error, then a bisection on the
                        segment to it: an upper bound on the distance to the error set
                        (ball `pgd_radius`: this project's, or Ford et al.'s code's);
  halfspace_distance    −σ·Φ⁻¹(μ), the distance if the error set were a half-space (Eq. 1),
                        and the Gaussian isoperimetric bound on the median noisy distance
                        (pure maths, so its home is `experiments.results`, where the
                        figures read it too);
  median_noisy_distance distance_to_error from K noisy samples of each image.
Latent space (`experiments.attacks.ford_latent`): the same, relabelled with Shapely.

Noise draws are made and classified in jitted passes of at most `batch` images; draw j
of image i is a pure function of the key and the pass layout (`draws_per_pass`), so the
same key gives the same draws at every σ.
"""

from __future__ import annotations

import functools
import math
import numbers
import warnings
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from experiments import checks
from experiments.attacks import pgd
from experiments.classifier import Classifier, LogitsFn, as_classifier
from experiments.results import (
    check_rate,
)

Model = Classifier | LogitsFn

DEFAULT_BATCH = 1024  # images classified per forward pass, at most
CONFIDENCE = 0.95  # of the Clopper–Pearson intervals
STEP_DIVISOR = 150  # PGD step ε/150, as Ford et al.'s code from a clean image
PGD_BLOCK = 10  # PGD steps between drops of the inputs that already have an error
RADIUS_RULES = ("norm", "coordinate")  # how `pgd_radius` turns σ into the PGD ball
NORM_QUANTILE = 0.99  # "norm": of the norm of the noise (this project's)
COORDINATE_QUANTILE = 1 - 1e-5  # "coordinate": of one noise coordinate (Ford et al.'s code)


# ---------------------------------------------------------------- checks


def check_inputs(images, labels) -> tuple[jax.Array, jax.Array]:
    """At least one image (N, R, R) and a label per image, each a class index (a whole
    number >= 0), or a ValueError naming the shapes or the first bad label."""
    images, labels = check_images(images), np.asarray(labels)
    if labels.shape != images.shape[:1]:
        raise ValueError(
            f"labels must have shape ({images.shape[0]},), one per image, got {labels.shape}"
        )
    return images, jnp.asarray(check_labels(labels))


def check_images(images) -> jax.Array:
    """At least one floating-point image, (N, R, R), or a ValueError naming the shape."""
    images = jnp.asarray(images)
    if images.ndim != 3 or images.shape[1] != images.shape[2]:
        raise ValueError(f"images must have shape (N, R, R), got {images.shape}")
    if not images.shape[0]:
        raise ValueError(f"images must hold at least one image, got shape {images.shape}")
    if not jnp.issubdtype(images.dtype, jnp.floating):
        raise ValueError(f"images must be floating point, got {images.dtype}")
    return images


def check_labels(labels, classes: int | None = None) -> np.ndarray:
    """Labels as int32 class indices: whole numbers >= 0 (bool, integers, or floats such as
    1.0), below `classes` when given; else a ValueError naming the first bad label."""
    labels = np.asarray(labels)
    if labels.dtype == bool:
        labels = labels.astype(np.int32)
    if not (np.issubdtype(labels.dtype, np.integer) or np.issubdtype(labels.dtype, np.floating)):
        raise ValueError(f"labels must be class indices (whole numbers >= 0), got dtype "
                         f"{labels.dtype}")  # fmt: skip
    top = math.inf if classes is None else classes
    with np.errstate(invalid="ignore"):
        bad = ~((labels >= 0) & (labels < top) & (np.floor(labels) == labels))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        expected = "(whole numbers >= 0)" if classes is None else f"in {class_set(classes)}"
        raise ValueError(f"labels must be class indices {expected}, got {labels[first].item()!r}"
                         f" at index {first}")  # fmt: skip
    return labels.astype(np.int32)


def class_set(classes: int) -> str:
    return "{0, 1}" if classes == 2 else f"{{0, ..., {classes - 1}}}"


def _apply(logits_fn, images):
    return logits_fn(images)


def check_model(logits_fn: Model, images, labels) -> tuple[Classifier, jax.Array]:
    """The model as a Classifier, after checking (by shape only, nothing is computed) that
    it gives logits (N, C), C >= 2, for N images, and that every label is below C: a model
    returning (N,) or a label 2 for two classes would otherwise count every draw wrong."""
    model, classes = model_classes(logits_fn, images)
    return model, jnp.asarray(check_labels(labels, classes))


def model_classes(logits_fn: Model, images) -> tuple[Classifier, int]:
    """The model as a Classifier and its number of classes C, after checking (by shape
    only) that it gives logits (N, C), C >= 2, for N images."""
    if not callable(logits_fn):
        raise ValueError(f"logits_fn must be callable (images -> logits), got {logits_fn!r}")
    logits_fn = as_classifier(logits_fn)
    shape = jax.eval_shape(_apply, logits_fn, jax.ShapeDtypeStruct(images.shape, images.dtype))
    shape = getattr(shape, "shape", None)
    if shape is None or len(shape) != 2 or shape[0] != len(images) or shape[1] < 2:
        raise ValueError(f"logits_fn must return logits of shape (N, C), C >= 2, for N images; "
                         f"got {shape} for {len(images)} images")  # fmt: skip
    return logits_fn, int(shape[1])


def check_sigma(sigma, name: str = "sigma") -> float:
    """One noise level: a finite number >= 0 (not an array: see `check_sigmas`)."""
    if np.ndim(sigma) != 0:
        raise ValueError(f"{name} must be one number (finite, >= 0), got an array of shape "
                         f"{np.shape(sigma)}")  # fmt: skip
    if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real | np.ndarray | jax.Array):
        raise ValueError(f"{name} must be a finite number >= 0, got {sigma!r}")
    value = float(sigma)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {sigma!r}")
    return value


def check_sigmas(sigma, count: int, name: str = "sigma") -> jax.Array:
    """A scalar or one value per image, each finite and >= 0, as an (N,) float32 array."""
    values = np.asarray(sigma, np.float64)
    if values.ndim > 1 or (values.ndim == 1 and len(values) != count):
        raise ValueError(f"{name} must be a scalar or one value per image ({count}), "
                         f"got shape {values.shape}")  # fmt: skip
    if not np.all(np.isfinite(values) & (values >= 0)):
        raise ValueError(f"{name} must be finite and >= 0, got {sigma}")
    return jnp.broadcast_to(jnp.asarray(values, jnp.float32), (count,))


def check_epsilon(epsilon) -> float:
    if not (isinstance(epsilon, numbers.Real) and 0 < epsilon < math.inf):
        raise ValueError(f"epsilon must be a finite number > 0, got {epsilon!r}")
    return float(epsilon)


def check_finite_logits(logits: jax.Array, where: str) -> None:
    """A model whose logits are not finite cannot be judged: say so instead of counting
    NaN as 'right' or 'wrong'."""
    bad = ~np.isfinite(np.asarray(logits)).all(axis=-1)
    if bad.any():
        raise ValueError(
            f"the model's logits are not finite for {int(bad.sum())} of {len(bad)} {where} "
            f"(first: {int(np.flatnonzero(bad)[0])}); check the model and its inputs"
        )


# ---------------------------------------------------------------- error rate in noise


class ErrorRate(NamedTuple):
    """Per image: errors among `samples` draws, μ = errors / samples and its 95 %
    Clopper–Pearson interval [low, high]."""

    rate: np.ndarray
    low: np.ndarray
    high: np.ndarray
    errors: np.ndarray
    samples: int


def clopper_pearson(errors, samples: int, confidence: float = CONFIDENCE):
    """The exact binomial interval of errors / samples (two-sided, `confidence`)."""
    errors = np.asarray(errors)
    alpha = 1 - confidence
    with np.errstate(invalid="ignore"):
        low = np.where(errors > 0, stats.beta.ppf(alpha / 2, errors, samples - errors + 1), 0.0)
        high = np.where(
            errors < samples, stats.beta.ppf(1 - alpha / 2, errors + 1, samples - errors), 1.0
        )
    return low, high


def draws_per_pass(count: int, batch: int) -> int:
    """Noise draws per image in one forward pass of at most `batch` images (at least 1)."""
    return max(1, batch // max(count, 1))


@functools.partial(jax.jit, static_argnames=("samples", "per_pass", "classes"))
def _class_counts(logits_fn, images, sigma, key, *, samples, per_pass, classes):
    """How many of `samples` draws x + σ·n of each image the model puts in each class
    (N, classes), and whether every logit was finite. Draw j of image i is
    normal(fold_in(key, j // per_pass))[i, j % per_pass]: the same draws at every σ for a
    given key, whatever σ is."""
    count = images.shape[0]
    passes = -(-samples // per_pass)

    def one_pass(carry, number):
        counts, finite = carry
        noise = jax.random.normal(
            jax.random.fold_in(key, number), (count, per_pass, *images.shape[1:]), images.dtype
        )
        noisy = images[:, None] + sigma[:, None, None, None] * noise
        logits = logits_fn(noisy.reshape(count * per_pass, *images.shape[1:]))
        votes = jax.nn.one_hot(jnp.argmax(logits, -1), classes, dtype=jnp.int32)
        used = number * per_pass + jnp.arange(per_pass) < samples  # the last pass may be short
        votes = votes.reshape(count, per_pass, classes) * used[None, :, None]
        counts = counts + jnp.sum(votes, axis=1)
        finite = finite & jnp.all(jnp.isfinite(logits))
        return (counts, finite), None

    start = (jnp.zeros((count, classes), jnp.int32), jnp.array(True))
    (counts, finite), _ = jax.lax.scan(one_pass, start, jnp.arange(passes))
    return counts, finite


def checked_class_counts(
    model: Classifier, images: jax.Array, sigma, *, samples: int, key: jax.Array,
    batch: int, classes: int,
) -> np.ndarray:  # fmt: skip
    """`_class_counts` of checked inputs, or a ValueError when a logit was not finite."""
    counts, finite = _class_counts(
        model, images, sigma, key, samples=samples, classes=classes,
        per_pass=min(draws_per_pass(len(images), batch), samples),
    )  # fmt: skip
    if not bool(finite):
        check_finite_logits(model(images), "clean images")
        raise ValueError("the model's logits are not finite on some noisy images; "
                         "check the model (σ too large for its numerics?)")  # fmt: skip
    return np.asarray(counts)


def class_counts(
    logits_fn: Model, images, sigma, *, samples: int, key: jax.Array,
    batch: int = DEFAULT_BATCH,
) -> np.ndarray:  # fmt: skip
    """(N, C): how many of `samples` draws x + σ·n, n ~ N(0, I), of each image (N, R, R)
    the model puts in each of its C classes (noise not clipped); `sigma` a scalar or one
    per image. Each forward pass classifies max(1, batch // N) draws of every image, and
    the draws are those of `count_errors` with the same key."""
    images = check_images(images)
    samples = checks.check_integer(samples, "samples", 1)
    checks.check_integer(batch, "batch", 1)
    sigma = check_sigmas(sigma, len(images))
    model, classes = model_classes(logits_fn, images)
    return checked_class_counts(model, images, sigma, samples=samples, key=key, batch=batch,
                                classes=classes)  # fmt: skip


def count_errors(
    logits_fn: Model, images, labels, sigma, *, samples: int, key: jax.Array,
    batch: int = DEFAULT_BATCH,
) -> np.ndarray:  # fmt: skip
    """Misclassified noisy draws per image (N,), checked inputs; see `error_rate`."""
    images, labels = check_inputs(images, labels)
    samples = checks.check_integer(samples, "samples", 1)
    checks.check_integer(batch, "batch", 1)
    sigma = check_sigmas(sigma, len(images))
    model, classes = model_classes(logits_fn, images)
    labels = check_labels(labels, classes)
    counts = checked_class_counts(model, images, sigma, samples=samples, key=key, batch=batch,
                                  classes=classes)  # fmt: skip
    return samples - counts[np.arange(len(images)), labels]


def error_rate(
    logits_fn: Model, images, labels, sigma, *, samples: int, key: jax.Array,
    batch: int = DEFAULT_BATCH,
) -> ErrorRate:  # fmt: skip
    """μ(x, σ) per image: the fraction of `samples` draws x + σ·n, n ~ N(0, I), that the
    model misclassifies against the clean label (noise not clipped); `sigma` a scalar or
    one per image. Each forward pass classifies max(1, batch // N) draws of every image."""
    samples = checks.check_integer(samples, "samples", 1)
    errors = count_errors(logits_fn, images, labels, sigma, samples=samples, key=key, batch=batch)
    low, high = clopper_pearson(errors, samples)
    return ErrorRate(errors / samples, low, high, errors, samples)


def wrong_draws(
    logits_fn: Model, images, labels, sigma, *, draws: int, key: jax.Array,
    batch: int = DEFAULT_BATCH,
) -> np.ndarray:  # fmt: skip
    """(draws, N) bool: whether image i is misclassified under independent draw d, each
    draw one noisy copy of every image (key fold_in(key, d))."""
    checks.check_integer(draws, "draws", 1)
    return np.stack([
        count_errors(logits_fn, images, labels, sigma, samples=1, key=jax.random.fold_in(key, d),
                     batch=batch) > 0
        for d in range(draws)
    ])  # fmt: skip


def accuracy_in_noise(
    logits_fn: Model, images, labels, sigma, *, draws: int, key: jax.Array,
    batch: int = DEFAULT_BATCH,
) -> np.ndarray:  # fmt: skip
    """Accuracy over the images under each of `draws` independent noise draws (draws,):
    its spread is the ±1 SD of Ford et al.'s accuracy-in-noise curves."""
    wrong = wrong_draws(logits_fn, images, labels, sigma, draws=draws, key=key, batch=batch)
    return 1.0 - wrong.mean(axis=1)


# ---------------------------------------------------------------- σ(x, μ)


def bisect_sigma(
    rate_at: Callable[[np.ndarray], np.ndarray], count: int, mu: float, *,
    low: float, high: float, tol: float, strict: bool = False,
) -> np.ndarray:  # fmt: skip
    """Per image the smallest σ in [low, high] (to `tol`) whose error rate `rate_at(σ)`
    (σ and rates of shape (count,)) reaches μ, assuming the rate grows with σ: `high`
    ends within tol above the crossing. A rate reaches μ when it is >= μ, or > μ with
    `strict` (Ford et al.'s code). 0 where the rate at `low` already reaches μ; inf where
    it stays below at `high`. All images move together, one call a step."""
    mu = check_rate(mu)
    if not (0 <= low < high < math.inf):
        raise ValueError(f"need 0 <= low < high < inf, got low={low}, high={high}")
    if not (0 < tol < high - low):
        raise ValueError(f"tol must be in (0, high - low = {high - low}), got {tol}")
    if not isinstance(strict, bool):
        raise ValueError(f"strict must be True or False, got {strict!r}")

    def reached(sigma: np.ndarray) -> np.ndarray:
        rate = rate_at(sigma)
        return rate > mu if strict else rate >= mu

    at_low = reached(np.full(count, low))
    at_high = reached(np.full(count, high))
    lower, upper = np.full(count, float(low)), np.full(count, float(high))
    for _ in range(math.ceil(math.log2((high - low) / tol))):
        middle = (lower + upper) / 2
        above = reached(middle)
        upper, lower = np.where(above, middle, upper), np.where(above, lower, middle)
    return np.where(at_low, low, np.where(at_high, upper, np.inf))


def sigma_at_error_rate(
    logits_fn: Model, images, labels, mu: float = 0.01, *, samples: int = 1000,
    key: jax.Array, low: float = 0.0, high: float = 1.0, tol: float = 1e-3,
    batch: int = DEFAULT_BATCH, strict: bool = False,
) -> np.ndarray:  # fmt: skip
    """σ(x, μ) per image: the noise level at which a fraction μ of draws is misclassified,
    by bisection on one fixed set of `samples` draws reused at every σ (as Ford et al.'s
    code). The rate reaches μ at >= μ by default, at > μ with `strict` (their code's
    rule: one draw more, e.g. 11 of 1,000 for 1 %, so a slightly larger σ). 0 for an
    image misclassified clean (its rate at σ = 0 is 1); inf for one whose rate stays
    below μ at `high` (summaries count these)."""
    images, labels = check_inputs(images, labels)
    samples = checks.check_integer(samples, "samples", 1)

    def rate_at(sigma: np.ndarray) -> np.ndarray:
        return count_errors(logits_fn, images, labels, sigma, samples=samples, key=key,
                            batch=batch) / samples  # fmt: skip

    return bisect_sigma(rate_at, len(images), mu, low=low, high=high, tol=tol, strict=strict)


# ---------------------------------------------------------------- distance to the nearest error


class ErrorDistance(NamedTuple):
    """Per input: the distance to the nearest error found (inf where none), whether one
    was found, the norm of the first PGD iterate that was an error (before refinement),
    and the refined error point itself (the input where none was found)."""

    distance: np.ndarray
    found: np.ndarray
    unrefined: np.ndarray
    point: np.ndarray


def pgd_radius(sigma: float, dimension: int, rule: str = "norm") -> float:
    """The PGD ball of `distance_to_error`, max(2·q, 1) for noise at σ, by `rule`:
    "norm" (this project's choice): q the 99th percentile of the norm of σ·n in
    `dimension` dimensions, so that PGD can reach any error the noise reaches (12.3 at
    σ = 0.1 and R = 60); "coordinate" (Ford et al.'s code): q the 99.999th percentile of
    one coordinate σ·n_i, 4.265·σ whatever the dimension (1 for σ <= 0.117)."""
    sigma = check_sigma(sigma)
    checks.check_integer(dimension, "dimension", 1)
    if rule == "norm":
        q = sigma * math.sqrt(stats.chi2.ppf(NORM_QUANTILE, dimension))
    elif rule == "coordinate":
        q = sigma * float(stats.norm.ppf(COORDINATE_QUANTILE))
    else:
        raise ValueError(f"rule must be one of {RADIUS_RULES}, got {rule!r}")
    return max(2 * q, 1.0)


def pgd_to_first_error(
    logits_fn: Model, x0, labels, epsilon, *, steps: int, block: int = PGD_BLOCK
) -> tuple[np.ndarray, np.ndarray]:
    """ℓ2 PGD from x0 (ball ε, step ε/150, no clipping) in which each input stops at its
    first misclassified iterate: the iterate and whether it is an error. `pgd.run_pgd`
    with `stop_at_error`, `block` steps at a time on the inputs still without an error."""
    x, found = pgd.run_pgd(logits_fn, x0, labels, epsilon, steps=steps, block=block,
                           step_divisor=STEP_DIVISOR, stop_at_error=True)  # fmt: skip
    return x, found


@functools.partial(jax.jit, static_argnames=("steps",))
def _bisect_to_error(logits_fn, x0, end, labels, *, steps):
    """On each segment x0 → end (end misclassified), the point nearest x0 found misclassified
    after `steps` halvings of the fraction of the segment."""
    shape = (-1,) + (1,) * (x0.ndim - 1)

    def halve(_, bounds):
        low, high = bounds
        middle = (low + high) / 2
        wrong = pgd.succeeded(logits_fn, x0 + middle.reshape(shape) * (end - x0), labels, False)
        return jnp.where(wrong, low, middle), jnp.where(wrong, middle, high)

    ones = jnp.ones(x0.shape[0], x0.dtype)
    _, high = jax.lax.fori_loop(0, steps, halve, (0 * ones, ones))
    return x0 + high.reshape(shape) * (end - x0)


def refine_to_error(logits_fn: Model, x0, end, labels, found, *, steps: int):
    """The bisection of `distance_to_error` on its own: where `found`, the point of the
    segment x0 → end nearest x0 found misclassified; x0 elsewhere."""
    steps = checks.check_integer(steps, "bisection_steps", 0)
    refined = _bisect_to_error(as_classifier(logits_fn), x0, end, labels, steps=steps)
    return jnp.where(jnp.asarray(found).reshape((-1,) + (1,) * (x0.ndim - 1)), refined, x0)


def distance_to_error(
    logits_fn: Model, images, labels, *, steps: int = 200, key: jax.Array | None = None,
    epsilon: float | None = None, sigma: float = 0.1, bisection_steps: int = 10,
    radius: str = "norm",
) -> ErrorDistance:  # fmt: skip
    """Per image, the ℓ2 distance to the nearest error found: PGD that stops at the first
    misclassified iterate (ball ε, default `pgd_radius(sigma, R·R, radius)`: max(2q, 1),
    q of the noise norm by default, of one coordinate with radius="coordinate" as Ford et
    al.'s code; step ε/150, `steps` at most), then `bisection_steps` halvings on the
    segment from the image to that error, so the distance is tight along that direction.
    Never above the unrefined norm. 0 for an image misclassified clean; inf where PGD
    found no error. `key` is unused (PGD starts at the image) and kept for a uniform API."""
    del key
    images, labels = check_inputs(images, labels)
    checks.check_integer(steps, "steps", 1)
    bisection_steps = checks.check_integer(bisection_steps, "bisection_steps", 0)
    epsilon = check_radius(epsilon, sigma, radius, images.shape[1] * images.shape[2])
    logits_fn, labels = check_model(logits_fn, images, labels)
    check_finite_logits(logits_fn(images), "images")
    ball = jnp.full(len(images), epsilon, images.dtype)
    end, found = pgd_to_first_error(logits_fn, images, labels, ball, steps=steps)
    point = refine_to_error(logits_fn, images, jnp.asarray(end), labels, found,
                            steps=bisection_steps)  # fmt: skip
    unrefined = np.where(found, pgd.norms(end - np.asarray(images)), np.inf)
    refined = np.minimum(pgd.norms(np.asarray(point - images)), unrefined)
    return ErrorDistance(np.where(found, refined, np.inf), np.asarray(found), unrefined,
                         np.asarray(point))  # fmt: skip


def check_radius(epsilon, sigma, radius: str, dimension: int) -> float:
    """The PGD ball: `epsilon` if given (a finite number > 0), else `pgd_radius` of
    `sigma`, which is checked either way so that a bad σ is never silently unused."""
    default = pgd_radius(sigma, dimension, radius)
    return default if epsilon is None else check_epsilon(epsilon)


class NoisyDistance(NamedTuple):
    """Per image: the distances to the nearest error from each of its K noisy samples
    (N, K; 0 for a sample already misclassified, inf where none was found), their
    median (the left side of the Gaussian isoperimetric inequality), and the median over
    the correctly classified samples only (what the authors' code attacks)."""

    distances: np.ndarray
    median: np.ndarray
    median_of_correct: np.ndarray


def median_noisy_distance(
    logits_fn: Model, images, labels, sigma: float, *, points: int = 1000,
    steps: int = 200, key: jax.Array, epsilon: float | None = None, bisection_steps: int = 10,
    batch: int = DEFAULT_BATCH, radius: str = "norm",
) -> NoisyDistance:  # fmt: skip
    """For each image, `distance_to_error` from `points` samples of N(x, σ²I) (labelled
    with the clean label), and their median. For an error set of rate μ at σ, the
    isoperimetric inequality bounds that median by `halfspace_distance(σ, μ)`. Sample k
    of every image is drawn from fold_in(key, k); PGD runs on max(1, batch // N) samples of
    every image at a time. The PGD ball is `epsilon`, or `pgd_radius(sigma, R·R, radius)`."""
    images, labels = check_inputs(images, labels)
    points = checks.check_integer(points, "points", 1)
    per_pass = min(draws_per_pass(len(images), checks.check_integer(batch, "batch", 1)), points)
    sigma = check_sigma(sigma)
    checks.check_integer(steps, "steps", 1)
    checks.check_integer(bisection_steps, "bisection_steps", 0)
    epsilon = check_radius(epsilon, sigma, radius, images.shape[1] * images.shape[2])
    check_model(logits_fn, images, labels)
    distances = []
    for first in range(0, points, per_pass):
        drawn = range(first, min(first + per_pass, points))
        noisy = jnp.stack([noisy_sample(key, images, sigma, k) for k in drawn], axis=1)
        noisy = noisy.reshape(-1, *images.shape[1:])
        result = distance_to_error(
            logits_fn, noisy, jnp.repeat(labels, len(drawn)), steps=steps, epsilon=epsilon,
            sigma=sigma, bisection_steps=bisection_steps,
        )  # fmt: skip
        distances.append(result.distance.reshape(len(images), len(drawn)))
    distances = np.concatenate(distances, axis=1)
    return NoisyDistance(distances, np.median(distances, axis=1), median_of_positive(distances))


def noisy_sample(key: jax.Array, images: jax.Array, sigma: float, number: int) -> jax.Array:
    """Noisy sample `number` of every image, as `median_noisy_distance` draws it."""
    return images + sigma * jax.random.normal(jax.random.fold_in(key, number), images.shape,
                                              images.dtype)  # fmt: skip


def median_of_positive(distances: np.ndarray) -> np.ndarray:
    """The median of each row over its entries > 0; NaN for a row with none."""
    positive = np.where(distances > 0, distances, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows give NaN, as meant
        return np.nanmedian(positive, axis=1)
