"""Typed results of the analyses: what the model predicted, whether that was an error,
and whether the attack changed the true label, each defined once here.

A model predicts "intersecting" when P(intersecting) > ½. Under a latent attack the true
label can change, so an attacked example is judged against its label *after* the
attack: turning a simple curve into a crossing one and making the model say "crossing"
has not fooled it. An example is *fooled* at ε when the model was right on it before the
attack and is wrong after it, so clean errors never count as attack successes.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import ClassVar

import numpy as np
from scipy import special

THRESHOLD = 0.5  # P(intersecting) above which the model says "intersecting"


def predicted(probability: np.ndarray) -> np.ndarray:
    """The predicted class (True = intersecting) of each probability."""
    return np.asarray(probability) > THRESHOLD


class _FromArrays:
    """Typed results made from a joined chunk dictionary. The class says how its chunk
    files join (`experiments.runs.chunk_files.join_chunks`): PER_EPSILON names the arrays
    that hold examples on axis 1 (one row per ε, σ or cell), SHARED those that are the
    same in every chunk (a grid); every other array holds examples on axis 0."""

    PER_EPSILON: ClassVar[tuple[str, ...]] = ()
    SHARED: ClassVar[tuple[str, ...]] = ("epsilon",)

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]):
        """The fields this class knows; other arrays of the chunks are ignored."""
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{name: value for name, value in arrays.items() if name in names})


@dataclasses.dataclass(frozen=True)
class AttackResults(_FromArrays):
    """Per-example results of an attack over an ε grid: arrays with E = len(epsilon)
    rows of N examples, ordered by test index.

    `attacked` holds the attacked inputs (images, or latents for latent attacks) when the
    analysis stores them; `clean` the inputs before the attack (images or latents)."""

    index: np.ndarray  # (N,) test indices
    epsilon: np.ndarray  # (E,)
    label_before: np.ndarray  # (N,) bool, True = intersecting
    label_after: np.ndarray  # (E, N) bool: the true label of the attacked input
    clean_probability: np.ndarray  # (N,)
    probability: np.ndarray  # (E, N)
    norm: np.ndarray  # (E, N) ℓ2 norm of the perturbation
    found_at: np.ndarray | None = None  # (E, N) ε number that made the attacked input
    attacked: np.ndarray | None = None  # (E, N, ...)
    clean: np.ndarray | None = None  # (N, ...)

    PER_EPSILON: ClassVar[tuple[str, ...]] = (
        "label_after", "probability", "norm", "found_at", "attacked",
    )  # fmt: skip

    @property
    def clean_predicted(self) -> np.ndarray:
        return predicted(self.clean_probability)

    @property
    def clean_correct(self) -> np.ndarray:
        """(N,): right before the attack."""
        return self.clean_predicted == self.label_before

    @property
    def predicted(self) -> np.ndarray:
        """(E, N): the prediction on the attacked input."""
        return predicted(self.probability)

    @property
    def correct(self) -> np.ndarray:
        """(E, N): right on the attacked input, against its true label after the attack."""
        return self.predicted == self.label_after

    @property
    def fooled(self) -> np.ndarray:
        """(E, N): right before the attack and wrong after it."""
        return self.clean_correct[None] & ~self.correct

    @property
    def label_changed(self) -> np.ndarray:
        """(E, N): the attack changed the true label (only latent attacks can)."""
        return self.label_after != self.label_before[None]

    def at(self, epsilon: float) -> int:
        """The row of ε, or an error naming the grid."""
        matches = np.flatnonzero(np.isclose(self.epsilon, epsilon))
        if not len(matches):
            grid = [float(e) for e in self.epsilon]
            raise ValueError(f"no results at ε={epsilon}; the run has ε {grid}")
        return int(matches[0])


# What the nearest curve of an error image says of it (`experiments.attacks.manifold`).
MANIFOLD_KINDS = ("off_manifold", "on_manifold", "class_change")


@dataclasses.dataclass(frozen=True)
class EnsembleResults(AttackResults):
    """An attack ensemble's results (`experiments.analyses.ensemble`): the attack
    results of its strongest point per example and ε, with which of the A attacks
    fooled the model (each run on every example), and where each adversarial image lies
    relative to the data manifold (`experiments.attacks.manifold`)."""

    attack: np.ndarray | None = None  # (A,) str: the attacks' names
    attack_fooled: np.ndarray | None = None  # (E, N, A) bool: that attack fooled the model
    manifold_kind: np.ndarray | None = None  # (E, N) index into KINDS; -1: not fooled
    manifold_distance: np.ndarray | None = None  # (E, N) to the nearest curve; NaN: none

    KINDS: ClassVar[tuple[str, ...]] = MANIFOLD_KINDS
    PER_EPSILON: ClassVar[tuple[str, ...]] = (
        *AttackResults.PER_EPSILON, "attack_fooled", "manifold_kind", "manifold_distance",
    )  # fmt: skip
    SHARED: ClassVar[tuple[str, ...]] = ("epsilon", "attack")

    def attack_robust(self, name: str) -> np.ndarray:
        """(E, N): right before the attack and not fooled by attack `name`."""
        names = [str(a) for a in self.attack]
        if name not in names:
            raise ValueError(f"no attack {name!r} in these results; they hold {names}")
        return self.clean_correct[None] & ~self.attack_fooled[:, :, names.index(name)]

    def kind_share(self, kind: str) -> np.ndarray:
        """(E,): of the examples the ensemble fooled at each ε, the share whose nearest
        curve is of `kind` (NaN where none was fooled)."""
        fooled = self.manifold_kind >= 0
        hits = (self.manifold_kind == self.KINDS.index(kind)).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(fooled.any(axis=1), hits / fooled.sum(axis=1), np.nan)


@dataclasses.dataclass(frozen=True)
class BoundaryResults(_FromArrays):
    """Per-example distances of test latents to the true decision boundary."""

    index: np.ndarray  # (N,)
    label: np.ndarray  # (N,) bool
    analysed_probability: np.ndarray  # (N,) the analysed model's P(intersecting)
    found_at: np.ndarray  # (N,) ε number where the grid search changed the label; -1: never
    grid_distance: np.ndarray  # (N,) that ε, inf when never
    refined_distance: np.ndarray  # (N,) after bisection, inf when never
    boundary_point: np.ndarray  # (N, ...) the latent found beyond the boundary

    @property
    def predicted(self) -> np.ndarray:
        """(N,): the analysed model's prediction on the clean example."""
        return predicted(self.analysed_probability)

    @property
    def misclassified(self) -> np.ndarray:
        """(N,): the analysed model is wrong on the clean example."""
        return self.predicted != self.label

    @property
    def found(self) -> np.ndarray:
        return self.found_at >= 0


def latent_attack_summary(
    predicted_class: np.ndarray, label_before: np.ndarray, label_after: np.ndarray
) -> dict[str, float]:
    """Accuracy against the recomputed label, and how often the label survived."""
    guess, before, after = (
        np.asarray(a, bool) for a in (predicted_class, label_before, label_after)
    )
    return {
        "accuracy_vs_recomputed_label": float(np.mean(guess == after)),
        "label_unchanged": float(np.mean(before == after)),
    }


# ---------------------------------------------------------------- Ford et al.'s analyses
# Per-example arrays ordered by test index; arrays with a leading σ axis hold examples on axis 1.


class OutcomeCounts:
    """What the three counts of noisy latent samples add up to, defined once (for
    `LatentOutcomes` and the stored `LatentResults`)."""

    model_errors: np.ndarray  # label unchanged, model wrong
    followed_flips: np.ndarray  # label changed, model predicts the new label
    missed_flips: np.ndarray  # label changed, model predicts the old label

    @property
    def label_changes(self) -> np.ndarray:
        return self.followed_flips + self.missed_flips

    @property
    def disagreements(self) -> np.ndarray:
        """Prediction ≠ clean label: what Ford et al. count as errors in noise."""
        return self.model_errors + self.followed_flips

    @property
    def true_errors(self) -> np.ndarray:
        """Prediction ≠ the recomputed true label."""
        return self.model_errors + self.missed_flips


@dataclasses.dataclass(frozen=True)
class _Clean(_FromArrays):
    index: np.ndarray  # (N,)
    label: np.ndarray  # (N,) bool, True = intersecting
    clean_probability: np.ndarray  # (N,)

    @property
    def clean_correct(self) -> np.ndarray:
        return predicted(self.clean_probability) == self.label


@dataclasses.dataclass(frozen=True)
class RateResults(_Clean):
    """Error rates in Gaussian pixel noise and σ(x, μ)."""

    sigma: np.ndarray  # (S,) the σ of `errors`
    errors: np.ndarray  # (S, N) misclassified draws among `samples`
    rate_low: np.ndarray  # (S, N) 95 % Clopper–Pearson interval of μ
    rate_high: np.ndarray  # (S, N)
    samples: np.ndarray  # () draws per image at each σ
    accuracy_sigma: np.ndarray  # (A,)
    noise_wrong: np.ndarray  # (A·D, N) wrong under draw d of σ number a (row a·D + d)
    sigma_at_mu: np.ndarray  # (N,) σ(x, μ); 0: wrong clean, inf: μ not reached

    PER_EPSILON: ClassVar[tuple[str, ...]] = ("errors", "rate_low", "rate_high", "noise_wrong")
    SHARED: ClassVar[tuple[str, ...]] = ("sigma", "samples", "accuracy_sigma")

    @property
    def rate(self) -> np.ndarray:
        """(S, N): μ(x, σ)."""
        return self.errors / self.samples

    def accuracy_draws(self) -> np.ndarray:
        """(A, D): accuracy over the images under each noise draw."""
        draws = len(self.noise_wrong) // len(self.accuracy_sigma)
        return 1.0 - self.noise_wrong.reshape(len(self.accuracy_sigma), draws, -1).mean(-1)


@dataclasses.dataclass(frozen=True)
class DistanceResults(_Clean):
    """Distances to the nearest error, from the image and from its noisy samples, and
    where the errors found lie relative to the data manifold."""

    distance: np.ndarray  # (N,) refined; 0 when wrong clean, inf when none found
    unrefined: np.ndarray  # (N,) norm of the first PGD iterate that was an error
    found: np.ndarray  # (N,) bool
    noisy_distances: np.ndarray  # (N, K) from each noisy sample; 0 where it is an error
    noisy_median: np.ndarray  # (N,)
    noisy_median_of_correct: np.ndarray  # (N,) over the correctly classified samples
    pgd_manifold_distance: np.ndarray  # (N,) ‖render(z*) − x_pgd‖, NaN where no error
    pgd_manifold_kind: np.ndarray  # (N,) index into manifold.KINDS, -1 where no error
    noise_error_found: np.ndarray  # (N,) bool: a noisy sample was an error
    noise_manifold_distance: np.ndarray  # (N,)
    noise_manifold_kind: np.ndarray  # (N,)

    SHARED: ClassVar[tuple[str, ...]] = ()


@dataclasses.dataclass(frozen=True)
class LatentResults(_Clean, OutcomeCounts):
    """Gaussian noise and distances in latent space, against the model and the truth."""

    sigma: np.ndarray  # (S,) σ_z
    samples: np.ndarray  # ()
    model_errors: np.ndarray  # (S, N) label unchanged, model wrong
    followed_flips: np.ndarray  # (S, N) label changed, model follows
    missed_flips: np.ndarray  # (S, N) label changed, model keeps the old class
    sigma_model: np.ndarray  # (N,) σ(z, μ) against the model
    sigma_truth: np.ndarray  # (N,) σ(z, μ) of the true classifier
    distance: np.ndarray  # (N,) latent distance to the model's nearest error
    found: np.ndarray  # (N,)
    error_true_label: np.ndarray  # (N,) Shapely label at that error latent

    PER_EPSILON: ClassVar[tuple[str, ...]] = ("model_errors", "followed_flips", "missed_flips")
    SHARED: ClassVar[tuple[str, ...]] = ("sigma", "samples")


@dataclasses.dataclass(frozen=True)
class ChurchResults(_Clean):
    """2-D slices of the model's class: in pixel space through the clean image, a
    Gaussian-noise error and a PGD error; in latent space along the latent PGD direction
    and a random one, with the true label on the same grid."""

    offsets: np.ndarray  # (G,) grid of the pixel slice in [-1, 1], times pixel_extent
    pixel_extent: np.ndarray  # (N,) half-width of each image's pixel slice, ℓ2 units
    pixel_class: np.ndarray  # (N, G, G) model's class at x + u·e1 + v·e2 ([v, u])
    pgd_point: np.ndarray  # (N, 2) (u, v) of the PGD error
    noise_point: np.ndarray  # (N, 2) (u, v) of the noise error, NaN where none
    noise_sigma: np.ndarray  # (N,) σ of that noise error
    latent_offsets: np.ndarray  # (L,) grid coordinates of the latent slice
    latent_class: np.ndarray  # (N, L, L) model's class of render(z + u·f1 + v·f2)
    latent_truth: np.ndarray  # (N, L, L) Shapely label there
    latent_error_point: np.ndarray  # (N, 2) (u, v) of the latent PGD error, NaN where none

    SHARED: ClassVar[tuple[str, ...]] = ("offsets", "latent_offsets")


# ---------------------------------------------------------------- Squiggles-C


@dataclasses.dataclass(frozen=True)
class CorruptionResults(_FromArrays):
    """Per-example results on C cells (clean first, then each corruption at each of its
    severities) of N test examples, ordered by test index."""

    index: np.ndarray  # (N,)
    label: np.ndarray  # (N,) bool, True = intersecting
    corruption: np.ndarray  # (C,) str: "clean" or a corruption's name
    severity: np.ndarray  # (C,) int: 0 for clean
    probability: np.ndarray  # (C, N) P(intersecting)

    PER_EPSILON: ClassVar[tuple[str, ...]] = ("probability",)  # one row per cell
    SHARED: ClassVar[tuple[str, ...]] = ("corruption", "severity")

    @property
    def correct(self) -> np.ndarray:
        """(C, N): the model is right on the example under that cell's corruption."""
        return predicted(self.probability) == np.asarray(self.label, bool)[None]

    @property
    def cells(self) -> list[tuple[str, int]]:
        return [(str(c), int(s)) for c, s in zip(self.corruption, self.severity, strict=True)]


@dataclasses.dataclass(frozen=True)
class CertifyResults(_Clean):
    """Randomized smoothing's certificates (Cohen et al.'s CERTIFY at one σ) and each
    example's true-class distance in pixels (`experiments.attacks.true_class`): an upper
    bound on the ℓ2 distance from its image to an image of the other true class."""

    sigma: np.ndarray  # () the smoothing σ
    samples: np.ndarray  # () estimation draws n
    prediction: np.ndarray  # (N,) the smoothed class; ABSTAIN (-1) where it abstained
    radius: np.ndarray  # (N,) certified ℓ2 radius; 0 where it abstained
    p_lower: np.ndarray  # (N,) the lower confidence bound of p_A
    top_count: np.ndarray  # (N,) estimation draws in the chosen class
    distance: np.ndarray  # (N,) true-class distance found; inf where none
    crossing_distance: np.ndarray  # (N,) the pixel distance of the first boundary crossing
    latent_distance: np.ndarray  # (N,) its latent distance
    image: np.ndarray  # (N, R, R) float16, the example's image
    other_image: np.ndarray  # (N, R, R) float16, the nearest other-class image found
    # (N,) PREDICT of the smoothed model on other_image where a right certificate covers
    # it (ABSTAIN -1 where it abstained); -2 elsewhere
    other_prediction: np.ndarray

    SHARED: ClassVar[tuple[str, ...]] = ("sigma", "samples")

    @property
    def correct(self) -> np.ndarray:
        """(N,): the smoothed classifier certified the true class (abstaining is wrong)."""
        return self.prediction == self.label.astype(np.int32)

    def certified(self, radius: float) -> np.ndarray:
        """(N,): right and certified at `radius` (Cohen et al.'s certified accuracy)."""
        return self.correct & (self.radius >= radius)

    def provably_wrong(self, radius: float) -> np.ndarray:
        """(N,): certified right at `radius`, with an image of the other true class within
        it, on which the smoothed classifier is thereby proven to keep the wrong class."""
        return self.certified(radius) & (self.distance < radius)

    @property
    def wrong_certificate(self) -> np.ndarray:
        """(N,): a right certificate whose radius exceeds the true-class distance."""
        return self.correct & (self.radius > self.distance)

    @property
    def radius_ratio(self) -> np.ndarray:
        """(N,): certified radius ÷ true-class distance (0 where none is certified, or no
        other-class image was found)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(np.isfinite(self.distance) & (self.distance > 0),
                            self.radius / self.distance, 0.0)  # fmt: skip


# ---------------------------------------------------------------- which results a run holds

TYPES = {
    cls.__name__: cls
    for cls in (AttackResults, EnsembleResults, BoundaryResults, RateResults, DistanceResults,
                LatentResults, ChurchResults, CorruptionResults, CertifyResults)
}  # fmt: skip
# The results type of each analysis, for run directories whose settings.json does not
# record it (written before it did). New analyses need no entry here.
OF_ANALYSIS = {
    "pixel": AttackResults,
    "latent": AttackResults,
    "noise": AttackResults,
    "boundary": BoundaryResults,
    "ford_rates": RateResults,
    "ford_distance": DistanceResults,
    "ford_latent": LatentResults,
    "ford_church": ChurchResults,
    "squiggles_c": CorruptionResults,
}


def results_type(name: str, recorded: str | None = None) -> type:
    """The results class of analysis `name`: the one its run recorded (`recorded`, a
    class name of `TYPES`), else the one it has always had."""
    if recorded is not None:
        if recorded not in TYPES:
            raise ValueError(f"unknown results type {recorded!r} of {name}; expected one of "
                             f"{sorted(TYPES)}")  # fmt: skip
        return TYPES[recorded]
    if name not in OF_ANALYSIS:
        raise ValueError(f"the run records no results type of {name}, and {name} is none "
                         f"of the analyses that had one before: {sorted(OF_ANALYSIS)}")  # fmt: skip
    return OF_ANALYSIS[name]


def layout(cls: type) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Which arrays of a results class hold examples on axis 1, and which none (shared)."""
    return cls.PER_EPSILON, cls.SHARED


# ---------------------------------------------------------------- Ford et al.'s half-space

HALF_SPACE_FACTOR = float(-special.ndtri(0.01))  # −Φ⁻¹(1 %) = 2.326: d = 2.326·σ(x, 1 %)


def check_rate(mu, name: str = "mu") -> float:
    if not (isinstance(mu, numbers.Real) and 0 < mu < 1):
        raise ValueError(f"{name} must be a number in (0, 1), got {mu!r}")
    return float(mu)


def halfspace_factor(mu: float) -> float:
    """−Φ⁻¹(μ): a half-space at distance d has σ(x, μ) = d / this (2.326 for μ = 1 %)."""
    return float(-special.ndtri(check_rate(mu)))  # bit for bit scipy.stats.norm.isf


def check_rates(mu, name: str = "mu") -> np.ndarray:
    """Error rates (a number or an array), each in [0, 1], as float64."""
    return checked_values(mu, name, "error rates in [0, 1]", lambda v: (v >= 0) & (v <= 1))


def checked_values(value, name: str, expected: str, valid) -> np.ndarray:
    """`value` (a real number or array) as float64 where `valid` holds for every element;
    else a ValueError naming the first value that fails."""
    if isinstance(value, bool) or not np.issubdtype(np.asarray(value).dtype, np.number):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    values = np.asarray(value, np.float64)
    with np.errstate(invalid="ignore"):
        bad = ~valid(values)
    if np.any(bad):
        first = values[bad].flat[0]
        where = "" if values.ndim == 0 else f" ({int(bad.sum())} of {values.size} bad)"
        raise ValueError(f"{name} must be {expected}, got {float(first)!r}{where}")
    return values


def halfspace_distance(sigma, mu):
    """−σ·Φ⁻¹(μ) (Ford et al., Eq. 1): the distance to a half-space error set whose error
    rate in noise σ is μ; 0 where μ ≥ ½ or σ = 0, inf where μ = 0 (no error in noise).
    Also the Gaussian isoperimetric bound: the median distance from N(x, σ²I) samples to
    any error set of rate μ is at most this. σ finite >= 0 and μ in [0, 1], scalars or
    arrays that broadcast; else a ValueError. A float32 JAX array, computed in float32."""
    import jax.numpy as jnp  # only here: reading results needs no JAX
    from jax.scipy.special import ndtri

    sigmas = checked_values(sigma, "sigma", "finite and >= 0",
                            lambda v: np.isfinite(v) & (v >= 0))  # fmt: skip
    sigma, mu = jnp.asarray(sigmas, jnp.float32), jnp.asarray(check_rates(mu), jnp.float32)
    distance = -sigma * ndtri(jnp.minimum(mu, 0.5))
    return jnp.where((mu >= 0.5) | (sigma == 0), 0.0, distance)  # σ = 0: no noise, no distance


# ---------------------------------------------------------------- formatting


def percent(fraction: float, digits: int = 1, *, signed: bool = False) -> str:
    """100 · fraction with `digits` decimals, halves rounded away from zero ("n/a" when
    not finite): the one formatting of the Squiggles-C table and heat map, so they never
    disagree. The binary error of the float is dropped first (at 12 decimals), so an
    accuracy of 0.1225 is 12.25 % and shows as 12.3, whatever the float's last bit."""
    if not math.isfinite(fraction):
        return "n/a"
    exact = Decimal(float(fraction)).quantize(Decimal("1e-12"), rounding=ROUND_HALF_EVEN)
    value = (100 * exact).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    value = abs(value) if value == 0 else value  # no "-0.0"
    return f"{value:+f}" if signed else f"{value:f}"
