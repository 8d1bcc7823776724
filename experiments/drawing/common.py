"""What every figure shares: pyplot without a display, image panels, labels of runs, the
stored results at one ε, and the CSV and JSON files written beside each figure."""

from __future__ import annotations

import ast
import csv
import re
from typing import Any

import jax.numpy as jnp
import numpy as np
from etils import epath

import squiggles
from experiments.results import AttackResults
from experiments.runs import store, strict_json

CLASS_NAMES = squiggles.CLASS_NAMES


def pyplot():
    """matplotlib.pyplot drawing to files only (Agg), so figures work without a display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def show(ax, image: np.ndarray, title: str = "", diverging: bool = False) -> None:
    """An image with origin="lower" (row r is y = r/(R-1)), as everywhere in squiggles:
    grey in [0, 1], or a perturbation in a diverging map symmetric about 0."""
    ax.set_axis_off()
    if diverging:
        limit = max(float(np.abs(image).max()), 1e-6)
        ax.imshow(image, cmap="RdBu_r", origin="lower", vmin=-limit, vmax=limit)
    else:
        ax.imshow(image, cmap="gray_r", origin="lower", vmin=0.0, vmax=1.0)
    if title:
        ax.set_title(title, fontsize=7)


def save(figure, path: epath.Path, dpi: int = 120) -> epath.Path:
    """Writes the figure and closes it (a run of every figure keeps none open)."""
    figure.savefig(path, dpi=dpi)
    pyplot().close(figure)
    return path


def write_rows(path: epath.Path, rows: list[dict]) -> None:
    """A CSV whose columns are those of the first row."""
    with path.open("w") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else [])
        writer.writeheader()
        writer.writerows(rows)


def write_json(path: epath.Path, record: Any) -> None:
    """Strict JSON: inf and NaN as the strings "inf" and "nan" (`experiments.runs.strict_json`)."""
    path.write_text(strict_json.dumps(record, indent=2))


def run_label(run: str) -> str:
    """The run's directory name and the training noise of its model (a model not
    trained by `experiments.train` records none)."""
    noise = store.read_settings(run)["model"].get("noise")
    if noise is None:
        return epath.Path(run).name
    sigma = f"σ≤{noise['sigma_max']:g}" if noise.get("sigma_max") else f"σ={noise['sigma']:g}"
    return f"{epath.Path(run).name} ({sigma})"


def family_and_resolution(run: str) -> tuple[squiggles.Family, int]:
    """Of the analysed model, from the run's settings.json alone (which records the
    family as `Taylor(order=7, ...)`): no checkpoint or training run is read."""
    model = store.read_settings(run)["model"]
    classes = {family.__name__: family for family in squiggles.FAMILIES.values()}
    match = re.fullmatch(r"(\w+)\((.*)\)", model["family"])
    if not match or match[1] not in classes:
        raise ValueError(f"{run}: unknown model family {model['family']!r} in settings.json")
    fields = (item.split("=", 1) for item in match[2].split(", ") if item)
    family = classes[match[1]](**{name: ast.literal_eval(value) for name, value in fields})
    return family, int(model["resolution"])


def per_epsilon(run: str, name: str) -> list[dict]:
    """The per-ε summary of an attack analysis of a run."""
    summary = store.read_summary(run)
    if summary is None:
        raise FileNotFoundError(f"{run} holds no finished analysis run (no summary.json)")
    if name not in summary:
        raise ValueError(f"{run} has no {name} results; it has {sorted(set(summary) - {'model'})}")
    return summary[name]["per_epsilon"]


def epsilon_row(results: AttackResults, epsilon: float, run: str, name: str) -> int:
    """The row of ε in stored results, or an error naming the run and its grid."""
    try:
        return results.at(epsilon)
    except ValueError as error:
        raise ValueError(f"{run} ({name}): {error}") from None


def stored(results: AttackResults, field: str, run: str, name: str) -> np.ndarray:
    """`attacked` or `clean` inputs, which only some analyses store."""
    value = getattr(results, field)
    if value is None:
        raise ValueError(f"{run} ({name}) stores no {field} inputs to draw")
    return value


def row_of(results, index: int, run: str) -> int:
    """The row of test example `index`."""
    rows = np.flatnonzero(results.index == index)
    if not len(rows):
        raise ValueError(f"test example {index} is not among the {len(results.index)} of {run}")
    return int(rows[0])


def render_latents(latents: np.ndarray, family: squiggles.Family, resolution: int) -> np.ndarray:
    """Images (N, R, R) of stored latents (N, ...), to display them; none for none."""
    if not len(latents):
        return np.zeros((0, resolution, resolution), np.float32)
    return np.asarray(squiggles.render(jnp.asarray(latents, jnp.float32), family, resolution))


def images(run: str, name: str, inputs: np.ndarray) -> np.ndarray:
    """Float images of stored inputs: pixel images as they are, latents rendered."""
    if name == "latent":
        return render_latents(inputs, *family_and_resolution(run))
    return np.asarray(inputs, np.float32)
