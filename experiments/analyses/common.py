"""What the attack analyses share: checks of ε grids and PGD settings, the arrays of
a chunk, and the summary and table of attack results."""

from __future__ import annotations

import ml_collections
import numpy as np

from experiments import checks
from experiments.results import AttackResults, latent_attack_summary, predicted
from experiments.runs.chunk_examples import TestExamples

# Arrays of attack results that hold examples on axis 1, one row per ε.
PER_EPSILON = AttackResults.PER_EPSILON  # the layout of every attack's results


def check_epsilons(settings: ml_collections.ConfigDict, field: str = "epsilons") -> None:
    """A non-empty, strictly increasing grid of positive finite radii."""
    check_grid(settings, field, positive=True)


def check_pgd(settings: ml_collections.ConfigDict) -> None:
    """steps >= 0, step_fraction > 0, block >= 0 (0: one fori_loop)."""
    check_integer(settings, "steps", 0)
    check_integer(settings, "block", 0, "(0: one fori_loop)")
    if not (checks.is_number(settings.step_fraction) and settings.step_fraction > 0):
        raise ValueError(f"step_fraction must be a number > 0, got {settings.step_fraction!r}")


def check_integer(
    settings: ml_collections.ConfigDict, field: str, minimum: int, note: str = ""
) -> None:
    checks.check_integer(settings[field], field, minimum, note=note)


def empty_results(examples: TestExamples, epsilons, attacked=None) -> dict[str, np.ndarray]:
    """The arrays of one chunk of attack results, before any ε is done; `attacked`
    gives the shape and dtype of one attacked input (None: not stored)."""
    count, grid = len(examples.labels), len(epsilons)
    results = {
        "index": examples.indices,
        "epsilon": np.asarray(epsilons, np.float64),
        "label_before": examples.labels,
        "label_after": np.repeat(examples.labels[None], grid, axis=0),
        "probability": np.zeros((grid, count), np.float32),
        "norm": np.zeros((grid, count), np.float32),
        "found_at": np.repeat(np.arange(grid, dtype=np.int32)[:, None], count, axis=1),
    }
    if attacked is not None:
        shape, dtype = attacked
        results["attacked"] = np.zeros((grid, count, *shape), dtype)
    return results


def accuracy(probability: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(predicted(probability) == np.asarray(labels, bool)))


def summarise_attack(results: AttackResults, kind: str) -> dict:
    """Per-ε figures of an attack (docs/attacks.md says what each means)."""
    nan = float("nan")
    rows = []
    for k, epsilon in enumerate(results.epsilon):
        row = {
            "epsilon": float(epsilon),
            "accuracy": float(np.mean(results.correct[k])),
            "mean_norm": float(np.mean(results.norm[k])),
            "max_norm": float(np.max(results.norm[k])),
        }
        if kind == "pixel":
            # Of the examples right before the attack (NaN when there are none).
            right = results.clean_correct
            row["success_rate"] = float(np.mean(results.fooled[k][right])) if right.any() else nan
        if kind == "latent":
            before, after = results.label_before, results.label_after[k]
            row.update(
                latent_attack_summary(results.predicted[k], before, after),
                accuracy_vs_original_label=float(np.mean(results.predicted[k] == before)),
                label_unchanged_and_misclassified=float(
                    np.mean(~results.label_changed[k] & ~results.correct[k])
                ),
            )
        rows.append(row)
    return {"clean_accuracy": float(np.mean(results.clean_correct)), "per_epsilon": rows}


def attack_table(results: AttackResults) -> list[dict]:
    """One row per example and ε."""
    clean = results.clean_predicted.astype(int)
    return [
        {
            "index": int(index),
            "epsilon": float(epsilon),
            "label_before": int(results.label_before[i]),
            "label_after": int(results.label_after[k, i]),
            "clean_prediction": clean[i],
            "prediction": int(results.predicted[k, i]),
            "probability": f"{float(results.probability[k, i]):.6f}",
            "norm": f"{float(results.norm[k, i]):.6g}",
        }  # fmt: skip
        for k, epsilon in enumerate(results.epsilon)
        for i, index in enumerate(results.index)
    ]


def check_number(settings: ml_collections.ConfigDict, field: str, low: float, high: float,
                 *, closed_low: bool = False) -> None:  # fmt: skip
    """A finite number in (low, high) ([low, high) with closed_low), or a clear error."""
    value = settings[field]
    inside = (
        checks.is_number(value) and (low <= value if closed_low else low < value) and value < high
    )
    if not inside:
        bracket = "[" if closed_low else "("
        raise ValueError(f"{field} must be a number in {bracket}{low}, {high}), got {value!r}")


def check_grid(settings: ml_collections.ConfigDict, field: str, positive: bool = False) -> None:
    """A non-empty, strictly increasing grid of finite numbers, > 0 when `positive`
    (radii), >= 0 otherwise (σ may be 0)."""
    grid = settings[field]
    values = tuple(grid) if isinstance(grid, (tuple, list)) else (grid,)
    low_ok = (lambda v: v > 0) if positive else (lambda v: v >= 0)
    if not values or not all(
        checks.is_number(v) and low_ok(v) and v < float("inf") for v in values
    ):
        kind = "positive finite numbers" if positive else "finite numbers >= 0"
        raise ValueError(f"{field} must be {kind}, got {grid}")
    if list(values) != sorted(set(values)):
        raise ValueError(f"{field} must be strictly increasing, got {grid}")


def finite_median(values: np.ndarray) -> float | None:
    """The median of the finite values (inf: nothing found), None when there are none."""
    finite = np.asarray(values)[np.isfinite(values)]
    return float(np.median(finite)) if len(finite) else None
