"""The figures binary's inputs, and what Fig. 7 and Fig. 8 show, on synthetic results."""

import json
from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest
from absl import app, flags
from etils import epath

import squiggles
from experiments import attack_lib, figures


def test_no_inputs_is_a_usage_error_that_writes_nothing(tmp_path, capsys):
    out = tmp_path / "figures"
    flags.FLAGS(["figures", f"--out={out}"])
    try:
        with pytest.raises(
            app.UsageError,
            match="no inputs: give at least one of --attack_runs, --latent_run, --boundary_run",
        ):
            figures.main(["figures"])
    finally:
        flags.FLAGS.unparse_flags()
    assert "wrote" not in capsys.readouterr().out and not out.exists()
    figures.check_inputs([], None, "runs/boundary")  # one input is enough


def boundary_results():
    """A boundary run's summary and distances: 3 examples (one never reaches the
    boundary), 1 misclassified, none successfully attacked."""
    epsilons = [0.1, 0.5, 1.0, 2.0]
    distances = [
        {"all": "1", "misclassified": "0", "attack_succeeded": "0", "refined_distance": "0.3"},
        {"all": "1", "misclassified": "1", "attack_succeeded": "0", "refined_distance": "0.7"},
        {"all": "1", "misclassified": "0", "attack_succeeded": "0", "refined_distance": "inf"},
    ]
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
    return summary, distances


def visible(line) -> bool:
    """Whether a matplotlib line shows: a segment between two distinct finite points,
    or a marker on a finite point."""
    points = np.asarray(line.get_xydata(), float)
    points = points[np.isfinite(points).all(axis=1)]
    if line.get_marker() not in (None, "None", "", " ") and len(points):
        return True
    return len(np.unique(points, axis=0)) >= 2 and line.get_linestyle() not in ("None", "")


def test_fig8_legend_lists_only_lines_that_are_drawn():
    figure, rows = figures.draw_distance_cdfs(*boundary_results())
    ax = figure.axes[0]
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == [
        "all (3), grid", "all (3), bisection",
        "misclassified (1), grid", "misclassified (1), bisection",
    ]  # fmt: skip
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert all(visible(lines[label]) for label in labels)
    notes = " ".join(text.get_text() for text in ax.texts)
    assert "attack succeeded: no examples" in notes
    assert len(rows) == 3 * 4  # the CSV still holds every group
    matplotlib.pyplot.close(figure)


@pytest.fixture
def attack_results(monkeypatch):
    """Synthetic pixel and latent results of 6 Taylor examples at one ε, patched in
    where fig 7 reads them. Example by example (label, clean prediction, attacked):
    0 right -> fooled, 1 right -> right, 2 wrong (clean error) -> wrong,
    3 right -> fooled, 4 wrong -> wrong, 5 right -> right."""
    family, resolution, n = squiggles.Taylor(), 16, 6
    labels = np.array([1, 0, 1, 0, 1, 0], bool)
    clean = np.where([1, 1, 0, 1, 0, 1], labels, ~labels).astype(np.float32) * 0.8 + 0.1
    attacked = np.where([0, 1, 0, 0, 0, 1], labels, ~labels).astype(np.float32) * 0.8 + 0.1
    latents = np.asarray(squiggles.sample_latents(family, n, seed=0, stream=2))
    common = {"index": np.arange(n), "epsilon": np.array([0.5]), "label_before": labels,
              "clean_probability": clean, "probability": attacked[None]}  # fmt: skip
    results = {
        "pixel": {**common, "attacked": np.zeros((1, n, resolution, resolution), np.float16)},
        "latent": {**common, "attacked": latents[None], "label_after": labels[None]},
    }
    chunk = SimpleNamespace(images=np.zeros((n, resolution, resolution), np.float32),
                            labels=labels, indices=np.arange(n), latents=latents)  # fmt: skip
    monkeypatch.setattr(figures, "_family_and_resolution", lambda run: (family, resolution))
    monkeypatch.setattr(figures, "_label", lambda run: "run (σ=0)")
    monkeypatch.setattr(attack_lib, "read_results", lambda run, attack: results[attack])
    monkeypatch.setattr(attack_lib.Chunk, "load", lambda *args: chunk)


def test_fig7_says_that_clean_errors_are_left_out_of_the_attack_panels(attack_results, tmp_path):
    out = epath.Path(tmp_path)
    path = figures.error_grids(["pixel_run"], "latent_run", 0.5, 0.5, out, per_cell=4)
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
    figure = matplotlib.pyplot.gcf()
    assert "clean errors excluded" in figure._suptitle.get_text().replace("\n", " ")
    matplotlib.pyplot.close(figure)
