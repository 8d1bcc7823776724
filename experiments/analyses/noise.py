"""Gaussian noise rescaled to ℓ2 norm exactly ε on the stored test image (not clipped,
like the noise the models are trained with): the baseline PGD is compared with."""

from __future__ import annotations

import ml_collections
import numpy as np

from experiments.analyses import common
from experiments.attacks import pgd
from experiments.classifier import probabilities
from experiments.results import AttackResults
from experiments.runs.chunk_examples import TestExamples

RESULTS = AttackResults
PER_EPSILON = common.PER_EPSILON
KEY_STREAM = 1  # noise draws: fold_in(key(seed), 1)


def default_settings() -> ml_collections.ConfigDict:
    settings = ml_collections.ConfigDict()
    settings.epsilons = pgd.DEFAULT_EPSILONS
    settings.seed = 0
    return settings


def check(settings: ml_collections.ConfigDict) -> None:
    common.check_epsilons(settings)
    common.check_integer(settings, "seed", 0)


def compute(context, examples: TestExamples) -> dict[str, np.ndarray]:
    model, labels = context.model.classifier, examples.labels
    results = common.empty_results(examples, context.settings.epsilons)
    results["clean_probability"] = probabilities(model, examples.images)
    for k, epsilon in enumerate(context.settings.epsilons):
        noisy = np.asarray(pgd.gaussian_at_norm(context.key(examples, k), examples.images, epsilon))
        results["probability"][k] = probabilities(model, noisy)
        results["norm"][k] = pgd.norms(noisy - examples.images)
        accuracy = common.accuracy(results["probability"][k], labels)
        context.log(f"  noise ε={epsilon:g}: accuracy {accuracy:.3f}")
    return results


def summarise(results: AttackResults, context) -> dict:
    return common.summarise_attack(results, "noise")


def table(results: AttackResults, context) -> list[dict]:
    return common.attack_table(results)
