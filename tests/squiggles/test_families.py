import dataclasses

import jax
import numpy as np
import pytest

import squiggles


def test_default_latent_shapes_match_the_paper():
    assert squiggles.Taylor().latent_shape == (2, 7)
    assert squiggles.SineNet().latent_shape == (300, 4)
    assert squiggles.SineNet(width=25).latent_shape == (25, 4)


def test_families_are_immutable_and_hashable():
    family = squiggles.Taylor(order=5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        family.order = 6
    assert {family: 1}[squiggles.Taylor(order=5)] == 1
    assert squiggles.Taylor() != squiggles.Taylor(order=8)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: squiggles.Taylor(order=0), "order must be an integer >= 1"),
        (lambda: squiggles.Taylor(order=2.5), "order must be an integer >= 1"),
        (lambda: squiggles.Taylor(order=True), "order must be an integer >= 1"),
        (lambda: squiggles.SineNet(width=0), "width must be an integer >= 1"),
        (lambda: squiggles.SineNet(t_min=1.0, t_max=1.0), "t_min < t_max"),
        (lambda: squiggles.Taylor(t_min=float("nan")), "t_min < t_max"),
    ],
)
def test_out_of_range_parameters_raise_with_the_expected_value(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_family_from_name():
    assert squiggles.family_from_name("taylor") == squiggles.Taylor()
    assert squiggles.family_from_name("sine_net", width=25) == squiggles.SineNet(width=25)
    with pytest.raises(ValueError, match=r"expected one of \['sine_net', 'taylor'\]"):
        squiggles.family_from_name("fourier")


def test_sampled_distributions():
    taylor = np.asarray(squiggles.sample_latents(squiggles.Taylor(), 4000))
    assert taylor.min() >= -1 and taylor.max() <= 1
    assert abs(taylor.mean()) < 0.02 and abs(taylor.var() - 1 / 3) < 0.01

    sine = np.asarray(squiggles.sample_latents(squiggles.SineNet(width=50), 400))
    normal, phase = sine[..., :3], sine[..., 3]
    assert abs(normal.mean()) < 0.02 and abs(normal.std() - 1) < 0.02
    assert phase.min() >= 0 and phase.max() < 2 * np.pi
    assert abs(phase.mean() - np.pi) < 0.05


def test_family_is_a_static_jit_argument():
    render = jax.jit(squiggles.render, static_argnames=("family", "resolution"))
    z = squiggles.sample_latents(squiggles.SineNet(width=3), 2)
    assert render(z, squiggles.SineNet(width=3), 8).shape == (2, 8, 8)


def test_family_from_settings_takes_the_size_of_the_named_family():
    assert squiggles.family_from_settings("taylor", order=5, width=9) == squiggles.Taylor(order=5)
    assert squiggles.family_from_settings("sine_net", order=5, width=9) == squiggles.SineNet(
        width=9
    )
    with pytest.raises(ValueError, match="unknown family 'spline'"):
        squiggles.family_from_settings("spline")
