"""The certify figures (`experiments.figures --certify_runs`): drawn from a real tiny run of
certify and ensemble on a linear model, their CSV numbers those of the stored results,
the examples figure with and without wrong certificates, and a run without certify
results refused before anything is written."""

import csv
import dataclasses
import json
import pathlib

import numpy as np
import pytest
from absl import flags
from etils import epath

from experiments import figures
from experiments.configs.analyses import tiny
from experiments.drawing import certify
from experiments.results import CertifyResults
from experiments.runs import runner, store
from tests.experiments.analyses.test_ensemble_analysis import given, linear_model  # noqa: F401

NAMES = ("certify_accuracy", "certify_ratio", "certify_examples")


def run_config(names: str = "certify,ensemble"):
    config = tiny.get_config(names)
    config.examples, config.chunk_size = 6, 6
    if "certify" in config.analyses:
        config.certify.sigma = 0.1
    if "ensemble" in config.analyses:
        config.ensemble.epsilons = (0.1, 0.3)
    return config


@pytest.fixture(scope="module")
def certify_run(tmp_path_factory, linear_model) -> str:  # noqa: F811
    out = tmp_path_factory.mktemp("runs") / "certify_linear"
    runner.ChunkedRun(out, given(linear_model), run_config()).run(log=lambda line: None)
    return str(out)


def csv_rows(path: pathlib.Path) -> list[dict]:
    with path.open() as f:
        return list(csv.DictReader(f))


def draw_with_flags(*arguments: str) -> None:
    flags.FLAGS(["figures", *arguments])
    try:
        figures.main(["figures"])
    finally:
        flags.FLAGS.unparse_flags()


def test_every_certify_figure_is_drawn_with_the_stored_numbers(certify_run, tmp_path, capsys):
    out = tmp_path / "figures"
    draw_with_flags(f"--out={out}", f"--certify_runs={certify_run}")
    assert "certify_examples_certify_linear.png" in capsys.readouterr().out
    for name in NAMES:
        assert (out / f"{name}_certify_linear.png").stat().st_size > 0, name
    results = store.read_results(certify_run, "certify")
    ensemble = store.read_results(certify_run, "ensemble")
    assert results.image.shape == (6, 60, 60)
    # certify_accuracy: one row at 0 and at each ε of the ensemble, the shares of the results.
    rows = csv_rows(out / "certify_accuracy_certify_linear.csv")
    assert [float(row["radius"]) for row in rows] == pytest.approx([0.0, 0.1, 0.3])
    for row in rows:
        radius = float(row["radius"])
        assert float(row["certified_accuracy"]) == pytest.approx(results.certified(radius).mean())
        assert float(row["provably_wrong"]) == pytest.approx(results.provably_wrong(radius).mean())
        assert float(row["true_class_beyond"]) == pytest.approx(np.mean(results.distance >= radius))
    np.testing.assert_array_equal(ensemble.index, results.index)  # the same examples
    robust = ensemble.clean_correct[None] & ensemble.correct
    expected = [ensemble.clean_correct.mean(), *robust.mean(axis=1)]
    assert [float(row["ensemble_robust_accuracy"]) for row in rows] == pytest.approx(expected)
    # certify_ratio: the right certificates with a true-class distance found.
    rows = csv_rows(out / "certify_ratio_certify_linear.csv")
    chosen = results.correct & np.isfinite(results.distance) & (results.distance > 0)
    assert [int(row["index"]) for row in rows] == results.index[chosen].tolist()
    assert [float(row["ratio"]) for row in rows] == pytest.approx(
        results.radius_ratio[chosen].tolist()
    )
    record = json.loads((out / "certify_examples_certify_linear.json").read_text())
    assert record["wrong_certificates"] == bool(results.wrong_certificate.any())


def test_without_ensemble_results_the_csv_is_at_the_summarys_radii(
    certify_run, tmp_path, monkeypatch
):
    stored = store.read_results(certify_run, "certify")
    summary = store.read_summary(certify_run)
    del summary["ensemble"]
    monkeypatch.setattr(store, "read_summary", lambda run: summary)
    monkeypatch.setattr(store, "read_results", lambda run, name: stored)
    out = epath.Path(tmp_path)
    certify.certified_accuracy(certify_run, out, "alone")
    rows = csv_rows(tmp_path / "certify_accuracy_alone.csv")
    radii = sorted({0.0, *(row["radius"] for row in summary["certify"]["per_radius"])})
    assert [float(row["radius"]) for row in rows] == pytest.approx(radii)
    assert all(row["ensemble_robust_accuracy"] == "" for row in rows)
    by_radius = {float(row["radius"]): row for row in rows}
    for expected in summary["certify"]["per_radius"]:
        row = by_radius[expected["radius"]]
        for field in ("certified_accuracy", "provably_wrong", "true_class_beyond"):
            assert float(row[field]) == pytest.approx(expected[field]["share"]), field


def synthetic(wrong: bool) -> CertifyResults:
    """Five right certificates (one abstention), one of which covers a class change when
    `wrong`: radius 0.5 at distance 0.2; else the largest ratio is 0.8 (test #3)."""
    rng = np.random.default_rng(0)
    image = rng.random((6, 8, 8)).astype(np.float16)
    radius = np.array([0.3, 0.4, 0.0, 0.4, 0.5, 0.1])
    distance = np.array([1.0, np.inf, 0.3, 0.5, 0.2 if wrong else 1.0, 0.5])
    return CertifyResults(
        index=np.arange(6), label=np.array([0, 1, 0, 1, 1, 0], bool),
        clean_probability=np.array([0.2, 0.8, 0.6, 0.7, 0.9, 0.1]), sigma=np.asarray(0.25),
        samples=np.asarray(100), prediction=np.array([0, 1, -1, 1, 1, 0], np.int8),
        radius=radius, p_lower=np.full(6, 0.9), top_count=np.full(6, 90, np.int32),
        distance=distance, crossing_distance=distance, latent_distance=distance,
        image=image, other_image=(1 - image).astype(np.float16),
        other_prediction=np.array([-2, -2, -2, -2, 1 if wrong else -2, -2], np.int8),
    )  # fmt: skip


@pytest.mark.parametrize("wrong", [True, False])
def test_the_examples_figure_with_and_without_wrong_certificates(wrong, tmp_path, monkeypatch):
    results = synthetic(wrong)
    monkeypatch.setattr(store, "read_results", lambda run, name: results)
    monkeypatch.setattr(certify.common, "run_label", lambda run: "synthetic")
    titles, save = [], certify.common.save

    def saved(figure, path):
        titles.append(figure.get_suptitle())
        return save(figure, path)

    monkeypatch.setattr(certify.common, "save", saved)
    path = certify.examples("runs/synthetic", epath.Path(tmp_path), "synthetic")
    assert path.name == "certify_examples_synthetic.png"
    assert pathlib.Path(path).stat().st_size > 0
    record = json.loads((tmp_path / "certify_examples_synthetic.json").read_text())
    assert record["wrong_certificates"] == wrong
    shown = [row["index"] for row in record["examples"]]
    if wrong:
        assert shown == [4]
        assert record["examples"][0] == {
            "index": 4, "label": "intersecting", "other_label": "simple", "radius": 0.5,
            "distance": 0.2, "ratio": 2.5, "smoothed_prediction_on_other": 1,
        }  # fmt: skip
        assert "cover a true class change" in titles[0]
    else:  # the right certificates with a distance found, largest ratio first (no abstention)
        assert shown == [3, 4, 0, 5]
        assert "no certificate covers a class change; the closest" in titles[0]


def test_the_ratio_figure_counts_ratios_above_one(tmp_path, monkeypatch):
    results = synthetic(wrong=True)
    monkeypatch.setattr(store, "read_results", lambda run, name: results)
    monkeypatch.setattr(certify.common, "run_label", lambda run: "synthetic")
    certify.radius_ratio("runs/synthetic", epath.Path(tmp_path), "synthetic")
    rows = csv_rows(tmp_path / "certify_ratio_synthetic.csv")
    assert [int(row["index"]) for row in rows] == [0, 3, 4, 5]  # right, distance found
    assert [float(row["ratio"]) for row in rows] == pytest.approx([0.3, 0.8, 2.5, 0.2])


def test_a_run_without_certify_results_is_refused_before_anything_is_written(certify_run, tmp_path):
    run = tmp_path / "ensemble_only"
    run.mkdir()
    for name in ("settings.json", "summary.json"):
        (run / name).write_text((pathlib.Path(certify_run) / name).read_text())
    summary = json.loads((run / "summary.json").read_text())
    del summary["certify"]
    (run / "summary.json").write_text(json.dumps(summary))
    out = tmp_path / "figures"
    with pytest.raises(SystemExit) as exit_:  # a good run first: it must not be drawn either
        draw_with_flags(f"--out={out}", f"--certify_runs={certify_run},{run}")
    message = str(exit_.value.code)
    assert message.startswith("error: nothing drawn: certify_accuracy needs certify results")
    assert f"(--certify_runs): {run} has no certify results; it has ['ensemble']" in message
    assert not out.exists()
    out.mkdir()
    with pytest.raises(ValueError, match=r"certify_ratio needs certify results .*--certify_runs"):
        figures.draw(epath.Path(out), [], certify_runs=[str(run)], only=["certify_ratio"])
    assert not list(out.iterdir())


def test_the_figures_and_their_files_are_named_after_the_run_directories():
    assert certify.file_names(["runs/a", "other/b", "x/a"]) == [
        ("runs/a", "a_0"), ("other/b", "b"), ("x/a", "a_2"),
    ]  # fmt: skip
    assert set(figures.FIGURE_INPUTS) >= set(NAMES)
    assert {figures.FIGURE_INPUTS[name] for name in NAMES} == {"--certify_runs"}
    assert figures.chosen_figures([], {"--certify_runs": ["runs/a"]}) == list(NAMES)
    assert figures.chosen_figures(["certify_ratio"], {"--certify_runs": ["runs/a"]}) == [
        "certify_ratio"
    ]


def test_ensemble_accuracy_uses_the_shared_examples_only():
    results = synthetic(wrong=False)
    ensemble = dataclasses.make_dataclass("E", ["index", "epsilon", "clean_correct", "correct"])(
        index=np.array([1, 3, 7]), epsilon=np.array([0.2]),
        clean_correct=np.array([True, False, True]), correct=np.array([[True, True, False]]),
    )  # fmt: skip
    found = certify.ensemble_accuracy(results, ensemble)
    assert found.examples == 2  # tests #1 and #3; #7 was not certified
    np.testing.assert_allclose(found.epsilon, [0.0, 0.2])
    np.testing.assert_allclose(found.accuracy, [0.5, 0.5])
