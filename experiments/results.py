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
from collections.abc import Mapping

import numpy as np

THRESHOLD = 0.5  # P(intersecting) above which the model says "intersecting"


def predicted(probability: np.ndarray) -> np.ndarray:
    """The predicted class (True = intersecting) of each probability."""
    return np.asarray(probability) > THRESHOLD


class _FromArrays:
    """Typed results made from a joined chunk dictionary."""

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
