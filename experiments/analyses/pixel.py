"""ℓ2 PGD on the stored (uint8-quantised) test image against its true label, at each ε
of a grid.

With carry_successes, an example already misclassified (clean or at a smaller ε) keeps
that adversarial image: it lies inside every larger ball, so accuracy under attack cannot
rise with ε, and no work is spent attacking it again.
"""

from __future__ import annotations

import dataclasses

import ml_collections
import numpy as np

from experiments.analyses import common
from experiments.attacks import pgd
from experiments.classifier import probabilities
from experiments.results import AttackResults, predicted
from experiments.runs.chunk_examples import TestExamples

RESULTS = AttackResults
PER_EPSILON = common.PER_EPSILON
KEY_STREAM = 0  # random starts: fold_in(key(seed), 0)


def default_settings() -> ml_collections.ConfigDict:
    settings = ml_collections.ConfigDict()
    settings.epsilons = pgd.DEFAULT_EPSILONS
    settings.steps = pgd.STEPS
    settings.step_fraction = pgd.STEP_FRACTION
    settings.random_start = False
    # (low, high) to clip attacked pixels to, or None for no clipping.
    settings.pixel_range = ml_collections.config_dict.FieldReference((0.0, 1.0), tuple)
    settings.carry_successes = True
    settings.block = 10  # PGD iterations per compiled block; 0: one fori_loop
    settings.seed = 0
    return settings


def check(settings: ml_collections.ConfigDict) -> None:
    common.check_epsilons(settings)
    common.check_pgd(settings)
    common.check_integer(settings, "seed", 0)
    bounds = clip_range(settings)
    if bounds is not None and (len(bounds) != 2 or not bounds[0] < bounds[1]):
        raise ValueError(
            f"pixel_range must be (low, high) with low < high, or None; got {settings.pixel_range}"
        )


def clip_range(settings: ml_collections.ConfigDict) -> tuple[float, ...] | None:
    """The pixel range as numbers, or None for no clipping (given as None, or as
    `--config.pixel.pixel_range=None`, which the command line reads as (None,))."""
    bounds = settings.pixel_range
    if bounds is None or tuple(bounds) in ((), (None,)):
        return None
    try:
        return tuple(float(v) for v in bounds)
    except (TypeError, ValueError) as error:
        raise ValueError(f"pixel_range must be two numbers or None, got {bounds}") from error


def compute(context, examples: TestExamples) -> dict[str, np.ndarray]:
    settings, model = context.settings, context.model.classifier
    labels = examples.labels.astype(np.int32)
    clip = clip_range(settings)
    attacked_model = model if clip is None else dataclasses.replace(model, input_range=clip)
    current = examples.images.copy()
    probability = probabilities(model, examples.images)
    found_at = np.full(len(labels), -1, np.int32)  # ε number that made `current`; -1: clean
    results = common.empty_results(
        examples, settings.epsilons, (examples.images.shape[1:], np.float16)
    )
    results["clean_probability"] = probability.copy()
    results["clean"] = examples.images.astype(np.float16)
    for k, epsilon in enumerate(settings.epsilons):
        wrong = predicted(probability) != labels  # clean, or fooled at a smaller ε
        todo = np.flatnonzero(~wrong) if settings.carry_successes else np.arange(len(labels))
        if len(todo):
            key = context.key(examples, k) if settings.random_start else None
            current[todo] = pgd.attack_subset(
                attacked_model, examples.images, labels, todo, epsilon, batch=context.batch,
                clip=clip is not None,
                key=key, steps=settings.steps, step_fraction=settings.step_fraction,
                block=settings.block,
            )  # fmt: skip
            probability[todo] = probabilities(model, current[todo])
            found_at[todo] = k
        results["attacked"][k] = current
        results["probability"][k] = probability
        results["found_at"][k] = found_at
        results["norm"][k] = pgd.norms(current - examples.images)
        context.log(
            f"  pixel ε={epsilon:g}: attacked {len(todo)}, "
            f"accuracy {common.accuracy(probability, labels):.3f}"
        )
    return results


def summarise(results: AttackResults, context) -> dict:
    return common.summarise_attack(results, "pixel")


def table(results: AttackResults, context) -> list[dict]:
    return common.attack_table(results)
