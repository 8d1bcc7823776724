"""The preview of Squiggles-C: one curve under every corruption and severity,
`python -m squiggles.preview --corruptions --out c.png`."""

from __future__ import annotations

import pathlib

import numpy as np

from squiggles.corruptions.examples import corrupt_examples
from squiggles.corruptions.severities import CORRUPTIONS, SEVERITIES
from squiggles.examples import generate_examples
from squiggles.families import Family
from squiggles.labels import CLASS_NAMES
from squiggles.rendering import RESOLUTION
from squiggles.splits import TEST_STREAM


def corruption_grid(
    family: Family, index: int, *, seed: int = 0, stream: int = TEST_STREAM,
    resolution: int = RESOLUTION,
) -> tuple[np.ndarray, bool]:  # fmt: skip
    """Images (corruptions, 1 + severities, R, R) of example `index` (column 0 is
    clean), as `corrupted_examples` makes them, and its label."""
    clean = generate_examples(
        family, 1, seed=seed, stream=stream, start=index, resolution=resolution
    )
    grid = [
        [corrupt_examples(clean, name, severity, seed=seed, stream=stream).image[0]
         for severity in (0, *SEVERITIES)]
        for name in CORRUPTIONS
    ]  # fmt: skip
    return np.asarray(grid), bool(clean.label[0])


def draw_corruption_grid(grid: np.ndarray, title: str):
    """A matplotlib Figure: one row per corruption, clean and severities 1-5 across."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, columns = grid.shape[:2]
    figure, axes = plt.subplots(
        rows, columns, figsize=(1.25 * columns + 1.6, 1.25 * rows + 0.6), squeeze=False,
        layout="constrained",
    )  # fmt: skip
    for r, name in enumerate(CORRUPTIONS):
        for c in range(columns):
            ax = axes[r, c]
            ax.imshow(grid[r, c], cmap="gray_r", origin="lower", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title("clean" if c == 0 else f"severity {c}", fontsize=9)
        axes[r, 0].set_ylabel(name.replace("_", " "), fontsize=9)
    figure.suptitle(title, fontsize=11)
    return figure


def write_corruption_preview(
    family: Family,
    out: str | pathlib.Path,
    *,
    index: int | None = None,
    seed: int = 0,
    stream: int = TEST_STREAM,
    resolution: int = RESOLUTION,
) -> pathlib.Path:
    """Writes the PNG of one test curve (the first self-intersecting one unless
    `index` is given) under every corruption and severity."""
    out = pathlib.Path(out)
    if not out.parent.is_dir():
        raise ValueError(f"cannot write {out}: directory {out.parent} does not exist")
    if index is None:
        index = _first_intersecting(family, seed, stream, resolution)
    grid, label = corruption_grid(family, index, seed=seed, stream=stream, resolution=resolution)
    title = (f"Squiggles-C: {family}, R = {resolution}, stream {stream} example {index} "
             f"({CLASS_NAMES[int(label)]})")  # fmt: skip
    figure = draw_corruption_grid(grid, title)
    figure.savefig(out, dpi=80)
    import matplotlib.pyplot as plt

    plt.close(figure)
    return out


def _first_intersecting(family: Family, seed: int, stream: int, resolution: int) -> int:
    labels = generate_examples(family, 64, seed=seed, stream=stream, resolution=resolution).label
    return int(np.argmax(labels))
