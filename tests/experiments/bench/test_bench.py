"""`experiments.bench` end to end on a model given as a JAX function (the `smoke` preset):
the typed report agrees with the model itself and with the run's results, the report,
figure and leaderboard are written, a rerun resumes, and a wrong model or spec is refused
before anything is written."""

import json
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import squiggles
from examples import torch_cnn
from experiments import bench
from experiments.adapters import torch_model
from experiments.bench import leaderboard, pipeline, presets
from experiments.classifier import Classifier, probabilities
from experiments.runs import store

ROOT = pathlib.Path(__file__).resolve().parents[3]
BASELINE = ROOT / "bench" / "baseline" / "squiggles_c_cpu_taylor"
QUIET = dict(log=lambda line: None)


def ink_model(scale: float = 1.0) -> Classifier:
    """A fixed linear model of 60×60 images: crossing curves hold a little more ink (their
    medians 1.97 and 1.83 in units of 1/60 of the image), so ink above 1.9 says
    "crossing". Cheap to compile, a little better than chance: a poor model, which the
    bench measures rather than refuses. `scale` multiplies the logits (another model)."""

    def logits(scale, images):
        difference = scale * (jnp.mean(images, axis=(1, 2)) * 60 - 1.9)
        return jnp.stack([-difference / 2, difference / 2], axis=-1)

    return Classifier(jax.tree_util.Partial(logits, jnp.float32(scale)))


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "ink"
    report = bench.run(ink_model(), out, preset="smoke", name="ink", baseline=BASELINE, **QUIET)
    return out, report


def rank_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC-AUC as the Mann–Whitney statistic: P(score of a positive > a negative's)."""
    ranks = stats.rankdata(scores)
    positives = labels.astype(bool)
    n1, n0 = positives.sum(), (~positives).sum()
    return float((ranks[positives].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def test_the_clean_figures_are_the_models_own(finished):
    _, report = finished
    examples = squiggles.stored_examples(squiggles.family_from_name("taylor"), 16)
    probability = probabilities(ink_model(), examples.image)
    right = (probability > 0.5) == examples.label.astype(bool)
    assert report.examples == 16 and report.family == "taylor" and report.resolution == 60
    assert report.clean_accuracy.value == pytest.approx(right.mean())
    assert report.clean_accuracy.low <= right.mean() <= report.clean_accuracy.high
    assert report.roc_auc == pytest.approx(rank_auc(examples.label, probability))
    assert report.model == "python:ink" and report.preset == "smoke"


def test_the_robustness_figures_are_those_of_the_runs_results(finished):
    out, report = finished
    ensemble = store.read_results(out, "ensemble")
    pgd = store.read_results(out, "pixel")
    latent = store.read_results(out, "latent")
    assert [row.epsilon for row in report.pixel] == list(presets.config("smoke").pixel.epsilons)
    for k, row in enumerate(report.pixel):
        robust = ensemble.clean_correct & ensemble.correct[k]
        assert row.ensemble.value == pytest.approx(robust.mean())
        assert row.pgd == pytest.approx(np.mean(pgd.clean_correct & pgd.correct[k]))
        assert all(row.ensemble.value <= value for value in row.by_attack.values())
        assert row.fooled == int(ensemble.fooled[k].sum())
    for k, row in enumerate(report.latent):
        moved = latent.clean_correct & (latent.predicted[k] != latent.label_before)
        changed = latent.label_changed[k]
        assert row.real == pytest.approx(np.mean(moved & ~changed))
        assert row.excusable == pytest.approx(np.mean(moved & changed))
        assert row.robust.value == pytest.approx(np.mean(latent.clean_correct & latent.correct[k]))
    assert report.ensemble_at_most_pgd == all(r.ensemble.value <= r.pgd for r in report.pixel)


def test_the_report_figure_and_leaderboard_are_written(finished):
    out, report = finished
    assert bench.load(out) == report
    assert json.loads((out / "report.json").read_text())["summary_line"] == report.summary_line()
    page = (out / "report.md").read_text()
    assert report.summary_line() in page and "| 0.3 |" in page
    assert (out / "robustness.png").stat().st_size > 10_000
    board = (out.parent / "leaderboard.md").read_text()
    assert board.count("| ink |") == 1 and "Preset `smoke`: Squiggles taylor" in board
    # mCE against the committed plain `cpu` model on the same 16 examples.
    assert report.mce is not None and report.mce > 0
    assert report.mce_note == "against cpu_taylor on the same 16 test examples"


def test_the_leaderboard_replaces_a_models_row_and_adds_another(finished, tmp_path):
    _, report = finished
    path = tmp_path / "board.md"
    leaderboard.add(report, path)
    assert len(leaderboard.add(report, path)) == 1  # the same model: its row replaced
    other = bench.Report.from_dict({**report.to_dict(), "fingerprint": "x", "name": "other"})
    assert [r.name for r in leaderboard.add(other, path)] == ["ink", "other"]
    assert path.read_text().count("| other |") == 1
    (tmp_path / "board.json").write_text('[{"name": "old"}]')
    with pytest.raises(ValueError, match="is not a leaderboard of this version"):
        leaderboard.add(report, path)


def test_a_rerun_resumes_and_another_model_is_refused(finished):
    out, report = finished
    lines = []
    again = bench.run(ink_model(), out, preset="smoke", name="ink", baseline=BASELINE,
                      log=lines.append)  # fmt: skip
    assert again == report
    assert any(line.startswith("resuming: 6 chunks") for line in lines)
    before = sorted(p.name for p in (out / "chunks").iterdir())
    with pytest.raises(ValueError, match="holds results of model"):
        bench.run(ink_model(1.5), out, preset="smoke", name="ink", **QUIET)
    assert sorted(p.name for p in (out / "chunks").iterdir()) == before


def test_a_model_with_its_classes_exchanged_is_refused_before_any_work(tmp_path):
    model = torch_model.torch_classifier(torch_cnn.model())  # the example CNN: 94.7 %
    swapped = Classifier(jax.tree_util.Partial(lambda m, x: m(x)[:, ::-1], model))
    with pytest.raises(ValueError, match="classes look swapped"):
        bench.run(swapped, tmp_path / "out", preset="smoke", **QUIET)
    assert not (tmp_path / "out").exists()


def test_the_command_names_a_bad_spec_before_writing_anything(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "experiments.bench", "--model=no_such_module:f",
         f"--out={tmp_path / 'out'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "no_such_module" in done.stderr and not (tmp_path / "out").exists()


def test_a_bad_preset_is_named_with_the_presets(tmp_path):
    with pytest.raises(ValueError, match="unknown preset 'huge'; expected one of smoke, quick"):
        bench.run(ink_model(), tmp_path / "out", preset="huge", **QUIET)
    assert not (tmp_path / "out").exists()


def test_a_training_run_is_tested_at_its_own_resolution_and_family(tiny_run):
    loaded = pipeline._loaded(tiny_run, None, None)  # no --resolution: the run's own (16)
    assert loaded.kind == "workdir" and loaded.classifier(np.zeros((2, 16, 16))).shape == (2, 2)
    family, resolution = pipeline._family_and_resolution(loaded, None, None)
    assert (str(family), resolution) == (str(squiggles.family_from_name("taylor")), 16)
    family, _ = pipeline._family_and_resolution(loaded, "sine_net", None)
    assert str(family) == str(squiggles.family_from_name("sine_net"))
    with pytest.raises(ValueError, match="was trained at resolution 16; got --resolution 60"):
        pipeline._family_and_resolution(loaded, None, 60)
