r"""The paper's attack figures from stored analysis runs of experiments.analyse, and those
of Ford et al. (2019) from runs of experiments.noise_analysis, each as a PNG with its
numbers beside it (CSV or JSON). Figures only draw: they read the results the runs
stored and never attack, generate examples or restore a model.

    python -m experiments.figures --out docs/results \
        --attack_runs runs/attack_cpu_taylor,runs/attack_cpu_taylor_noise008 \
        --latent_runs runs/latent_cpu_taylor,runs/latent_cpu_taylor_noise008 \
        --boundary_runs runs/boundary_cpu_taylor,runs/boundary_cpu_taylor_noise008 \
        --ford_runs runs/ford_cpu_taylor,runs/ford_cpu_taylor_noise008 \
        --certify_runs runs/certify_noise025

Figures are drawn when their inputs are given:
  fig3   one curve attacked at several ε (values of the stored grids) in pixel space (first
         attack run) and latent space (first --latent_runs run, when given)
  fig7   errors grouped by true class: clean, latent-attacked and pixel-attacked (each run)
  fig8   cumulative fraction of distances to the true decision boundary, one panel per
         --boundary_runs run (--boundary_run is the same flag)
  fig9   latent attacks: accuracy against the recomputed label, unchanged-label fraction,
         one panel per --latent_runs run (--latent_run is the same flag), beside the pixel
         PGD accuracy of the attack run on the same model
  fig10  accuracy against ε under pixel PGD and under Gaussian noise, for each run
  fig11  original, attacked and perturbation side by side (first attack and latent runs)
Ford et al. (--ford_runs, one run per model; one colour per run):
  fig2_sigma_vs_distance  σ(x, 1 %) against the distance to the nearest error, medians of
         bins of --ford_bin images sorted by σ (25–75 % bars), the half-space line
         d = 2.326·σ, and the histogram of σ(x, 1 %); per-image rows in the .csv, per-bin
         rows in fig2_sigma_vs_distance_bins.csv
  fig4_isoperimetric  median noisy distance against μ(x, σ) at ford_distance's noisy σ
         under the isoperimetric bound −σ·Φ⁻¹(μ), and against σ(x, 1 %)
  fig_noise_accuracy  accuracy in noise against σ (mean ± 1 SD over draws), CDF of μ(x, σ)
  church_windows_<run directory name>  one file per run: pixel and latent church windows
         (Fig. 3) of up to 4 examples, with the true boundary over the latent slice
Randomized smoothing against the ground truth (--certify_runs, runs of the certify analysis;
one file of each per run, named after its directory):
  certify_accuracy_<run directory name>  certified accuracy against the radius r, its
         provably wrong part (an image of the other true class within r), the share whose
         true-class distance is ≥ r, and the attack ensemble's robust accuracy of the base
         model when the run holds ensemble results; .csv at 0 and the ensemble's ε (or the
         summary's radii)
  certify_ratio_<name>  histogram of certified radius ÷ true-class distance of the right
         certificates (.csv: one row each)
  certify_examples_<name>  up to 4 certificates that cover a true class change: image,
         other-class image, difference (else the closest right ones, said in the title)
--only draws just the figures it names (fig3, fig7, fig8, fig9, fig10, fig11,
fig2_sigma_vs_distance, fig4_isoperimetric, fig_noise_accuracy, church_windows,
certify_accuracy, certify_ratio, certify_examples), so one figure can be redrawn from runs
whose other results are not at hand.
Every figure's inputs are checked before any is drawn: an ε that is not in a run's stored
grid (the defaults are on the paper's grids; the tiny analyses need, say,
--pixel_epsilon 4.8 --latent_epsilon 2.4 --curve_epsilons 0.3), a missing analysis or
test example is an error naming the figure and the flag, and nothing is written. Fig 11
is left out, with a line saying why, when no example was fooled at the ε shown.
Images are drawn with origin="lower" (row r is y = r/(R-1)), as everywhere in squiggles.
The drawing is in `experiments.drawing`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence

from absl import app, flags
from etils import epath

from experiments import console
from experiments.drawing import (
    accuracy,
    boundary,
    certify,
    church,
    errors,
    example_grids,
    ford,
    inputs,
)
from squiggles.storage import ensure_writable_dir

_OUT = flags.DEFINE_string("out", None, "Directory for the PNG, CSV and JSON files.")
_ATTACK_RUNS = flags.DEFINE_list(
    "attack_runs", [], "Analysis runs with pixel and noise results (fig 3, 7, 10, 11)."
)
_LATENT_RUNS = flags.DEFINE_list(
    "latent_runs", [], "Runs with latent results, one fig 9 panel each (fig 3, 7, 9, 11)."
)
flags.DEFINE_alias("latent_run", "latent_runs")
_BOUNDARY_RUNS = flags.DEFINE_list(
    "boundary_runs", [], "Runs with boundary results, one panel each (fig 8)."
)
flags.DEFINE_alias("boundary_run", "boundary_runs")
_PIXEL_EPSILON = flags.DEFINE_float("pixel_epsilon", 0.15, "Pixel ε shown in fig 7 and 11.")
_LATENT_EPSILON = flags.DEFINE_float("latent_epsilon", 0.6, "Latent ε shown in fig 7 and 11.")
_CURVE_EPSILONS = flags.DEFINE_list(
    "curve_epsilons", ["0.15", "0.6", "2.4"], "ε of fig 3, each in the stored grids."
)
_CURVE_INDEX = flags.DEFINE_integer("curve_index", 0, "Test example of fig 3.")
_FORD_RUNS = flags.DEFINE_list(
    "ford_runs", [], "Runs of experiments.noise_analysis, one per model (Ford et al. figures)."
)
_CERTIFY_RUNS = flags.DEFINE_list(
    "certify_runs", [], "Runs with certify results (and ensemble results, when they hold them)."
)
_FORD_BIN = flags.DEFINE_integer("ford_bin", 50, "Images per bin of σ in fig2_sigma_vs_distance.")
_ONLY = flags.DEFINE_list(
    "only", [], "Draw only these figures (names above); default: every figure whose runs are given."
)
flags.mark_flags_as_required(["out"])

INPUT_FLAGS = ("--attack_runs", "--latent_runs", "--boundary_runs", "--ford_runs", "--certify_runs")
# Each figure, in the order drawn, and the flag of the runs it is drawn from.
FIGURE_INPUTS = {
    "fig10": "--attack_runs",
    "fig3": "--attack_runs",
    "fig7": "--attack_runs",
    "fig11": "--attack_runs",
    "fig9": "--latent_runs",
    "fig8": "--boundary_runs",
    "fig2_sigma_vs_distance": "--ford_runs",
    "fig4_isoperimetric": "--ford_runs",
    "fig_noise_accuracy": "--ford_runs",
    "church_windows": "--ford_runs",
    **{name: "--certify_runs" for name in certify.FIGURES},
}


def check_inputs(
    runs: list[str], latent_runs: list[str] | tuple[str, ...] = (),
    boundary_runs: list[str] | tuple[str, ...] = (), ford_runs: list[str] | tuple[str, ...] = (),
    certify_runs: list[str] | tuple[str, ...] = (),
) -> None:  # fmt: skip
    """A usage error when no figure has its inputs: nothing would be drawn."""
    if not (runs or latent_runs or boundary_runs or ford_runs or certify_runs):
        raise app.UsageError(
            f"no inputs: give at least one of {', '.join(INPUT_FLAGS)} (each figure is drawn "
            "from the runs it needs; see the list above)"
        )


def chosen_figures(only: Sequence[str], given: Mapping[str, Sequence[str]]) -> list[str]:
    """The figures to draw, in drawing order: those named by `only` (each of which must
    have its runs in `given`, keyed by flag; a flag left out gives none), or every figure
    whose runs are given."""
    unknown = [name for name in only if name not in FIGURE_INPUTS]
    if unknown:
        raise ValueError(
            f"--only names unknown figures {unknown}: expected some of {list(FIGURE_INPUTS)}"
        )
    missing = [f"{name} needs {FIGURE_INPUTS[name]}" for name in only
               if not given.get(FIGURE_INPUTS[name])]  # fmt: skip
    if missing:
        raise ValueError(f"--only names figures whose runs are not given: {'; '.join(missing)}")
    return [name for name, flag in FIGURE_INPUTS.items()
            if (name in only if only else bool(given.get(flag)))]  # fmt: skip


def input_problems(
    chosen: Sequence[str],
    runs: list[str],
    latent_runs: list[str] | tuple[str, ...] = (),
    boundary_runs: list[str] | tuple[str, ...] = (),
    *,
    pixel_epsilon: float = 0.15,
    latent_epsilon: float = 0.6,
    curve_epsilons: Sequence[float] = (0.15, 0.6, 2.4),
    curve_index: int = 0,
    ford_runs: list[str] | tuple[str, ...] = (),
    ford_bin: int = 50,
    certify_runs: list[str] | tuple[str, ...] = (),
) -> list[str]:
    """What each of the `chosen` figures lacks in its runs, read from their summaries and
    settings only: "<figure> needs <what>: <why>", naming the flag to change."""
    latent_run = latent_runs[0] if latent_runs else None
    curve = list(curve_epsilons)
    needs = {
        "fig10": lambda: [
            inputs.analysis(run, name) for run in runs for name in ("pixel", "noise")
        ],
        "fig3": lambda: [
            inputs.epsilons(runs[0], "pixel", curve, "--curve_epsilons"),
            inputs.example(runs[0], "pixel", curve_index, "--curve_index"),
        ] + ([inputs.epsilons(latent_run, "latent", curve, "--curve_epsilons"),
              inputs.example(latent_run, "latent", curve_index, "--curve_index")]
             if latent_run else []),
        "fig7": lambda: [
            inputs.epsilons(run, "pixel", [pixel_epsilon], "--pixel_epsilon") for run in runs
        ] + [inputs.epsilons(run, "latent", [latent_epsilon], "--latent_epsilon")
             for run in latent_runs],
        "fig11": lambda: [inputs.epsilons(runs[0], "pixel", [pixel_epsilon], "--pixel_epsilon")]
        + ([inputs.epsilons(latent_run, "latent", [latent_epsilon], "--latent_epsilon")]
           if latent_run else []),
        "fig9": lambda: [inputs.analysis(run, "latent") for run in latent_runs]
        + [inputs.settings(run) for run in runs],
        "fig8": lambda: [inputs.analysis(run, "boundary") for run in boundary_runs],
        "fig2_sigma_vs_distance": lambda: [
            inputs.analysis(run, name) for run in ford_runs
            for name in ("ford_rates", "ford_distance")
        ] + [inputs.one_mu(ford_runs),
             None if ford_bin >= 1 else f"--ford_bin >= 1, got {ford_bin}"],
        "fig4_isoperimetric": lambda: [inputs.noisy_sigma(run) for run in ford_runs],
        "fig_noise_accuracy": lambda: [inputs.analysis(run, "ford_rates") for run in ford_runs],
        "church_windows": lambda: [inputs.church_examples(run) for run in ford_runs],
        **{name: lambda: [certify.missing(run) for run in certify_runs]
           for name in certify.FIGURES},
    }  # fmt: skip
    found = [f"{name} needs {problem}" for name in chosen for problem in needs[name]() if problem]
    return list(dict.fromkeys(found))


def check_figure_inputs(chosen: Sequence[str], *args, **kwargs) -> None:
    """An error naming every input the `chosen` figures lack (arguments of
    `input_problems`), before any is drawn: all of them are drawn, or none."""
    problems = input_problems(chosen, *args, **kwargs)
    if problems:
        raise ValueError(
            f"nothing drawn: {'; '.join(problems)}. Set each flag named to a value the runs "
            "hold, give runs that hold the results, or leave the figure out with --only"
        )


def fig11_note(
    run: str, latent_run: str | None, pixel_epsilon: float, latent_epsilon: float
) -> str:
    """Why fig 11 has nothing to show: no example was fooled at the ε asked for; and
    the ε of the stored grids at which some were."""
    asked = [(run, "pixel", pixel_epsilon, "--pixel_epsilon")]
    if latent_run:
        asked.append((latent_run, "latent", latent_epsilon, "--latent_epsilon"))
    parts = []
    for each, space, epsilon, flag in asked:
        fooled = example_grids.fooled_epsilons(each, space)
        where = f"it fooled some at ε {fooled}" if fooled else "it fooled none at any stored ε"
        parts.append(f"by {space} PGD at {flag}={epsilon:g} in {each} ({where})")
    return f"fig11 not drawn: no test example was fooled {' or '.join(parts)}"


def draw(
    out: epath.Path,
    runs: list[str],
    latent_runs: list[str] | tuple[str, ...] = (),
    boundary_runs: list[str] | tuple[str, ...] = (),
    *,
    pixel_epsilon: float = 0.15,
    latent_epsilon: float = 0.6,
    curve_epsilons: tuple[float, ...] = (0.15, 0.6, 2.4),
    curve_index: int = 0,
    ford_runs: list[str] | tuple[str, ...] = (),
    ford_bin: int = 50,
    certify_runs: list[str] | tuple[str, ...] = (),
    only: Sequence[str] = (),
    log: Callable[[str], None] = print,
) -> list[epath.Path]:
    """The figures `only` names, or every figure whose inputs are given; the paths of
    those written. Every figure's inputs are checked before any is drawn; a figure with
    nothing to show (fig 11 when no example was fooled) is left out, and `log` says why."""
    latent_runs, ford_runs, certify_runs = list(latent_runs), list(ford_runs), list(certify_runs)
    latent_run = latent_runs[0] if latent_runs else None  # fig 3 and 11 show one model
    given = dict(
        zip(INPUT_FLAGS, (runs, latent_runs, boundary_runs, ford_runs, certify_runs), strict=True)
    )
    chosen = chosen_figures(only, given)
    check_figure_inputs(
        chosen, runs, latent_runs, boundary_runs, pixel_epsilon=pixel_epsilon,
        latent_epsilon=latent_epsilon, curve_epsilons=curve_epsilons, curve_index=curve_index,
        ford_runs=ford_runs, ford_bin=ford_bin, certify_runs=certify_runs,
    )  # fmt: skip
    drawers = {
        "fig10": lambda: [accuracy.accuracy_against_epsilon(runs, out)],
        "fig3": lambda: [
            example_grids.attacked_curve(
                runs[0], latent_run, curve_index, list(curve_epsilons), out
            )
        ],
        "fig7": lambda: [errors.error_grids(runs, latent_runs, pixel_epsilon, latent_epsilon, out)],
        "fig11": lambda: [
            example_grids.side_by_side(runs[0], latent_run, pixel_epsilon, latent_epsilon, out)
        ],
        "fig9": lambda: [accuracy.latent_attack_curves(latent_runs, list(runs), out)],
        "fig8": lambda: [boundary.distance_cdfs(list(boundary_runs), out)],
        "fig2_sigma_vs_distance": lambda: [ford.sigma_vs_distance(ford_runs, out, ford_bin)],
        "fig4_isoperimetric": lambda: [ford.isoperimetric(ford_runs, out)],
        "fig_noise_accuracy": lambda: [ford.noise_accuracy(ford_runs, out)],
        "church_windows": lambda: [
            church.church_windows(run, out, name) for run, name in church.file_names(ford_runs)
        ],
        **{
            name: (lambda name=name: certify.draw(name, certify_runs, out))
            for name in certify.FIGURES
        },
    }
    notes = {"fig11": lambda: fig11_note(runs[0], latent_run, pixel_epsilon, latent_epsilon)}
    written = []
    for name in chosen:
        paths = [path for path in drawers[name]() if path is not None]
        if not paths:
            log(notes[name]())
        written += paths
    return written


def curve_epsilons(values: list[str]) -> list[float]:
    """The ε of --curve_epsilons, or an error naming the flag."""
    try:
        return [float(value) for value in values]
    except ValueError:
        raise ValueError(f"--curve_epsilons must be numbers, got {values}") from None


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    given = (
        _ATTACK_RUNS.value, _LATENT_RUNS.value, _BOUNDARY_RUNS.value, _FORD_RUNS.value,
        _CERTIFY_RUNS.value,
    )  # fmt: skip
    check_inputs(*given)
    try:  # before the output directory is made
        chosen = chosen_figures(_ONLY.value, dict(zip(INPUT_FLAGS, given, strict=True)))
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    console.setup()
    try:
        options = dict(
            pixel_epsilon=_PIXEL_EPSILON.value, latent_epsilon=_LATENT_EPSILON.value,
            curve_epsilons=curve_epsilons(_CURVE_EPSILONS.value), curve_index=_CURVE_INDEX.value,
            ford_runs=_FORD_RUNS.value, ford_bin=_FORD_BIN.value,
            certify_runs=_CERTIFY_RUNS.value,
        )  # fmt: skip
        check_figure_inputs(chosen, *given[:3], **options)  # before the directory is made
        out = ensure_writable_dir(_OUT.value, "the figures")
        written = draw(out, *given[:3], only=_ONLY.value, **options)
    except (ValueError, FileNotFoundError, PermissionError) as error:
        sys.exit(f"error: {error}")
    if not written:
        print(f"wrote no figure to {out}")
        return
    names = ", ".join(path.name for path in written)
    print(f"wrote {names} (each with its numbers beside it) to {out}")


if __name__ == "__main__":
    app.run(main)
