"""Fig. 7: errors grouped by true class, from stored inputs: the clean (generalisation)
errors, then the examples each run's latent PGD and each run's pixel PGD fooled. Clean errors appear
in the first panel only: an attack panel holds the examples the model got right before the
attack and wrong after it (against the recomputed true label, for latent PGD)."""

from __future__ import annotations

import numpy as np
from etils import epath

from experiments.drawing import common
from experiments.runs import store
from squiggles.preview import fill_class_grids, wrap_to_width

GENERALISATION = "misclassified without any attack"
ATTACKED = "classified correctly before the attack and wrongly after it (clean errors excluded)"


def panel(title, selection, images, labels, indices, clean_errors_excluded=True) -> dict:
    """One kind of error: its title, which examples it holds (`selection`), their
    images, true labels and test indices."""
    return {"title": title, "selection": selection, "images": images, "labels": labels,
            "indices": indices, "clean_errors_excluded": clean_errors_excluded}  # fmt: skip


def attack_panel(run: str, space: str, epsilon: float, title: str, selection: str) -> dict:
    """The examples the `space` attack of `run` fooled at ε, as attacked."""
    results = store.read_results(run, space)
    k = common.epsilon_row(results, epsilon, run, space)
    fooled = results.fooled[k]
    attacked = common.stored(results, "attacked", run, space)[k][fooled]
    return panel(title, selection, common.images(run, space, attacked),
                 results.label_after[k][fooled], results.index[fooled])  # fmt: skip


def panels(
    pixel_runs: list[str], latent_runs: list[str], pixel_epsilon: float, latent_epsilon: float
) -> list[dict]:
    """The panels of fig 7: the clean errors of the first run's model (on the stored
    images its pixel analysis holds), the latent PGD errors of each latent run, and the
    pixel PGD errors of each pixel run."""
    run = pixel_runs[0]
    pixel = store.read_results(run, "pixel")
    wrong = ~pixel.clean_correct
    clean = common.images(run, "pixel", common.stored(pixel, "clean", run, "pixel")[wrong])
    found = [panel("generalisation errors", GENERALISATION, clean, pixel.label_before[wrong],
                   pixel.index[wrong], clean_errors_excluded=False)]  # fmt: skip
    for latent_run in latent_runs:
        title = f"latent PGD errors, ε={latent_epsilon:g}, {common.run_label(latent_run)}"
        selection = ATTACKED + "; true label recomputed after the attack"
        found.append(attack_panel(latent_run, "latent", latent_epsilon, title, selection))
    for pixel_run in pixel_runs:
        title = f"pixel PGD errors, ε={pixel_epsilon:g}, {common.run_label(pixel_run)}"
        found.append(attack_panel(pixel_run, "pixel", pixel_epsilon, title, ATTACKED))
    return found


def draw_error_grids(found: list[dict], per_cell: int = 16):
    """The Figure and its JSON record: for each panel, up to `per_cell` examples of each
    true class, titled "N shown of M"."""
    plt = common.pyplot()
    side = int(np.ceil(np.sqrt(per_cell)))
    figure = plt.figure(figsize=(7, 0.6 + 3.5 * len(found)), layout="constrained")
    figure.suptitle(
        wrap_to_width(
            "Errors by true class. Attack panels: examples " + ATTACKED
            + "; the first panel holds the clean errors.", 7, fontsize=10,
        ),
        fontsize=10,
    )  # fmt: skip
    record = []
    subfigures = np.atleast_1d(figure.subfigures(len(found), 1))
    for subfigure, each in zip(subfigures, found, strict=True):
        labels, images, indices = each["labels"], each["images"], each["indices"]
        subfigure.suptitle(
            wrap_to_width(f"{each['title']}: {len(images)} errors", 7), fontweight="bold"
        )
        grids = {}
        for cls, name in enumerate(common.CLASS_NAMES):
            chosen = np.flatnonzero(labels == cls)[:per_cell]
            count = int(np.sum(labels == cls))
            title = wrap_to_width(f"true {name}: {len(chosen)} shown of {count}", 3.5)
            grids[title] = images[chosen]
            record.append({"panel": each["title"], "selection": each["selection"],
                           "clean_errors_excluded": each["clean_errors_excluded"],
                           "true_label": name, "count": count,
                           "shown_indices": indices[chosen].tolist()})  # fmt: skip
        fill_class_grids(subfigure, grids, side)
    return figure, record


def error_grids(
    pixel_runs: list[str],
    latent_runs: list[str],
    pixel_epsilon: float,
    latent_epsilon: float,
    out: epath.Path,
    per_cell: int = 16,
) -> epath.Path:
    """Fig. 7, with a JSON that says which examples each panel counts and shows."""
    found = panels(pixel_runs, latent_runs, pixel_epsilon, latent_epsilon)
    figure, record = draw_error_grids(found, per_cell)
    common.write_json(out / "fig7_errors_by_class.json", record)
    return common.save(figure, out / "fig7_errors_by_class.png", dpi=100)
