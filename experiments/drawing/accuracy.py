"""Accuracy against ε from the runs' summaries: pixel PGD and Gaussian noise of the same
norm for each run (fig 10), latent PGD against the recomputed label, one panel per
latent run (fig 9)."""

from __future__ import annotations

from etils import epath

from experiments.drawing import common
from experiments.runs import store


def accuracy_against_epsilon(runs: list[str], out: epath.Path) -> epath.Path:
    """Fig. 10: accuracy under pixel PGD (solid) and Gaussian noise of the same norm
    (dashed), one colour per run."""
    plt = common.pyplot()
    figure, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    rows = []
    for number, run in enumerate(runs):
        label = common.run_label(run)
        for attack, style in (("pixel", "-o"), ("noise", "--s")):
            points = common.per_epsilon(run, attack)
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
    common.write_rows(out / "fig10_pgd_vs_noise.csv", rows)
    return common.save(figure, out / "fig10_pgd_vs_noise.png")


def latent_attack_curves(
    latent_runs: list[str], pixel_runs: list[str], out: epath.Path
) -> epath.Path:
    """Fig. 9: accuracy against the recomputed label and the fraction of unchanged labels
    under latent PGD, one panel per latent run on one y scale, each with the pixel PGD
    accuracy of the attack run on the same model (matched by the weights' fingerprint) for
    comparison; the CSV names each row's run."""
    plt = common.pyplot()
    figure, axes = plt.subplots(
        1, len(latent_runs), figsize=(6 * len(latent_runs), 4), layout="constrained",
        sharey=True, squeeze=False,
    )  # fmt: skip
    rows = []
    for ax, latent_run in zip(axes[0], latent_runs, strict=True):
        pixel_run = same_model_run(latent_run, pixel_runs)
        rows += [
            {"run": epath.Path(latent_run).name, **row}
            for row in draw_latent_attack(ax, latent_run, pixel_run)
        ]
    for ax in axes[0][1:]:
        ax.set_ylabel("")  # the shared y axis is named once, on the left
    fields = ["run", "attack"]
    fields += sorted({key for row in rows for key in row} - set(fields))
    common.write_rows(
        out / "fig9_latent_attacks.csv", [{k: row.get(k, "") for k in fields} for row in rows]
    )
    return common.save(figure, out / "fig9_latent_attacks.png")


def same_model_run(run: str, candidates: list[str]) -> str | None:
    """The first of `candidates` whose analysed model has the weights of `run`'s."""
    fingerprint = store.read_settings(run)["model"]["fingerprint"]
    for candidate in candidates:
        if store.read_settings(candidate)["model"]["fingerprint"] == fingerprint:
            return candidate
    return None


def draw_latent_attack(ax, latent_run: str, pixel_run: str | None) -> list[dict]:
    """One panel of fig 9; its rows for the CSV."""
    points = common.per_epsilon(latent_run, "latent")
    epsilons = [p["epsilon"] for p in points]
    ax.plot(
        epsilons,
        [p["accuracy_vs_recomputed_label"] for p in points],
        "-o",
        label="latent PGD: accuracy vs recomputed label",
    )
    unchanged = [p["label_unchanged"] for p in points]
    ax.plot(epsilons, unchanged, "-^", label="latent PGD: true label unchanged")
    rows = [{"attack": "latent", **p} for p in points]
    if pixel_run:
        pixel = common.per_epsilon(pixel_run, "pixel")
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
        title=f"Latent-space PGD on {common.run_label(latent_run)}",
    )
    ax.legend(fontsize=7)
    return rows
