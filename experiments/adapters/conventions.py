"""Checks that a model follows the library's conventions, before anything long runs.

A model brought from elsewhere can be right in itself and wrong for this library in
ways that no error reveals: its class 1 may be "simple", it may have been trained on dark
curves on light, on 0-255 pixels, or (PyTorch) with the channel axis elsewhere. Every
attack would then run for hours on a model that sees something other than what it was
trained on. `check_conventions` runs the model on a few labelled test examples, as given
and under each usual mistake, and refuses it when one mistake explains it clearly better
than the convention does.

The decision uses the balanced accuracy (the mean of the two classes' accuracies): about
a fifth of Taylor curves cross themselves, so a model that always answers "simple" has an
accuracy near 0.8, but a balanced accuracy of exactly 0.5, as any constant answer has;
and exchanging the classes turns a balanced accuracy b into exactly 1 - b.

A mistake is reported when its balanced accuracy is at least FLOOR (0.75) and at least
GAP (0.25) above the model's as given. A model good as given (above 0.75) is then never
refused, since no alternative can exceed 1. For a mistake that does not truly help
(balanced accuracy 0.5 or less), reaching 0.75 by chance on n₁ self-intersecting and n₀
simple examples has probability at most exp(-2·0.25² / (1/(4n₁) + 1/(4n₀))) (Hoeffding's
inequality for the weighted mean of the examples' hits): 3·10⁻⁵ for the 128 default
examples of Taylor (26 self-intersecting), 0.018 at the least the check accepts,
MINIMUM_PER_CLASS (16) examples of each class.

What cannot be seen: a transpose of the image axes. The label is invariant to it (the
transposed image is the image of the mirrored curve, which crosses itself just when the
curve does), and both families draw their two coordinates from the same distribution, so
transposed test images are as likely as the images themselves: a model trained on
transposed images is as accurate on ours, and nothing the library measures depends on it.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

import squiggles
from experiments import checks
from experiments.adapters import torch_model
from experiments.classifier import Classifier, LogitsFn, as_classifier
from squiggles.families import check_family
from squiggles.rendering import check_resolution

GAP = 0.25
FLOOR = 0.75
MINIMUM_PER_CLASS = 16
BATCH = 128  # images per call of the model (the last batch is padded)

# name: (what was seen, how the alternative was made, what to do).
MISTAKES = {
    "classes swapped": (
        "classes look swapped",
        "with classes 0 and 1 exchanged",
        "class 1 must be self-intersecting: exchange the model's two logits",
    ),
    "inverted": (
        "the images look inverted",
        "on inverted images (1 - x)",
        "the images are white curves (1) on black (0): a model trained on dark curves on "
        "light must invert its input (1 - x) itself",
    ),
    "0-255": (
        "the pixel scale looks wrong",
        "with the pixels scaled to 0-255 (x · 255)",
        "the images are in [0, 1]: a model trained on 0-255 pixels must multiply its input "
        "by 255 itself",
    ),
}


@dataclasses.dataclass(frozen=True)
class Score:
    """The model's answers on the test examples, as given or under one mistake; NaN
    scores when it failed or returned non-finite logits that way (`note` says which)."""

    name: str
    accuracy: float
    balanced_accuracy: float
    note: str = ""


@dataclasses.dataclass(frozen=True)
class ConventionReport:
    """What `check_conventions` measured on a model that passed."""

    family: str
    resolution: int
    examples: int
    self_intersecting: int
    as_given: Score
    alternatives: tuple[Score, ...]

    @property
    def accuracy(self) -> float:
        return self.as_given.accuracy

    @property
    def balanced_accuracy(self) -> float:
        return self.as_given.balanced_accuracy

    def summary(self) -> str:
        others = ", ".join(
            f"{score.name} {score.balanced_accuracy:.2f}"
            if math.isfinite(score.balanced_accuracy)
            else f"{score.name} ({score.note})"
            for score in self.alternatives
        )
        return (
            f"accuracy {self.accuracy:.3f}, balanced accuracy {self.balanced_accuracy:.3f} on "
            f"{self.examples} {self.family} test examples at {self.resolution}×"
            f"{self.resolution} ({self.self_intersecting} self-intersecting); balanced "
            f"accuracy under the usual mistakes: {others}"
        )


def check_conventions(
    classifier: Classifier | LogitsFn,
    family: squiggles.Family | str,
    resolution: int,
    *,
    examples: int = 128,
) -> ConventionReport:
    """Runs `classifier` on the first `examples` stored test examples of `family` and
    returns what it scored, or raises a ValueError when it does not take (N, R, R) images
    to finite (N, 2) logits or when a usual mistake explains it clearly better (see the
    module docstring). A model that is merely poor passes: the report says how poor."""
    classifier = as_classifier(classifier)
    family = squiggles.family_from_name(family) if isinstance(family, str) else family
    family_name = type(check_family(family)).__name__
    resolution = check_resolution(resolution)
    examples = checks.check_integer(examples, "examples", minimum=2 * MINIMUM_PER_CLASS)
    check_shapes(classifier, resolution)
    data = squiggles.stored_examples(family, examples, resolution=resolution)
    labels, images = np.asarray(data.label, bool), np.asarray(data.image, np.float32)
    counts = int(labels.sum()), int((~labels).sum())
    if min(counts) < MINIMUM_PER_CLASS:
        raise ValueError(
            f"the first {examples} {family_name} test examples hold {counts[0]} self-intersecting "
            f"and {counts[1]} simple curves; the check needs at least {MINIMUM_PER_CLASS} of "
            "each: ask for more examples"
        )
    logits = logits_of(classifier, images)
    bad = int((~np.isfinite(logits)).sum())
    if bad:
        raise ValueError(
            f"the model returned {bad} non-finite logits (NaN or ±inf) of {logits.size} for "
            f"{examples} {family_name} test images (N, {resolution}, {resolution}) in [0, 1]; "
            "expected finite logits"
        )
    as_given = score("as given", logits, labels)
    alternatives = [
        score("classes swapped", logits[:, ::-1], labels),
        _scored("inverted", classifier, 1.0 - images, labels),
        _scored("0-255", classifier, 255.0 * images, labels),
        *_layouts(classifier, images, labels),
    ]
    report = ConventionReport(
        family_name, resolution, examples, counts[0], as_given, tuple(alternatives)
    )
    _refuse_a_clear_mistake(report)
    return report


def score(name: str, logits: np.ndarray, labels: np.ndarray) -> Score:
    """Accuracy and balanced accuracy of the argmax of `logits` against `labels`."""
    predicted = np.asarray(logits).argmax(axis=1) == 1
    hits = predicted == labels
    balanced = 0.5 * (hits[labels].mean() + hits[~labels].mean())
    return Score(name, float(hits.mean()), float(balanced))


def _scored(name: str, classifier: Classifier, images: np.ndarray, labels: np.ndarray) -> Score:
    try:
        logits = logits_of(classifier, images)
    except Exception as error:  # the mistake's input is refused: no evidence either way
        return Score(name, math.nan, math.nan, f"failed: {type(error).__name__}")
    if not np.isfinite(logits).all():
        return Score(name, math.nan, math.nan, "non-finite logits")
    return score(name, logits, labels)


def _layouts(classifier: Classifier, images: np.ndarray, labels: np.ndarray) -> list[Score]:
    """For a PyTorch classifier, the scores with the images in each other layout."""
    function = torch_model.torch_logits_of(classifier)
    if function is None:
        return []
    return [
        _scored(
            f"input_layout={layout}", torch_model.with_layout(classifier, layout), images, labels
        )  # fmt: skip
        for layout in torch_model.LAYOUTS
        if layout != function.input_layout
    ]


def _refuse_a_clear_mistake(report: ConventionReport) -> None:
    given = report.as_given.balanced_accuracy
    clear = [
        s
        for s in report.alternatives
        if s.balanced_accuracy >= FLOOR and s.balanced_accuracy - given >= GAP
    ]
    if not clear:
        return
    best = max(clear, key=lambda s: s.balanced_accuracy)
    if best.name in MISTAKES:
        seen, how, advice = MISTAKES[best.name]
    else:  # another input layout of a PyTorch module
        layout = best.name.partition("=")[2]
        seen = "the input layout looks wrong"
        how = f"with the images given as {torch_model.LAYOUTS[layout]} (input_layout={layout!r})"
        advice = f"wrap the module with torch_classifier(module, input_layout={layout!r})"
    raise ValueError(
        f"{seen}: balanced accuracy {given:.2f} as given, {best.balanced_accuracy:.2f} {how} "
        f"on {report.examples} labelled {report.family} test examples "
        f"({report.self_intersecting} self-intersecting; balanced accuracy is the mean of the "
        f"two classes' accuracies); {advice}"
    )


# ---------------------------------------------------------------- shapes


@jax.jit
def _apply(classifier: Classifier, images: jax.Array) -> jax.Array:
    return classifier(images)


def logits_of(classifier: Classifier, images: np.ndarray) -> np.ndarray:
    """The classifier's logits of `images`, jitted, in batches of BATCH (the last one
    padded with blank images, so every batch is one compiled program)."""
    size = min(BATCH, len(images))
    parts = []
    for start in range(0, len(images), size):
        part = images[start : start + size]
        padded = np.concatenate([part, np.zeros((size - len(part), *part.shape[1:]), part.dtype)])
        parts.append(np.asarray(_apply(classifier, jnp.asarray(padded)))[: len(part)])
    return np.concatenate(parts)


def check_shapes(
    classifier: Classifier, resolution: int, *, count: int = 2, source: str = "the model"
) -> None:
    """Traces the classifier on images (count, R, R) (nothing is computed, except a
    PyTorch module's one-image probe) and raises a ValueError unless it returns logits
    (count, 2); when it fails, says which other image layout it would accept."""
    images = jax.ShapeDtypeStruct((count, resolution, resolution), jnp.float32)
    try:
        output = jax.eval_shape(_apply, classifier, images)
    except Exception as error:
        raise ValueError(
            f"{source} failed on images of shape (N, R, R) = {images.shape} float32 under "
            f"jax.jit: {type(error).__name__}: {_first_lines(error)}"
            f"{_another_layout(classifier, count, resolution)}"
        ) from error
    shape, dtype = getattr(output, "shape", None), getattr(output, "dtype", None)
    if shape != (count, 2) or dtype is None or not jnp.issubdtype(dtype, jnp.floating):
        seen = f"{dtype} of shape {shape}" if shape is not None else type(output).__name__
        raise ValueError(
            f"{source} must return float logits (N, 2) = {(count, 2)} for images (N, R, R) = "
            f"{images.shape} (class 1 = self-intersecting); it returned {seen}"
        )


def _another_layout(classifier: Classifier, count: int, resolution: int) -> str:
    """ "; it accepts ..." naming a layout in which the model would take the images."""
    function = torch_model.torch_logits_of(classifier)
    if function is not None:
        for layout in torch_model.LAYOUTS:
            if layout != function.input_layout and _accepts(
                torch_model.with_layout(classifier, layout), (count, resolution, resolution)
            ):
                return (
                    f"; the module accepts them with input_layout={layout!r} (images given as "
                    f"{torch_model.LAYOUTS[layout]}): torch_classifier(module, "
                    f"input_layout={layout!r})"
                )
        return ""
    for shape, wrap in (
        ((count, resolution, resolution, 1), "lambda x: f(x[..., None])"),
        ((count, 1, resolution, resolution), "lambda x: f(x[:, None])"),
    ):
        if _accepts(classifier, shape):
            return (
                f"; it accepts images of shape {shape}: add the channel axis inside its "
                f"logits function ({wrap})"
            )
    return ""


def _accepts(classifier: Classifier, shape: tuple[int, ...]) -> bool:
    try:
        output = jax.eval_shape(_apply, classifier, jax.ShapeDtypeStruct(shape, jnp.float32))
    except Exception:
        return False
    return getattr(output, "shape", None) == (shape[0], 2)


def _first_lines(error: Exception, lines: int = 3) -> str:
    return " ".join(str(error).strip().splitlines()[:lines])
