"""The figures binary: its inputs, what Fig. 7 and Fig. 8 show on synthetic results, and
every figure drawn from a real tiny analysis run without attacking or generating."""

import csv
import dataclasses
import json
import math
import pathlib
import shutil

import matplotlib
import numpy as np
import pytest
from absl import app, flags
from etils import epath

import squiggles
from experiments import figures
from experiments.attacks import ford as ford_quantities
from experiments.attacks import ford_latent, pgd
from experiments.drawing import accuracy, boundary, church, common, errors, example_grids, ford
from experiments.results import AttackResults
from experiments.runs import runner, store
from experiments.runs.chunk_examples import TestExamples
from experiments.training import trained_run


def test_no_inputs_is_a_usage_error_that_writes_nothing(tmp_path, capsys):
    out = tmp_path / "figures"
    flags.FLAGS(["figures", f"--out={out}"])
    try:
        with pytest.raises(
            app.UsageError,
            match="no inputs: give at least one of --attack_runs, --latent_runs, --boundary_runs, "
            "--ford_runs",
        ):
            figures.main(["figures"])
    finally:
        flags.FLAGS.unparse_flags()
    assert "wrote" not in capsys.readouterr().out and not out.exists()
    figures.check_inputs([], [], ["runs/boundary"])  # one input is enough
    figures.check_inputs([], (), (), ["runs/ford"])
    figures.check_inputs([], ["runs/latent"])


def boundary_results():
    """A boundary run's summary, its groups and refined distances: 3 examples (one never
    reaches the boundary), 1 misclassified, none successfully attacked."""
    epsilons = [0.1, 0.5, 1.0, 2.0]
    members = {
        "all": np.array([1, 1, 1], bool),
        "misclassified": np.array([0, 1, 0], bool),
        "attack_succeeded": np.array([0, 0, 0], bool),
    }
    summary = {
        "epsilons": epsilons,
        "cumulative_fraction": {
            "all": {"examples": 3, "grid": [0, 1 / 3, 2 / 3, 2 / 3],
                    "refined": [0, 1 / 3, 2 / 3, 2 / 3]},
            "misclassified": {"examples": 1, "grid": [0, 0, 1, 1], "refined": [0, 0, 1, 1]},
            "attack_succeeded": {"examples": 0, "grid": [float("nan")] * 4,
                                 "refined": [float("nan")] * 4},
        },
    }  # fmt: skip
    return summary, members, np.array([0.3, 0.7, np.inf])


def visible(line) -> bool:
    """Whether a matplotlib line shows: a segment between two distinct finite points,
    or a marker on a finite point."""
    points = np.asarray(line.get_xydata(), float)
    points = points[np.isfinite(points).all(axis=1)]
    if line.get_marker() not in (None, "None", "", " ") and len(points):
        return True
    return len(np.unique(points, axis=0)) >= 2 and line.get_linestyle() not in ("None", "")


def test_fig8_legend_lists_only_lines_that_are_drawn():
    figure, ax = common.pyplot().subplots()
    rows = boundary.draw_distance_cdfs(ax, *boundary_results())
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == [
        "all (3), grid", "all (3), bisection",
        "misclassified (1), grid", "misclassified (1), bisection",
    ]  # fmt: skip
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert all(visible(lines[label]) for label in labels)
    # The bisection CDF of "all" steps at the two finite distances, up to 2 of 3 found.
    x, y = lines["all (3), bisection"].get_data()
    assert list(x) == [0.3, 0.3, 0.7, 2.0] and list(y) == pytest.approx([0, 1 / 3, 2 / 3, 2 / 3])
    notes = " ".join(text.get_text() for text in ax.texts)
    assert "attack succeeded: no examples" in notes
    assert len(rows) == 3 * 4  # the CSV still holds every group
    matplotlib.pyplot.close(figure)


def test_fig8_draws_one_panel_per_boundary_run(tiny_analyses, tmp_path, monkeypatch):
    other = tmp_path / "boundary_other"
    shutil.copytree(tiny_analyses, other)
    drawn = []
    monkeypatch.setattr(common, "save", lambda figure, path: drawn.append(figure) or path)
    out = epath.Path(tmp_path)
    boundary.distance_cdfs([tiny_analyses, str(other)], out)
    (figure,) = drawn
    assert len(figure.axes) == 2
    titles = [ax.get_title() for ax in figure.axes]
    assert titles[0].startswith(pathlib.Path(tiny_analyses).name) and titles[1].startswith(
        "boundary_other"
    )
    assert figure.axes[0].get_shared_y_axes().joined(*figure.axes)
    assert [ax.get_ylabel() for ax in figure.axes] == ["fraction with distance ≤ ε", ""]
    with (out / "fig8_boundary_distance.csv").open() as f:
        rows = list(csv.DictReader(f))
    summary = store.read_summary(tiny_analyses)["boundary"]
    per_run = len(summary["cumulative_fraction"]) * len(summary["epsilons"])
    assert [row["run"] for row in rows] == (
        [pathlib.Path(tiny_analyses).name] * per_run + ["boundary_other"] * per_run
    )
    assert [row["grid"] for row in rows[:per_run]] == [row["grid"] for row in rows[per_run:]]
    matplotlib.pyplot.close(figure)


def test_fig9_draws_one_panel_per_latent_run_beside_the_same_models_pixel_pgd(
    tiny_analyses, tmp_path, monkeypatch
):
    other = tmp_path / "latent_other"  # the same results, recorded as another model's
    shutil.copytree(tiny_analyses, other)
    settings = json.loads((other / "settings.json").read_text())
    settings["model"]["fingerprint"] = "another model"
    (other / "settings.json").write_text(json.dumps(settings))
    drawn = []
    monkeypatch.setattr(common, "save", lambda figure, path: drawn.append(figure) or path)
    out = epath.Path(tmp_path)
    accuracy.latent_attack_curves([tiny_analyses, str(other)], [str(other), tiny_analyses], out)
    (figure,) = drawn
    assert len(figure.axes) == 2
    assert figure.axes[0].get_shared_y_axes().joined(*figure.axes)
    assert [ax.get_ylabel() for ax in figure.axes] == ["fraction", ""]
    name = pathlib.Path(tiny_analyses).name
    assert name in figure.axes[0].get_title() and "latent_other" in figure.axes[1].get_title()
    # Each panel has the pixel line of its own model's attack run (matched by fingerprint).
    grey = [[line for line in ax.get_lines() if line.get_label().startswith("pixel")]
            for ax in figure.axes]  # fmt: skip
    assert [len(lines) for lines in grey] == [1, 1]
    pixel = [p["accuracy"] for p in store.read_summary(tiny_analyses)["pixel"]["per_epsilon"]]
    assert list(grey[0][0].get_ydata()) == pytest.approx(pixel)
    rows = csv_rows(out / "fig9_latent_attacks.csv")
    per_run = ["latent"] * len(EPSILONS["latent"]) + ["pixel"] * len(pixel)
    assert [(row["run"], row["attack"]) for row in rows] == (
        [(name, attack) for attack in per_run] + [("latent_other", attack) for attack in per_run]
    )
    matplotlib.pyplot.close(figure)
    # A latent run with no attack run on its model has no pixel line.
    accuracy.latent_attack_curves([str(other)], [tiny_analyses], out)
    assert not [line for line in drawn[1].axes[0].get_lines() if "pixel" in line.get_label()]
    assert {row["attack"] for row in csv_rows(out / "fig9_latent_attacks.csv")} == {"latent"}
    matplotlib.pyplot.close(drawn[1])


def test_only_redraws_one_figure_from_runs_without_their_per_example_results(
    tiny_analyses, tmp_path, capsys
):
    # An attack run of which only settings.json and summary.json are at hand: fig 9 reads
    # no more, and the figures that need the per-example chunks are not attempted.
    summaries = tmp_path / "summaries_only"
    summaries.mkdir()
    for name in ("settings.json", "summary.json"):
        shutil.copy(pathlib.Path(tiny_analyses) / name, summaries / name)
    out = tmp_path / "figures"
    flags.FLAGS(["figures", f"--out={out}", f"--attack_runs={summaries}",
                 f"--latent_runs={tiny_analyses}", "--only=fig9"])  # fmt: skip
    try:
        figures.main(["figures"])
    finally:
        flags.FLAGS.unparse_flags()
    assert "wrote fig9_latent_attacks.png (" in capsys.readouterr().out
    assert sorted(path.name for path in out.iterdir()) == [
        "fig9_latent_attacks.csv", "fig9_latent_attacks.png"
    ]  # fmt: skip
    assert {row["attack"] for row in csv_rows(out / "fig9_latent_attacks.csv")} == {
        "latent", "pixel"
    }  # fmt: skip
    given = {"--attack_runs": [str(summaries)], "--latent_runs": [], "--boundary_runs": [],
             "--ford_runs": []}  # fmt: skip
    assert figures.chosen_figures([], given) == ["fig10", "fig3", "fig7", "fig11"]
    assert figures.chosen_figures(["fig11", "fig10"], given) == ["fig10", "fig11"]


@pytest.mark.parametrize(
    "only, message",
    [
        ("fig9,fig12", r"--only names unknown figures \['fig12'\]: expected some of \['fig10'"),
        ("fig8", "--only names figures whose runs are not given: fig8 needs --boundary_runs"),
    ],
)
def test_only_with_a_figure_it_cannot_draw_is_a_usage_error_that_writes_nothing(
    tiny_analyses, tmp_path, only, message
):
    out = tmp_path / "figures"
    flags.FLAGS(["figures", f"--out={out}", f"--latent_runs={tiny_analyses}", f"--only={only}"])
    try:
        with pytest.raises(app.UsageError, match=message):
            figures.main(["figures"])
    finally:
        flags.FLAGS.unparse_flags()
    assert not out.exists()


def write_settings(run: pathlib.Path, family: squiggles.Family, resolution: int) -> str:
    """The settings.json of an analysis run, as far as figures read it."""
    run.mkdir()
    model = {"family": str(family), "resolution": resolution,
             "noise": {"sigma": 0.0, "sigma_max": 0.0}}  # fmt: skip
    (run / "settings.json").write_text(json.dumps({"model": model}))
    return str(run)


@pytest.fixture
def attack_results(monkeypatch, tmp_path):
    """Synthetic pixel and latent results of 6 Taylor examples at one ε, returned by
    store.read_results for the two runs it names. Example by example (label, clean
    prediction, attacked): 0 right -> fooled, 1 right -> right, 2 wrong (clean error) ->
    wrong, 3 right -> fooled, 4 wrong -> wrong, 5 right -> right."""
    family, resolution, n = squiggles.Taylor(), 16, 6
    labels = np.array([1, 0, 1, 0, 1, 0], bool)
    clean = np.where([1, 1, 0, 1, 0, 1], labels, ~labels).astype(np.float32) * 0.8 + 0.1
    attacked = np.where([0, 1, 0, 0, 0, 1], labels, ~labels).astype(np.float32) * 0.8 + 0.1
    latents = np.asarray(squiggles.sample_latents(family, n, seed=0, stream=2))
    common = dict(index=np.arange(n), epsilon=np.array([0.5]), label_before=labels,
                  label_after=labels[None], clean_probability=clean, probability=attacked[None],
                  norm=np.zeros((1, n), np.float32))  # fmt: skip
    images = np.zeros((n, resolution, resolution), np.float16)
    results = {
        "pixel": AttackResults(**common, attacked=images[None], clean=images),
        "latent": AttackResults(**common, attacked=latents[None], clean=latents),
    }
    runs_ = {write_settings(tmp_path / name, family, resolution): name for name in results}
    monkeypatch.setattr(store, "read_results", lambda run, name: results[runs_[run]])
    return str(tmp_path / "pixel"), str(tmp_path / "latent")


def test_fig7_says_that_clean_errors_are_left_out_of_the_attack_panels(attack_results, tmp_path):
    pixel_run, latent_run = attack_results
    out = epath.Path(tmp_path)
    path = errors.error_grids([pixel_run], [latent_run], 0.5, 0.5, out, per_cell=4)
    assert path.exists()
    record = json.loads((out / "fig7_errors_by_class.json").read_text())
    shown = {}
    for row in record:
        shown.setdefault(row["panel"].split(",")[0], []).extend(row["shown_indices"])
        assert row["clean_errors_excluded"] == (not row["panel"].startswith("generalisation"))
        assert row["selection"]
    # Clean errors (2, 4) appear only among the generalisation errors.
    assert {name: sorted(indices) for name, indices in shown.items()} == {
        "generalisation errors": [2, 4], "latent PGD errors": [0, 3], "pixel PGD errors": [0, 3],
    }  # fmt: skip
    assert "clean errors excluded" in record[2]["selection"]
    assert [row["count"] for row in record] == [0, 2, 1, 1, 1, 1]  # "N shown of M": the M
    panels = errors.panels([pixel_run], [latent_run], 0.5, 0.5)
    figure, _ = errors.draw_error_grids(panels, per_cell=4)
    assert "clean errors excluded" in figure._suptitle.get_text().replace("\n", " ")
    titles = [t.get_text() for sub in figure.subfigs for p in sub.subfigs for t in [p._suptitle]]
    assert "true intersecting: 1 shown of 1" in [t.replace("\n", " ") for t in titles]
    matplotlib.pyplot.close(figure)


def test_fig11_shows_only_fooled_examples(attack_results, tmp_path):
    pixel_run, latent_run = attack_results
    out = epath.Path(tmp_path)
    example_grids.side_by_side(pixel_run, latent_run, 0.5, 0.5, out)
    record = json.loads((out / "fig11_side_by_side.json").read_text())
    assert [(row["space"], row["index"]) for row in record] == [
        ("pixel", 0), ("pixel", 3), ("latent", 0), ("latent", 3),
    ]  # fmt: skip


def test_fig11_with_no_fooled_example_says_why_it_is_not_drawn(
    attack_results, tmp_path, monkeypatch
):
    pixel_run, latent_run = attack_results
    stored = {run: store.read_results(run, space)
              for run, space in [(pixel_run, "pixel"), (latent_run, "latent")]}  # fmt: skip
    unfooled = {run: dataclasses.replace(results, probability=results.clean_probability[None])
                for run, results in stored.items()}  # fmt: skip
    monkeypatch.setattr(store, "read_results", lambda run, name: unfooled[run])
    for run, space in [(pixel_run, "pixel"), (latent_run, "latent")]:
        summary = {space: {"examples": 6, "per_epsilon": [{"epsilon": 0.5}]}}
        (pathlib.Path(run) / "summary.json").write_text(json.dumps(summary))
    out, lines = tmp_path / "figures", []
    out.mkdir()
    written = figures.draw(epath.Path(out), [pixel_run], [latent_run], only=["fig11"],
                           pixel_epsilon=0.5, latent_epsilon=0.5, log=lines.append)  # fmt: skip
    assert written == [] and not list(out.iterdir())
    assert lines == [
        f"fig11 not drawn: no test example was fooled by pixel PGD at --pixel_epsilon=0.5 in "
        f"{pixel_run} (it fooled none at any stored ε) or by latent PGD at "
        f"--latent_epsilon=0.5 in {latent_run} (it fooled none at any stored ε)"
    ]


# ---------------------------------------------------------------- a real tiny analysis run

EPSILONS = {"pixel": (0.3, 1.2, 4.8), "noise": (0.3, 1.2, 4.8), "latent": (0.3, 2.4)}


def test_the_shared_analyses_hold_the_grids_these_tests_ask_for(tiny_analyses):
    stored = store.read_settings(tiny_analyses)["analyses"]
    assert {name: tuple(stored[name]["epsilons"]) for name in EPSILONS} == EPSILONS
    assert "boundary" in stored


@pytest.fixture
def no_attacks_or_examples(monkeypatch):
    """Figures only draw: attacking, generating examples or restoring a model fails."""

    def refuse(*args, **kwargs):
        raise AssertionError("a figure attacked, generated examples or restored a model")

    for owner, name in [(pgd, "run_pgd"), (pgd, "attack_subset"),
                        (squiggles, "generate_examples"), (trained_run, "load_run"),
                        (runner, "load_model"), (ford_quantities, "count_errors"),
                        (ford_quantities, "sigma_at_error_rate"),
                        (ford_quantities, "distance_to_error"),
                        (ford_quantities, "median_noisy_distance"), (trained_run, "classifier"),
                        (ford_latent, "latent_error_rate"),
                        (ford_latent, "latent_sigma_at_error_rate"),
                        (ford_latent, "latent_distance_to_error")]:  # fmt: skip
        monkeypatch.setattr(owner, name, refuse)
    monkeypatch.setattr(TestExamples, "load", classmethod(refuse))


FILES = {
    "fig3_attacked_curve": "json", "fig7_errors_by_class": "json", "fig8_boundary_distance": "csv",
    "fig9_latent_attacks": "csv", "fig10_pgd_vs_noise": "csv", "fig11_side_by_side": "json",
}  # fmt: skip


def test_every_figure_is_drawn_from_a_real_run_without_attacking(
    tiny_analyses, no_attacks_or_examples, tmp_path, capsys
):
    out = tmp_path / "figures"
    run = tiny_analyses
    flags.FLAGS(["figures", f"--out={out}", f"--attack_runs={run}", f"--latent_run={run}",
                 f"--boundary_run={run}", "--pixel_epsilon=4.8", "--latent_epsilon=2.4",
                 "--curve_epsilons=0.3", "--curve_index=2"])  # fmt: skip
    try:
        figures.main(["figures"])
    finally:
        flags.FLAGS.unparse_flags()
    assert "wrote fig10_pgd_vs_noise.png" in capsys.readouterr().out
    pixel, latent = store.read_results(run, "pixel"), store.read_results(run, "latent")
    fooled = [("pixel", int(i)) for i in np.flatnonzero(pixel.fooled[pixel.at(4.8)])[:4]]
    fooled += [("latent", int(i)) for i in np.flatnonzero(latent.fooled[latent.at(2.4)])[:4]]
    if not fooled:
        pytest.fail("the tiny run has no successful attack: fig 11 would not be drawn")
    for name, numbers in FILES.items():
        assert (out / f"{name}.png").stat().st_size > 0, name
        assert (out / f"{name}.{numbers}").stat().st_size > 0, name
    rows = (out / "fig10_pgd_vs_noise.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * len(EPSILONS["pixel"])
    record = json.loads((out / "fig3_attacked_curve.json").read_text())
    assert record["index"] == 2 and record["true_label"] in squiggles.CLASS_NAMES
    assert [(a["space"], a["epsilon"]) for a in record["attacks"]] == [
        ("pixel", 0.3),
        ("latent", 0.3),
    ]
    assert record["attacks"][0]["probability_intersecting"] == pytest.approx(
        float(pixel.probability[0, 2])
    )
    side = json.loads((out / "fig11_side_by_side.json").read_text())
    assert [(row["space"], row["index"]) for row in side] == fooled


def test_fig3_takes_every_stored_pixel_epsilon_without_a_latent_run(
    tiny_analyses, no_attacks_or_examples, tmp_path
):
    out = epath.Path(tmp_path)
    example_grids.attacked_curve(tiny_analyses, None, 0, list(EPSILONS["pixel"]), out)
    record = json.loads((out / "fig3_attacked_curve.json").read_text())
    assert [a["epsilon"] for a in record["attacks"]] == list(EPSILONS["pixel"])
    assert {a["space"] for a in record["attacks"]} == {"pixel"}


def test_an_epsilon_missing_from_the_stored_grid_is_a_clear_error(tiny_analyses, tmp_path):
    out = epath.Path(tmp_path)
    with pytest.raises(ValueError, match=r"\(latent\): no results at ε=1.2; the run has ε"):
        example_grids.attacked_curve(tiny_analyses, tiny_analyses, 0, [0.3, 1.2], out)
    with pytest.raises(ValueError, match=r"\(pixel\): no results at ε=0.7"):
        errors.error_grids([tiny_analyses], [], 0.7, 2.4, out)
    with pytest.raises(ValueError, match="test example 99 is not among the 10"):
        example_grids.attacked_curve(tiny_analyses, None, 99, [0.3], out)
    assert not list(out.iterdir())  # nothing half-written


def test_figures_whose_inputs_the_runs_lack_are_refused_before_any_is_drawn(
    tiny_analyses, tmp_path
):
    # The default ε (0.15 pixel, 0.6 latent, fig 3 at 0.15, 0.6, 2.4) are not in the tiny
    # grids; fig 10, drawn first, has its inputs, but nothing may be written.
    out = tmp_path / "figures"
    flags.FLAGS(["figures", f"--out={out}", f"--attack_runs={tiny_analyses}",
                 f"--latent_runs={tiny_analyses}", "--curve_index=10"])  # fmt: skip
    try:
        with pytest.raises(SystemExit) as exit_:
            figures.main(["figures"])
    finally:
        flags.FLAGS.unparse_flags()
    message = str(exit_.value.code)
    assert message.startswith(
        "error: nothing drawn: fig3 needs pixel results at ε=0.15, 0.6, "
        f"2.4 (--curve_epsilons): {tiny_analyses} holds ε [0.3, 1.2, 4.8]"
    )
    for clause in [
        f"fig3 needs test example 10 (--curve_index): {tiny_analyses} analysed examples 0 to 9",
        "fig3 needs latent results at ε=0.15, 0.6 (--curve_epsilons)",
        "fig7 needs pixel results at ε=0.15 (--pixel_epsilon)",
        "fig7 needs latent results at ε=0.6 (--latent_epsilon)",
        "fig11 needs pixel results at ε=0.15 (--pixel_epsilon)",
    ]:  # fmt: skip
        assert clause in message
    assert "fig10" not in message and "fig9" not in message
    assert not out.exists()
    # The library checks as well, before drawing into a directory that exists.
    out.mkdir()
    with pytest.raises(ValueError, match=r"fig7 needs pixel results at ε=0.7 \(--pixel_epsilon\)"):
        figures.draw(epath.Path(out), [tiny_analyses], pixel_epsilon=0.7, latent_epsilon=2.4,
                     curve_epsilons=(0.3,))  # fmt: skip
    missing = r"fig8 needs boundary results \(experiments.analyse\): .*none holds no finished"
    with pytest.raises(ValueError, match=missing):
        figures.draw(epath.Path(out), [], boundary_runs=[str(tmp_path / "none")])
    assert not list(out.iterdir())


# ---------------------------------------------------------------- Ford et al. figures


def csv_rows(path: pathlib.Path) -> list[dict]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_every_ford_figure_is_drawn_from_a_real_run_without_attacking(
    tiny_ford, no_attacks_or_examples, tmp_path, capsys
):
    out = tmp_path / "figures"
    flags.FLAGS(["figures", f"--out={out}", f"--ford_runs={tiny_ford}", "--ford_bin=2"])
    try:
        figures.main(["figures"])
    finally:
        flags.FLAGS.unparse_flags()
    church_name = f"church_windows_{epath.Path(tiny_ford).name}"
    assert f"{church_name}.png" in capsys.readouterr().out
    for name, numbers in [("fig2_sigma_vs_distance", "csv"), ("fig4_isoperimetric", "csv"),
                          ("fig_noise_accuracy", "csv"), (church_name, "json")]:  # fmt: skip
        assert (out / f"{name}.png").stat().st_size > 0, name
        assert (out / f"{name}.{numbers}").stat().st_size > 0, name
    rates = store.read_results(tiny_ford, "ford_rates")
    distances = store.read_results(tiny_ford, "ford_distance")
    both = np.intersect1d(rates.index, distances.index)
    mine, theirs = np.searchsorted(rates.index, both), np.searchsorted(distances.index, both)
    # Fig. 2: one row per image both hold, with the stored σ(x, 1 %) and distance (inf kept).
    rows = csv_rows(out / "fig2_sigma_vs_distance.csv")
    assert [int(row["index"]) for row in rows] == both.tolist()
    assert [float(row["sigma"]) for row in rows] == rates.sigma_at_mu[mine].tolist()
    assert [float(row["distance"]) for row in rows] == pytest.approx(
        distances.distance[theirs].tolist()
    )
    sigma, distance = rates.sigma_at_mu[mine], distances.distance[theirs]
    placed = int(np.sum(np.isfinite(sigma) & (sigma > 0) & np.isfinite(distance)))
    assert sum(row["bin"] != "" for row in rows) == placed
    bins = csv_rows(out / "fig2_sigma_vs_distance_bins.csv")
    assert len(bins) == math.ceil(placed / 2)
    # Fig. 4: μ at ford_distance's noisy σ, image by image.
    noisy_sigma = store.read_settings(tiny_ford)["analyses"]["ford_distance"]["noisy_sigma"]
    at = int(np.flatnonzero(np.isclose(rates.sigma, noisy_sigma))[0])
    rows = csv_rows(out / "fig4_isoperimetric.csv")
    assert [int(row["index"]) for row in rows] == both.tolist()
    assert [float(row["mu"]) for row in rows] == pytest.approx(rates.rate[at, mine].tolist())
    # Accuracy in noise: mean over draws at each σ; μ of every image at two σ.
    rows = csv_rows(out / "fig_noise_accuracy.csv")
    accuracy = [float(row["mean"]) for row in rows if row["panel"] == "accuracy"]
    assert accuracy == pytest.approx(rates.accuracy_draws().mean(axis=1).tolist())
    assert sum(row["panel"] == "mu" for row in rows) == min(2, len(rates.sigma)) * len(rates.index)
    # Church windows: the stored examples, with the agreement of model and truth.
    windows = store.read_results(tiny_ford, "ford_church")
    record = json.loads((out / f"{church_name}.json").read_text())
    shown = min(church.EXAMPLES, len(windows.index))
    assert [row["index"] for row in record["examples"]] == windows.index[:shown].tolist()
    agreement = np.mean(windows.latent_class == windows.latent_truth, axis=(1, 2))[:shown]
    assert [row["latent_agreement"] for row in record["examples"]] == pytest.approx(
        agreement.tolist()
    )


def test_a_run_without_ford_results_is_a_clear_error(tiny_ford, tmp_path, monkeypatch):
    run, out = tmp_path / "run", epath.Path(tmp_path / "out")
    shutil.copytree(tiny_ford, run)
    out.mkdir()
    summary = json.loads((run / "summary.json").read_text())
    del summary["ford_distance"]
    (run / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(ValueError, match=r"fig 2 .* needs ford_distance results .* has no "
                                         r"ford_distance results"):  # fmt: skip
        ford.sigma_vs_distance([str(run)], out)
    with pytest.raises(ValueError, match="needs ford_distance results"):
        figures.draw(out, [], ford_runs=[str(run)])
    shutil.copytree(tiny_ford, run, dirs_exist_ok=True)  # back to every result
    # Results as stored, read before settings.json changes (its chunks record the settings
    # they were computed with, and would be refused after it).
    stored = {name: store.read_results(run, name) for name in ("ford_rates", "ford_distance")}
    monkeypatch.setattr(store, "read_results", lambda out, name: stored[name])
    settings = json.loads((run / "settings.json").read_text())
    settings["analyses"]["ford_distance"]["noisy_sigma"] = 0.3
    (run / "settings.json").write_text(json.dumps(settings))
    with pytest.raises(ValueError, match=r"not at ford_distance's noisy_sigma = 0.3"):
        ford.isoperimetric([str(run)], out)
    with pytest.raises(ValueError, match=r"fig4_isoperimetric needs μ\(x, σ\) at ford_distance's "
                                         r"noisy_sigma = 0.3: ford_rates of .* holds σ = \[0.1, "
                                         r"0.4\]"):  # fmt: skip
        figures.draw(out, [], ford_runs=[str(run)], only=["fig4_isoperimetric"])
    assert not list(out.iterdir())  # nothing half-written


def test_church_window_files_are_named_by_run_directory():
    assert church.file_names(["runs/a", "other/b", "x/a"]) == [
        ("runs/a", "church_windows_a_0"), ("other/b", "church_windows_b"),
        ("x/a", "church_windows_a_2"),
    ]  # fmt: skip
