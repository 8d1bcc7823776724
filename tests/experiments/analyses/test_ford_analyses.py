"""The Ford et al. analyses (experiments/analyses/ford_*.py), their stages
(experiments/runs/ford_stages.py) and binary (experiments/noise_analysis.py) on the tiny
trained model: shapes and invariants of the stored results, resumption without
duplicated or lost rows, bad settings and flags."""

import csv
import pathlib
import shutil
import subprocess
import sys

import jax
import ml_collections
import numpy as np
import pytest

from experiments.analyses import ford_distance
from experiments.attacks import ford
from experiments.configs.analyses import tiny
from experiments.results import HALF_SPACE_FACTOR
from experiments.runs import ford_stages, runner, store
from tests.conftest import FORD_ANALYSES, FORD_EXAMPLES

ROOT = pathlib.Path(__file__).resolve().parents[3]
QUIET = dict(log=lambda line: None)


def csv_rows(path: pathlib.Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def test_every_ford_analysis_is_stored_for_its_examples(tiny_ford):
    summary = store.read_summary(tiny_ford)
    expected = {"ford_rates": 8, "ford_distance": 8, "ford_latent": 8, "ford_church": 4}
    for name, count in expected.items():
        assert summary[name]["examples"] == count
        assert len(csv_rows(pathlib.Path(tiny_ford) / f"{name}.csv")) == count
    settings = tiny.get_config(FORD_ANALYSES)

    rates = store.read_results(tiny_ford, "ford_rates")
    assert rates.index.tolist() == list(range(8))
    assert rates.errors.shape == (2, 8) and int(rates.samples) == settings.ford_rates.samples
    assert np.all((rates.rate_low <= rates.rate) & (rates.rate <= rates.rate_high))
    assert rates.noise_wrong.shape == (2 * settings.ford_rates.accuracy_draws, 8)
    assert rates.accuracy_draws().shape == (2, settings.ford_rates.accuracy_draws)
    # σ(x, μ) is 0 exactly for the images misclassified clean, never negative.
    np.testing.assert_array_equal(rates.sigma_at_mu == 0, ~rates.clean_correct)
    assert np.all(rates.sigma_at_mu >= 0)

    distance = store.read_results(tiny_ford, "ford_distance")
    points = settings.ford_distance.noisy_points
    assert distance.noisy_distances.shape == (8, points)
    found = distance.found
    assert np.all(distance.distance[found] <= distance.unrefined[found])
    assert np.all(np.isinf(distance.distance[~found]))
    np.testing.assert_array_equal(distance.noisy_median, np.median(distance.noisy_distances, 1))
    np.testing.assert_array_equal(distance.noise_error_found,
                                  (distance.noisy_distances == 0).any(1))  # fmt: skip
    np.testing.assert_array_equal(distance.pgd_manifold_kind >= 0, found)

    latent = store.read_results(tiny_ford, "ford_latent")
    outcomes = latent.model_errors + latent.followed_flips + latent.missed_flips
    assert latent.model_errors.shape == (2, 8) and np.all(outcomes <= latent.samples)
    assert np.all((latent.sigma_truth >= 0) & (latent.sigma_model >= 0))

    church = store.read_results(tiny_ford, "ford_church")
    assert church.pixel_class.shape == (4, 5, 5) and church.latent_class.shape == (4, 4, 4)
    assert set(np.unique(church.latent_truth)) <= {0, 1}
    np.testing.assert_allclose(church.latent_offsets[[0, -1]], (-1.0, 1.0))


def test_an_interrupted_ford_run_resumes_with_the_same_rows(tiny_ford, tiny_run, tmp_path):
    out = tmp_path / "ford"
    shutil.copytree(tiny_ford, out)
    chunks = out / "chunks"
    lost = sorted(chunks.glob("ford_rates_*.npz"))[-1]
    before = store.read_results(tiny_ford, "ford_rates")
    lost.unlink()  # as if killed before its last chunk was written
    rates_stage = ford_stages.stage_configs(tiny.get_config(FORD_ANALYSES), FORD_EXAMPLES)[0]
    runner.ChunkedRun(out, tiny_run, rates_stage).run(**QUIET)
    after = store.read_results(out, "ford_rates")
    assert after.index.tolist() == list(range(8))  # no row lost or duplicated
    for field in ("errors", "rate_low", "noise_wrong", "sigma_at_mu"):
        np.testing.assert_array_equal(getattr(after, field), getattr(before, field))
    assert len(csv_rows(out / "ford_rates.csv")) == 8
    assert sorted(p.name for p in chunks.iterdir()) == sorted(
        p.name for p in (pathlib.Path(tiny_ford) / "chunks").iterdir()
    )


@pytest.mark.parametrize(
    "name, field, value, message",
    [
        ("ford_rates", "samples", 0, "samples must be an integer >= 1, got 0"),
        ("ford_rates", "mu", 1.5, "mu must be a number in (0, 1), got 1.5"),
        ("ford_rates", "sigmas", (0.1, 0.05), "sigmas must be strictly increasing"),
        ("ford_rates", "sigmas", (-0.1,), "sigmas must be finite numbers >= 0"),
        ("ford_rates", "sigma_tol", 2.0, "sigma_tol must be a number in (0, 1.0)"),
        ("ford_distance", "noisy_points", 0, "noisy_points must be an integer >= 1"),
        ("ford_distance", "noisy_sigma", float("nan"), "noisy_sigma must be a number in (0"),
        ("ford_latent", "epsilon", -1.0, "epsilon must be a number in (0, inf)"),
        ("ford_church", "grid", 1, "grid must be an integer >= 2, got 1"),
    ],
)
def test_bad_ford_settings_are_refused_before_anything_is_loaded(
    name, field, value, message, tmp_path
):
    config = tiny.get_config(FORD_ANALYSES)
    config[name][field] = value
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        runner.ChunkedRun(tmp_path / "out", str(tmp_path / "no model"), config)
    assert not (tmp_path / "out" / "settings.json").exists()


def test_the_common_flags_reach_every_analysis_that_has_them():
    config = tiny.get_config(FORD_ANALYSES)
    ford_stages.apply_flags(config, ["0.2", "0.3"], samples=7, steps=9, noisy_points=2)
    assert config.ford_rates.sigmas == (0.2, 0.3)
    assert config.ford_rates.samples == config.ford_rates.sigma_samples == 7
    assert config.ford_latent.samples == config.ford_latent.sigma_samples == 7
    assert config.ford_distance.steps == config.ford_latent.steps == config.ford_church.steps == 9
    assert config.ford_distance.noisy_points == 2
    with pytest.raises(ValueError, match=r"--sigmas must be numbers, got \['0.1', 'x'\]"):
        ford_stages.apply_flags(config, ["0.1", "x"], None, None, None)


def test_the_half_space_factor_is_the_one_percent_quantile():
    assert HALF_SPACE_FACTOR == pytest.approx(2.3263, abs=1e-4)


@pytest.mark.e2e
def test_the_binary_reports_a_bad_flag_before_loading_anything(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "experiments.noise_analysis", f"--workdir={tmp_path / 'none'}",
         f"--out={tmp_path / 'out'}", "--examples=-1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode != 0 and "error: --examples must be >= 0, got -1" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_missing_model_is_a_clear_error_before_anything_is_written(tmp_path):
    config = tiny.get_config(FORD_ANALYSES)
    with pytest.raises(FileNotFoundError, match="is not a training run"):
        ford_stages.run_all(str(tmp_path / "out"), str(tmp_path / "none"), config, FORD_EXAMPLES)
    assert not (tmp_path / "out" / "settings.json").exists()


def test_the_noise_error_of_an_image_is_its_first_misclassified_noisy_sample():
    images = jax.random.uniform(jax.random.key(1), (3, 4, 4))
    key = jax.random.key(2)
    settings = ml_collections.ConfigDict({"noisy_sigma": 0.3})
    distances = np.array([[0.5, 0.0, 0.0], [0.1, 0.2, 0.3], [0.0, 0.4, 0.0]])
    errors, found = ford_distance.first_noise_errors(images, distances, key, settings)
    assert found.tolist() == [True, False, True]
    # As median_noisy_distance drew them: sample k of the whole chunk, fold_in(key, k).
    np.testing.assert_array_equal(errors[0], ford.noisy_sample(key, images, 0.3, 1)[0])
    np.testing.assert_array_equal(errors[2], ford.noisy_sample(key, images, 0.3, 0)[2])
    np.testing.assert_array_equal(errors[1], images[1])


def test_a_subset_of_the_analyses_runs_each_one_named_and_takes_the_flags():
    config = tiny.get_config("ford_rates,ford_distance,ford_church")
    ford_stages.apply_flags(config, None, samples=5, steps=3, noisy_points=None)
    assert config.ford_rates.samples == 5 and config.ford_distance.steps == 3
    assert "ford_latent" not in config
    examples = {"examples": 8, "distance_examples": 6, "church_examples": 0}
    stages = ford_stages.stage_configs(config, examples)
    assert [(s.analyses, s.examples) for s in stages] == [
        (("ford_rates",), 8), (("ford_distance",), 6)
    ]  # fmt: skip
    with pytest.raises(ValueError, match="nothing to run"):
        ford_stages.run_all("unused", "unused", config, dict.fromkeys(examples, 0))


def test_the_tiny_ford_analyses_have_a_name_of_their_own(tmp_path):
    config = tiny.get_config("ford")
    assert config.to_dict() == tiny.get_config(FORD_ANALYSES).to_dict()
    assert config.analyses == tuple(FORD_ANALYSES.split(","))
    stages = ford_stages.stage_configs(config, FORD_EXAMPLES)
    assert [(s.analyses, s.examples) for s in stages] == [
        (("ford_rates",), 8), (("ford_distance", "ford_latent"), 8), (("ford_church",), 4)
    ]  # fmt: skip
    # The config's default analyses are experiments.analyse's: the error names the Ford one.
    with pytest.raises(ValueError, match=(
        r"^nothing to run: the config holds none of the Ford analyses \['ford_rates', "
        r"'ford_distance', 'ford_latent', 'ford_church'\], only \['pixel', 'noise', 'latent'\]: "
        r"give a config of them, such as --config experiments/configs/analyses/tiny.py:ford "
    )):  # fmt: skip
        ford_stages.run_all(str(tmp_path / "out"), str(tmp_path / "none"), tiny.get_config(),
                            FORD_EXAMPLES)  # fmt: skip
    assert not (tmp_path / "out").exists()
