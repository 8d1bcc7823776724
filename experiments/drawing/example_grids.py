"""Pictures of attacked examples from the inputs an analysis stored: one test curve at
several ε in pixel and latent space (fig 3), and successful attacks beside the original
and the perturbation (fig 11). Latents are rendered to be shown; nothing is attacked."""

from __future__ import annotations

import numpy as np
from etils import epath

from experiments.drawing import common
from experiments.runs import store
from squiggles.preview import wrap_to_width

CLASS_NAMES = common.CLASS_NAMES


def curve_row(run: str, space: str, index: int, epsilons: list[float]) -> dict:
    """Test example `index` as stored and as attacked at each ε by the `space` analysis
    of `run` (every ε must be in its grid): images, P(intersecting) and true labels."""
    results = store.read_results(run, space)
    i = common.row_of(results, index, run)
    rows = [common.epsilon_row(results, epsilon, run, space) for epsilon in epsilons]
    attacked = common.stored(results, "attacked", run, space)
    clean = common.stored(results, "clean", run, space)[i]
    pictures = common.images(run, space, np.stack([clean] + [attacked[k, i] for k in rows]))
    cells = [
        {"epsilon": float(results.epsilon[k]), "image": image,
         "probability": float(results.probability[k, i]), "truth": int(results.label_after[k, i])}
        for k, image in zip(rows, pictures[1:], strict=True)
    ]  # fmt: skip
    return {"space": space, "clean": pictures[0], "truth": int(results.label_before[i]),
            "clean_probability": float(results.clean_probability[i]), "cells": cells}  # fmt: skip


def attacked_curve(
    pixel_run: str, latent_run: str | None, index: int, epsilons: list[float], out: epath.Path
) -> epath.Path:
    """Fig. 3: one test curve under the stored pixel PGD of `pixel_run` and, when given,
    the latent PGD of `latent_run`, at each of `epsilons` (values of the runs' grids)."""
    rows = [curve_row(pixel_run, "pixel", index, epsilons)]
    if latent_run:
        rows.append(curve_row(latent_run, "latent", index, epsilons))
    plt = common.pyplot()
    size = (1.8 * (len(epsilons) + 1), 0.4 + 1.8 * len(rows))
    figure, axes = plt.subplots(
        len(rows), len(epsilons) + 1, figsize=size, squeeze=False, layout="constrained"
    )
    truth = CLASS_NAMES[rows[0]["truth"]]
    record = {"index": index, "true_label": truth, "epsilons": list(epsilons), "attacks": []}
    for ax, row in zip(axes, rows, strict=True):
        common.show(
            ax[0], row["clean"], f"{row['space']}: clean\nP(int.)={row['clean_probability']:.2f}"
        )
        for panel, cell in zip(ax[1:], row["cells"], strict=True):
            label = CLASS_NAMES[cell["truth"]]
            title = f"ε={cell['epsilon']:g} P(int.)={cell['probability']:.2f}\ntrue: {label}"
            common.show(panel, cell["image"], title)
            record["attacks"].append({"space": row["space"], "epsilon": cell["epsilon"],
                                      "probability_intersecting": cell["probability"],
                                      "true_label": label})  # fmt: skip
    spaces = " and ".join(row["space"] for row in rows)
    title = f"Test curve {index} ({truth}) attacked in {spaces} space"
    figure.suptitle(wrap_to_width(title, size[0], fontsize=12))
    common.write_json(out / "fig3_attacked_curve.json", record)
    return common.save(figure, out / "fig3_attacked_curve.png")


def fooled_examples(run: str, space: str, epsilon: float, count: int) -> list[dict]:
    """The first `count` examples the `space` attack of `run` fooled at ε (right before
    the attack, wrong after it): original and attacked images and the numbers shown."""
    results = store.read_results(run, space)
    k = common.epsilon_row(results, epsilon, run, space)
    chosen = np.flatnonzero(results.fooled[k])[:count]
    before = common.images(run, space, common.stored(results, "clean", run, space)[chosen])
    after = common.images(run, space, common.stored(results, "attacked", run, space)[k][chosen])
    return [
        {"space": space, "index": int(results.index[i]), "before": old, "after": new,
         "norm": float(results.norm[k, i]), "truth": bool(results.label_after[k, i]),
         "probability_intersecting": float(results.probability[k, i])}
        for i, old, new in zip(chosen, before, after, strict=True)
    ]  # fmt: skip


def fooled_epsilons(run: str, space: str) -> list[float]:
    """The ε of the stored grid at which the `space` attack of `run` fooled at least one
    example: where fig 11 would have something to show."""
    results = store.read_results(run, space)
    return [float(e) for e, some in zip(results.epsilon, results.fooled.any(axis=1), strict=True)
            if some]  # fmt: skip


def side_by_side(
    run: str,
    latent_run: str | None,
    pixel_epsilon: float,
    latent_epsilon: float,
    out: epath.Path,
    count: int = 4,
) -> epath.Path | None:
    """Fig. 11: original, attacked and their difference for up to `count` successful
    pixel attacks of `run` and latent attacks of `latent_run`; None when there are none."""
    rows = fooled_examples(run, "pixel", pixel_epsilon, count)
    if latent_run:
        rows += fooled_examples(latent_run, "latent", latent_epsilon, count)
    if not rows:
        return None
    plt = common.pyplot()
    figure, axes = plt.subplots(
        len(rows), 3, figsize=(6.6, 2.1 * len(rows)), layout="constrained", squeeze=False
    )
    for ax, row in zip(axes, rows, strict=True):
        moved = "‖δ‖" if row["space"] == "pixel" else "‖δz‖ in latent space"
        common.show(ax[0], row["before"], f"{row['space']} PGD, test #{row['index']}: original")
        common.show(ax[1], row["after"],
                    f"attacked: P(intersecting)={row['probability_intersecting']:.2f}\n"
                    f"true label {CLASS_NAMES[row['truth']]}")  # fmt: skip
        common.show(ax[2], row["after"] - row["before"],
                    f"image difference\n{moved}={row['norm']:.3g}", diverging=True)  # fmt: skip
    record = [{key: value for key, value in row.items() if key not in ("before", "after")}
              for row in rows]  # fmt: skip
    common.write_json(out / "fig11_side_by_side.json", record)
    return common.save(figure, out / "fig11_side_by_side.png")
