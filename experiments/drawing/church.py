"""Church windows (Ford et al. 2019, Fig. 3 and App. G) from stored `ford_church` results:
per example, the model's class on a plane of pixel space through the clean image, its
PGD error and a Gaussian-noise error, and on a plane of latent space with the true
decision boundary (Shapely) drawn over the model's classes."""

from __future__ import annotations

import math
import warnings

import numpy as np
from etils import epath

from experiments.drawing import common, ford

EXAMPLES = 4  # at most, the first stored
CLASS_COLOURS = ("#c6dbef", "#fdd0a2")  # light blue: non-intersecting, light orange


def cell_extent(offsets: np.ndarray) -> tuple[float, float, float, float]:
    """imshow's extent for grid points at `offsets` on both axes: half a cell beyond the
    outermost points, so that each cell is centred on its point."""
    half = (offsets[-1] - offsets[0]) / (len(offsets) - 1) / 2 if len(offsets) > 1 else 0.5
    low, high = float(offsets[0] - half), float(offsets[-1] + half)
    return low, high, low, high


def classes(ax, grid: np.ndarray, offsets: np.ndarray) -> None:
    """The model's class at each grid point ([v, u]), in two colours, origin="lower"."""
    from matplotlib.colors import ListedColormap

    ax.imshow(grid, cmap=ListedColormap(CLASS_COLOURS), vmin=0, vmax=1, origin="lower",
              extent=cell_extent(offsets), interpolation="nearest")  # fmt: skip
    ax.set_aspect("equal")


def mark(ax, point, style: str, **options) -> bool:
    """A marker at (u, v) if it is finite; whether it was drawn."""
    if point is None or not np.all(np.isfinite(point)):
        return False
    ax.plot(*point, style, **options)
    return True


def circle(ax, radius: float, **options) -> bool:
    if not (np.isfinite(radius) and radius > 0):
        return False
    ax.add_patch(common.pyplot().Circle((0, 0), radius, fill=False, **options))
    return True


def file_names(run_dirs: list[str]) -> list[tuple[str, str]]:
    """Each run with the name of its church-window files: church_windows_<run directory
    name>, numbered where two runs share a directory name."""
    names = [epath.Path(run).name for run in run_dirs]
    return [
        (run, f"church_windows_{name}" if names.count(name) == 1 else
              f"church_windows_{name}_{number}")
        for number, (run, name) in enumerate(zip(run_dirs, names, strict=True))
    ]  # fmt: skip


def church_windows(run: str, out: epath.Path, name: str = "church_windows") -> epath.Path:
    """Up to four examples of a run: the pixel church window (top) and the latent one
    (bottom) of each; `name`.png and `name`.json."""
    plt = common.pyplot()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    results = ford.ford_results(run, "ford_church", "the church windows")
    count = min(EXAMPLES, len(results.index))
    if not count:
        raise ValueError(f"{run}: its ford_church results hold no examples")
    _, resolution = common.family_and_resolution(run)
    figure, axes = plt.subplots(2, count, figsize=(3.4 * count + 0.4, 7.6), squeeze=False,
                                layout="constrained")  # fmt: skip
    record = []
    for i in range(count):
        top, bottom = axes[0, i], axes[1, i]
        index, label = int(results.index[i]), common.CLASS_NAMES[int(results.label[i])]
        offsets = results.offsets * results.pixel_extent[i]
        classes(top, results.pixel_class[i], offsets)
        mark(top, (0.0, 0.0), "ko", ms=5)
        pgd, noisy = results.pgd_point[i], results.noise_point[i]
        found_pgd = mark(top, pgd, "X", color="crimson", ms=8, mec="k", mew=0.5)
        found_noise = mark(top, noisy, "^", color="purple", ms=7, mec="k", mew=0.5)
        noise_norm = float(results.noise_sigma[i]) * math.sqrt(resolution * resolution)
        circle(top, noise_norm, ls="--", color="purple", lw=1)
        circle(top, float(pgd[0]), ls="-", color="crimson", lw=1)
        notes = [] if found_pgd else ["no PGD error: u random"]
        notes += [] if found_noise else ["no noise error: v random"]
        top.set_title(f"test #{index} (true: {label})\npixel slice: model's class"
                      + (f"\n{'; '.join(notes)}" if notes else ""), fontsize=8)  # fmt: skip
        top.set_xlabel("u: ℓ2 towards the PGD error", fontsize=7)
        top.set_ylabel("v: ℓ2 towards the noise error", fontsize=7)
        latent = results.latent_offsets
        classes(bottom, results.latent_class[i], latent)
        truth = results.latent_truth[i]
        if truth.min() != truth.max():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                bottom.contour(latent, latent, truth, levels=[0.5], colors="k", linewidths=1.5)
        mark(bottom, (0.0, 0.0), "ko", ms=5)
        found_latent = mark(bottom, results.latent_error_point[i], "X", color="crimson", ms=8,
                            mec="k", mew=0.5)  # fmt: skip
        agreement = float(np.mean(results.latent_class[i] == truth))
        bottom.set_title(f"test #{index}: latent slice, model's class\n"
                         f"black: true boundary; model agrees on {agreement:.0%}"
                         + ("" if found_latent else "\nno latent PGD error: u random"),
                         fontsize=8)  # fmt: skip
        bottom.set_xlabel("u: towards the latent PGD error", fontsize=7)
        bottom.set_ylabel("v: random, orthogonal", fontsize=7)
        for ax in (top, bottom):
            ax.tick_params(labelsize=6)
        record.append({
            "index": index, "label": label,
            "clean_probability_intersecting": float(results.clean_probability[i]),
            "pixel_axis_range": [float(offsets[0]), float(offsets[-1])],
            "pixel_class_fraction_intersecting": float(np.mean(results.pixel_class[i])),
            "pgd_point": [ford.number(v) for v in pgd],
            "pgd_distance": ford.number(pgd[0]),
            "noise_point": [ford.number(v) for v in noisy],
            "noise_sigma": ford.number(results.noise_sigma[i]),
            "noise_norm": ford.number(noise_norm),
            "latent_axis_range": [float(latent[0]), float(latent[-1])],
            "latent_error_point": [ford.number(v) for v in results.latent_error_point[i]],
            "latent_agreement": agreement,
            "latent_truth_fraction_intersecting": float(np.mean(truth)),
        })  # fmt: skip
    handles = [
        Patch(color=CLASS_COLOURS[0], label=f"model: {common.CLASS_NAMES[0]}"),
        Patch(color=CLASS_COLOURS[1], label=f"model: {common.CLASS_NAMES[1]}"),
        Line2D([], [], marker="o", color="k", ls="", label="clean image / latent (0, 0)"),
        Line2D([], [], marker="X", color="crimson", mec="k", ls="", ms=8, label="PGD error"),
        Line2D([], [], marker="^", color="purple", mec="k", ls="", ms=7, label="noise error"),
        Line2D([], [], color="crimson", label="ε ball: PGD error distance"),
        Line2D([], [], color="purple", ls="--", label=f"noise norm σ·√({resolution}·{resolution})"),
        Line2D([], [], color="k", lw=1.5, label="true decision boundary (latent)"),
    ]
    figure.legend(handles=handles, loc="outside lower center", ncol=4, fontsize=7)
    figure.suptitle(f"Church windows of {common.run_label(run)}", fontsize=9)
    common.write_json(
        out / f"{name}.json",
        {"run": run, "model": common.run_label(run), "resolution": resolution, "examples": record},
    )
    return common.save(figure, out / f"{name}.png")
