"""The `certify` analysis on a linear model given as a Classifier: certificates equal the
library's, the true-class distance is a valid bound (its other-class image really is of
the other true class), the summary's shares follow from the per-example arrays, and a
rerun resumes."""

import jax
import numpy as np
import pytest

import squiggles
from experiments.analyses import certify
from experiments.attacks import pgd, smoothing
from experiments.runs import runner, store
from tests.experiments.analyses.test_analyses import QUIET, config_with
from tests.experiments.analyses.test_ensemble_analysis import given, linear_model  # noqa: F401

FAMILY = squiggles.family_from_name("taylor")


def certify_config(**changes):
    changes = {"certify.sigma": 0.1, "certify.radii": (0.0, 0.05, 0.1), **changes}
    return config_with("certify", examples=6, chunk_size=6, **changes)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, linear_model):  # noqa: F811
    out = tmp_path_factory.mktemp("certify")
    runner.ChunkedRun(out, given(linear_model), certify_config()).run(**QUIET)
    return out


def test_the_certificates_are_the_librarys_on_the_same_key(finished, linear_model):  # noqa: F811
    results = store.read_results(finished, "certify")
    settings = certify_config().certify
    # The analysis's key of its first chunk (start 0): fold_in(key(seed), 8), then 0, 0.
    base = jax.random.fold_in(jax.random.key(settings.seed), certify.KEY_STREAM)
    key = jax.random.fold_in(jax.random.fold_in(base, 0), 0)
    images = results.image.astype(np.float32)
    expected = smoothing.certify(
        linear_model, images, settings.sigma, selection_samples=settings.selection_samples,
        samples=settings.samples, alpha=settings.alpha, key=key, batch=settings.batch,
    )  # fmt: skip
    np.testing.assert_array_equal(results.prediction, expected.prediction)
    np.testing.assert_allclose(results.radius, expected.radius)


def test_every_other_class_image_is_of_the_other_true_class(finished):
    results = store.read_results(finished, "certify")
    found = np.isfinite(results.distance)
    assert found.any()
    # The stored image is float16: its distance matches the stored bound to that precision.
    gap = pgd.norms(results.other_image.astype(np.float32) - results.image.astype(np.float32))
    np.testing.assert_allclose(gap[found], results.distance[found], rtol=0.02, atol=0.02)
    assert np.all(results.distance[found] <= results.crossing_distance[found] + 1e-4)
    assert np.all(results.latent_distance[found] > 0)


def test_the_summary_counts_follow_from_the_examples(finished):
    summary = store.read_summary(finished)["certify"]
    results = store.read_results(finished, "certify")
    assert summary["examples"] == 6
    assert summary["smoothed_accuracy"]["count"] == int(results.correct.sum())
    for row in summary["per_radius"]:
        certified = results.certified(row["radius"])
        assert row["certified_accuracy"]["count"] == int(certified.sum())
        wrong = certified & (results.distance < row["radius"])
        assert row["provably_wrong"]["count"] == int(wrong.sum())
        assert row["certified_accuracy"]["low"] <= row["certified_accuracy"]["share"]
    assert summary["wrong_certificates"]["count"] == int(
        np.sum(results.correct & (results.radius > results.distance))
    )


def test_a_rerun_resumes_and_changed_radii_change_only_the_summary(finished, linear_model):  # noqa: F811
    before = store.read_results(finished, "certify")
    lines = []
    summary = runner.ChunkedRun(
        finished, given(linear_model), certify_config(**{"certify.radii": (0.0, 0.2)})
    ).run(log=lines.append)
    assert any("resuming" in line for line in lines)
    assert [row["radius"] for row in summary["certify"]["per_radius"]] == [0.0, 0.2]
    np.testing.assert_array_equal(store.read_results(finished, "certify").radius, before.radius)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("alpha", 1.5, "alpha must be a number in (0, 1)"),
        ("samples", 0, "samples"),
        ("sigma", -0.1, "sigma must be a number"),
        ("radii", (0.5, 0.25), "radii must be strictly increasing"),
    ],
)
def test_bad_settings_are_refused_with_the_expected_value(field, value, message):
    settings = certify.default_settings()
    settings[field] = value
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        certify.check(settings)
