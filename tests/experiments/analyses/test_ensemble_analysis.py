"""The `ensemble` analysis on a model given as a Classifier (`runner.GivenModel`): robust
only if every attack fails, successes carried to larger ε, every adversarial image's
nearest curve found, and the run's identity is the given model's fingerprint."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import squiggles
from experiments.classifier import Classifier
from experiments.runs import runner, store
from tests.experiments.analyses.test_analyses import QUIET, config_with

FAMILY = squiggles.family_from_name("taylor")


@pytest.fixture(scope="module")
def linear_model() -> Classifier:
    """A fixed linear model of 60×60 images (random ±1/60 weights): cheap to compile, and
    its examples lie at spread-out distances from its boundary, so the attacks succeed
    on some at a small ε and on all at a large one."""
    signs = np.where(np.random.default_rng(0).random((60, 60)) < 0.5, -1.0, 1.0)
    weight = jnp.asarray(signs / 60, jnp.float32)

    def logits(weight, images):
        difference = jnp.sum(images * weight, axis=(1, 2))
        return jnp.stack([-difference / 2, difference / 2], axis=-1)

    return Classifier(jax.tree_util.Partial(logits, weight))


def scaled(model: Classifier, scale: float) -> Classifier:
    """`model` with its logits times `scale`: another model, as a user's reaches the runner."""

    def logits(model, images):
        return scale * model(images)

    return Classifier(jax.tree_util.Partial(logits, model))


def given(model: Classifier, fingerprint: str = "blob") -> runner.GivenModel:
    return runner.GivenModel("tests:blob", model, fingerprint, FAMILY, 60)


def ensemble_config(**changes):
    """8 examples; the linear model is right on 5, at distances 0.006 to 0.18."""
    changes = {"ensemble.epsilons": (0.1, 0.3, 4.8), **changes}
    return config_with("ensemble", examples=8, chunk_size=8, **changes)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, linear_model):
    out = tmp_path_factory.mktemp("ensemble")
    runner.ChunkedRun(out, given(linear_model), ensemble_config()).run(**QUIET)
    return out


def test_robust_only_when_every_attack_fails_and_successes_carry_over(finished):
    results = store.read_results(finished, "ensemble")
    assert [str(a) for a in results.attack] == ["apgd_ce", "apgd_margin", "square"]
    fooled_by_any = results.attack_fooled.any(axis=2)
    robust = results.clean_correct[None] & results.correct
    np.testing.assert_array_equal(robust, results.clean_correct[None] & ~fooled_by_any)
    for name in ("apgd_ce", "apgd_margin", "square"):
        assert np.all(robust <= results.attack_robust(name))
    assert np.all(np.diff(robust.astype(int), axis=0) <= 0)  # never more robust at larger ε
    assert np.all(results.norm <= results.epsilon[:, None] * (1 + 1e-5) + 1e-4)
    assert 0 < robust[0].sum() and robust[-1].sum() < robust[0].sum()  # the attacks work
    assert np.all((results.attacked >= 0) & (results.attacked <= 1))


def test_every_adversarial_image_gets_its_nearest_curve(finished):
    results = store.read_results(finished, "ensemble")
    np.testing.assert_array_equal(results.manifold_kind >= 0, results.fooled)
    assert np.all(np.isfinite(results.manifold_distance[results.fooled]))
    assert np.all(np.isnan(results.manifold_distance[~results.fooled]))
    shares = [results.kind_share(kind) for kind in results.KINDS]
    some = results.fooled.any(axis=1)
    np.testing.assert_allclose(np.sum(shares, axis=0)[some], 1.0)
    summary = store.read_summary(finished)["ensemble"]
    for k, row in enumerate(summary["per_epsilon"]):
        assert row["fooled"] == int(results.fooled[k].sum())
        assert row["robust_accuracy"] == pytest.approx(float(np.mean(results.correct[k])))


def test_the_run_records_the_given_model_and_refuses_another(finished, linear_model, tmp_path):
    settings = json.loads((finished / "settings.json").read_text())
    assert settings["model"] == {"source": "tests:blob", "fingerprint": "blob",
                                 "family": str(FAMILY), "resolution": 60}  # fmt: skip
    assert settings["results"] == {"ensemble": "EnsembleResults"}
    with pytest.raises(ValueError, match="holds results of model blob; use a new --out"):
        runner.ChunkedRun(finished, given(scaled(linear_model, 2.0), "other"), ensemble_config())
    with pytest.raises(ValueError, match="carries its test family"):
        runner.ChunkedRun(tmp_path / "x", given(linear_model), ensemble_config(), family="taylor")
    assert not (tmp_path / "x").exists()


def test_a_rerun_resumes_without_recomputing(finished, linear_model):
    lines = []
    runner.ChunkedRun(finished, given(linear_model), ensemble_config()).run(log=lines.append)
    assert lines[0].startswith("resuming: 1 chunks")
    assert not any("ensemble: examples" in line for line in lines)


@pytest.mark.parametrize(
    "field, value, message",
    [("queries", 0, "queries must be"), ("restarts", 0, "restarts must be"),
     ("epsilons", (0.3, 0.1), "strictly increasing"),
     ("manifold_learning_rate", 0.0, "manifold_learning_rate must be")],
)  # fmt: skip
def test_bad_settings_are_refused(field, value, message):
    from experiments.analyses import ensemble

    settings = ensemble.default_settings()
    settings[field] = value
    with pytest.raises(ValueError, match=message):
        ensemble.check(settings)
