import jax
import jax.numpy as jnp
import numpy as np
import pytest

import squiggles
from squiggles import host_rendering
from squiggles.rendering import _render_points, intensity


def xla_images(points, resolution):
    """The eager XLA program that the host kernel must reproduce bit for bit."""
    return np.asarray(_render_points(jnp.asarray(points), resolution))


@pytest.mark.parametrize("family", [squiggles.Taylor(), squiggles.SineNet(width=40)])
@pytest.mark.parametrize("resolution", [2, 17, 60, 120])
def test_same_bits_as_the_xla_program(family, resolution):
    points = np.asarray(squiggles.points(squiggles.sample_latents(family, 64, seed=3), family))
    images = host_rendering.render_points_on_host(points, resolution)
    assert images.shape == (64, resolution, resolution) and images.dtype == jnp.float32
    np.testing.assert_array_equal(images, xla_images(points, resolution))


def test_same_bits_for_points_on_centres_on_edges_and_far_outside():
    r = 30
    centres = np.linspace(0, 1, r, dtype=np.float32)
    rng = np.random.default_rng(0)
    curves = rng.uniform(-0.5, 1.5, size=(6, 50, 2)).astype(np.float32)
    curves[0, :, 0] = rng.choice(centres, 50)  # exactly on pixel centres
    curves[0, :, 1] = rng.choice(centres, 50)
    curves[1, :25] = [1e30, -1e30]  # far away: must not overflow a window index
    curves[2] = [0.5, 0.5]  # a curve that is one repeated point
    curves[3, :, 0] = -11 / (r - 1)  # just outside the window reach of column 0
    curves[4, :, 1] = 1 + 10.6 / (r - 1)  # just outside the reach of the top row
    curves[5, :, 1] = 1 + 9.4 / (r - 1)  # just inside it
    np.testing.assert_array_equal(
        host_rendering.render_points_on_host(curves, r), xla_images(curves, r)
    )


def test_a_pixel_beyond_the_window_gets_exactly_zero_from_xla():
    # The kernel leaves +inf beyond WINDOW_RADIUS + 0.5 pixel spacings; this holds
    # only while XLA's exp of the true distance there underflows to 0.
    assert host_rendering.WINDOW_WIDTH >= 2 * host_rendering.WINDOW_RADIUS + 1
    for resolution in (2, 3, 17, 60, 120, 240):
        spacing = 1 / (resolution - 1)
        d2 = jnp.float32(((host_rendering.WINDOW_RADIUS + 0.5) * spacing) ** 2)
        assert float(intensity(d2, resolution)) == 0.0
        assert float(intensity(jnp.float32(jnp.inf), resolution)) == 0.0


def test_tasks_and_threads_do_not_change_the_images(monkeypatch):
    points = np.asarray(squiggles.points(squiggles.sample_latents(squiggles.Taylor(), 23)))
    whole = host_rendering.render_points_on_host(points, 20)
    monkeypatch.setattr(host_rendering, "PIXELS_PER_TASK", 5 * 20 * 20)  # 5, 5, 5, 5, 3
    np.testing.assert_array_equal(host_rendering.render_points_on_host(points, 20), whole)
    monkeypatch.setattr(host_rendering, "PIXELS_PER_TASK", 1)  # one curve per task
    monkeypatch.setattr(host_rendering, "_worker_count", lambda: 7)  # more cores than tasks
    np.testing.assert_array_equal(host_rendering.render_points_on_host(points[:3], 20), whole[:3])


def test_leading_axes_and_an_empty_batch():
    points = np.asarray(squiggles.points(squiggles.sample_latents(squiggles.Taylor(), 6)))
    nested = host_rendering.render_points_on_host(points.reshape(2, 3, 100, 2), 16)
    assert nested.shape == (2, 3, 16, 16)
    np.testing.assert_array_equal(nested.reshape(6, 16, 16), xla_images(points, 16))
    assert host_rendering.render_points_on_host(points[:0], 16).shape == (0, 16, 16)


def test_render_points_draws_concrete_points_on_the_host_and_traces_with_xla(monkeypatch):
    points = squiggles.points(squiggles.sample_latents(squiggles.Taylor(), 4))
    calls = []
    real = host_rendering.render_points_on_host

    def spy(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(host_rendering, "render_points_on_host", spy)
    eager = squiggles.render_points(points, 24)
    assert len(calls) == 1
    np.testing.assert_array_equal(eager, xla_images(points, 24))

    jitted = jax.jit(squiggles.render_points, static_argnums=1)(points, 24)
    grad = jax.grad(lambda p: squiggles.render_points(p, 24).sum())(points)
    vmapped = jax.vmap(lambda p: squiggles.render_points(p, 24))(points)
    assert len(calls) == 1  # traced calls never reach the host kernel
    np.testing.assert_allclose(jitted, eager, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(vmapped, eager, rtol=1e-5, atol=1e-7)
    assert jnp.isfinite(grad).all()

    squiggles.render_points(points.astype(jnp.float16), 24)  # not float32: XLA
    assert len(calls) == 1


def test_non_finite_points_keep_the_xla_behaviour():
    points = np.array(squiggles.points(squiggles.sample_latents(squiggles.Taylor(), 3)))
    points[0, 5, 1] = np.nan
    points[1, 7] = [np.inf, -np.inf]
    np.testing.assert_array_equal(squiggles.render_points(points, 12), xla_images(points, 12))
