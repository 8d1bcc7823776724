import jax
import jax.numpy as jnp
import numpy as np
import pytest

import squiggles
from squiggles.rendering import _render_points

R = 60


def dense_reference(points: np.ndarray, resolution: int) -> np.ndarray:
    """The definition, in float64: max over points of exp(-R² d²)."""
    centres = np.linspace(0, 1, resolution)
    dx = points[..., :, None, None, 0] - centres[None, None, :]
    dy = points[..., :, None, None, 1] - centres[None, :, None]
    return np.exp(-(resolution**2) * (dx**2 + dy**2)).max(axis=-3)


def test_point_on_a_pixel_centre_gives_one_and_orientation_is_row_y_column_x():
    r, c = 12, 45
    image = np.asarray(squiggles.render_points(np.array([[c / (R - 1), r / (R - 1)]])))
    assert image[r, c] == pytest.approx(1.0, abs=1e-6)
    assert np.unravel_index(image.argmax(), image.shape) == (r, c)


def test_pixel_at_distance_d_gives_gaussian_of_d():
    r, c = 20, 30
    point = np.array([[c / (R - 1) + 1 / R, r / (R - 1)]])  # 1/R to the right
    image = np.asarray(squiggles.render_points(point))
    assert image[r, c] == pytest.approx(np.exp(-1.0), rel=1e-5)
    d = 0.013
    point = np.array([[c / (R - 1), r / (R - 1) - d]])
    assert squiggles.render_points(point)[r, c] == pytest.approx(np.exp(-(R**2) * d**2), rel=1e-5)


def test_maximum_over_points_not_sum():
    r, c = 30, 30
    centre = np.array([c / (R - 1), r / (R - 1)])
    points = np.stack([centre + [0.5 / R, 0], centre - [0.5 / R, 0], centre + [0, 0.7 / R]])
    image = np.asarray(squiggles.render_points(points))
    assert image[r, c] == pytest.approx(np.exp(-0.25), rel=1e-5)
    assert image.max() <= 1.0


@pytest.mark.parametrize("resolution", [2, 17, 60, 120])
def test_matches_the_definition(resolution):
    pts = np.asarray(squiggles.points(squiggles.sample_latents(squiggles.Taylor(), 8)))
    images = np.asarray(squiggles.render_points(pts, resolution))
    assert images.shape == (8, resolution, resolution) and images.dtype == np.float32
    # Float32 rounding of d² is amplified by R²: about 1e-5 at R = 120.
    reference = dense_reference(pts.astype(np.float64), resolution)
    np.testing.assert_allclose(images, reference, atol=1e-5)
    assert images.min() >= 0 and images.max() <= 1


def test_render_is_render_points_of_rescaled_points():
    family = squiggles.SineNet(width=10)
    z = squiggles.sample_latents(family, 3)
    np.testing.assert_array_equal(
        squiggles.render(z, family, 24), squiggles.render_points(squiggles.points(z, family), 24)
    )


def test_batched_over_any_leading_axes_and_under_vmap_and_jit():
    z = squiggles.sample_latents(squiggles.Taylor(), 6)
    flat = squiggles.render(z, resolution=16)
    nested = squiggles.render(z.reshape(2, 3, 2, 7), resolution=16)
    np.testing.assert_array_equal(nested.reshape(6, 16, 16), flat)
    vmapped = jax.vmap(lambda v: squiggles.render(v, resolution=16))(z)
    jitted = jax.jit(lambda v: squiggles.render(v, resolution=16))(z)
    np.testing.assert_allclose(vmapped, flat, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(jitted, flat, rtol=1e-5, atol=1e-7)
    assert squiggles.render(z[0], resolution=16).shape == (16, 16)


def _reference_loss_gradient(points, weights, resolution):
    """Gradient through plain jnp.min autodiff, the behaviour the custom VJP replaces."""

    def loss(p):
        centres = jnp.linspace(0.0, 1.0, resolution)
        d2 = (p[..., 0, None, None] - centres) ** 2 + (
            p[..., 1, None, None] - centres[:, None]
        ) ** 2
        return jnp.sum(weights * jnp.exp(-(resolution**2) * jnp.min(d2, axis=-3)))

    return jax.grad(loss)(points)


def test_gradient_equals_autodiff_of_the_definition():
    pts = squiggles.points(squiggles.sample_latents(squiggles.Taylor(), 4, seed=2))
    weights = jax.random.normal(jax.random.key(0), (4, 20, 20))
    got = jax.grad(lambda p: jnp.sum(weights * squiggles.render_points(p, 20)))(pts)
    want = _reference_loss_gradient(pts, weights, 20)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * float(jnp.abs(want).max()))


def test_gradient_matches_finite_differences_in_latent_space():
    # Float64, small steps: the image is only piecewise smooth in z (the nearest
    # point of a pixel changes), so large steps average over kinks.
    family = squiggles.Taylor()
    with jax.enable_x64(True):
        z = squiggles.sample_latents(family, 1, seed=9)[0].astype(jnp.float64)
        weights = jax.random.uniform(jax.random.key(1), (R, R), dtype=jnp.float64)

        def loss(v):
            return jnp.sum(weights * squiggles.render(v, family))

        direction = jax.random.normal(jax.random.key(2), z.shape, dtype=jnp.float64)
        analytic = float(jnp.vdot(jax.grad(loss)(z), direction))
        eps = 1e-6
        numeric = float((loss(z + eps * direction) - loss(z - eps * direction)) / (2 * eps))
    assert analytic == pytest.approx(numeric, rel=1e-5)
    assert abs(analytic) > 1


def test_gradients_are_finite_on_pixel_centres_and_for_zero_latents():
    on_centre = jnp.array([[10 / (R - 1), 20 / (R - 1)], [0.5, 0.5], [0.0, 1.0]])
    g = jax.grad(lambda p: jnp.sum(squiggles.render_points(p) ** 2))(on_centre)
    assert jnp.isfinite(g).all()
    for family in (squiggles.Taylor(), squiggles.SineNet(width=5)):
        zero = jnp.zeros(family.latent_shape)
        g = jax.grad(lambda z, f=family: -jnp.log(squiggles.render(z, f)[7, 3] + 1e-6))(zero)
        assert jnp.isfinite(g).all()
    # Repeated points tie for every pixel: the gradient is shared, not multiplied.
    repeated = jnp.full((10, 2), 0.3)
    one = jnp.full((1, 2), 0.3)
    g_rep = jax.grad(lambda p: jnp.sum(squiggles.render_points(p, 20)))(repeated)
    g_one = jax.grad(lambda p: jnp.sum(squiggles.render_points(p, 20)))(one)
    np.testing.assert_allclose(g_rep.sum(axis=0), g_one[0], rtol=1e-4)


def test_memory_is_proportional_to_the_output():
    # No (batch, points, R, R) intermediate, forward or backward.
    batch, points, res = 64, 100, 60
    pts = squiggles.points(squiggles.sample_latents(squiggles.Taylor(), batch))
    output_bytes = batch * res * res * 4
    dense_bytes = batch * points * res * res * 4

    forward = jax.jit(lambda p: _render_points(p, res)).lower(pts).compile()
    assert forward.memory_analysis().temp_size_in_bytes < output_bytes

    backward = jax.jit(jax.grad(lambda p: jnp.sum(_render_points(p, res) ** 2)))
    temp = backward.lower(pts).compile().memory_analysis().temp_size_in_bytes
    assert temp < 8 * output_bytes < dense_bytes / 10


@pytest.mark.parametrize("resolution", [1, 0, 2.5, True])
def test_resolution_below_two_raises(resolution):
    with pytest.raises(ValueError, match="resolution must be"):
        squiggles.render_points(np.zeros((3, 2)), resolution)


@pytest.mark.parametrize("shape", [(3,), (3, 3), (0, 2)])
def test_bad_point_shapes_raise(shape):
    with pytest.raises(ValueError, match=r"\(\.\.\., num_points, 2\)"):
        squiggles.render_points(np.zeros(shape))
