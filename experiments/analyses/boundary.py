"""Distance from test latents to the true decision boundary (the paper's Fig. 8).

For each latent, a targeted latent-space PGD toward the other class is run at each ε of
a grid, guided by a *navigator* classifier (which may be another model than the one
analysed, so the search does not share its errors). The grid estimate is the smallest
ε whose attacked latent has another true label. It is then refined by bisection on the
true label along the straight path from the latent to that attacked latent: the refined
distance is the norm of the first point found on the path whose label differs, an upper
bound on the true distance that is never above the grid estimate.

The summary gives the cumulative fraction of distances for all examples, the analysed
model's clean errors, and the examples a pixel PGD at `attack_epsilon` fooled (from the
pixel results of `attack_results`, or of this run's directory when unset).
"""

from __future__ import annotations

import ml_collections
import numpy as np
from etils import epath

from experiments.analyses import common
from experiments.attacks import pgd, true_class
from experiments.attacks.true_class import bisect_on_true_label
from experiments.classifier import probabilities
from experiments.results import BoundaryResults
from experiments.runs import store
from experiments.runs.chunk_examples import TestExamples

RESULTS = BoundaryResults
PER_EPSILON = RESULTS.PER_EPSILON
SUMMARY_SETTINGS = ("attack_results", "attack_epsilon")  # they change only the summary
GROUPS = ("all", "misclassified", "attack_succeeded")


def default_settings() -> ml_collections.ConfigDict:
    settings = ml_collections.ConfigDict()
    settings.epsilons = pgd.DEFAULT_EPSILONS
    settings.steps = pgd.STEPS
    settings.step_fraction = pgd.STEP_FRACTION
    settings.bisection_steps = 20
    settings.block = 10
    # The training run whose gradients guide the search (unset: the analysed model).
    settings.navigator = ml_collections.config_dict.placeholder(str)
    # A run directory with pixel results of the analysed model (unset: this run's own).
    settings.attack_results = ml_collections.config_dict.placeholder(str)
    settings.attack_epsilon = 0.15
    return settings


def check(settings: ml_collections.ConfigDict) -> None:
    common.check_epsilons(settings)
    common.check_pgd(settings)
    common.check_integer(settings, "bisection_steps", 0)
    if not settings.attack_epsilon > 0:
        raise ValueError(f"attack_epsilon must be > 0, got {settings.attack_epsilon}")


def models(settings: ml_collections.ConfigDict) -> dict[str, str | None]:
    return {"navigator": settings.navigator}


def check_inputs(context) -> None:
    """Before any work: the 'attack succeeded' group must come from pixel attacks on the
    analysed model itself, with results at `attack_epsilon`."""
    source, epsilon = context.settings.attack_results, context.settings.attack_epsilon
    if not source:  # this run's own pixel results, if it has any
        held = (store.read_summary(context.out) or {}).keys()
        if "pixel" in context.run_config.analyses:
            _check_grid(context.run_config.pixel.epsilons, epsilon, "this run's pixel analysis")
        elif "pixel" in held:
            grid = store.read_settings(context.out)["analyses"]["pixel"]["epsilons"]
            _check_grid(grid, epsilon, str(context.out))
        return
    stored = store.read_settings(source)
    recorded = stored["model"]["fingerprint"]
    if recorded != context.model.fingerprint:
        raise ValueError(
            f"{source} holds attacks on model {recorded}, but the analysed model in "
            f"{context.model.source} has fingerprint {context.model.fingerprint}; set "
            f"attack_results to a run on {context.model.source}"
        )
    if "pixel" not in stored["analyses"]:
        raise ValueError(f"{source} holds no pixel attack results (attack_results)")
    _check_grid(stored["analyses"]["pixel"]["epsilons"], epsilon, source)


def _check_grid(grid, epsilon: float, where: str) -> None:
    if not np.isclose(grid, epsilon).any():
        raise ValueError(
            f"{where} has no pixel results at attack_epsilon={epsilon}; it has ε "
            f"{list(grid)}: set boundary.attack_epsilon to one of them"
        )


def grid_search(context, examples: TestExamples) -> tuple[np.ndarray, np.ndarray]:
    """Targeted latent PGD toward the other class at increasing ε until the true label
    changes (`true_class.flip_search`). Returns the ε number where it first did (-1:
    never) and the attacked latent."""
    settings, navigator = context.settings, context.models["navigator"]
    return true_class.flip_search(
        navigator.classifier, examples.latents, examples.labels.astype(np.int32),
        settings.epsilons, family=context.family, resolution=navigator.resolution,
        batch=context.batch, steps=settings.steps, step_fraction=settings.step_fraction,
        block=settings.block, log=context.log,
    )  # fmt: skip


def compute(context, examples: TestExamples) -> dict[str, np.ndarray]:
    found_at, end = grid_search(context, examples)
    found = found_at >= 0
    point = examples.latents.copy()
    if found.any():
        _, point[found] = bisect_on_true_label(
            context.family, examples.latents[found], end[found], examples.labels[found],
            context.settings.bisection_steps,
        )  # fmt: skip
    grid = np.asarray(context.settings.epsilons)
    return {
        "index": examples.indices,
        "label": examples.labels,
        "analysed_probability": probabilities(context.model.classifier, examples.images),
        "found_at": found_at,
        "grid_distance": np.where(found, grid[found_at], np.inf),
        "refined_distance": np.where(found, pgd.norms(point - examples.latents), np.inf),
        "boundary_point": point,
    }


def cumulative_fractions(distance: np.ndarray, epsilons) -> list[float]:
    """Fraction of samples whose distance is at most each ε (the curves of Fig. 8)."""
    if not len(distance):
        return [float("nan")] * len(epsilons)
    return [float(np.mean(distance <= epsilon)) for epsilon in epsilons]


def attack_successes(source: str | epath.PathLike, epsilon: float, indices) -> np.ndarray:
    """Which examples a pixel PGD at `epsilon` fooled (right before, wrong after), from
    the pixel results of the run directory `source`."""
    pixel = store.read_results(source, "pixel")
    fooled = pixel.fooled[pixel.at(epsilon)]
    missing = np.setdiff1d(indices, pixel.index)
    if len(missing):
        raise ValueError(
            f"{source} lacks pixel results of examples {missing[:5].tolist()}...: attack as "
            "many examples"
        )
    return fooled[np.searchsorted(pixel.index, indices)]


def groups(results: BoundaryResults, context) -> dict[str, np.ndarray]:
    """The examples of each curve of Fig. 8: all, misclassified, and (when pixel results
    are there) those a pixel PGD fooled."""
    members = {"all": np.ones(len(results.index), bool), "misclassified": results.misclassified}
    source = context.settings.attack_results or context.out
    summary = store.read_summary(source) or {}
    if context.settings.attack_results or "pixel" in summary:
        try:
            members["attack_succeeded"] = attack_successes(
                source, context.settings.attack_epsilon, results.index
            )
        except ValueError as error:
            raise ValueError(
                f"{error} (for the 'attack succeeded' group; the chunks are saved: run again "
                "with another boundary.attack_epsilon or attack_results)"
            ) from error
    return members


def summarise(results: BoundaryResults, context) -> dict:
    epsilons = list(context.settings.epsilons)
    members = groups(results, context)
    cdf = {
        group: {
            "examples": int(chosen.sum()),
            "grid": cumulative_fractions(results.grid_distance[chosen], epsilons),
            "refined": cumulative_fractions(results.refined_distance[chosen], epsilons),
        }
        for group, chosen in members.items()
    }
    return {
        "epsilons": epsilons,
        "attack_epsilon": context.settings.attack_epsilon if "attack_succeeded" in cdf else None,
        "boundary_found": float(np.mean(results.found)),
        "median_grid_distance": float(np.median(results.grid_distance)),
        "median_refined_distance": float(np.median(results.refined_distance)),
        "cumulative_fraction": cdf,
    }


def table(results: BoundaryResults, context) -> list[dict]:
    """One row per example: its label, the analysed model's prediction, the groups it
    belongs to (1/0) and its distances."""
    members = groups(results, context)
    return [
        {
            "index": int(index),
            "label": int(results.label[i]),
            "analysed_prediction": int(results.predicted[i]),
            **{group: int(chosen[i]) for group, chosen in members.items()},
            "grid_distance": float(results.grid_distance[i]),
            "refined_distance": f"{float(results.refined_distance[i]):.6g}",
        }  # fmt: skip
        for i, index in enumerate(results.index)
    ]
