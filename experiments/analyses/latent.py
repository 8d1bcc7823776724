"""ℓ2 PGD on the latent through `squiggles.render` at each ε of a grid (every example,
every ε: the truth can change, so nothing carries over), after which the true label of
each attacked latent is recomputed with Shapely."""

from __future__ import annotations

import jax.numpy as jnp
import ml_collections
import numpy as np

import squiggles
from experiments.analyses import common
from experiments.attacks import pgd
from experiments.classifier import probabilities
from experiments.results import AttackResults
from experiments.runs.chunk_examples import TestExamples

RESULTS = AttackResults
PER_EPSILON = common.PER_EPSILON
KEY_STREAM = 2  # random starts: fold_in(key(seed), 2)


def default_settings() -> ml_collections.ConfigDict:
    settings = ml_collections.ConfigDict()
    settings.epsilons = pgd.DEFAULT_EPSILONS
    settings.steps = pgd.STEPS
    settings.step_fraction = pgd.STEP_FRACTION
    settings.random_start = False
    settings.block = 10
    settings.seed = 0
    return settings


def check(settings: ml_collections.ConfigDict) -> None:
    common.check_epsilons(settings)
    common.check_pgd(settings)
    common.check_integer(settings, "seed", 0)


def compute(context, examples: TestExamples) -> dict[str, np.ndarray]:
    settings, model = context.settings, context.model.classifier
    family, resolution = context.family, context.resolution
    labels = examples.labels.astype(np.int32)
    clean = squiggles.render(jnp.asarray(examples.latents), family, resolution)
    results = common.empty_results(
        examples, settings.epsilons, (examples.latents.shape[1:], np.float32)
    )
    results["clean_probability"] = probabilities(model, clean)
    results["clean"] = examples.latents
    everything = np.arange(len(labels))
    for k, epsilon in enumerate(settings.epsilons):
        key = context.key(examples, k) if settings.random_start else None
        attacked = pgd.attack_subset(
            model, examples.latents, labels, everything, epsilon, batch=context.batch,
            family=family, resolution=resolution, key=key, steps=settings.steps,
            step_fraction=settings.step_fraction, block=settings.block,
        )  # fmt: skip
        results["attacked"][k] = attacked
        results["label_after"][k] = pgd.true_labels(attacked, family)
        results["probability"][k] = probabilities(
            model, squiggles.render(jnp.asarray(attacked), family, resolution)
        )
        results["norm"][k] = pgd.norms(attacked - examples.latents)
        context.log(
            f"  latent ε={epsilon:g}: accuracy vs recomputed label "
            f"{common.accuracy(results['probability'][k], results['label_after'][k]):.3f}, "
            f"label unchanged {np.mean(results['label_after'][k] == examples.labels):.3f}"
        )
    return results


def summarise(results: AttackResults, context) -> dict:
    return common.summarise_attack(results, "latent")


def table(results: AttackResults, context) -> list[dict]:
    return common.attack_table(results)
