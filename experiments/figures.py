r"""The paper's attack figures from the outputs of experiments.attack and
experiments.boundary_distance, each as a PNG with its numbers beside it (CSV or JSON).

    python -m experiments.figures --out docs/results \
        --attack_runs runs/attack_cpu_taylor,runs/attack_cpu_taylor_noise008 \
        --latent_run runs/attack_cpu_taylor_latent --boundary_run runs/boundary_cpu_taylor

Figures are drawn when their inputs are given:
  fig3   one curve attacked at several ε in pixel and latent space (model of the first run)
  fig7   errors grouped by true class: clean, latent-attacked, pixel-attacked (each run)
  fig8   cumulative fraction of distances to the true decision boundary
  fig9   latent attacks: accuracy against the recomputed label, unchanged-label fraction
  fig10  accuracy against ε under pixel PGD and under Gaussian noise, for each run
  fig11  original, attacked and perturbation side by side
Images are drawn with origin="lower" (row r is y = r/(R-1)), as everywhere in squiggles.
"""

from __future__ import annotations

import csv
import json
import sys

import jax.numpy as jnp
import numpy as np
from absl import app, flags
from etils import epath

import squiggles
from experiments import attack_lib, attacks, console, data, eval_lib, metrics, train_lib
from squiggles.preview import fill_class_grids, wrap_to_width
from squiggles_tfds.storage import ensure_writable_dir

CLASS_NAMES = metrics.CLASS_NAMES

_OUT = flags.DEFINE_string("out", None, "Directory for the PNG, CSV and JSON files.")
_ATTACK_RUNS = flags.DEFINE_list(
    "attack_runs", [], "experiments.attack outputs with pixel and noise results (fig 7, 10, 11)."
)
_LATENT_RUN = flags.DEFINE_string("latent_run", None, "An output with latent results (fig 7, 9).")
_BOUNDARY_RUN = flags.DEFINE_string("boundary_run", None, "A boundary_distance output (fig 8).")
_PIXEL_EPSILON = flags.DEFINE_float("pixel_epsilon", 0.15, "Pixel ε shown in fig 7 and 11.")
_LATENT_EPSILON = flags.DEFINE_float("latent_epsilon", 0.6, "Latent ε shown in fig 7 and 11.")
_CURVE_EPSILONS = flags.DEFINE_list("curve_epsilons", ["0.15", "0.6", "2.4"], "ε of fig 3.")
_CURVE_INDEX = flags.DEFINE_integer("curve_index", 0, "Test example of fig 3.")
flags.mark_flags_as_required(["out"])


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _settings(run: str) -> dict:
    path = epath.Path(run) / "settings.json"
    if not path.exists():
        raise FileNotFoundError(f"{run} is not an experiments.attack output: no settings.json")
    return json.loads(path.read_text())


def _label(run: str) -> str:
    noise = _settings(run)["noise"]
    sigma = f"σ≤{noise['sigma_max']:g}" if noise["sigma_max"] else f"σ={noise['sigma']:g}"
    return f"{epath.Path(run).name} ({sigma})"


def _per_epsilon(run: str, attack: str) -> list[dict]:
    summary = json.loads((epath.Path(run) / "summary.json").read_text())
    return summary[attack]["per_epsilon"]


def _write_rows(path: epath.Path, rows: list[dict]) -> None:
    with path.open("w") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _at(results: dict, epsilon: float) -> int:
    grid = results["epsilon"]
    matches = np.flatnonzero(np.isclose(grid, epsilon))
    if not len(matches):
        raise ValueError(f"no results at ε={epsilon}; the run has ε {list(grid)}")
    return int(matches[0])


def _show(ax, image, title: str = "", diverging: bool = False) -> None:
    ax.set_axis_off()
    if diverging:
        limit = max(float(np.abs(image).max()), 1e-6)
        ax.imshow(image, cmap="RdBu_r", origin="lower", vmin=-limit, vmax=limit)
    else:
        ax.imshow(image, cmap="gray_r", origin="lower", vmin=0.0, vmax=1.0)
    if title:
        ax.set_title(title, fontsize=7)


# ---------------------------------------------------------------- curves against ε


def accuracy_against_epsilon(runs: list[str], out: epath.Path) -> epath.Path:
    """Fig. 10: accuracy under pixel PGD (solid) and Gaussian noise of the same norm."""
    plt = _pyplot()
    figure, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    rows = []
    for number, run in enumerate(runs):
        label = _label(run)
        for attack, style in (("pixel", "-o"), ("noise", "--s")):
            points = _per_epsilon(run, attack)
            ax.plot(
                [p["epsilon"] for p in points],
                [p["accuracy"] for p in points],
                style,
                color=f"C{number}",
                label=f"{label}, {'PGD' if attack == 'pixel' else 'noise'}",
            )
            rows += [
                {"run": run, "attack": attack, "epsilon": p["epsilon"], "accuracy": p["accuracy"]}
                for p in points
            ]
    ax.set(
        xscale="log",
        xlabel="ℓ2 radius ε (pixels in [0, 1])",
        ylabel="test accuracy",
        ylim=(-0.02, 1.02),
        title="Pixel-space PGD and Gaussian noise of the same norm",
    )
    ax.axhline(0.5, color="gray", lw=0.5)
    ax.legend(fontsize=7)
    figure.savefig(out / "fig10_pgd_vs_noise.png", dpi=120)
    _write_rows(out / "fig10_pgd_vs_noise.csv", rows)
    return out / "fig10_pgd_vs_noise.png"


def latent_attack_curves(latent_run: str, pixel_run: str | None, out: epath.Path) -> epath.Path:
    """Fig. 9: accuracy against the recomputed label and the fraction of unchanged labels
    under latent PGD; the same model's pixel PGD accuracy for comparison."""
    plt = _pyplot()
    figure, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    points = _per_epsilon(latent_run, "latent")
    epsilons = [p["epsilon"] for p in points]
    ax.plot(
        epsilons,
        [p["accuracy_vs_recomputed_label"] for p in points],
        "-o",
        label="latent PGD: accuracy vs recomputed label",
    )
    ax.plot(
        epsilons,
        [p["label_unchanged"] for p in points],
        "-^",
        label="latent PGD: true label unchanged",
    )
    rows = [{"attack": "latent", **p} for p in points]
    if pixel_run:
        pixel = _per_epsilon(pixel_run, "pixel")
        ax.plot(
            [p["epsilon"] for p in pixel],
            [p["accuracy"] for p in pixel],
            "--s",
            color="gray",
            label="pixel PGD: accuracy (same model)",
        )
        rows += [
            {"attack": "pixel", "epsilon": p["epsilon"], "accuracy": p["accuracy"]} for p in pixel
        ]
    ax.set(
        xscale="log",
        xlabel="ℓ2 radius ε (latent or pixel space)",
        ylabel="fraction",
        ylim=(-0.02, 1.02),
        title=f"Latent-space PGD on {_label(latent_run)}",
    )
    ax.legend(fontsize=7)
    figure.savefig(out / "fig9_latent_attacks.png", dpi=120)
    fields = sorted({key for row in rows for key in row}, key=lambda k: (k != "attack", k))
    _write_rows(
        out / "fig9_latent_attacks.csv", [{k: row.get(k, "") for k in fields} for row in rows]
    )
    return out / "fig9_latent_attacks.png"


def distance_cdfs(boundary_run: str, out: epath.Path) -> epath.Path:
    """Fig. 8: fraction of examples within ε of the true decision boundary."""
    summary = json.loads((epath.Path(boundary_run) / "summary.json").read_text())
    distances = list(csv.DictReader((epath.Path(boundary_run) / "distances.csv").open()))
    figure, rows = draw_distance_cdfs(summary, distances)
    path = out / "fig8_boundary_distance.png"
    figure.savefig(path, dpi=120)
    _write_rows(out / "fig8_boundary_distance.csv", rows)
    return path


def draw_distance_cdfs(summary: dict, distances: list[dict]) -> tuple:
    """Fig. 8 from a boundary run's summary.json and distances.csv rows: the matplotlib
    Figure and the rows of its CSV. The legend lists only what is drawn: a group with
    no examples, or with no boundary found, is named in a note instead."""
    plt = _pyplot()
    epsilons = summary["epsilons"]
    figure, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    rows, notes = [], []
    for (group, curves), color in zip(
        summary["cumulative_fraction"].items(), "C0 C1 C2".split(), strict=False
    ):
        name = group.replace("_", " ") + f" ({curves['examples']})"
        rows += [
            {"group": group, "epsilon": e, "grid": g, "refined": r}
            for e, g, r in zip(epsilons, curves["grid"], curves["refined"], strict=True)
        ]
        if not curves["examples"]:
            notes.append(f"{group.replace('_', ' ')}: no examples")
            continue
        ax.step(epsilons, curves["grid"], ":", where="post", color=color, label=f"{name}, grid")
        refined = [float(row["refined_distance"]) for row in distances if row[group] == "1"]
        if not _refined_cdf(ax, refined, max(epsilons), color, f"{name}, bisection"):
            notes.append(f"{group.replace('_', ' ')}: no boundary within ε ≤ {max(epsilons):g}")
    ax.set(
        xscale="log",
        xlabel="latent distance ε",
        ylabel="fraction with distance ≤ ε",
        ylim=(-0.02, 1.02),
        title="Distance to the true decision boundary",
    )
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper left")
    if notes:
        ax.text(0.99, 0.02, "not drawn: " + "; ".join(notes), transform=ax.transAxes,
                ha="right", va="bottom", fontsize=7, color="gray")  # fmt: skip
    return figure, rows


def _refined_cdf(ax, distances: list[float], right: float, color: str, label: str) -> bool:
    """The empirical CDF of the bisection-refined distances (continuous, so not sampled
    on the grid): a step at each finite distance, from 0 up to the fraction found,
    carried to `right`. With a single distance, its step is marked with a dot so that
    it shows. Returns whether anything was drawn."""
    found = np.sort([d for d in distances if np.isfinite(d)])
    if not len(found):
        return False
    fraction = np.arange(1, len(found) + 1) / len(distances)
    x = np.concatenate([[found[0]], found, [max(right, found[-1])]])
    y = np.concatenate([[0.0], fraction, [fraction[-1]]])
    marker = "o" if len(found) == 1 else None
    ax.step(x, y, "-", where="post", color=color, marker=marker, markevery=[1], label=label)
    return True


# ---------------------------------------------------------------- pictures of examples


def _model_and_family(run: str):
    state, config = eval_lib.load_run(_settings(run)["workdir"])
    return state, data.family_of(config), config.resolution


def _family_and_resolution(run: str) -> tuple[squiggles.Family, int]:
    """Of the attacked model, from its config alone: no checkpoint to restore."""
    config = train_lib.read_config(_settings(run)["workdir"])
    return data.family_of(config), config.resolution


def attacked_curve(run: str, index: int, epsilons: list[float], out: epath.Path) -> epath.Path:
    """Fig. 3: one test curve under pixel PGD and latent PGD at several ε."""
    plt = _pyplot()
    state, family, resolution = _model_and_family(run)
    chunk = attack_lib.Chunk.load(family, resolution, index, 1)
    settings = attack_lib.AttackSettings(attacks=("pixel", "latent"))
    label = chunk.labels.astype(np.int32)
    rows = [
        ("pixel", chunk.images),
        ("latent", np.asarray(squiggles.render(jnp.asarray(chunk.latents), family, resolution))),
    ]
    figure, axes = plt.subplots(
        2, len(epsilons) + 1, figsize=(1.8 * (len(epsilons) + 1), 4), layout="constrained"
    )
    record = {"index": index, "true_label": CLASS_NAMES[label[0]], "attacks": []}
    for row, (space, clean) in enumerate(rows):
        p = attack_lib.probabilities(state, clean)[0]
        _show(axes[row, 0], clean[0], f"{space}: clean\nP(int.)={p:.2f}")
        for column, epsilon in enumerate(epsilons, start=1):
            if space == "pixel":
                image = attack_lib.run_pgd(
                    state, clean, label, epsilon, clip=settings.pixel_range,
                    **settings.iteration_options(),
                )  # fmt: skip
                truth = label[0]
            else:
                latent = attack_lib.run_pgd(
                    state, chunk.latents, label, epsilon, family=family, resolution=resolution,
                    **settings.iteration_options(),
                )  # fmt: skip
                image = squiggles.render(latent, family, resolution)
                truth = int(attacks.true_labels(latent, family)[0])
            p = attack_lib.probabilities(state, image)[0]
            _show(
                axes[row, column],
                np.asarray(image)[0],
                f"ε={epsilon:g} P(int.)={p:.2f}\ntrue: {CLASS_NAMES[truth]}",
            )
            record["attacks"].append(
                {
                    "space": space,
                    "epsilon": epsilon,
                    "probability_intersecting": float(p),
                    "true_label": CLASS_NAMES[truth],
                }
            )
    figure.suptitle(
        f"Test curve {index} ({CLASS_NAMES[label[0]]}) attacked in pixel and latent space"
    )
    figure.savefig(out / "fig3_attacked_curve.png", dpi=120)
    (out / "fig3_attacked_curve.json").write_text(json.dumps(record, indent=2))
    return out / "fig3_attacked_curve.png"


GENERALISATION = "misclassified without any attack"
ATTACKED = "classified correctly before the attack and wrongly after it (clean errors excluded)"


def _panels(
    run: str,
    latent_run: str | None,
    pixel_epsilon: float,
    latent_epsilon: float,
    pixel_runs: list[str],
) -> list[dict]:
    """Each kind of error in fig 7: title, which examples it holds (`selection`), their
    images, true labels and indices. Clean errors appear in the first panel only: an
    attack panel holds the examples the model got right before the attack and wrong
    after it (against the recomputed true label, for latent PGD)."""
    family, resolution = _family_and_resolution(run)
    pixel = attack_lib.read_results(run, "pixel")
    chunk = attack_lib.Chunk.load(family, resolution, 0, len(pixel["index"]))
    wrong = (pixel["clean_probability"] > 0.5) != pixel["label_before"]
    panels = [
        _panel("generalisation errors", GENERALISATION, chunk.images[wrong], chunk.labels[wrong],
               chunk.indices[wrong], clean_errors_excluded=False)
    ]  # fmt: skip
    if latent_run:
        latent = attack_lib.read_results(latent_run, "latent")
        k = _at(latent, latent_epsilon)
        clean_right = (latent["clean_probability"] > 0.5) == latent["label_before"]
        fooled = clean_right & ((latent["probability"][k] > 0.5) != latent["label_after"][k])
        images = np.asarray(
            squiggles.render(jnp.asarray(latent["attacked"][k][fooled]), family, resolution)
        )
        panels.append(
            _panel(f"latent PGD errors, ε={latent_epsilon:g}",
                   ATTACKED + "; true label recomputed after the attack", images,
                   latent["label_after"][k][fooled], latent["index"][fooled])
        )  # fmt: skip
    for pixel_run in pixel_runs:
        results = attack_lib.read_results(pixel_run, "pixel")
        k = _at(results, pixel_epsilon)
        clean_right = (results["clean_probability"] > 0.5) == results["label_before"]
        fooled = clean_right & ((results["probability"][k] > 0.5) != results["label_before"])
        panels.append(
            _panel(f"pixel PGD errors, ε={pixel_epsilon:g}, {_label(pixel_run)}", ATTACKED,
                   results["attacked"][k][fooled].astype(np.float32),
                   results["label_before"][fooled], results["index"][fooled])
        )  # fmt: skip
    return panels


def _panel(title, selection, images, labels, indices, clean_errors_excluded=True) -> dict:
    return {"title": title, "selection": selection, "images": images, "labels": labels,
            "indices": indices, "clean_errors_excluded": clean_errors_excluded}  # fmt: skip


def error_grids(
    runs: list[str],
    latent_run: str | None,
    pixel_epsilon: float,
    latent_epsilon: float,
    out: epath.Path,
    per_cell: int = 16,
) -> epath.Path:
    """Fig. 7: for each kind of error, up to `per_cell` examples of each true class.
    The figure and its JSON say which examples each panel counts."""
    plt = _pyplot()
    panels = _panels(runs[0], latent_run, pixel_epsilon, latent_epsilon, runs)
    side = int(np.ceil(np.sqrt(per_cell)))
    figure = plt.figure(figsize=(7, 0.6 + 3.5 * len(panels)), layout="constrained")
    figure.suptitle(
        wrap_to_width(
            "Errors by true class. Attack panels: examples " + ATTACKED
            + "; the first panel holds the clean errors.", 7, fontsize=10,
        ),
        fontsize=10,
    )  # fmt: skip
    record = []
    for subfigure, panel in zip(
        np.atleast_1d(figure.subfigures(len(panels), 1)), panels, strict=True
    ):
        labels, images, indices = panel["labels"], panel["images"], panel["indices"]
        subfigure.suptitle(
            wrap_to_width(f"{panel['title']}: {len(images)} errors", 7), fontweight="bold"
        )
        grids = {}
        for cls, name in enumerate(CLASS_NAMES):
            chosen = np.flatnonzero(labels == cls)[:per_cell]
            count = int(np.sum(labels == cls))
            grids[wrap_to_width(f"true {name}: {len(chosen)} shown of {count}", 3.5)] = images[
                chosen
            ]
            record.append({"panel": panel["title"], "selection": panel["selection"],
                           "clean_errors_excluded": panel["clean_errors_excluded"],
                           "true_label": name, "count": count,
                           "shown_indices": indices[chosen].tolist()})  # fmt: skip
        fill_class_grids(subfigure, grids, side)
    path = out / "fig7_errors_by_class.png"
    figure.savefig(path, dpi=100)
    (out / "fig7_errors_by_class.json").write_text(json.dumps(record, indent=2))
    return path


def side_by_side(
    run: str,
    latent_run: str | None,
    pixel_epsilon: float,
    latent_epsilon: float,
    out: epath.Path,
    count: int = 4,
) -> epath.Path | None:
    """Fig. 11: original, attacked and their difference for successful attacks."""
    plt = _pyplot()
    family, resolution = _family_and_resolution(run)
    rows = []
    pixel = attack_lib.read_results(run, "pixel")
    k = _at(pixel, pixel_epsilon)
    clean_right = (pixel["clean_probability"] > 0.5) == pixel["label_before"]
    fooled = np.flatnonzero(
        clean_right & ((pixel["probability"][k] > 0.5) != pixel["label_before"])
    )[:count]
    clean = attack_lib.Chunk.load(family, resolution, 0, len(pixel["index"])).images
    for i in fooled:
        rows.append({
            "space": "pixel", "index": int(pixel["index"][i]), "before": clean[i],
            "after": pixel["attacked"][k][i].astype(np.float32),
            "norm": float(pixel["norm"][k][i]), "truth": bool(pixel["label_before"][i]),
            "probability_intersecting": float(pixel["probability"][k][i]),
        })  # fmt: skip
    if latent_run:
        latent = attack_lib.read_results(latent_run, "latent")
        k = _at(latent, latent_epsilon)
        wrong = (latent["probability"][k] > 0.5) != latent["label_after"][k]
        originals = attack_lib.Chunk.load(family, resolution, 0, len(latent["index"])).latents
        for i in np.flatnonzero(wrong)[:count]:
            before, after = np.asarray(
                squiggles.render(jnp.stack([originals[i], latent["attacked"][k][i]]), family,
                                 resolution)
            )  # fmt: skip
            rows.append({
                "space": "latent", "index": int(latent["index"][i]), "before": before,
                "after": after, "norm": float(latent["norm"][k][i]),
                "truth": bool(latent["label_after"][k][i]),
                "probability_intersecting": float(latent["probability"][k][i]),
            })  # fmt: skip
    if not rows:
        return None
    figure, axes = plt.subplots(
        len(rows), 3, figsize=(6.6, 2.1 * len(rows)), layout="constrained", squeeze=False
    )
    for ax, row in zip(axes, rows, strict=True):
        moved = "‖δ‖" if row["space"] == "pixel" else "‖δz‖ in latent space"
        _show(ax[0], row["before"], f"{row['space']} PGD, test #{row['index']}: original")
        _show(ax[1], row["after"],
              f"attacked: P(intersecting)={row['probability_intersecting']:.2f}\n"
              f"true label {CLASS_NAMES[row['truth']]}")  # fmt: skip
        _show(ax[2], row["after"] - row["before"], f"image difference, {moved}={row['norm']:.3g}",
              diverging=True)  # fmt: skip
    record = [
        {key: value for key, value in row.items() if key not in ("before", "after")} for row in rows
    ]
    figure.savefig(out / "fig11_side_by_side.png", dpi=120)
    (out / "fig11_side_by_side.json").write_text(json.dumps(record, indent=2))
    return out / "fig11_side_by_side.png"


INPUT_FLAGS = ("--attack_runs", "--latent_run", "--boundary_run")


def check_inputs(runs: list[str], latent_run: str | None, boundary_run: str | None) -> None:
    """A usage error when no figure has its inputs: nothing would be drawn."""
    if not (runs or latent_run or boundary_run):
        raise app.UsageError(
            f"no inputs: give at least one of {', '.join(INPUT_FLAGS)} (each figure is drawn "
            "from the runs it needs; see the list above)"
        )


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    runs, latent_run = _ATTACK_RUNS.value, _LATENT_RUN.value
    check_inputs(runs, latent_run, _BOUNDARY_RUN.value)
    console.setup()
    try:
        out = ensure_writable_dir(_OUT.value, "the figures")
        written = []
        if runs:
            written += [
                accuracy_against_epsilon(runs, out),
                attacked_curve(
                    runs[0], _CURVE_INDEX.value, [float(e) for e in _CURVE_EPSILONS.value], out
                ),
                error_grids(runs, latent_run, _PIXEL_EPSILON.value, _LATENT_EPSILON.value, out),
                side_by_side(runs[0], latent_run, _PIXEL_EPSILON.value, _LATENT_EPSILON.value, out),
            ]
        if latent_run:
            written.append(latent_attack_curves(latent_run, runs[0] if runs else None, out))
        if _BOUNDARY_RUN.value:
            written.append(distance_cdfs(_BOUNDARY_RUN.value, out))
    except (ValueError, FileNotFoundError, PermissionError) as error:
        sys.exit(f"error: {error}")
    names = ", ".join(path.name for path in written if path is not None)
    print(f"wrote {names} (each with its numbers beside it) to {out}")


if __name__ == "__main__":
    app.run(main)
