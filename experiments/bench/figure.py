"""The bench's figure: pixel robust accuracy against ε (the ensemble with its interval,
each attack alone, PGD), the latent attack's real and excusable adversarial examples
(Kindermans & Staats' Fig. 9 for any model), and the latent distance to the true
decision boundary of all examples and of those the ensemble fooled (their Fig. 8)."""

from __future__ import annotations

import numpy as np
from etils import epath

from experiments.bench.report import Report
from experiments.drawing import common
from experiments.runs import store

NAMES = {"apgd_ce": "APGD-CE", "apgd_margin": "APGD-margin", "square": "Square"}


def draw(report: Report, out: str | epath.PathLike) -> epath.Path:
    """robustness.png in `out`, a finished bench run."""
    out = epath.Path(out)
    plt = common.pyplot()
    figure, (pixel, latent, boundary) = plt.subplots(1, 3, figsize=(15, 4), layout="constrained")
    _pixel_panel(pixel, report)
    _latent_panel(latent, report)
    _boundary_panel(boundary, report, out)
    figure.suptitle(f"{report.name}: Squiggles {report.family}, R = {report.resolution}, "
                    f"{report.examples} test examples ({report.preset})")  # fmt: skip
    return common.save(figure, out / "robustness.png")


def _pixel_panel(ax, report: Report) -> None:
    epsilons = [row.epsilon for row in report.pixel]
    low = [row.ensemble.low for row in report.pixel]
    high = [row.ensemble.high for row in report.pixel]
    ax.fill_between(epsilons, low, high, color="C0", alpha=0.2, lw=0)
    ax.plot(epsilons, [row.ensemble.value for row in report.pixel], "-o", color="C0",
            label="ensemble (95 % interval)")  # fmt: skip
    for number, name in enumerate(report.pixel[0].by_attack, start=1):
        ax.plot(epsilons, [row.by_attack[name] for row in report.pixel], "--", color=f"C{number}",
                label=NAMES.get(name, name))  # fmt: skip
    ax.plot(epsilons, [row.pgd for row in report.pixel], ":s", color="k", label="PGD")
    ax.set(xscale="log", xlabel="ℓ2 radius ε (pixels)", ylabel="robust accuracy",
           ylim=(-0.02, 1.02), title="Pixel space")  # fmt: skip
    ax.legend(fontsize=7)


def _latent_panel(ax, report: Report) -> None:
    labels = [f"{row.epsilon:g}" for row in report.latent]
    robust = np.array([row.robust.value for row in report.latent])
    real = np.array([row.real for row in report.latent])
    excusable = np.array([row.excusable for row in report.latent])
    ax.bar(labels, robust, color="C2", label="robust (true label)")
    ax.bar(labels, real, bottom=robust, color="C3", label="real adversarial")
    ax.bar(labels, excusable, bottom=robust + real, color="C7", label="excusable (label changed)")
    ax.set(xlabel="latent ℓ2 radius ε", ylabel="share of test examples", ylim=(0, 1.02),
           title="Latent space, relabelled with Shapely")  # fmt: skip
    ax.legend(fontsize=7)


def _boundary_panel(ax, report: Report, out: epath.Path) -> None:
    boundary = store.read_results(out, "boundary")
    ensemble = store.read_results(out, "ensemble")
    groups = {"all examples": np.ones(len(boundary.index), bool)}
    for k, epsilon in enumerate(ensemble.epsilon):
        groups[f"fooled in pixels at ε = {epsilon:g}"] = ensemble.fooled[k]
    for number, (label, chosen) in enumerate(groups.items()):
        distances = np.sort(boundary.refined_distance[chosen])
        if not len(distances):
            continue
        fractions = np.arange(1, len(distances) + 1) / len(distances)
        ax.step(distances, fractions, where="post", color=f"C{number}",
                label=f"{label} ({len(distances)})")  # fmt: skip
    ax.set(xscale="log", xlabel="latent distance to the true boundary", ylabel="cumulative "
           "fraction", ylim=(0, 1.02), title="Distance to the true boundary")  # fmt: skip
    ax.legend(fontsize=7)
