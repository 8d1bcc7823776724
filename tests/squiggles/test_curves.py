import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import squiggles


def test_taylor_with_all_ones_traces_exp_minus_one():
    order = 25
    family = squiggles.Taylor(order=order)
    z = np.zeros((2, order), np.float32)
    z[0] = 1.0  # x(t) = Σ tⁱ/i! = eᵗ - 1
    z[1, 0::4], z[1, 2::4] = 1.0, -1.0  # y(t) = t - t³/3! + ... = sin t
    raw = np.asarray(squiggles.points(z, family, rescale=False))
    t = squiggles.t_values(family)
    np.testing.assert_allclose(raw[:, 0], np.expm1(t), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(raw[:, 1], np.sin(t), atol=1e-5)


def test_taylor_terms_have_no_constant_and_use_factorials():
    z = np.zeros((2, 7), np.float32)
    z[0, 2] = 1.0  # x = t³/3!
    z[1, 6] = 2.0  # y = 2 t⁷/7!
    raw = np.asarray(squiggles.points(z, squiggles.Taylor(), num_points=5, rescale=False))
    t = np.linspace(-3, 3, 5)
    np.testing.assert_allclose(raw[:, 0], t**3 / 6, rtol=1e-6)
    np.testing.assert_allclose(raw[:, 1], 2 * t**7 / math.factorial(7), rtol=1e-6)


def test_sine_net_with_one_term_traces_a_sine():
    family = squiggles.SineNet(width=1)
    z = np.array([[0.7, -1.3, 2.1, 0.4]], np.float32)  # a, b, ω, φ
    raw = np.asarray(squiggles.points(z, family, rescale=False))
    t = squiggles.t_values(family)
    np.testing.assert_allclose(raw[:, 0], 0.7 * np.sin(2.1 * t + 0.4), atol=1e-6)
    np.testing.assert_allclose(raw[:, 1], -1.3 * np.sin(2.1 * t + 0.4), atol=1e-6)


def test_sine_net_sums_its_terms():
    family = squiggles.SineNet(width=6)
    z = np.asarray(squiggles.sample_latents(family, 1))[0]
    raw = np.asarray(squiggles.points(z, family, num_points=7, rescale=False))
    t = np.linspace(-2, 2, 7)
    waves = np.sin(np.outer(t, z[:, 2]) + z[:, 3])
    np.testing.assert_allclose(raw, waves @ z[:, :2], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("family", [squiggles.Taylor(), squiggles.SineNet(width=25)])
def test_rescaled_box_has_longer_side_0_8_centred_on_half(family):
    z = squiggles.sample_latents(family, 64, seed=1)
    pts = np.asarray(squiggles.points(z, family))
    low, high = pts.min(axis=1), pts.max(axis=1)
    np.testing.assert_allclose((high - low).max(axis=1), 0.8, rtol=1e-6)
    np.testing.assert_allclose((low + high) / 2, 0.5, atol=1e-6)
    assert pts.min() >= 0.1 - 1e-6 and pts.max() <= 0.9 + 1e-6


def test_rescale_keeps_aspect_ratio():
    curve = jnp.array([[0.0, 0.0], [4.0, 1.0], [2.0, 0.5]])
    np.testing.assert_allclose(
        squiggles.rescale(curve), [[0.1, 0.4], [0.9, 0.6], [0.5, 0.5]], atol=1e-6
    )


def test_single_repeated_point_gives_finite_centred_output():
    pts = np.asarray(squiggles.rescale(jnp.full((100, 2), 3.0)))
    np.testing.assert_array_equal(pts, 0.5)
    zero = np.asarray(squiggles.points(np.zeros((2, 7), np.float32)))
    np.testing.assert_array_equal(zero, 0.5)


def test_shapes_over_leading_axes():
    z = squiggles.sample_latents(squiggles.Taylor(), 6).reshape(2, 3, 2, 7)
    pts = squiggles.points(z, num_points=11)
    assert pts.shape == (2, 3, 11, 2) and pts.dtype == jnp.float32


@pytest.mark.parametrize("shape", [(7, 2), (2, 6), (3, 2), (14,)])
def test_wrong_latent_shape_names_the_expected_shape(shape):
    with pytest.raises(ValueError, match=r"must have shape \(\.\.\., 2, 7\), got"):
        squiggles.points(np.zeros(shape), squiggles.Taylor())


def test_wrong_sine_net_latent_shape():
    with pytest.raises(ValueError, match=r"\(\.\.\., 25, 4\)"):
        squiggles.render(np.zeros((300, 4)), squiggles.SineNet(width=25))


@pytest.mark.parametrize("num_points", [1, 0, -3, 2.0])
def test_fewer_than_two_points_raise(num_points):
    with pytest.raises(ValueError, match="num_points must be"):
        squiggles.points(np.zeros((2, 7)), num_points=num_points)


@pytest.mark.parametrize("family", [squiggles.Taylor(), squiggles.SineNet(width=40)])
def test_points_do_not_depend_on_the_batch_size(family):
    # A batch of one once took another reduction kernel (YNNPACK) than larger ones
    # for SineNet's sum: last-bit differences on AVX2 machines.
    z = squiggles.sample_latents(family, 5, seed=3)
    whole = np.asarray(squiggles.points(z, family))
    for size in (1, 2):
        for start in range(0, 5, size):
            part = squiggles.points(z[start : start + size], family)
            np.testing.assert_array_equal(part, whole[start : start + size], err_msg=f"{size}")
    for i in range(2):
        np.testing.assert_array_equal(squiggles.points(z[i], family), whole[i])


def test_complex_latents_are_refused_not_truncated():
    z = np.asarray(squiggles.sample_latents(squiggles.Taylor(), 2)).astype(np.complex64)
    with pytest.raises(ValueError, match="latents must be real numbers, got complex64"):
        squiggles.points(z)
    with pytest.raises(ValueError, match="latents must be real numbers"):
        squiggles.render(z + 1j)


def test_a_curve_with_a_nan_or_inf_rescales_to_all_nan_and_others_are_unchanged():
    raw = np.asarray(
        squiggles.points(squiggles.sample_latents(squiggles.Taylor(), 3), rescale=False)
    )
    bad = raw.copy()
    bad[1, 4, 0] = np.nan
    bad[2, 0, 1] = np.inf
    out = np.asarray(squiggles.rescale(bad))
    assert np.isnan(out[1:]).all()
    np.testing.assert_array_equal(out[0], np.asarray(squiggles.rescale(raw))[0])


@pytest.mark.parametrize("family", [squiggles.Taylor(), squiggles.SineNet()], ids=str)
def test_the_gradient_of_points_does_not_depend_on_the_batch_size(family):
    # Jitted for one or two latents, XLA once recomputed the box's extremes in another
    # fusion for jnp.min's gradient mask, matched no point and lost the box's gradient.
    z = squiggles.sample_latents(family, 8, seed=3)
    cotangent = jax.random.normal(jax.random.key(0), (8, squiggles.NUM_POINTS, 2))

    def gradient(z, c):
        return jax.grad(lambda z: jnp.sum(squiggles.points(z, family) * c))(z)

    batch = np.asarray(jax.jit(gradient)(z, cotangent))
    for size in (1, 2):
        small = np.asarray(jax.jit(gradient)(z[:size], cotangent[:size]))
        np.testing.assert_allclose(small, batch[:size], rtol=1e-4, atol=1e-4)
    # And it is the derivative: a central difference along a random direction.
    direction = jax.random.normal(jax.random.key(1), z.shape)
    step = 1e-4

    def along(sign):
        moved = squiggles.points(z + sign * step * direction, family)
        return np.asarray(jnp.sum(moved * cotangent, axis=(1, 2)))

    difference = (along(1) - along(-1)) / (2 * step)
    slope = np.sum(batch * np.asarray(direction), axis=tuple(range(1, z.ndim)))
    np.testing.assert_allclose(slope, difference, rtol=0.02, atol=0.05)
