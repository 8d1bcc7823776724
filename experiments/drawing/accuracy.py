"""Accuracy against ε from the runs' summaries: pixel PGD and Gaussian noise of the same
norm for each run (fig 10), latent PGD against the recomputed label (fig 9)."""

from __future__ import annotations

from etils import epath

from experiments.drawing import common


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


def latent_attack_curves(latent_run: str, pixel_run: str | None, out: epath.Path) -> epath.Path:
    """Fig. 9: accuracy against the recomputed label and the fraction of unchanged labels
    under latent PGD; the same model's pixel PGD accuracy for comparison."""
    plt = common.pyplot()
    figure, ax = plt.subplots(figsize=(6, 4), layout="constrained")
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
    fields = sorted({key for row in rows for key in row}, key=lambda k: (k != "attack", k))
    common.write_rows(
        out / "fig9_latent_attacks.csv", [{k: row.get(k, "") for k in fields} for row in rows]
    )
    return common.save(figure, out / "fig9_latent_attacks.png")
