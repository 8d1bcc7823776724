"""Evaluation of trained runs: accuracy, ROC-AUC, confusion counts, a grid of the
misclassified test examples, and the within/cross-family table (paper Table 6)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping

import ml_collections
from etils import epath

import squiggles
from experiments.training import data, metrics, trainer
from experiments.training.trained_run import family_for, load_run
from squiggles import tfds_extra
from squiggles.preview import draw_class_grids
from squiggles.storage import ensure_writable_dir

CLASS_NAMES = metrics.CLASS_NAMES


def test_batches(
    config: ml_collections.ConfigDict,
    family: squiggles.Family,
    count: int,
    source: str = "generate",
    tfds_name: str | None = None,
    data_dir: str | None = None,
) -> Iterator[data.Batch]:
    """Test-split batches at the run's resolution: generated (identical to the
    TFDS test split) or read from a built TFDS dataset."""
    if source == "generate":
        return data.evaluation_batches(family, config.resolution, count, stream=data.TEST_STREAM)
    if source == "tfds":
        tfds_extra.require("--source=tfds", ValueError)
        return _tfds_test_batches(config, tfds_name or f"squiggles/{family.name}", data_dir, count)
    raise ValueError(f"unknown source {source!r}; expected 'generate' or 'tfds'")


def _tfds_test_batches(config, name, data_dir, count) -> Iterator[data.Batch]:
    import jax.numpy as jnp
    import tensorflow_datasets as tfds

    import squiggles_tfds

    builder = data.prepared_builder(name, data_dir, config.resolution)
    dataset = builder.as_dataset(split=f"test[:{count}]", shuffle_files=False).batch(1000)
    for batch in tfds.as_numpy(dataset):
        yield data.Batch(
            jnp.asarray(squiggles_tfds.dequantize(batch["image"])), jnp.asarray(batch["label"])
        )


def evaluate(state: trainer.TrainState, batches: Iterator[data.Batch]) -> dict:
    """Metrics, confusion counts and up to 50 misclassified images per class."""
    return metrics.evaluate(state, batches, keep_images=50)


def write_report(result: dict, out: str, title: str) -> epath.Path:
    """metrics.json and misclassified.png (grouped by true class) in `out`.

    Each grid says how many of the misclassified examples it shows: the figure keeps
    at most 50 of each class, the confusion counts say how many there are."""
    out = ensure_writable_dir(out, "the evaluation report")
    summary = {k: v for k, v in result.items() if k != "misclassified_images"}
    (out / "metrics.json").write_text(json.dumps(summary, indent=2))
    grids, totals = {}, {}
    for (name, images), other in zip(
        result["misclassified_images"].items(), reversed(CLASS_NAMES), strict=True
    ):
        if len(images):
            grids[f"true {name}, predicted {other}"] = images
            totals[f"true {name}, predicted {other}"] = result["confusion"][
                f"true_{name}_predicted_{other}"
            ]
    picture = out / "misclassified.png"
    if grids:
        figure = draw_class_grids(
            grids, title=f"Misclassified test examples: {title}", totals=totals
        )
        figure.savefig(picture, dpi=100)
        import matplotlib.pyplot as plt  # draw_class_grids has chosen the Agg backend

        plt.close(figure)
    elif picture.exists():  # from an earlier report; it would contradict metrics.json
        picture.unlink()
    return out


def cross_family_table(
    runs: Mapping[str, str], count: int, out: str, source: str = "generate", data_dir=None
) -> list[dict]:
    """Accuracy and ROC-AUC of each run (keyed by the family it was trained on) on its
    own family ("within") and on the other ("cross"): Markdown and CSV in `out`."""
    rows = []
    for trained_on, workdir in runs.items():
        state, config = load_run(workdir)
        if config.family != trained_on:
            raise ValueError(f"{workdir} was trained on {config.family}, not {trained_on}")
        for tested_on in squiggles.FAMILIES:
            family = family_for(config, tested_on)
            scores = evaluate(state, test_batches(config, family, count, source, data_dir=data_dir))
            rows.append({
                "trained_on": trained_on,
                "tested_on": tested_on,
                "kind": "within" if tested_on == trained_on else "cross",
                "accuracy": scores["accuracy"],
                "roc_auc": scores["roc_auc"],
                "examples": scores["examples"],
            })  # fmt: skip
    out = ensure_writable_dir(out, "the table")
    with (out / "table6.csv").open("w") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out / "table6.md").write_text(_markdown_table(rows, list(runs)))
    return rows


def _markdown_table(rows: list[dict], trained: list[str]) -> str:
    cell = {(r["kind"], r["trained_on"]): r for r in rows}
    lines = [
        "| | " + " | ".join(f"trained on {name}" for name in trained) + " |",
        "|---|" + "---|" * len(trained),
    ]
    for kind in ("within", "cross"):
        values = []
        for name in trained:
            r = cell.get((kind, name))
            auc = "n/a" if r is None or r["roc_auc"] is None else f"{r['roc_auc']:.4f}"
            values.append(
                f"{100 * r['accuracy']:.2f} % (AUC {auc}, on {r['tested_on']})" if r else "–"
            )
        lines.append(f"| {kind} | " + " | ".join(values) + " |")
    return "\n".join(lines) + "\n"
