"""Squiggles-C: the model's P(intersecting) on each test example under every corruption
and severity asked for, and on the clean (stored) image, so that the evaluation of
`experiments.evaluate --corruptions` is a resumable chunked run like every analysis.

Each chunk makes its clean examples once and corrupts them every way, with the keys of
their indices (`squiggles.corruptions.corrupt_examples`): the images are those of the
TFDS dataset `squiggles_c`, whatever the chunking.
"""

from __future__ import annotations

import time

import jax
import ml_collections
import numpy as np

import squiggles
from experiments import parallel
from experiments.classifier import sharded_probabilities
from experiments.evaluation import corruption_report
from experiments.results import CorruptionResults
from experiments.runs.chunk_examples import TestExamples
from squiggles import corruptions
from squiggles.curves import points as curve_points
from squiggles.splits import DATA_SEED

RESULTS = CorruptionResults
PER_EPSILON = RESULTS.PER_EPSILON  # one row per cell
SHARED = RESULTS.SHARED


def default_settings() -> ml_collections.ConfigDict:
    settings = ml_collections.ConfigDict()
    settings.corruptions = tuple(corruptions.CORRUPTIONS)
    settings.severities = tuple(corruptions.SEVERITIES)
    return settings


def check(settings: ml_collections.ConfigDict) -> None:
    names, severities = tuple(settings.corruptions), tuple(settings.severities)
    if not names or len(set(names)) != len(names) or not set(names) <= set(corruptions.TABLE):
        raise ValueError(
            f"corruptions must name each corruption once, out of {', '.join(corruptions.TABLE)}; "
            f"got {settings.corruptions}"
        )
    valid = all(isinstance(s, int) and not isinstance(s, bool) for s in severities)
    if (
        not severities
        or not valid
        or list(severities) != sorted(set(severities))
        or not (set(severities) <= set(corruptions.SEVERITIES))
    ):
        raise ValueError(
            f"severities must be increasing integers from 1 to 5, got {settings.severities}"
        )


def cells(settings: ml_collections.ConfigDict) -> list[tuple[str, int]]:
    """(corruption, severity) of each row of a chunk: clean (severity 0) first."""
    return [("clean", 0)] + [(n, s) for n in settings.corruptions for s in settings.severities]


def compute(context, examples: TestExamples) -> dict[str, np.ndarray]:
    began, todo = time.perf_counter(), cells(context.settings)
    clean = squiggles.Examples(
        index=examples.indices, latent=examples.latents,
        points=curve_points(examples.latents, context.family), label=examples.labels,
        image=examples.images,
    )  # fmt: skip
    data_mesh = parallel.mesh()
    model = jax.device_put(context.model.classifier, parallel.replicated(data_mesh))
    probability = np.zeros((len(todo), len(examples.labels)), np.float32)
    for row, (name, severity) in enumerate(todo):
        if name == "clean":  # as the dataset stores it, what severity 0 returns
            images = examples.images
        else:
            images = corruptions.corrupt_examples(clean, name, severity, seed=DATA_SEED).image
        probability[row] = sharded_probabilities(model, images, data_mesh)
    rate = probability.size / max(time.perf_counter() - began, 1e-9)
    context.log(f"  {len(todo)} cells x {len(examples.labels)} examples, {rate:,.0f} images/s")
    return {
        "index": examples.indices,
        "label": examples.labels,
        "corruption": np.array([name for name, _ in todo]),
        "severity": np.array([severity for _, severity in todo], np.int64),
        "probability": probability,
    }


def summarise(results: CorruptionResults, context) -> dict:
    """The report's summary without a baseline (`corruption_report.summarise`)."""
    return corruption_report.summarise(corruption_report.rows_of(results))


def table(results: CorruptionResults, context) -> list[dict]:
    """One row per test example: its label and P(intersecting) in every cell, the
    columns named like the configs of `squiggles_c` (`contrast_3`), `clean` for clean."""
    columns = [name if name == "clean" else f"{name}_{s}" for name, s in results.cells]
    return [
        {"index": int(index), "label": int(results.label[i]),
         **{column: f"{float(results.probability[k, i]):.6f}"
            for k, column in enumerate(columns)}}
        for i, index in enumerate(results.index)
    ]  # fmt: skip
