import os
import signal
import time

import numpy as np
import pytest
import shapely

import squiggles
from squiggles import labels


def _figure_eight(n: int = 100) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n)
    return np.stack([np.sin(t), np.sin(t) * np.cos(t)], axis=-1)


def _spiral(n: int = 100) -> np.ndarray:
    t = np.linspace(0, 4 * np.pi, n)
    return np.stack([t * np.cos(t), t * np.sin(t)], axis=-1)


def test_hand_made_curves():
    touching = np.array([[0, 0], [2, 0], [2, 1], [1, 1], [1, 0]], float)  # ends on itself
    backtrack = np.array([[0, 0], [1, 0], [2, 0], [1.5, 0]], float)
    line = np.array([[0, 0], [1, 1], [2, 0]], float)
    assert squiggles.is_self_intersecting(_figure_eight())
    assert not squiggles.is_self_intersecting(_spiral())
    assert squiggles.is_self_intersecting(touching)
    assert squiggles.is_self_intersecting(backtrack)
    assert not squiggles.is_self_intersecting(line)


def test_result_is_a_numpy_bool_array_with_the_batch_shape():
    curves = np.stack([_figure_eight(), _spiral()] * 3).reshape(3, 2, 100, 2)
    labels = squiggles.is_self_intersecting(curves)
    assert isinstance(labels, np.ndarray) and labels.dtype == bool and labels.shape == (3, 2)
    np.testing.assert_array_equal(labels, [[True, False]] * 3)
    assert squiggles.is_self_intersecting(np.zeros((0, 5, 2))).shape == (0,)


def test_vectorised_labels_equal_shapely_one_by_one():
    for family in (squiggles.Taylor(), squiggles.SineNet(width=25)):
        pts = np.asarray(squiggles.points(squiggles.sample_latents(family, 300, seed=5), family))
        expected = [not shapely.LineString(curve).is_simple for curve in pts]
        np.testing.assert_array_equal(squiggles.is_self_intersecting(pts), expected)
        assert 0 < np.mean(expected) < 1


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_points_raise(bad):
    curves = np.stack([_spiral(), _spiral()])
    curves[1, 7, 0] = bad
    with pytest.raises(
        ValueError, match=r"1 curve\(s\) hold NaN or inf, the first at index \(1,\)"
    ):
        squiggles.is_self_intersecting(curves)


@pytest.mark.parametrize("shape", [(5, 3), (1, 2), (2,), (4, 0, 2)])
def test_bad_shapes_raise(shape):
    with pytest.raises(ValueError, match=r"\(\.\.\., num_points, 2\) with num_points >= 2"):
        squiggles.is_self_intersecting(np.zeros(shape))


def test_complex_points_are_refused_not_truncated():
    with pytest.raises(ValueError, match="points must be real numbers, got complex128"):
        squiggles.is_self_intersecting(_spiral().astype(complex))


def test_labels_made_by_several_threads_are_those_made_by_one(monkeypatch):
    monkeypatch.setattr(labels, "CURVES_PER_WORKER", 8)  # so 50 curves split over threads
    family = squiggles.Taylor()
    points = np.asarray(squiggles.points(squiggles.sample_latents(family, 50, seed=4), family))
    one = labels.is_self_intersecting(points, workers=1)
    assert one.any() and not one.all()
    for workers in (2, 3, 7):
        np.testing.assert_array_equal(labels.is_self_intersecting(points, workers=workers), one)
    grid = points.reshape(5, 10, *points.shape[1:])  # leading batch axes keep their shape
    np.testing.assert_array_equal(labels.is_self_intersecting(grid, workers=3), one.reshape(5, 10))


@pytest.mark.parametrize("workers", [0, -1, 1.5, "2"])
def test_a_bad_worker_count_is_refused(workers):
    with pytest.raises(ValueError, match="workers must be an integer >= 1"):
        labels.is_self_intersecting(np.zeros((3, 4, 2)), workers=workers)


# JAX warns of any fork; the child runs no JAX, only NumPy and Shapely.
@pytest.mark.filterwarnings(r"ignore:os.fork\(\) was called:RuntimeWarning")
def test_a_forked_child_labels_with_threads_of_its_own(monkeypatch):
    monkeypatch.setattr(labels, "CURVES_PER_WORKER", 8)
    points = np.asarray(squiggles.points(squiggles.sample_latents(squiggles.Taylor(), 40)))
    expected = labels.is_self_intersecting(points, workers=2)  # the parent's pool exists now
    child = os.fork()
    if child == 0:  # the child inherits the pool object but not its threads
        ok = np.array_equal(labels.is_self_intersecting(points, workers=2), expected)
        os._exit(0 if ok else 1)
    deadline = time.monotonic() + 60
    while (done := os.waitpid(child, os.WNOHANG)) == (0, 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    if done == (0, 0):  # the labels never came: the inherited pool has no threads
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        pytest.fail("the forked child hung labelling with the parent's thread pool")
    assert os.waitstatus_to_exitcode(done[1]) == 0
