"""Fig. 8: the fraction of test latents within ε of the true decision boundary, for all
examples and for each group the boundary analysis records (misclassified, attacked
successfully): the grid estimate sampled on the ε grid, the bisection-refined distance as
an empirical CDF. One panel per boundary run, so models compare side by side."""

from __future__ import annotations

import csv

import numpy as np
from etils import epath

from experiments.drawing import common
from experiments.runs import store


def distance_cdfs(boundary_runs: list[str], out: epath.Path) -> epath.Path:
    """Fig. 8 from each run's boundary summary, its refined distances and boundary.csv's
    group columns: one panel per run, on one y scale; the CSV names each row's run."""
    loaded = [load(run) for run in boundary_runs]
    plt = common.pyplot()
    figure, axes = plt.subplots(
        1, len(loaded), figsize=(6 * len(loaded), 4), layout="constrained", sharey=True,
        squeeze=False,
    )  # fmt: skip
    rows = []
    for ax, run, (summary, members, refined) in zip(axes[0], boundary_runs, loaded, strict=True):
        title = f"{common.run_label(run)}: distance to the true decision boundary"
        rows += [
            {"run": epath.Path(run).name, **row}
            for row in draw_distance_cdfs(ax, summary, members, refined, title)
        ]
    for ax in axes[0][1:]:
        ax.set_ylabel("")  # the shared y axis is named once, on the left
    common.write_rows(out / "fig8_boundary_distance.csv", rows)
    return common.save(figure, out / "fig8_boundary_distance.png")


def load(boundary_run: str) -> tuple[dict, dict[str, np.ndarray], np.ndarray]:
    """A run's boundary summary, each group's members and every refined distance."""
    summary = store.read_summary(boundary_run) or {}
    if "boundary" not in summary:
        raise ValueError(f"{boundary_run} holds no finished boundary analysis")
    results = store.read_results(boundary_run, "boundary")
    groups = list(summary["boundary"]["cumulative_fraction"])
    members = group_members(boundary_run, groups, results.index)
    return summary["boundary"], members, results.refined_distance


def group_members(run: str, groups: list[str], index: np.ndarray) -> dict[str, np.ndarray]:
    """Which examples belong to each group, from the 0/1 columns of boundary.csv (the
    analysis decided them; the attack successes come from another run's results)."""
    with (epath.Path(run) / "boundary.csv").open() as f:
        table = list(csv.DictReader(f))
    if [int(row["index"]) for row in table] != [int(i) for i in index]:
        raise ValueError(f"{run}/boundary.csv does not match its chunks: run the analysis again")
    return {group: np.array([row[group] == "1" for row in table], bool) for group in groups}


def draw_distance_cdfs(
    ax, summary: dict, members: dict[str, np.ndarray], refined: np.ndarray,
    title: str = "Distance to the true decision boundary",
) -> list[dict]:  # fmt: skip
    """Draws one run's panel on `ax` and returns the rows of its CSV, from the boundary
    summary (`epsilons`, `cumulative_fraction`), each group's members and every example's
    refined distance. The legend lists only what is drawn: a group with no examples, or
    with no boundary found, is named in a note instead."""
    epsilons = summary["epsilons"]
    rows, notes = [], []
    for (group, curves), color in zip(
        summary["cumulative_fraction"].items(), "C0 C1 C2".split(), strict=False
    ):
        name = group.replace("_", " ")
        rows += [
            {"group": group, "epsilon": e, "grid": g, "refined": r}
            for e, g, r in zip(epsilons, curves["grid"], curves["refined"], strict=True)
        ]
        if not curves["examples"]:
            notes.append(f"{name}: no examples")
            continue
        label = f"{name} ({curves['examples']})"
        ax.step(epsilons, curves["grid"], ":", where="post", color=color, label=f"{label}, grid")
        distances = np.asarray(refined, float)[np.asarray(members[group], bool)]
        if not refined_cdf(ax, distances, max(epsilons), color, f"{label}, bisection"):
            notes.append(f"{name}: no boundary within ε ≤ {max(epsilons):g}")
    ax.set(
        xscale="log",
        xlabel="latent distance ε",
        ylabel="fraction with distance ≤ ε",
        ylim=(-0.02, 1.02),
    )
    ax.set_title(title, fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper left")
    if notes:
        ax.text(0.99, 0.02, "not drawn: " + "; ".join(notes), transform=ax.transAxes,
                ha="right", va="bottom", fontsize=7, color="gray")  # fmt: skip
    return rows


def refined_cdf(ax, distances: np.ndarray, right: float, color: str, label: str) -> bool:
    """The empirical CDF of the bisection-refined distances (continuous, so not sampled
    on the grid): a step at each finite distance, from 0 up to the fraction found,
    carried to `right`. With a single distance, its step is marked with a dot so that
    it shows. Returns whether anything was drawn."""
    found = np.sort(distances[np.isfinite(distances)])
    if not len(found):
        return False
    fraction = np.arange(1, len(found) + 1) / len(distances)
    x = np.concatenate([[found[0]], found, [max(right, found[-1])]])
    y = np.concatenate([[0.0], fraction, [fraction[-1]]])
    marker = "o" if len(found) == 1 else None
    ax.step(x, y, "-", where="post", color=color, marker=marker, markevery=[1], label=label)
    return True
