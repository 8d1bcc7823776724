"""Randomized smoothing (Cohen, Rosenfeld & Kolter, ICML 2019): the smoothed classifier
g(x) = argmax_c P(f(x + σ·n) = c), n ~ N(0, I), of any base classifier f, its Monte Carlo
prediction (PREDICT) and its certified ℓ2 radius (CERTIFY).

CERTIFY picks the top class ĉ_A from n₀ selection draws, counts ĉ_A among n fresh
estimation draws, and takes p_A, the one-sided (1 − α) Clopper–Pearson lower bound of
its probability. If p_A > 1/2, g(x + δ) = ĉ_A for every ‖δ‖₂ < R = σ·Φ⁻¹(p_A) with
probability at least 1 − α over the draws (the paper's Theorem 1 with p_B = 1 − p_A);
else it abstains. PREDICT returns the top class of n draws when a two-sided binomial test
of its count against the runner-up's rejects equality at level α, and abstains
otherwise: it returns a class other than g(x) with probability at most α.

The draws are made and classified by `experiments.attacks.ford.class_counts`, in jitted
passes of up to `batch` images, noise not clipped, as every noise quantity here.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np
from scipy import stats

from experiments import checks
from experiments.attacks import ford
from experiments.classifier import Classifier, LogitsFn

Model = Classifier | LogitsFn

ABSTAIN = -1  # the class of an abstention
SELECTION, ESTIMATION = 0, 1  # the key streams of the two sets of draws: never the same


class Certificate(NamedTuple):
    """CERTIFY per image: the class (ABSTAIN where it abstained), the certified radius
    (0 where it abstained), the lower bound p_A, the selection draws' class counts
    (N, C) and the estimation draws' count of the chosen class."""

    prediction: np.ndarray
    radius: np.ndarray
    p_lower: np.ndarray
    selection_counts: np.ndarray
    top_count: np.ndarray


class Prediction(NamedTuple):
    """PREDICT per image: the class (ABSTAIN where it abstained), the class counts of
    its draws (N, C) and the p-value of the test of the top two counts."""

    prediction: np.ndarray
    counts: np.ndarray
    p_value: np.ndarray


def check_smoothing_sigma(sigma) -> float:
    """σ > 0: at σ = 0 the smoothed classifier is the base one and certifies nothing."""
    sigma = ford.check_sigma(sigma)
    if sigma == 0:
        raise ValueError("sigma must be a finite number > 0 (the smoothing noise), got 0")
    return sigma


def check_alpha(alpha) -> float:
    if not (checks.is_number(alpha) and 0 < alpha < 1):
        raise ValueError(f"alpha must be a number in (0, 1), got {alpha!r}")
    return float(alpha)


def lower_confidence_bound(successes, samples: int, alpha: float) -> np.ndarray:
    """The one-sided (1 − α) Clopper–Pearson lower bound of a binomial proportion."""
    successes = np.asarray(successes)
    with np.errstate(invalid="ignore"):
        bound = stats.beta.ppf(alpha, successes, samples - successes + 1)
    return np.where(successes > 0, bound, 0.0)


def certified_radius(p_lower, sigma: float) -> np.ndarray:
    """σ·Φ⁻¹(p_A) where p_A > 1/2, 0 elsewhere (an abstention certifies nothing)."""
    p_lower = np.asarray(p_lower, np.float64)
    with np.errstate(divide="ignore"):
        return np.where(p_lower > 0.5, sigma * stats.norm.ppf(p_lower), 0.0)


def certify(
    logits_fn: Model, images, sigma: float, *, selection_samples: int = 100,
    samples: int = 100_000, alpha: float = 0.001, key: jax.Array, batch: int = ford.DEFAULT_BATCH,
) -> Certificate:  # fmt: skip
    """CERTIFY of each image (N, R, R): n₀ = `selection_samples` draws choose the class,
    n = `samples` independent draws bound its probability; the paper's defaults."""
    sigma = check_smoothing_sigma(sigma)
    alpha = check_alpha(alpha)
    checks.check_integer(selection_samples, "selection_samples", 1)
    samples = checks.check_integer(samples, "samples", 1)
    counts = dict(sigma=sigma, batch=batch)
    selection = ford.class_counts(logits_fn, images, samples=selection_samples,
                                  key=jax.random.fold_in(key, SELECTION), **counts)  # fmt: skip
    chosen = np.argmax(selection, axis=1)
    estimation = ford.class_counts(logits_fn, images, samples=samples,
                                   key=jax.random.fold_in(key, ESTIMATION), **counts)  # fmt: skip
    top = estimation[np.arange(len(chosen)), chosen]
    p_lower = lower_confidence_bound(top, samples, alpha)
    certified = p_lower > 0.5
    return Certificate(
        prediction=np.where(certified, chosen, ABSTAIN).astype(np.int32),
        radius=certified_radius(p_lower, sigma),
        p_lower=p_lower,
        selection_counts=selection,
        top_count=top,
    )


def predict(
    logits_fn: Model, images, sigma: float, *, samples: int = 100_000, alpha: float = 0.001,
    key: jax.Array, batch: int = ford.DEFAULT_BATCH,
) -> Prediction:  # fmt: skip
    """PREDICT of each image (N, R, R) from `samples` draws: the top class, or ABSTAIN
    where the two-sided binomial test of n_A out of n_A + n_B at 1/2 has p > α."""
    sigma = check_smoothing_sigma(sigma)
    alpha = check_alpha(alpha)
    samples = checks.check_integer(samples, "samples", 1)
    counts = ford.class_counts(logits_fn, images, sigma, samples=samples, key=key, batch=batch)
    order = np.argsort(-counts, axis=1, kind="stable")
    rows = np.arange(len(counts))
    top, runner_up = counts[rows, order[:, 0]], counts[rows, order[:, 1]]
    p_value = np.array([
        stats.binomtest(int(a), int(a + b), 0.5).pvalue if a + b else 1.0
        for a, b in zip(top, runner_up, strict=True)
    ])  # fmt: skip
    prediction = np.where(p_value <= alpha, order[:, 0], ABSTAIN).astype(np.int32)
    return Prediction(prediction, counts, p_value)
