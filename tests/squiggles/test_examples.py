import jax
import numpy as np
import pytest

import squiggles


@pytest.mark.parametrize("family", [squiggles.Taylor(), squiggles.SineNet(width=25)])
def test_examples_are_consistent_with_the_generator(family):
    ex = squiggles.generate_examples(family, 40, seed=2, stream=3, start=100, resolution=24)
    np.testing.assert_array_equal(ex.index, np.arange(100, 140))
    np.testing.assert_array_equal(
        ex.latent, squiggles.sample_latents(family, 40, seed=2, stream=3, start=100)
    )
    np.testing.assert_array_equal(ex.points, squiggles.points(ex.latent, family))
    np.testing.assert_array_equal(ex.label, squiggles.is_self_intersecting(ex.points))
    np.testing.assert_array_equal(ex.image, squiggles.render_points(ex.points, 24))
    assert ex.image.shape == (40, 24, 24) and ex.label.dtype == bool


def test_a_range_made_in_pieces_equals_one_call():
    family = squiggles.Taylor()
    whole = squiggles.generate_examples(family, 30, seed=1, resolution=12)
    parts = [
        squiggles.generate_examples(family, 10, seed=1, start=s, resolution=12) for s in (20, 0, 10)
    ]
    parts.sort(key=lambda ex: ex.index[0])
    for field in ("index", "latent", "points", "label", "image"):
        joined = np.concatenate([np.asarray(getattr(p, field)) for p in parts])
        np.testing.assert_array_equal(joined, np.asarray(getattr(whole, field)), err_msg=field)


def test_bad_resolution_raises_before_work():
    with pytest.raises(ValueError, match="resolution must be >= 2"):
        squiggles.generate_examples(squiggles.Taylor(), 5, resolution=1)


@pytest.mark.parametrize("family", [squiggles.Taylor(), squiggles.SineNet(width=40)])
def test_values_do_not_depend_on_the_batch_size(family):
    # Datasets are built in chunks of any size: every example must be bitwise the
    # same however the range is cut (no shape-dependent matmul blocking, reduction
    # kernels or FMAs), on any CPU: a batch of one, of two, odd sizes, unbatched.
    whole = squiggles.generate_examples(family, 40, seed=7, resolution=30)
    for size in (1, 2, 3, 7, 16):
        for start in range(0, 40, size):
            count = min(size, 40 - start)
            part = squiggles.generate_examples(family, count, seed=7, start=start, resolution=30)
            for field in ("latent", "points", "label", "image"):
                np.testing.assert_array_equal(
                    np.asarray(getattr(part, field)),
                    np.asarray(getattr(whole, field))[start : start + count],
                    err_msg=f"{field}, batch size {size}, start {start}",
                )
    for i in (0, 1, 39):  # one curve without a batch axis
        points = squiggles.points(whole.latent[i], family)
        np.testing.assert_array_equal(points, whole.points[i])
        np.testing.assert_array_equal(squiggles.render_points(points, 30), whole.image[i])


def test_a_count_that_cannot_fit_is_refused_before_anything_is_allocated():
    # 10**9 examples once aborted the interpreter; they need about 19 TB.
    with pytest.raises(
        ValueError, match=r"1,000,000,000 examples of Taylor.* need about [\d,]+ bytes .* available"
    ):
        squiggles.generate_examples(squiggles.Taylor(), 10**9)


@pytest.mark.parametrize("family", [squiggles.Taylor(), squiggles.SineNet(width=25)])
def test_the_host_and_xla_renderers_give_the_same_bits(family):
    host = squiggles.generate_examples(family, 130, seed=4, resolution=36, renderer="host")
    xla = squiggles.generate_examples(family, 130, seed=4, resolution=36, renderer="xla")
    for field in ("index", "latent", "points", "label", "image"):
        np.testing.assert_array_equal(
            np.asarray(getattr(host, field)), np.asarray(getattr(xla, field)), err_msg=field
        )


def test_auto_draws_on_the_host_when_the_default_backend_is_the_cpu(monkeypatch):
    from squiggles import renderers

    drawn = []
    for name in ("render_points_on_host", "render_points"):
        real = getattr(renderers, name)
        monkeypatch.setattr(
            renderers, name, lambda *a, name=name, real=real: drawn.append(name) or real(*a)
        )
    for backend, expected in (("cpu", "render_points_on_host"), ("gpu", "render_points")):
        monkeypatch.setattr(jax, "default_backend", lambda backend=backend: backend)
        squiggles.generate_examples(squiggles.Taylor(), 3, resolution=8)
        assert drawn.pop() == expected and drawn == []
    assert renderers.resolve_renderer("host") == "host"
    assert renderers.resolve_renderer("xla") == "xla"


def test_an_unknown_renderer_is_refused_before_work():
    with pytest.raises(ValueError, match="renderer must be one of auto, host, xla, got 'numba'"):
        squiggles.generate_examples(squiggles.Taylor(), 5, renderer="numba")


def test_chunk_starts_cover_a_range_once_in_order():
    assert squiggles.chunk_starts(10, 4) == [(0, 4), (4, 4), (8, 2)]
    assert squiggles.chunk_starts(8, 4) == [(0, 4), (4, 4)]
    assert squiggles.chunk_starts(3, 10) == [(0, 3)]
    assert squiggles.chunk_starts(0, 10) == []


def test_stored_examples_are_the_test_split_as_tfds_stores_it():
    family = squiggles.Taylor()
    stored = squiggles.stored_examples(family, 12, start=30, resolution=16)
    made = squiggles.generate_examples(
        family, 12, seed=squiggles.DATA_SEED, stream=squiggles.TEST_STREAM, start=30,
        resolution=16,
    )  # fmt: skip
    np.testing.assert_array_equal(stored.index, np.arange(30, 42))
    np.testing.assert_array_equal(stored.latent, made.latent)
    np.testing.assert_array_equal(stored.label, made.label)
    # The stored uint8 levels, back in [0, 1]: exactly k/255, within half a level of the image.
    np.testing.assert_array_equal(
        stored.image, squiggles.dequantize(squiggles.quantize(made.image))
    )
    levels = np.asarray(stored.image) * 255
    np.testing.assert_allclose(levels, np.round(levels), atol=1e-4)
    assert np.abs(np.asarray(stored.image) - np.asarray(made.image)).max() <= 0.5 / 255 + 1e-7
    assert not np.array_equal(stored.image, made.image)
