"""The Squiggles-C heat map: accuracy per corruption (rows) and severity (columns),
and, beside a baseline, the change in accuracy against it. Every number it prints is
formatted as the report's table formats it (`experiments.results.percent`), so the two
never disagree."""

from __future__ import annotations

import numpy as np

from experiments.drawing.common import pyplot
from experiments.results import percent


def accuracy_grid(
    summary: dict, names: list[str] | None = None, severities: list[int] | None = None
) -> tuple[list[str], list[str], np.ndarray]:
    """Row names, column names (severities, then the mean) and accuracies (fractions),
    for the corruptions `names` at `severities` (default: the summary's own, in its
    order), looked up by name, so a baseline's grid lines up with the model's."""
    names = list(summary["corruptions"]) if names is None else names
    severities = summary["severities"] if severities is None else severities
    missing = [n for n in names if n not in summary["corruptions"]]
    if missing:
        raise ValueError(f"the baseline has no results for {missing}")
    grid = np.array([
        [_at(summary["corruptions"][n]["accuracy"], s) for s in severities]
        + [summary["corruptions"][n]["mean_accuracy"]]
        for n in names
    ])  # fmt: skip
    return names, [str(s) for s in severities] + ["mean"], grid


def _at(by_severity: dict, severity: int) -> float:
    key = severity if severity in by_severity else str(severity)
    if key not in by_severity:
        raise ValueError(f"the baseline has no results at severity {severity}")
    return by_severity[key]


def _panel(figure, ax, grid, rows, columns, title, cmap, vmin, vmax, label, signed=False):
    """`grid` in fractions, drawn and labelled in percent (or percentage points)."""
    image = ax.imshow(100 * grid, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(len(columns)), columns)
    ax.set_yticks(range(len(rows)), [r.replace("_", " ") for r in rows])
    ax.set_xlabel("severity")
    ax.set_title(title, fontsize=10)
    for (r, c), value in np.ndenumerate(grid):
        shade = (100 * value - vmin) / (vmax - vmin)
        dark = abs(shade - 0.5) > 0.3 if signed else shade < 0.5  # white text on dark cells
        ax.text(c, r, percent(value, signed=signed), ha="center", va="center", fontsize=6.5,
                color="white" if dark else "black")  # fmt: skip
    figure.colorbar(image, ax=ax, label=label, shrink=0.8)


def draw_heat_map(summary: dict, title: str, baseline: dict | None = None):
    """A Figure: the accuracy heat map, and beside a baseline the difference
    (this model minus the baseline, in percentage points) on the same cells."""
    plt = pyplot()
    rows, columns, grid = accuracy_grid(summary)
    panels = 1 if baseline is None else 2
    figure, axes = plt.subplots(
        1, panels, figsize=(5.2 * panels + 0.5, 0.32 * len(rows) + 2), squeeze=False,
        layout="constrained",
    )  # fmt: skip
    clean = percent(summary["clean_accuracy"], 2)
    low = min(50.0, 10 * np.floor(100 * grid.min() / 10))  # chance is 50 % or below
    _panel(figure, axes[0, 0], grid, rows, columns, f"accuracy (%); clean {clean} %",
           "viridis", low, 100, "accuracy (%)")  # fmt: skip
    if baseline is not None:
        _, _, base = accuracy_grid(baseline, rows, summary["severities"])
        change = grid - base
        limit = max(100 * float(np.abs(change).max()), 1.0)
        mce = summary.get("mce")
        note = f"; mCE {percent(mce)} %" if mce is not None else ""
        _panel(figure, axes[0, 1], change, rows, columns, f"minus baseline (points){note}",
               "RdBu", -limit, limit, "accuracy change (points)", signed=True)  # fmt: skip
    figure.suptitle(title, fontsize=11)
    return figure
