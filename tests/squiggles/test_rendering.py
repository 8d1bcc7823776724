import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import squiggles
from squiggles import rendering, sampling
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


FAMILIES = [squiggles.Taylor(), squiggles.SineNet(width=25)]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("resolution", [60, 13])
def test_on_a_cpu_render_has_the_bits_of_the_kernel_and_of_the_xla_program(family, resolution):
    # The host kernel draws render's forward pass on a CPU, eager and traced; its
    # bits are the eager XLA program's, so no way of calling render changes an image.
    z = squiggles.sample_latents(family, 9, seed=1)

    def draw(v):
        return squiggles.render(v, family, resolution)

    xla = np.asarray(squiggles.render(z, family, resolution, renderer="xla"))
    np.testing.assert_array_equal(xla, _render_points(squiggles.points(z, family), resolution))
    for images in (
        squiggles.render_on_host(z, family, resolution),
        draw(z),
        draw(z.reshape(3, 3, *family.latent_shape)).reshape(xla.shape),
        jax.jit(draw)(z),
        jax.vmap(draw)(z),
        jax.jit(jax.vmap(draw))(z),
        squiggles.render_points(squiggles.points(z, family), resolution),
    ):
        assert images.dtype == jnp.float32
        np.testing.assert_array_equal(images, xla)


def _weighted_sum(images: jax.Array) -> jax.Array:
    weights = jnp.sin(jnp.arange(images.shape[-2] * images.shape[-1], dtype=jnp.float32))
    return jnp.sum(weights.reshape(images.shape[-2:]) * images)


def test_gradients_are_the_xla_programs_bit_for_bit():
    # Differentiated, render's forward pass and gradient are the XLA program's: the
    # same operations as before the kernel drew the forward pass, so the same bits
    # (not merely close), eager, under jit and under vmap. The custom VJP sees only
    # points, so one family tests it.
    family = squiggles.Taylor()
    z = squiggles.sample_latents(family, 5, seed=3)
    resolution = 21

    def loss(v):
        return _weighted_sum(squiggles.render(v, family, resolution))

    def xla_loss(v):  # the XLA program alone, as render ran it before
        return _weighted_sum(_render_points(squiggles.points(v, family), resolution))

    (value, grad), (xla_value, xla_grad) = (jax.value_and_grad(f)(z) for f in (loss, xla_loss))
    assert float(jnp.abs(xla_grad).max()) > 0
    np.testing.assert_array_equal(grad, xla_grad)
    assert float(value) == float(xla_value)
    per_curve = [jax.jit(jax.vmap(jax.grad(f)))(z) for f in (loss, xla_loss)]
    np.testing.assert_array_equal(*per_curve)


def _traces_a_callback(function, *args) -> bool:
    return "pure_callback" in str(jax.make_jaxpr(function)(*args))


def test_other_floats_than_float32_keep_the_xla_program():
    # The kernel draws float32 only; other floats keep the XLA program's results.
    pts = squiggles.points(squiggles.sample_latents(squiggles.Taylor(), 3))
    half = pts.astype(jnp.float16)
    np.testing.assert_array_equal(squiggles.render_points(half, 16), _render_points(half, 16))
    assert _traces_a_callback(lambda p: squiggles.render_points(p, 16), pts)
    for dtype in (jnp.float16, jnp.bfloat16):
        assert not _traces_a_callback(lambda p: squiggles.render_points(p, 16), pts.astype(dtype))
    with jax.enable_x64(True):
        pts64 = jnp.asarray(np.asarray(pts), jnp.float64)
        images = squiggles.render_points(pts64, 16)
        assert images.dtype == jnp.float64
        np.testing.assert_array_equal(images, _render_points(pts64, 16))
        assert not _traces_a_callback(lambda p: squiggles.render_points(p, 16), pts64)


def test_an_unknown_renderer_is_refused():
    z = squiggles.sample_latents(squiggles.Taylor(), 1)
    message = "renderer must be one of auto, host, xla, got 'numba'"
    with pytest.raises(ValueError, match=message):
        squiggles.render(z, renderer="numba")
    with pytest.raises(ValueError, match=message):
        jax.jit(lambda v: squiggles.render_points(v, 16, "numba"))(squiggles.points(z))


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


def test_repeated_points_share_the_gradient():
    # Repeated points tie for every pixel: the gradient is shared, not multiplied.
    res, ties, p = 20, 10, 0.3
    g_rep = jax.grad(lambda q: jnp.sum(squiggles.render_points(q, res)))(jnp.full((ties, 2), p))
    g_one = jax.grad(lambda q: jnp.sum(squiggles.render_points(q, res)))(jnp.full((1, 2), p))
    # Float32 error analysis. Each component is a sum over the n = R² pixels of
    # terms t_q = 2 w_q (p - q), w_q = -R² exp(-R² d_q²) the same bits in both
    # runs (the forward passes agree bit for bit). Each term carries at most 4
    # roundings (the share w/ties, p - q, two products), any summation order adds
    # at most (n - 1) u Σ|t_q| (u = 2⁻²⁴), and adding the 10 tied gradients at most
    # 9 u Σ|t_q| more. So each side is within (n + 13) u Σ|t_q| of the exact value,
    # and they differ by at most twice that. The terms cancel (Σ|t_q| is about 780
    # times |Σ t_q| here), so a relative tolerance would be meaningless; the bound
    # is still 4 % of the gradient, far below the error of a wrong gradient (a
    # tie counted 10 times, a missing factor 2, a wrong sign).
    centres = np.linspace(0.0, 1.0, res)
    weights = res**2 * np.exp(
        -(res**2) * ((p - centres[None, :]) ** 2 + (p - centres[:, None]) ** 2)
    )
    magnitude = np.sum(np.abs(2 * weights * (p - centres[None, :])))  # the same along y
    bound = 2 * (res**2 + 13) * 2.0**-24 * magnitude
    assert bound < 0.1 * float(jnp.abs(g_one).min())
    np.testing.assert_allclose(g_rep.sum(axis=0), g_one[0], rtol=0, atol=bound)


def _largest_array_elements(compiled) -> int:
    """Elements of the largest array any instruction of an optimised HLO module has,
    fused or not, library calls (YNNPACK fusions) included."""
    shapes = re.findall(r"\b(?:f32|pred|s32)\[([\d,]+)\]", compiled.as_text())
    return max(math.prod(int(d) for d in shape.split(",")) for shape in shapes)


def test_memory_is_proportional_to_the_output():
    # No (batch, points, R, R) array, forward or backward: not in XLA's buffers
    # (memory_analysis) and not inside a fusion either, where a library kernel
    # (YNNPACK's min reduction) could materialise it unseen (3.6 GB at R = 3000).
    batch, points, res = 3, 100, 200
    pts = squiggles.points(squiggles.sample_latents(squiggles.Taylor(), batch))
    output_bytes = batch * res * res * 4
    dense = batch * points * res * res

    forward = jax.jit(lambda p: _render_points(p, res)).lower(pts).compile()
    assert forward.memory_analysis().temp_size_in_bytes < 2 * output_bytes
    assert _largest_array_elements(forward) < dense / 10

    backward = jax.jit(jax.grad(lambda p: jnp.sum(_render_points(p, res) ** 2)))
    compiled = backward.lower(pts).compile()
    assert compiled.memory_analysis().temp_size_in_bytes < 8 * output_bytes
    assert _largest_array_elements(compiled) < dense / 10


def test_more_points_than_one_step_give_the_same_image():
    pts = np.asarray(squiggles.points(squiggles.sample_latents(squiggles.Taylor(), 2)))
    longer = np.concatenate([pts, pts[:, ::-1], pts[:, :37]], axis=1)  # 237: a partial last step
    np.testing.assert_array_equal(_render_points(longer, 24), _render_points(pts, 24))


def _with_bad_curves(points: np.ndarray) -> np.ndarray:
    bad = np.array(points)
    bad[1, 5, 1] = np.nan
    bad[3, 7] = [np.inf, -np.inf]
    return bad


def test_non_finite_points_raise_eagerly_naming_the_curves():
    pts = np.asarray(squiggles.points(squiggles.sample_latents(squiggles.Taylor(), 4)))
    message = r"points must be finite; 2 curve\(s\) hold NaN or inf, the first at index \(1,\)"
    with pytest.raises(ValueError, match=message):
        squiggles.render_points(_with_bad_curves(pts), 16)
    with pytest.raises(ValueError, match=message):
        squiggles.render_points(jnp.asarray(_with_bad_curves(pts), jnp.float16), 16)  # XLA path


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_latents_raise_eagerly_naming_the_curves(bad):
    z = np.array(squiggles.sample_latents(squiggles.Taylor(), 3))
    z[2, 1, 4] = bad
    with pytest.raises(
        ValueError, match=r"latents must be finite; 1 curve\(s\) hold NaN or inf, the first at"
    ):
        squiggles.render(z, resolution=16)
    with pytest.raises(ValueError, match=r"index \(0, 2\)"):
        squiggles.render(z[None], resolution=16)
    huge = np.full((1, 2, 7), 3e38, np.float32)  # finite latents whose curve overflows
    with pytest.raises(ValueError, match="points must be finite"):
        squiggles.render(huge, resolution=16)


def test_non_finite_curves_render_as_nan_under_a_trace():
    pts = np.asarray(squiggles.points(squiggles.sample_latents(squiggles.Taylor(), 4)))
    bad = _with_bad_curves(pts)
    eager = np.asarray(squiggles.render_points(pts, 16))
    for images in (
        jax.jit(squiggles.render_points, static_argnums=1)(bad, 16),
        jax.vmap(lambda p: squiggles.render_points(p, 16))(bad),
    ):
        images = np.asarray(images)
        assert np.isnan(images[[1, 3]]).all()  # every pixel, whatever the min does
        np.testing.assert_allclose(images[[0, 2]], eager[[0, 2]], rtol=1e-5, atol=1e-7)
    z = np.array(squiggles.sample_latents(squiggles.Taylor(), 2))
    z[1, 0, 0] = np.nan

    def loss(v):
        return jnp.sum(squiggles.render(v, resolution=16))

    assert np.isnan(float(jax.jit(loss)(z)))  # training sees a NaN loss and stops
    value, grad = jax.value_and_grad(loss)(z[:1])
    assert np.isfinite(float(value)) and np.isfinite(grad).all()


def test_complex_points_are_refused_not_truncated():
    with pytest.raises(ValueError, match="points must be real numbers, got complex64"):
        squiggles.render_points(np.full((3, 2), 0.5, np.complex64))


@pytest.mark.parametrize("resolution", [1, 0, 2.5, True])
def test_resolution_below_two_raises(resolution):
    with pytest.raises(ValueError, match="resolution must be"):
        squiggles.render_points(np.zeros((3, 2)), resolution)


@pytest.mark.parametrize("shape", [(3,), (3, 3), (0, 2)])
def test_bad_point_shapes_raise(shape):
    with pytest.raises(ValueError, match=r"\(\.\.\., num_points, 2\)"):
        squiggles.render_points(np.zeros(shape))


def test_a_resolution_too_large_for_memory_is_refused_naming_the_bytes(monkeypatch):
    monkeypatch.setattr(sampling, "available_bytes", lambda: (10**9, "on the test machine"))
    z = squiggles.sample_latents(squiggles.Taylor(), 1)
    message = (
        r"resolution 100000 is too large: one 100000×100000 image needs about "
        r"80,080,000,000 bytes \(80.1 GB\) to draw, but only 1,000,000,000 bytes \(1 GB\) "
        r"are available on the test machine"
    )
    with pytest.raises(ValueError, match=message):
        squiggles.render(z, resolution=100000)
    pts = np.full((400, 100, 2), 0.5, np.float32)  # each fits, not all 400
    message = r"400 images of 3000×3000 need about 29,760,000,000 bytes .* on the test machine"
    with pytest.raises(ValueError, match=message):
        squiggles.render_points(pts, 3000)


def test_resolutions_whose_square_overflows_an_int32_draw_without_overflow():
    # R² > 2**31 - 1 from R = 46,341: the distances' scale is a float, not an int32.
    nearest = jnp.asarray([[0.0, 1e-10]], jnp.float32)
    out = np.asarray(rendering.intensity(nearest, 46341))
    np.testing.assert_allclose(out, [[1.0, np.exp(-(46341.0**2) * 1e-10)]], rtol=1e-5)
