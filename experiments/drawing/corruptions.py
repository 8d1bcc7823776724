"""The Squiggles-C heat map: accuracy per corruption (rows) and severity (columns),
and, beside a baseline, the change in accuracy against it."""

from __future__ import annotations

import numpy as np

from experiments.drawing.common import pyplot


def accuracy_grid(summary: dict) -> tuple[list[str], list[str], np.ndarray]:
    """Row names, column names (severities, then the mean) and accuracies (%)."""
    names = list(summary["corruptions"])
    severities = summary["severities"]
    grid = np.array([
        [summary["corruptions"][n]["accuracy"][s] for s in severities]
        + [summary["corruptions"][n]["mean_accuracy"]]
        for n in names
    ])  # fmt: skip
    return names, [str(s) for s in severities] + ["mean"], 100 * grid


def _panel(figure, ax, grid, rows, columns, title, cmap, vmin, vmax, label, signed=False):
    image = ax.imshow(grid, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(len(columns)), columns)
    ax.set_yticks(range(len(rows)), [r.replace("_", " ") for r in rows])
    ax.set_xlabel("severity")
    ax.set_title(title, fontsize=10)
    for (r, c), value in np.ndenumerate(grid):
        text = f"{value:+.0f}" if signed else f"{value:.0f}"
        shade = (value - vmin) / (vmax - vmin)
        dark = abs(shade - 0.5) > 0.3 if signed else shade < 0.5  # white text on dark cells
        ax.text(c, r, text, ha="center", va="center", fontsize=7,
                color="white" if dark else "black")  # fmt: skip
    figure.colorbar(image, ax=ax, label=label, shrink=0.8)


def draw_heat_map(summary: dict, title: str, baseline: dict | None = None):
    """A Figure: the accuracy heat map, and beside a baseline the difference
    (this model minus the baseline, in percentage points)."""
    plt = pyplot()
    rows, columns, grid = accuracy_grid(summary)
    panels = 1 if baseline is None else 2
    figure, axes = plt.subplots(
        1, panels, figsize=(5.2 * panels + 0.5, 0.32 * len(rows) + 2), squeeze=False,
        layout="constrained",
    )  # fmt: skip
    clean = 100 * summary["clean_accuracy"]
    low = min(50.0, 10 * np.floor(grid.min() / 10))  # chance is 50 % or below
    _panel(figure, axes[0, 0], grid, rows, columns, f"accuracy (%); clean {clean:.1f} %",
           "viridis", low, 100, "accuracy (%)")  # fmt: skip
    if baseline is not None:
        _, _, base = accuracy_grid(baseline)
        if base.shape != grid.shape:
            raise ValueError("the baseline was evaluated on other corruptions or severities")
        change = grid - base
        limit = max(float(np.abs(change).max()), 1.0)
        mce = summary.get("mce")
        note = f"; mCE {100 * mce:.0f} %" if mce is not None else ""
        _panel(figure, axes[0, 1], change, rows, columns, f"minus baseline (points){note}",
               "RdBu", -limit, limit, "accuracy change (points)", signed=True)  # fmt: skip
    figure.suptitle(title, fontsize=11)
    return figure
