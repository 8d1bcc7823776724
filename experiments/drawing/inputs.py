"""What a figure needs from its runs, checked from their summary.json and settings.json
alone (no chunk is read) before any figure is drawn: a run without an analysis, an ε
outside a stored grid or a test example that was not analysed would otherwise stop
`experiments.figures` after it had written some of the figures asked for.

Each check returns None when the input is there, or what is missing, phrased to follow
"<figure> needs ": "pixel results at ε=0.15 (--pixel_epsilon): runs/a holds ε [0.3, 1.2]".
"""

from __future__ import annotations

import numpy as np

from experiments.runs import store


def producer(name: str) -> str:
    """The binary that stores the results of analysis `name`."""
    return "experiments.noise_analysis" if name.startswith("ford_") else "experiments.analyse"


def analysis(run: str, name: str) -> str | None:
    """Whether `run` holds finished results of analysis `name`."""
    what = f"{name} results ({producer(name)})"
    try:
        summary = store.read_summary(run)
    except (ValueError, OSError) as error:
        return f"{what}: {run}/summary.json cannot be read ({error})"
    if summary is None:
        return f"{what}: {run} holds no finished analysis run (no summary.json)"
    if name not in summary:
        return f"{what}: {run} has no {name} results; it has {sorted(set(summary) - {'model'})}"
    return None


def epsilons(run: str, name: str, values: list[float], flag: str) -> str | None:
    """Whether the stored ε grid of analysis `name` holds every one of `values` (set by
    `flag`), as the figures that show one ε need."""
    missing = analysis(run, name)
    if missing:
        return missing
    grid = [float(point["epsilon"]) for point in store.read_summary(run)[name]["per_epsilon"]]
    absent = [value for value in values if not np.isclose(grid, value).any()]
    if not absent:
        return None
    asked = ", ".join(f"{value:g}" for value in absent)
    return f"{name} results at ε={asked} ({flag}): {run} holds ε {grid}"


def example(run: str, name: str, index: int, flag: str) -> str | None:
    """Whether test example `index` (set by `flag`) is among those `name` analysed."""
    missing = analysis(run, name)
    if missing:
        return missing
    count = int(store.read_summary(run)[name]["examples"])
    if 0 <= index < count:
        return None
    return f"test example {index} ({flag}): {run} analysed examples 0 to {count - 1} ({name})"


def settings(run: str) -> str | None:
    """Whether `run` has the settings.json that names its model."""
    try:
        store.read_settings(run)
    except (ValueError, OSError) as error:
        return f"the settings of its model: {error}"
    return None


def one_mu(ford_runs: list[str]) -> str | None:
    """Whether the runs' σ(x, μ) share one μ, as one half-space line needs."""
    if any(analysis(run, "ford_rates") for run in ford_runs):
        return None  # reported by the check of the analysis
    mus = {store.read_settings(run)["analyses"]["ford_rates"]["mu"] for run in ford_runs}
    if len(mus) == 1:
        return None
    return f"runs of one μ for σ(x, μ) (--ford_runs): they have μ = {sorted(mus)}"


def noisy_sigma(run: str) -> str | None:
    """Whether ford_rates holds μ(x, σ) at ford_distance's noisy σ (Fig. 4's x axis)."""
    missing = analysis(run, "ford_rates") or analysis(run, "ford_distance")
    if missing:
        return missing
    stored = store.read_settings(run)["analyses"]
    sigma, sigmas = stored["ford_distance"]["noisy_sigma"], stored["ford_rates"]["sigmas"]
    if np.isclose(sigmas, sigma).any():
        return None
    return (
        f"μ(x, σ) at ford_distance's noisy_sigma = {sigma:g}: ford_rates of {run} holds "
        f"σ = {list(sigmas)}; rerun ford_rates with that σ among its sigmas"
    )


def church_examples(run: str) -> str | None:
    """Whether the run's church windows hold at least one example."""
    missing = analysis(run, "ford_church")
    if missing:
        return missing
    if store.read_summary(run)["ford_church"]["examples"] > 0:
        return None
    return (
        f"church windows of at least one example: those of {run} hold none "
        "(experiments.noise_analysis --church_examples)"
    )
