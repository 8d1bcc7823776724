"""The convention checks: a model that follows the conventions passes with its scores,
a poor one passes too, and the committed model wrapped the usual wrong ways is refused
with what was seen; shapes and values that are not logits are named."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import squiggles
from experiments.adapters import conventions
from experiments.adapters.conventions import check_conventions, check_shapes
from experiments.classifier import Classifier
from experiments.training import trained_run

R = squiggles.RESOLUTION


def wrapped(state, how):
    """models/cpu_taylor as a model made another way would reach the library."""
    return Classifier(jax.tree_util.Partial(how, trained_run.classifier(state)))


def as_trained(model, images):
    return model(images)


def swapped_classes(model, images):  # its class 1 is "simple"
    return model(images)[:, ::-1]


def trained_on_dark_curves(model, images):  # expects dark curves on light
    return model(1.0 - images)


def trained_on_0_255(model, images):  # expects pixels in 0-255
    return model(images / 255.0)


def test_the_committed_model_passes_with_its_scores(cpu_taylor_state):
    report = check_conventions(wrapped(cpu_taylor_state, as_trained), squiggles.Taylor(), R)
    assert (report.examples, report.family, report.resolution) == (128, "Taylor", 60)
    assert report.self_intersecting == 26  # the first 128 stored Taylor test examples
    assert report.accuracy > 0.9 and report.balanced_accuracy > 0.85
    scores = {score.name: score for score in report.alternatives}
    assert set(scores) == {"classes swapped", "inverted", "0-255"}
    assert scores["classes swapped"].balanced_accuracy == pytest.approx(
        1 - report.balanced_accuracy
    )
    assert "balanced accuracy under the usual mistakes: classes swapped 0.0" in report.summary()


@pytest.mark.parametrize(
    "how, seen",
    [
        (swapped_classes, r"classes look swapped: balanced accuracy 0\.0\d as given, 0\.9\d "
         r"with classes 0 and 1 exchanged on 128 labelled Taylor test examples .*class 1 must "
         "be self-intersecting"),
        (trained_on_dark_curves, r"the images look inverted: .* 0\.9\d on inverted images"),
        (trained_on_0_255, r"the pixel scale looks wrong: .* 0\.9\d with the pixels scaled to "
         "0-255"),
    ],
)  # fmt: skip
def test_the_committed_model_wrapped_wrongly_is_refused(cpu_taylor_state, how, seen):
    with pytest.raises(ValueError, match=seen):
        check_conventions(wrapped(cpu_taylor_state, how), "taylor", R)


def linear(weights, images):
    score = jnp.sum(images * weights, axis=(1, 2))
    return jnp.stack([-score, score], axis=-1)


def test_a_poor_model_is_not_refused_and_its_scores_are_reported():
    weights = jnp.asarray(np.random.default_rng(0).normal(size=(R, R)), jnp.float32)
    report = check_conventions(jax.tree_util.Partial(linear, weights), squiggles.Taylor(), R)
    assert 0.3 < report.balanced_accuracy < 0.7 and 0.3 < report.accuracy < 0.9
    assert [s.name for s in report.alternatives] == ["classes swapped", "inverted", "0-255"]
    assert all(0 <= s.balanced_accuracy <= 1 for s in report.alternatives)
    constant = check_conventions(lambda x: jnp.zeros((len(x), 2)).at[:, 0].set(1), "taylor", R)
    assert constant.balanced_accuracy == 0.5 and constant.accuracy == pytest.approx(102 / 128)


def test_the_threshold_is_the_documented_one():
    """A mistake is refused at FLOOR and GAP exactly, not below either."""
    labels = np.array([True] * 16 + [False] * 16)

    def report(given, alternative):
        make = conventions.Score
        return conventions.ConventionReport(
            "Taylor", R, 32, 16, make("as given", 0, given), (make("inverted", 0, alternative),)
        )

    conventions._refuse_a_clear_mistake(report(0.55, 0.79))  # gap under 0.25
    conventions._refuse_a_clear_mistake(report(0.45, 0.74))  # under the floor
    with pytest.raises(ValueError, match="images look inverted"):
        conventions._refuse_a_clear_mistake(report(0.5, 0.75))
    assert conventions.score("x", np.eye(2)[labels.astype(int)], labels).balanced_accuracy == 1


@pytest.mark.parametrize(
    "model, seen",
    [
        (lambda x: jnp.zeros((len(x), 3)), r"must return float logits \(N, 2\) = \(2, 2\) .*"
         r"float32 of shape \(2, 3\)"),
        (lambda x: jnp.zeros(len(x), jnp.int32), r"int32 of shape \(2,\)"),
        (lambda x: jnp.full((len(x), 2), jnp.nan), "non-finite logits .*256 for 128"),
        (lambda x: linear(jnp.ones((R, R)), x[..., 0]), r"failed on images of shape "
         r"\(N, R, R\) = \(2, 60, 60\) .*it accepts images of shape \(2, 60, 60, 1\)"),
    ],
)  # fmt: skip
def test_what_does_not_return_logits_is_named(model, seen):
    with pytest.raises(ValueError, match=seen):
        check_conventions(model, squiggles.Taylor(), R)


def test_too_few_examples_of_a_class_are_refused():
    with pytest.raises(ValueError, match="hold 8 self-intersecting and 32 simple .* at least 16"):
        check_conventions(lambda x: jnp.zeros((len(x), 2)), "taylor", R, examples=40)
    with pytest.raises(ValueError, match="examples must be an integer >= 32"):
        check_conventions(lambda x: jnp.zeros((len(x), 2)), "taylor", R, examples=8)


def test_a_torch_module_in_the_wrong_layout_is_pointed_to_the_right_one():
    torch = pytest.importorskip("torch")
    from experiments.adapters.torch_model import torch_classifier

    torch.manual_seed(0)
    network = torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3), torch.nn.AdaptiveMaxPool2d(1), torch.nn.Flatten()
    )
    with pytest.raises(ValueError, match="accepts them with input_layout='NCHW'"):
        check_shapes(torch_classifier(network, input_layout="NHWC"), R)
    report = check_conventions(torch_classifier(network), "taylor", R, examples=96)
    layouts = {s.name: s for s in report.alternatives if s.name.startswith("input_layout")}
    assert set(layouts) == {"input_layout=NHW", "input_layout=NHWC"}
    assert all(np.isnan(s.balanced_accuracy) and "failed" in s.note for s in layouts.values())


def test_a_transpose_cannot_be_seen_the_transposed_image_is_the_mirrored_curves():
    """What the module docstring says of transposes: the image of the curve with its two
    coordinates exchanged (Taylor: the latent's two rows) is the transposed image, and both
    rows are drawn from one distribution, so no test accuracy can tell them apart."""
    latents = squiggles.sample_latents(squiggles.Taylor(), 8, seed=0)
    images = np.asarray(squiggles.render(latents))
    mirrored = np.asarray(squiggles.render(latents[:, ::-1]))
    np.testing.assert_allclose(mirrored, images.transpose(0, 2, 1), atol=1e-6)
    labels = squiggles.is_self_intersecting(np.asarray(squiggles.points(latents)))
    mirrored_labels = squiggles.is_self_intersecting(np.asarray(squiggles.points(latents[:, ::-1])))
    np.testing.assert_array_equal(labels, mirrored_labels)
