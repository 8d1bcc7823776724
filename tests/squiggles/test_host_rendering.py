import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import squiggles
from squiggles import host_kernel, host_rendering, xla_exp
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


@pytest.mark.parametrize("radius", [host_kernel.WINDOW_RADIUS, host_kernel.XLA_EXP_RADIUS])
def test_a_point_beyond_the_row_radius_gives_exactly_zero_in_xla(radius):
    # The kernel ignores points more than radius + 0.5 rows (or columns) from a
    # pixel; that is exact only while XLA's exp of such a distance is 0.
    for resolution in (2, 3, 17, 60, 120, 240):
        spacing = 1 / (resolution - 1)
        d2 = jnp.float32(((radius + 0.5) * spacing) ** 2)
        assert float(intensity(d2, resolution)) == 0.0
        assert float(intensity(jnp.float32(jnp.inf), resolution)) == 0.0


def test_the_kernels_exp_is_xlas_to_the_bit():
    # On this jax the kernel takes exp in place; the probe must pass for that path
    # to be the one the other tests check.
    assert xla_exp.exp_matches_xla()
    rng = np.random.default_rng(1)
    exponents = np.concatenate(
        [rng.uniform(0, 90, 4096), np.arange(0, 90, 0.5), [87.33, 87.34, 87.35, 87.8, 88, 1e-30]]
    ).astype(np.float32)
    exponents = np.concatenate([exponents, np.zeros(-len(exponents) % 16, np.float32)])
    for resolution in (1, 7, 60, 120):  # exp(-R² d²): the scale changes the rounding
        d2 = (exponents / np.float32(resolution**2)).astype(np.float32)
        host = d2.copy()
        xla_exp._exponentiate(host, np.float32(-(resolution**2)))
        np.testing.assert_array_equal(host, np.asarray(intensity(jnp.asarray(d2), resolution)))


def test_without_the_in_place_exp_xla_takes_it_with_the_same_bits(monkeypatch):
    family = squiggles.SineNet(width=20)
    points = np.asarray(squiggles.points(squiggles.sample_latents(family, 9), family))
    monkeypatch.setattr(xla_exp, "exp_matches_xla", lambda: False)
    images = host_rendering.render_points_on_host(points, 33)
    np.testing.assert_array_equal(images, xla_images(points, 33))
    traced = jax.jit(squiggles.render_points, static_argnums=1)(points, 33)  # a callback
    np.testing.assert_array_equal(traced, xla_images(points, 33))


def test_threads_do_not_change_the_images(monkeypatch):
    points = np.asarray(squiggles.points(squiggles.sample_latents(squiggles.Taylor(), 23)))
    monkeypatch.setattr(host_rendering, "_worker_count", lambda: 1)
    whole = host_rendering.render_points_on_host(points, 20)
    monkeypatch.setattr(host_rendering, "CURVES_PER_TASK", 5)
    monkeypatch.setattr(host_rendering, "_worker_count", lambda: 4)  # 5, 6, 6, 6 curves
    np.testing.assert_array_equal(host_rendering.render_points_on_host(points, 20), whole)
    monkeypatch.setattr(host_rendering, "CURVES_PER_TASK", 1)
    monkeypatch.setattr(host_rendering, "_worker_count", lambda: 7)  # more cores than curves
    np.testing.assert_array_equal(host_rendering.render_points_on_host(points[:3], 20), whole[:3])


def test_leading_axes_and_an_empty_batch():
    points = np.asarray(squiggles.points(squiggles.sample_latents(squiggles.Taylor(), 6)))
    nested = host_rendering.render_points_on_host(points.reshape(2, 3, 100, 2), 16)
    assert nested.shape == (2, 3, 16, 16)
    np.testing.assert_array_equal(nested.reshape(6, 16, 16), xla_images(points, 16))
    assert host_rendering.render_points_on_host(points[:0], 16).shape == (0, 16, 16)


def _spy_on_the_kernel(monkeypatch) -> list:
    """A list that grows by one for each call of the compiled kernel."""
    calls = []
    real = host_kernel.draw

    def spy(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(host_kernel, "draw", spy)
    return calls


def test_on_a_cpu_render_points_draws_with_the_kernel_eager_and_under_jit(monkeypatch):
    points = squiggles.points(squiggles.sample_latents(squiggles.Taylor(), 4))
    want = xla_images(points, 24)
    calls = _spy_on_the_kernel(monkeypatch)
    eager = squiggles.render_points(points, 24)
    assert len(calls) == 1  # one batch of 4 curves: one task
    assert eager.devices() == {jax.devices("cpu")[0]}
    jitted = jax.jit(squiggles.render_points, static_argnums=1)
    for _ in range(2):  # drawn when the program runs, not when it is traced
        np.testing.assert_array_equal(jitted(points, 24), want)
    assert len(calls) == 3
    np.testing.assert_array_equal(jax.vmap(lambda p: squiggles.render_points(p, 24))(points), want)
    assert len(calls) == 4  # vmap: one call for the whole batch
    np.testing.assert_array_equal(eager, want)
    # Differentiated, the XLA program draws the forward pass; "xla" forces it.
    grad = jax.grad(lambda p: squiggles.render_points(p, 24).sum())(points)
    np.testing.assert_array_equal(squiggles.render_points(points, 24, "xla"), want)
    np.testing.assert_array_equal(
        jax.jit(squiggles.render_points, static_argnums=(1, 2))(points, 24, "xla"), want
    )
    assert len(calls) == 4
    assert jnp.isfinite(grad).all()
    # "host" forces the kernel; so does render_points_on_host, on the CPU.
    np.testing.assert_array_equal(squiggles.render_points(points, 24, "host"), want)
    on_host = squiggles.render_points_on_host(points, 24)
    assert len(calls) == 6
    np.testing.assert_array_equal(on_host, want)
    assert on_host.devices() == {jax.devices("cpu")[0]}


def test_on_an_accelerator_traced_render_points_keeps_the_xla_program(monkeypatch):
    # The choice follows JAX's default backend at trace time (no accelerator here).
    points = squiggles.points(squiggles.sample_latents(squiggles.Taylor(), 2))
    calls = _spy_on_the_kernel(monkeypatch)
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    images = jax.jit(lambda p: squiggles.render_points(p, 12))(points)
    assert calls == []
    monkeypatch.undo()
    np.testing.assert_allclose(images, xla_images(points, 12), rtol=1e-5, atol=1e-7)


# Draws 256 curves (200 KiB of points) split over two host devices, in a fresh
# process. A callback there could hang: XLA:CPU copies its input of 100 KiB or more
# on a thread that the other device holds while it waits in a collective.
_TWO_DEVICES = """
import json
import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec
import squiggles
batch = NamedSharding(jax.make_mesh((2,), ("batch",)), PartitionSpec("batch"))
z = squiggles.sample_latents(squiggles.Taylor(), 256)
want = np.asarray(squiggles.render_on_host(z, resolution=16))  # the XLA program's bits
sharded = jax.device_put(z, batch)
def draw(v):
    return squiggles.render(v, resolution=16)
def on_host(v):
    return squiggles.render_on_host(v, resolution=16)
eager, jitted = draw(sharded), jax.jit(draw, out_shardings=batch)(sharded)
print(json.dumps({
    "devices": jax.device_count(),
    "eager": [bool(np.array_equal(eager, want)), len(eager.sharding.device_set)],
    # The XLA program fused into a jit may differ from the eager one in the last bit.
    "jit": bool(np.allclose(jitted, want, rtol=1e-5, atol=1e-7)),
    "callbacks": [name for name, f in (("render", draw), ("render_on_host", on_host))
                  if "pure_callback" in str(jax.make_jaxpr(f)(sharded))],
}))
"""


def test_with_several_devices_traced_curves_keep_the_xla_program_and_nothing_hangs():
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=2"
    env = dict(os.environ, XLA_FLAGS=flags.strip(), JAX_PLATFORMS="cpu")
    done = subprocess.run(
        [sys.executable, "-c", _TWO_DEVICES], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "devices": 2,
        "eager": [True, 2],  # sharded curves keep XLA's program, bits and placement
        "jit": True,
        "callbacks": [],
    }


def test_the_host_path_draws_traced_input_with_the_gradient_of_the_xla_program():
    family = squiggles.Taylor()
    z = squiggles.sample_latents(family, 3)
    points = squiggles.points(z)
    np.testing.assert_array_equal(
        jax.jit(squiggles.render_points_on_host, static_argnums=1)(points, 16),
        xla_images(points, 16),
    )
    np.testing.assert_array_equal(
        jax.vmap(lambda v: squiggles.render_on_host(v, resolution=16))(z),
        xla_images(points, 16),
    )

    def loss(render):
        return jax.grad(lambda v: jnp.sum(jnp.cos(render(v, family, 16))))(z)

    np.testing.assert_array_equal(loss(squiggles.render_on_host), loss(squiggles.render))


@pytest.mark.parametrize("family", [squiggles.Taylor(), squiggles.SineNet(width=30)])
def test_render_on_host_has_the_bits_of_eager_render(family):
    z = squiggles.sample_latents(family, 70, seed=5)
    for latents in (z, np.asarray(z), z[3], z.reshape(2, 35, *family.latent_shape)):
        images = squiggles.render_on_host(latents, family, 28)
        assert images.shape == (*latents.shape[: -len(family.latent_shape)], 28, 28)
        np.testing.assert_array_equal(images, squiggles.render(latents, family, 28))
        np.testing.assert_array_equal(images, squiggles.render(latents, family, 28, "xla"))


@pytest.mark.parametrize("dtype", [np.float16, np.float64, np.int32])
def test_the_host_path_refuses_other_dtypes_than_float32(dtype):
    points = np.asarray(squiggles.points(squiggles.sample_latents(squiggles.Taylor(), 2)))
    with pytest.raises(TypeError, match=f"draws float32 points, got {np.dtype(dtype).name}"):
        squiggles.render_points_on_host(points.astype(dtype), 16)
    z = np.asarray(squiggles.sample_latents(squiggles.Taylor(), 2))
    with pytest.raises(TypeError, match=f"draws float32 latents, got {np.dtype(dtype).name}"):
        squiggles.render_on_host(z.astype(dtype), resolution=16)


def test_the_host_path_checks_its_input_as_render_does():
    points = np.array(squiggles.points(squiggles.sample_latents(squiggles.Taylor(), 3)))
    with pytest.raises(ValueError, match=r"\(\.\.\., num_points, 2\)"):
        squiggles.render_points_on_host(points[..., :1], 16)
    with pytest.raises(ValueError, match="resolution must be >= 2"):
        squiggles.render_points_on_host(points, 1)
    with pytest.raises(ValueError, match="points must be real numbers"):
        squiggles.render_points_on_host(points.astype(np.complex64), 16)
    points[2, 4, 0] = np.inf
    with pytest.raises(ValueError, match=r"1 curve\(s\) hold NaN or inf, the first at index \(2,"):
        squiggles.render_points_on_host(points, 16)
    z = np.array(squiggles.sample_latents(squiggles.Taylor(), 2))
    z[1, 0, 3] = np.nan
    with pytest.raises(ValueError, match=r"latents must be finite; 1 curve\(s\)"):
        squiggles.render_on_host(z, resolution=16)
    huge = np.full((1, 2, 7), 3e38, np.float32)  # finite latents whose curve overflows
    with pytest.raises(ValueError, match="points must be finite"):
        squiggles.render_on_host(huge, resolution=16)
    with pytest.raises(ValueError, match=r"latents for Taylor.* must have shape"):
        squiggles.render_on_host(np.zeros((2, 3), np.float32))


def test_non_finite_points_are_refused_and_the_xla_program_makes_them_nan():
    points = np.array(squiggles.points(squiggles.sample_latents(squiggles.Taylor(), 3)))
    points[0, 5, 1] = np.nan
    points[1, 7] = [np.inf, -np.inf]
    with pytest.raises(ValueError, match=r"2 curve\(s\) hold NaN or inf"):
        squiggles.render_points(points, 12)
    with pytest.raises(ValueError, match=r"2 curve\(s\) hold NaN or inf"):
        squiggles.render_points_on_host(points, 12)
    images = xla_images(points, 12)
    assert np.isnan(images[:2]).all()
    np.testing.assert_array_equal(images[2], squiggles.render_points(points[2], 12))
