"""Typed results of the Ford et al. analyses (`experiments.analyses.ford_*`): per-example
arrays ordered by test index; arrays with a leading σ axis hold examples on axis 1."""

from __future__ import annotations

import dataclasses

import numpy as np

from experiments.latent_noise import OutcomeCounts
from experiments.results import _FromArrays, predicted


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
