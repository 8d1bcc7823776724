"""Figures of Ford, Gilmer, Carlini & Cubuk (2019) from stored `experiments.noise_analysis`
runs, one run per model: σ(x, 1 %) against the distance to the nearest error (their
Fig. 2), the median noisy distance against μ(x, σ) and the isoperimetric bound (Fig. 4),
and accuracy in noise with the distribution of μ. The church windows (Fig. 3) are in
`experiments.drawing.church`.

Images whose σ(x, 1 %) was never reached (inf), whose nearest error was not found (inf)
or that are misclassified clean (σ = 0) cannot be placed on these axes: they are
counted in the legends and kept, marked, in the CSVs.
"""

from __future__ import annotations

import csv

import numpy as np
from etils import epath

from experiments.drawing import common
from experiments.results import halfspace_distance, halfspace_factor
from experiments.runs import store


def as_list(run_dirs: str | list[str]) -> list[str]:
    return [run_dirs] if isinstance(run_dirs, str) else list(run_dirs)


def ford_results(run: str, name: str, figure: str):
    """A run's stored results of one Ford analysis, or an error naming the figure."""
    try:
        return store.read_results(run, name)
    except (ValueError, FileNotFoundError) as error:
        raise type(error)(f"{figure} needs {name} results (experiments.noise_analysis): "
                          f"{error}") from None  # fmt: skip


def joined(first, second) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The test indices both results hold, and their rows in each."""
    both = np.intersect1d(first.index, second.index)
    return both, np.searchsorted(first.index, both), np.searchsorted(second.index, both)


def rates_and_distances(run_dirs, figure: str) -> list[tuple]:
    """Per run (all read before anything is drawn): the run, its ford_rates and
    ford_distance results, the test indices both hold and their rows in each."""
    pairs = []
    for run in as_list(run_dirs):
        rates = ford_results(run, "ford_rates", figure)
        distances = ford_results(run, "ford_distance", figure)
        pairs.append((run, rates, distances, *joined(rates, distances)))
    return pairs


def halfspace_factor_of(pairs: list[tuple]) -> float:
    """−Φ⁻¹(μ) of the runs' σ(x, μ), which must share μ to share one half-space line."""
    mus = {store.read_settings(run)["analyses"]["ford_rates"]["mu"] for run, *_ in pairs}
    if len(mus) != 1:
        raise ValueError(f"fig 2 needs runs of one μ for σ(x, μ), got μ = {sorted(mus)}")
    return halfspace_factor(mus.pop())


def noisy_sigma_row(run: str, rates) -> tuple[float, int]:
    """ford_distance's noisy σ and its row in ford_rates' μ(x, σ), or an error naming
    the σ there are."""
    noisy_sigma = float(store.read_settings(run)["analyses"]["ford_distance"]["noisy_sigma"])
    at = np.flatnonzero(np.isclose(rates.sigma, noisy_sigma))
    if not len(at):
        raise ValueError(
            f"{run}: ford_rates holds μ(x, σ) at σ = {[float(s) for s in rates.sigma]}, "
            f"not at ford_distance's noisy_sigma = {noisy_sigma:g}: rerun ford_rates with "
            "that σ among its sigmas"
        )
    return noisy_sigma, int(at[0])


IMAGE_FIELDS = ("run", "index", "sigma", "distance", "clean_correct", "bin")
BIN_FIELDS = ("run", "bin", "images", "sigma_q25", "sigma_median", "sigma_q75",
              "distance_q25", "distance_median", "distance_q75", "halfspace_distance")  # fmt: skip
NOISY_FIELDS = ("run", "index", "noisy_sigma", "mu", "errors", "samples", "noisy_median",
                "bound", "sigma_at_mu")  # fmt: skip
ACCURACY_FIELDS = ("run", "panel", "sigma", "mean", "sd", "draws", "index", "mu")


def write_table(path: epath.Path, rows: list[dict], fields: tuple[str, ...]) -> None:
    """A CSV with these columns, its header written even when there are no rows."""
    with path.open("w") as f:
        writer = csv.DictWriter(f, fieldnames=fields, restval="")
        writer.writeheader()
        writer.writerows(rows)


def number(value) -> float | None:
    """A value for JSON: None for NaN (inf stays, as JSON's Infinity)."""
    value = float(value)
    return None if np.isnan(value) else value


def quartiles(values: np.ndarray) -> tuple[float, float, float]:
    q25, median, q75 = np.percentile(values, [25, 50, 75])
    return float(q25), float(median), float(q75)


def bins_by_sigma(sigma: np.ndarray, distance: np.ndarray, bin_size: int) -> list[np.ndarray]:
    """Rows of the images with finite σ > 0 and a finite distance, sorted by σ and cut into
    consecutive bins of `bin_size` (the last one holds the rest)."""
    usable = np.flatnonzero(np.isfinite(sigma) & (sigma > 0) & np.isfinite(distance))
    ordered = usable[np.argsort(sigma[usable], kind="stable")]
    return [ordered[k : k + bin_size] for k in range(0, len(ordered), bin_size)]


def nothing(ax, text: str) -> None:
    """An empty panel that says why it is empty."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=8)
    ax.set(xlim=(0, 1), ylim=(0, 1))


def log_ticks(axis, low: float, high: float) -> None:
    """Plain labels (0.01, 0.02, 0.05, ...) on a log axis, none on its minor ticks: a
    range of under a decade would otherwise label every minor tick, overlapping."""
    common.pyplot()
    from matplotlib import ticker

    subs = (1.0, 2.0, 5.0) if high / low < 100 else (1.0,)
    axis.set_major_locator(ticker.LogLocator(base=10, subs=subs))
    axis.set_major_formatter(ticker.FuncFormatter(lambda x, _: f"{x:g}"))
    axis.set_minor_formatter(ticker.NullFormatter())


def sigma_vs_distance(run_dirs, out: epath.Path, bin_size: int = 50) -> epath.Path:
    """Fig. 2: σ(x, 1 %) against the distance to the nearest error, image by image
    (faint) and per bin of `bin_size` images sorted by σ (medians, 25–75 % bars), with
    the half-space line d = 2.326·σ; beside it the histogram of σ(x, 1 %) per run."""
    if bin_size < 1:
        raise ValueError(f"bin_size must be >= 1, got {bin_size}")
    pairs = rates_and_distances(run_dirs, "fig 2 (σ against distance)")
    factor = halfspace_factor_of(pairs)
    plt = common.pyplot()
    figure, (ax, hist) = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
    rows, bin_rows, per_run, top = [], [], [], 0.0
    for k, (run, rates, distances, index, mine, theirs) in enumerate(pairs):
        sigma, distance = rates.sigma_at_mu[mine], distances.distance[theirs]
        bins = bins_by_sigma(sigma, distance, bin_size)
        number_of = np.full(len(index), -1)
        for b, members in enumerate(bins):
            number_of[members] = b
        rows += [
            {"run": run, "index": int(i), "sigma": float(s), "distance": float(d),
             "clean_correct": int(rates.clean_correct[m]), "bin": int(b) if b >= 0 else ""}
            for i, s, d, m, b in zip(index, sigma, distance, mine, number_of, strict=True)
        ]  # fmt: skip
        color, placed = f"C{k}", number_of >= 0
        label, left_out = common.run_label(run), len(index) - int(placed.sum())
        if left_out:
            label += f": {left_out} of {len(index)} not placed"
        ax.plot(sigma[placed], distance[placed], ".", color=color, alpha=0.2, ms=3)
        for b, members in enumerate(bins):
            s, d = quartiles(sigma[members]), quartiles(distance[members])
            bin_rows.append({"run": run, "bin": b, "images": len(members),
                             "sigma_q25": s[0], "sigma_median": s[1], "sigma_q75": s[2],
                             "distance_q25": d[0], "distance_median": d[1],
                             "distance_q75": d[2],
                             "halfspace_distance": factor * s[1]})  # fmt: skip
            ax.errorbar(s[1], d[1], xerr=[[s[1] - s[0]], [s[2] - s[1]]],
                        yerr=[[d[1] - d[0]], [d[2] - d[1]]], fmt="o", color=color, ms=5,
                        capsize=2, label=label if b == 0 else None)  # fmt: skip
        if not bins:
            ax.plot([], [], "o", color=color, label=label)
        if placed.any():
            top = max(top, float(sigma[placed].max()))
        high = store.read_settings(run)["analyses"]["ford_rates"]["sigma_high"]
        per_run.append((common.run_label(run), color, rates.sigma_at_mu, high))
    if top > 0:
        line = np.array([0.0, top * 1.05])
        ax.plot(line, factor * line, "k--", lw=1,
                label=f"half-space: d = {factor:.3f}·σ")  # fmt: skip
        ax.set_xlim(0, top * 1.05)
        ax.set_ylim(bottom=0)
    else:
        nothing(ax, "no image with finite σ(x, 1 %) > 0 and a distance found")
    ax.text(0.99, 0.01, "not placed: σ = 0 (wrong clean), σ = inf (1 % never reached)\n"
            "or no error found (distance inf)", transform=ax.transAxes, ha="right",
            va="bottom", fontsize=6, color="gray")  # fmt: skip
    ax.set(xlabel="σ(x, 1 %): noise level of 1 % error rate",
           ylabel="ℓ2 distance to the nearest error (PGD)",
           title=f"Distance against σ(x, 1 %), medians of bins of {bin_size} images")  # fmt: skip
    ax.legend(fontsize=7, loc="upper left")
    sigma_histograms(hist, per_run)
    write_table(out / "fig2_sigma_vs_distance.csv", rows, IMAGE_FIELDS)
    write_table(out / "fig2_sigma_vs_distance_bins.csv", bin_rows, BIN_FIELDS)
    return common.save(figure, out / "fig2_sigma_vs_distance.png")


def sigma_histograms(ax, per_run: list) -> None:
    """σ(x, 1 %) per run: finite σ > 0 in bins, misclassified images (σ = 0) in a bin of
    their own left of 0, images whose rate never reached μ counted in the legend."""
    finite = [s[np.isfinite(s) & (s > 0)] for _, _, s, _ in per_run]
    top = max((float(f.max()) for f in finite if len(f)), default=1.0)
    width = top / 20
    edges = np.arange(-1, 21) * width + 1e-12 * top  # the first bin holds σ = 0 alone
    for (label, color, sigma, high), values in zip(per_run, finite, strict=True):
        zeros, unreached = int(np.sum(sigma == 0)), int(np.sum(~np.isfinite(sigma)))
        shown = np.concatenate([np.full(zeros, -width / 2), values])
        ax.hist(
            shown,
            bins=edges,
            histtype="step",
            color=color,
            lw=1.5,
            label=f"{label}: {zeros} at σ = 0, {unreached} with σ > {high:g}",
        )
    ax.axvline(0, color="gray", lw=0.5)
    ax.text(-width / 2, 0, " σ = 0 (wrong clean)", rotation=90, ha="center", va="bottom",
            fontsize=6, transform=ax.get_xaxis_transform())  # fmt: skip
    ax.set(xlabel="σ(x, 1 %)", ylabel="images", title="Histogram of σ(x, 1 %)")
    ax.legend(fontsize=7, loc="best")


def isoperimetric(run_dirs, out: epath.Path) -> epath.Path:
    """Fig. 4: per image the median distance from its noisy samples at noisy_sigma to the
    nearest error against μ(x, noisy_sigma), under the isoperimetric bound −σ·Φ⁻¹(μ);
    beside it the same distance against σ(x, 1 %)."""
    pairs = rates_and_distances(run_dirs, "fig 4 (isoperimetric bound)")
    at_sigma = [noisy_sigma_row(run, rates) for run, rates, *_ in pairs]
    plt = common.pyplot()
    figure, (ax, right) = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
    rows, floors, sigmas, shown = [], [], set(), [0, 0]
    for k, ((run, rates, distances, index, mine, theirs), (noisy_sigma, at)) in enumerate(
        zip(pairs, at_sigma, strict=True)
    ):
        samples = int(rates.samples)
        mu, median = rates.rate[at, mine], distances.noisy_median[theirs]
        sigma_at_mu = rates.sigma_at_mu[mine]
        bound = np.asarray(halfspace_distance(noisy_sigma, mu), np.float64)
        rows += [
            {"run": run, "index": int(i), "noisy_sigma": noisy_sigma, "mu": float(m),
             "errors": int(rates.errors[at, r]), "samples": samples,
             "noisy_median": float(d), "bound": float(b), "sigma_at_mu": float(s)}
            for i, m, d, b, s, r in zip(index, mu, median, bound, sigma_at_mu, mine, strict=True)
        ]  # fmt: skip
        color, label = f"C{k}", common.run_label(run)
        floor = 1 / (2 * samples)  # where μ = 0 (no error among the draws) is drawn
        floors.append(floor)
        sigmas.add(noisy_sigma)
        finite = np.isfinite(median)
        some = finite & (mu > 0)
        none = finite & (mu == 0)
        ax.plot(mu[some], median[some], "o", color=color, ms=3, alpha=0.6, label=label)
        if none.any():
            ax.plot(np.full(none.sum(), floor), median[none], "<", color=color, ms=4, alpha=0.6,
                    label=f"  μ = 0 ({none.sum()}), drawn at 1/(2·{samples})")  # fmt: skip
        if (~finite).any():
            note = f"  {(~finite).sum()} of {len(index)} not shown: median inf"
            ax.plot([], [], " ", label=note + " (most samples: no error found)")
        usable = finite & np.isfinite(sigma_at_mu)
        shown[0] += int(finite.sum())
        shown[1] += int(usable.sum())
        right.plot(sigma_at_mu[usable], median[usable], "o", color=color, ms=3, alpha=0.6,
                   label=label)  # fmt: skip
        if (~usable).any():
            right.plot([], [], " ", label=f"  {(~usable).sum()} of {len(index)} not shown "
                                          "(σ or distance inf)")  # fmt: skip
    grid = np.geomspace(min(floors), 0.5, 200)
    for sigma in sorted(sigmas):
        ax.plot(grid, np.asarray(halfspace_distance(sigma, grid)), "k-", lw=1,
                label=f"bound −σ·Φ⁻¹(μ), σ = {sigma:g}")  # fmt: skip
    if not shown[0]:
        ax.text(0.03, 0.05, "no image with a finite median noisy distance", ha="left",
                va="bottom", transform=ax.transAxes, fontsize=8)  # fmt: skip
    if not shown[1]:
        nothing(right, "no image with finite σ(x, 1 %) and median noisy distance")
    ax.set(xscale="log", xlabel="μ(x, σ): error rate in Gaussian noise",
           ylabel="median ℓ2 distance from noisy samples to an error",
           title="Isoperimetric bound: median noisy distance against μ\n"
                 f"(noisy samples at σ = {', '.join(f'{s:g}' for s in sorted(sigmas))})",
           ylim=(0, None))  # fmt: skip
    log_ticks(ax.xaxis, min(floors), 1.0)
    ax.legend(fontsize=7)
    right.set(xlabel="σ(x, 1 %)", ylabel="median ℓ2 distance from noisy samples to an error",
              title="Median noisy distance against σ(x, 1 %)")  # fmt: skip
    right.legend(fontsize=7)
    write_table(out / "fig4_isoperimetric.csv", rows, NOISY_FIELDS)
    return common.save(figure, out / "fig4_isoperimetric.png")


def noise_accuracy(run_dirs, out: epath.Path) -> epath.Path:
    """Accuracy in Gaussian noise against σ (mean ± 1 SD over independent draws) per run,
    and the cumulative distribution of μ(x, σ) over images at the first two stored σ."""
    stored = [(run, ford_results(run, "ford_rates", "the accuracy in noise figure"))
              for run in as_list(run_dirs)]  # fmt: skip
    plt = common.pyplot()
    figure, (ax, cdf) = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
    rows, grid, smallest = [], set(), 1.0
    for k, (run, rates) in enumerate(stored):
        grid |= {float(s) for s in rates.accuracy_sigma}
        smallest = min(smallest, 1 / int(rates.samples))
        color, label = f"C{k}", common.run_label(run)
        accuracy = rates.accuracy_draws()
        draws = accuracy.shape[1]
        mean = accuracy.mean(axis=1)
        sd = accuracy.std(axis=1, ddof=1) if draws > 1 else np.zeros_like(mean)
        ax.errorbar(rates.accuracy_sigma, mean, yerr=sd, fmt="-o", color=color, ms=4,
                    capsize=2, label=f"{label} ({draws} draws)")  # fmt: skip
        clean = float(np.mean(rates.clean_correct))
        ax.axhline(clean, color=color, ls=":", lw=1)
        rows += [{"run": run, "panel": "accuracy", "sigma": float(s), "mean": float(m),
                  "sd": float(d), "draws": draws}
                 for s, m, d in zip(rates.accuracy_sigma, mean, sd, strict=True)]  # fmt: skip
        rows.append({"run": run, "panel": "clean", "sigma": 0.0, "mean": clean})
        for s, style in zip(range(min(2, len(rates.sigma))), ("-", "--"), strict=False):
            mu = np.sort(rates.rate[s])
            fraction = np.arange(1, len(mu) + 1) / len(mu)
            cdf.step(np.concatenate([[0.0], mu]), np.concatenate([[0.0], fraction]),
                     where="post", ls=style, color=color,
                     label=f"{label}, σ = {rates.sigma[s]:g}")  # fmt: skip
            rows += [{"run": run, "panel": "mu", "sigma": float(rates.sigma[s]),
                      "index": int(i), "mu": float(m)}
                     for i, m in zip(rates.index, rates.rate[s], strict=True)]  # fmt: skip
    ax.set(xscale="log", xlabel="σ of the Gaussian noise (pixels in [0, 1])",
           ylabel="accuracy in noise", ylim=(-0.02, 1.02),
           title="Accuracy in noise, mean ± 1 SD over draws (dotted: clean)")  # fmt: skip
    ax.set_xticks(sorted(grid), labels=[f"{s:g}" for s in sorted(grid)], fontsize=7)
    ax.xaxis.set_minor_formatter(common.pyplot().NullFormatter())
    ax.axhline(0.5, color="gray", lw=0.5)
    ax.legend(fontsize=7)
    # Linear from 0 to one error among the draws, logarithmic above: μ = 0 stays visible.
    cdf.set_xscale("symlog", linthresh=smallest, linscale=0.5)
    cdf.set(xlabel=f"μ(x, σ): error rate of an image in noise (linear below {smallest:g})",
            ylabel="fraction of images with rate ≤ μ", xlim=(0, 1), ylim=(-0.02, 1.02),
            title="Distribution of μ(x, σ) over images")  # fmt: skip
    cdf.legend(fontsize=7, loc="lower right")
    write_table(out / "fig_noise_accuracy.csv", rows, ACCURACY_FIELDS)
    return common.save(figure, out / "fig_noise_accuracy.png")
