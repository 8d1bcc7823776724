"""Pixel robust accuracy under an attack ensemble in the spirit of AutoAttack: APGD with
cross-entropy, APGD with the two-class margin loss, and the gradient-free Square attack
(`experiments.attacks.ensemble`), each on every example, at each ε of an ℓ2 grid. An
example is robust at ε only if it was right before and survives all three.

Successes carry over: an adversarial image found at a smaller ε lies inside every larger
ball, so an attack that fooled the model at ε keeps doing so at every larger ε, and each
attack runs at the next ε only on the examples it has not fooled yet.

For every adversarial image the nearest curve on the data manifold is found
(`experiments.attacks.manifold`): whether the error is off the manifold (the nearest curve
keeps the label and the model is right on it), on it (the model is wrong on that curve
too), or a change of class.
"""

from __future__ import annotations

import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments.analyses import common
from experiments.attacks import ensemble, manifold, pgd
from experiments.classifier import probabilities
from experiments.results import EnsembleResults, predicted
from experiments.runs.chunk_examples import TestExamples

RESULTS = EnsembleResults
PER_EPSILON = RESULTS.PER_EPSILON
SHARED = RESULTS.SHARED
KEY_STREAM = 7  # the attacks' random starts and squares: fold_in(key(seed), 7)


def default_settings() -> ml_collections.ConfigDict:
    settings = ml_collections.ConfigDict()
    settings.epsilons = pgd.DEFAULT_EPSILONS
    settings.steps = 100  # APGD iterations per restart (AutoAttack's)
    settings.restarts = 1
    settings.queries = 1000  # Square attack queries
    settings.manifold_steps = 100  # Adam steps of the nearest-curve search
    settings.manifold_learning_rate = 0.01
    settings.seed = 0
    return settings


def check(settings: ml_collections.ConfigDict) -> None:
    common.check_epsilons(settings)
    for field in ("steps", "restarts", "queries"):
        common.check_integer(settings, field, 1)
    common.check_integer(settings, "manifold_steps", 1)
    common.check_integer(settings, "seed", 0)
    common.check_number(settings, "manifold_learning_rate", 0, float("inf"))


def compute(context, examples: TestExamples) -> dict[str, np.ndarray]:
    settings, model = context.settings, context.model.classifier
    images, labels = examples.images, examples.labels.astype(np.int32)
    count, grid, attacks = len(labels), len(settings.epsilons), len(ensemble.ATTACKS)
    probability = probabilities(model, images)
    wrong = predicted(probability) != labels  # clean errors count as fooled by every attack
    fooled_by = np.repeat(wrong[:, None], attacks, axis=1)
    current, found_at = images.copy(), np.full(count, -1, np.int32)
    kind, distance = np.full(count, -1, np.int8), np.full(count, np.nan, np.float32)
    results = common.empty_results(examples, settings.epsilons, (images.shape[1:], np.float16))
    results.update(
        clean_probability=probability.copy(), clean=images.astype(np.float16),
        attack=np.array(ensemble.ATTACKS), attack_fooled=np.zeros((grid, count, attacks), bool),
        manifold_kind=np.zeros((grid, count), np.int8),
        manifold_distance=np.zeros((grid, count), np.float32),
    )  # fmt: skip
    for k, epsilon in enumerate(settings.epsilons):
        found = attack_each(context, examples, epsilon, k, fooled_by)
        for rows, points in found:  # in ATTACKS order: the first attack's image is kept
            new = ~wrong[rows]
            current[rows[new]], found_at[rows[new]], wrong[rows[new]] = points[new], k, True
        fresh = np.flatnonzero(found_at == k)
        probability[fresh] = probabilities(model, current[fresh])
        kind[fresh], distance[fresh] = nearest_curves(context, examples, current, fresh)
        results["attacked"][k], results["found_at"][k] = current, found_at
        results["probability"][k] = probability
        results["norm"][k] = pgd.norms(current - images)
        results["attack_fooled"][k] = fooled_by
        results["manifold_kind"][k], results["manifold_distance"][k] = kind, distance
        context.log(
            f"  ensemble ε={epsilon:g}: robust accuracy {common.accuracy(probability, labels):.3f}"
            + "".join(f", {name} {np.mean(~fooled_by[:, a]):.3f}"
                      for a, name in enumerate(ensemble.ATTACKS))
        )  # fmt: skip
    return results


def attack_each(context, examples: TestExamples, epsilon: float, k: int, fooled_by):
    """Each attack of the ensemble at ε on the examples it has not fooled yet (its
    successes at a smaller ε carry over), marking its new successes in `fooled_by`.
    Returns (rows, adversarial images) of each attack's new successes, in ATTACKS order."""
    settings, images = context.settings, examples.images
    labels = examples.labels.astype(np.int32)
    found = []
    for a, name in enumerate(ensemble.ATTACKS):
        rows = np.flatnonzero(~fooled_by[:, a])
        if not len(rows):
            continue
        attacked = ensemble.ensemble(
            context.model.classifier, images[rows], labels[rows], epsilon,
            key=context.key(examples, k), steps=settings.steps, restarts=settings.restarts,
            queries=settings.queries, batch=context.batch, attacks=(name,),
        )  # fmt: skip
        hit = attacked.by_attack[name]
        fooled_by[rows[hit], a] = True
        found.append((rows[hit], np.asarray(attacked.point)[hit]))
    return found


def nearest_curves(context, examples: TestExamples, images: np.ndarray, rows: np.ndarray):
    """(kind, distance) of the nearest curve to each adversarial image of `rows`,
    searched from its example's latent. The rows are padded to a few batch sizes, so a
    new count of successes does not compile another search."""
    if not len(rows):
        return np.zeros(0, np.int8), np.zeros(0, np.float32)
    size = pgd.bucket(len(rows), context.batch)
    nearest = manifold.nearest_curve(
        context.model.classifier, jnp.asarray(pgd.padded(images[rows], size)),
        pgd.padded(examples.latents[rows], size), pgd.padded(examples.labels[rows], size),
        family=context.family, resolution=context.resolution,
        steps=context.settings.manifold_steps,
        learning_rate=context.settings.manifold_learning_rate,
    )  # fmt: skip
    return nearest.kind[: len(rows)].astype(np.int8), nearest.distance[: len(rows)]


def summarise(results: EnsembleResults, context) -> dict:
    """Per ε: robust accuracy under the ensemble and under each attack alone, and where
    the adversarial images lie relative to the data manifold."""
    summary = common.summarise_attack(results, "pixel")
    for k, row in enumerate(summary["per_epsilon"]):
        row["robust_accuracy"] = row["accuracy"]
        row["by_attack"] = {
            str(name): float(np.mean(results.attack_robust(str(name))[k]))
            for name in results.attack
        }
        fooled = results.manifold_kind[k] >= 0
        row["fooled"] = int(fooled.sum())
        row["manifold"] = {
            name: (float(results.kind_share(name)[k]) if fooled.any() else None)
            for name in results.KINDS
        }
    return summary


def table(results: EnsembleResults, context) -> list[dict]:
    """The attack table, with which attacks fooled the model and the nearest curve's kind."""
    rows = common.attack_table(results)
    names = [str(name) for name in results.attack]
    kinds = ("none", *results.KINDS)
    for row, (k, i) in zip(rows, np.ndindex(*results.probability.shape), strict=True):
        row.update({f"fooled_by_{name}": int(results.attack_fooled[k, i, a])
                    for a, name in enumerate(names)})  # fmt: skip
        row["nearest_curve"] = kinds[int(results.manifold_kind[k, i]) + 1]
    return rows
