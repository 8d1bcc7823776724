"""Figures of the `certify` analysis: randomized smoothing's certificates (Cohen et al.,
2019) held against each example's true-class distance, an upper bound on the pixel ℓ2
distance to an image of the other true class.

One set per run, named after its directory (`<figure>_<name>`):
  certify_accuracy  certified accuracy against the radius r, the share of it that is
                    provably wrong (an image of the other true class lies within r), the
                    share of examples whose true-class distance is at least r, and the
                    attack ensemble's robust accuracy of the base model when the run holds
                    `ensemble` results; its .csv at the ensemble's ε (or the summary's radii)
  certify_ratio     the certified radius ÷ the true-class distance of right certificates
  certify_examples  certificates that cover a class change: the image, the other-class
                    image and their difference (the closest right ones when none does)
"""

from __future__ import annotations

import dataclasses

import numpy as np
from etils import epath

import squiggles
from experiments.drawing import common, inputs
from experiments.results import CertifyResults, EnsembleResults
from experiments.runs import store

FLAG = "--certify_runs"
LABELS = squiggles.CLASS_NAMES  # by true label: 1 = self-intersecting
EXAMPLES = 4  # at most, in certify_examples
GRID = 200  # radii of the certified-accuracy curve
MARGIN = 1.1  # the curve runs this far beyond the largest radius
WRONG_COLOUR = "crimson"
WRONG_LABEL = "provably wrong: another true class within r"
BEYOND_LABEL = "true-class distance ≥ r"
ENSEMBLE_LABEL = "attack ensemble, base model"
NONE_FOUND = "no right certificate with a true-class distance found"


@dataclasses.dataclass(frozen=True)
class Ensemble:
    """The attack ensemble's robust accuracy of the base model on the certified examples
    it also attacked: at ε = 0 its clean accuracy (no attack is needed there)."""

    epsilon: np.ndarray  # (E,) increasing, 0 first
    accuracy: np.ndarray  # (E,)
    examples: int  # the certified examples it attacked


def missing(run: str) -> str | None:
    """What a run lacks for the certify figures, naming the flag ("<figure> needs " goes
    before it), or None when it holds finished certify results."""
    problem = inputs.analysis(run, "certify")
    if problem is None:
        return None
    _, _, why = problem.partition(": ")  # after "certify results (experiments.analyse)"
    return f"certify results of experiments.analyse ({FLAG}): {why}"


def file_names(run_dirs: list[str]) -> list[tuple[str, str]]:
    """Each run with the name its files carry: its directory's name, numbered where two
    runs share one."""
    names = [epath.Path(run).name for run in run_dirs]
    return [
        (run, name if names.count(name) == 1 else f"{name}_{number}")
        for number, (run, name) in enumerate(zip(run_dirs, names, strict=True))
    ]


def ensemble_accuracy(results: CertifyResults, ensemble: EnsembleResults) -> Ensemble | None:
    """The ensemble's robust accuracy (right before the attack and after every attack) on
    the examples both analyses hold, matched by test index; None when they share none."""
    shared, rows, _ = np.intersect1d(ensemble.index, results.index, return_indices=True)
    if not len(shared):
        return None
    robust = ensemble.clean_correct[None, rows] & ensemble.correct[:, rows]
    accuracy = robust.mean(axis=1)
    epsilon = np.asarray(ensemble.epsilon, float)
    if not np.isclose(epsilon, 0.0).any():
        epsilon = np.concatenate([[0.0], epsilon])
        accuracy = np.concatenate([[ensemble.clean_correct[rows].mean()], accuracy])
    order = np.argsort(epsilon)
    return Ensemble(epsilon[order], accuracy[order], len(shared))


def load(run: str) -> tuple[CertifyResults, Ensemble | None, dict]:
    """A run's certify results, the ensemble's accuracy when it holds ensemble results,
    and the certify summary."""
    summary = store.read_summary(run) or {}
    results = store.read_results(run, "certify")
    ensemble = None
    if "ensemble" in summary:
        ensemble = ensemble_accuracy(results, store.read_results(run, "ensemble"))
    return results, ensemble, summary["certify"]


def shares(results: CertifyResults, radius: float) -> dict[str, float]:
    """At `radius`: certified accuracy, the provably wrong share of the examples, and the
    share whose true-class distance is at least the radius."""
    return {
        "certified_accuracy": float(np.mean(results.certified(radius))),
        "provably_wrong": float(np.mean(results.provably_wrong(radius))),
        "true_class_beyond": float(np.mean(results.distance >= radius)),
    }


def table_radii(summary: dict, ensemble: Ensemble | None) -> np.ndarray:
    """The radii of the CSV: 0 and the ensemble's ε, or the summary's radii."""
    if ensemble is not None:
        return ensemble.epsilon
    radii = [float(row["radius"]) for row in summary["per_radius"]]
    return np.unique(np.asarray([0.0, *radii]))


def accuracy_rows(results: CertifyResults, radii: np.ndarray, ensemble: Ensemble | None) -> list:
    """One CSV row per radius; the ensemble's accuracy is empty where the run has none."""
    rows = []
    for radius in radii:
        at = None
        if ensemble is not None:
            at = float(ensemble.accuracy[np.flatnonzero(np.isclose(ensemble.epsilon, radius))[0]])
        rows.append({"radius": float(radius), **shares(results, radius),
                     "ensemble_robust_accuracy": "" if at is None else at})  # fmt: skip
    return rows


def title(run: str, results: CertifyResults) -> str:
    return (
        f"{common.run_label(run)}: smoothing σ={float(results.sigma):g}, "
        f"n={int(results.samples):,} draws, {len(results.index)} test examples"
    )


def certified_accuracy(run: str, out: epath.Path, name: str) -> epath.Path:
    """certify_accuracy_<name>.png and .csv."""
    results, ensemble, summary = load(run)
    largest = max(float(np.max(results.radius, initial=0.0)),
                  float(ensemble.epsilon[-1]) if ensemble is not None else 0.0)  # fmt: skip
    grid = np.linspace(0.0, MARGIN * largest if largest > 0 else 1.0, GRID)
    curves = [shares(results, radius) for radius in grid]
    certified = np.array([c["certified_accuracy"] for c in curves])
    wrong = np.array([c["provably_wrong"] for c in curves])
    beyond = np.array([c["true_class_beyond"] for c in curves])
    plt = common.pyplot()
    figure, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
    ax.step(grid, certified, where="post", color="C0", label="certified accuracy (smoothed)")
    ax.fill_between(grid, certified - wrong, certified, step="post", color=WRONG_COLOUR,
                    alpha=0.45, lw=0, label=WRONG_LABEL)  # fmt: skip
    ax.step(grid, beyond, "--", where="post", color="0.35", label=BEYOND_LABEL)
    if ensemble is not None:
        label = ENSEMBLE_LABEL
        if ensemble.examples != len(results.index):
            label += f" ({ensemble.examples} of the examples)"
        ax.plot(ensemble.epsilon, ensemble.accuracy, "s", color="C2", mec="k", label=label)
    ax.set(xlabel="ℓ2 radius r (pixels)", ylabel="share of test examples", ylim=(-0.02, 1.02),
           xlim=(0.0, grid[-1]))  # fmt: skip
    ax.set_title(title(run, results), fontsize=9)
    figure.legend(loc="outside lower center", ncol=2, fontsize=7)
    rows = accuracy_rows(results, table_radii(summary, ensemble), ensemble)
    common.write_rows(out / f"certify_accuracy_{name}.csv", rows)
    return common.save(figure, out / f"certify_accuracy_{name}.png")


def ratio_rows(results: CertifyResults) -> list[dict]:
    """The right certificates with a true-class distance found: their radius ratios."""
    chosen = results.correct & np.isfinite(results.distance) & (results.distance > 0)
    return [
        {"index": int(results.index[i]), "label": LABELS[int(results.label[i])],
         "radius": float(results.radius[i]), "distance": float(results.distance[i]),
         "ratio": float(results.radius_ratio[i])}
        for i in np.flatnonzero(chosen)
    ]  # fmt: skip


def ratio_bins(ratios: np.ndarray) -> np.ndarray:
    """Log-spaced bins over the ratios, with 1 inside them."""
    low = min(float(ratios.min()), 0.5)
    high = max(float(ratios.max()), 2.0)
    return np.geomspace(low / 1.05, high * 1.05, 31)


def radius_ratio(run: str, out: epath.Path, name: str) -> epath.Path:
    """certify_ratio_<name>.png and .csv (one row per right certificate in the histogram)."""
    results = store.read_results(run, "certify")
    rows = ratio_rows(results)
    ratios = np.array([row["ratio"] for row in rows])
    plt = common.pyplot()
    figure, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    if len(ratios):
        ax.hist(ratios, bins=ratio_bins(ratios), color="C0", edgecolor="k", lw=0.4)
        ax.set_xscale("log")
    else:
        ax.text(0.5, 0.5, NONE_FOUND, transform=ax.transAxes, ha="center", va="center",
                fontsize=8, color="gray")  # fmt: skip
    ax.axvline(1.0, color=WRONG_COLOUR, ls="--", label="radius = true-class distance")
    ax.set(xlabel="certified radius ÷ true-class distance", ylabel="right certificates")
    above = int(np.sum(ratios > 1))
    ax.set_title(f"{title(run, results)}\n{above} of {len(ratios)} right certificates exceed "
                 "their true-class distance (ratio > 1)", fontsize=9)  # fmt: skip
    ax.legend(fontsize=7)
    common.write_rows(out / f"certify_ratio_{name}.csv", rows)
    return common.save(figure, out / f"certify_ratio_{name}.png")


def shown_examples(results: CertifyResults) -> tuple[np.ndarray, bool]:
    """Up to EXAMPLES rows to show, largest radius ÷ distance first, and whether they are
    wrong certificates: those, or else the right certificates closest to being wrong."""
    ratio = results.radius_ratio
    wrong = results.wrong_certificate
    candidates = wrong if wrong.any() else results.correct & np.isfinite(results.distance)
    rows = np.flatnonzero(candidates)
    rows = rows[np.argsort(-ratio[rows], kind="stable")][:EXAMPLES]
    return rows, bool(wrong.any())


def smoothed_note(results: CertifyResults, i: int) -> str:
    """What the smoothed model's PREDICT said on the other-class image, where it ran."""
    said = int(results.other_prediction[i])
    if said < -1:
        return ""
    return "; smoothed model: " + ("abstains" if said == -1 else LABELS[said])


def examples(run: str, out: epath.Path, name: str) -> epath.Path:
    """certify_examples_<name>.png and .json: per example its image, the nearest image of
    the other true class found and their difference, with the radius and the distance."""
    results = store.read_results(run, "certify")
    rows, wrong = shown_examples(results)
    plt = common.pyplot()
    figure, axes = plt.subplots(max(len(rows), 1), 3, figsize=(7.2, 2.5 * max(len(rows), 1) + 0.6),
                                squeeze=False, layout="constrained")  # fmt: skip
    record = []
    for ax_row, i in zip(axes, rows, strict=False):
        label = int(results.label[i])
        image = results.image[i].astype(np.float32)
        other = results.other_image[i].astype(np.float32)
        radius, distance = float(results.radius[i]), float(results.distance[i])
        relation = ">" if radius > distance else "≤"
        heading = f"test #{int(results.index[i])}: {LABELS[label]}"
        common.show(ax_row[0], image, f"{heading}\ncertified radius {radius:.3g} {relation} "
                    f"distance {distance:.3g}")  # fmt: skip
        common.show(ax_row[1], other, f"nearest {LABELS[1 - label]} image found\n"
                    f"ℓ2 distance {distance:.3g}{smoothed_note(results, i)}")  # fmt: skip
        common.show(ax_row[2], other - image, f"difference ({LABELS[1 - label]} − "
                    f"{LABELS[label]})", diverging=True)  # fmt: skip
        record.append(
            {
                "index": int(results.index[i]),
                "label": LABELS[label],
                "other_label": LABELS[1 - label],
                "radius": radius,
                "distance": distance,
                "ratio": radius / distance,
                "smoothed_prediction_on_other": int(results.other_prediction[i]),
            }
        )
    if not len(rows):
        axes[0, 1].text(0.5, 0.5, NONE_FOUND, ha="center", va="center", fontsize=8,
                        color="gray")  # fmt: skip
        for ax in axes[0]:
            ax.set_axis_off()
    if wrong:
        count = int(results.wrong_certificate.sum())
        heading = (f"{count} right certificate{'s' if count != 1 else ''} cover a true class "
                   f"change (radius > true-class distance);\nthe {len(rows)} with the largest "
                   "radius ÷ distance")  # fmt: skip
    else:
        heading = ("no certificate covers a class change; the closest: the right certificates\n"
                   "with the largest radius ÷ true-class distance")  # fmt: skip
    figure.suptitle(f"{title(run, results)}\n{heading}", fontsize=9)
    common.write_json(out / f"certify_examples_{name}.json",
                      {"run": run, "wrong_certificates": wrong, "examples": record})  # fmt: skip
    return common.save(figure, out / f"certify_examples_{name}.png")


FIGURES = {
    "certify_accuracy": certified_accuracy,
    "certify_ratio": radius_ratio,
    "certify_examples": examples,
}


def draw(figure: str, certify_runs: list[str], out: epath.Path) -> list[epath.Path]:
    """Figure `figure` (a key of FIGURES) of each run."""
    return [FIGURES[figure](run, out, name) for run, name in file_names(certify_runs)]
