"""Data parallelism: how a global batch is split between processes and padded for
the devices (the two-device runs themselves are in tests/experiments/test_devices.py)."""

import numpy as np
import pytest

from experiments import parallel


@pytest.mark.parametrize("processes", [1, 2, 4, 8])
def test_the_slices_of_all_processes_are_the_global_batch_once_in_order(processes):
    slices = [parallel.process_slice(512, index, processes) for index in range(processes)]
    positions = np.concatenate([np.arange(512)[part] for part in slices])
    np.testing.assert_array_equal(positions, np.arange(512))
    assert {part.stop - part.start for part in slices} == {512 // processes}


def test_a_step_holds_the_same_examples_whatever_the_number_of_processes():
    step, batch = 3, 8
    one = np.arange(step * batch, (step + 1) * batch)
    for processes in (2, 4):
        parts = [parallel.process_slice(batch, i, processes) for i in range(processes)]
        made = np.concatenate([step * batch + np.arange(p.start, p.stop) for p in parts])
        np.testing.assert_array_equal(made, one)


def test_bad_partitions_are_clear_errors():
    with pytest.raises(ValueError, match="a batch of 10 does not split over 4 processes"):
        parallel.process_slice(10, 0, 4)
    with pytest.raises(ValueError, match=r"process index must be in \[0, 2\), got 2"):
        parallel.process_slice(8, 2, 2)


def test_padding_repeats_the_last_image_to_a_multiple_of_the_devices():
    images = np.arange(5 * 4, dtype=np.float32).reshape(5, 2, 2)
    padded, count = parallel.padded(images, multiple=4)
    assert count == 5 and padded.shape == (8, 2, 2)
    np.testing.assert_array_equal(padded[5:], np.repeat(images[-1:], 3, axis=0))
    same, count = parallel.padded(images, multiple=5)
    assert count == 5 and same is images


@pytest.mark.parametrize(
    "environ, several",
    [
        ({}, False),
        ({"SLURM_JOB_ID": "7", "SLURM_STEP_NUM_TASKS": "1"}, False),  # alone in an allocation
        ({"SLURM_JOB_ID": "7"}, False),  # a shell of salloc, not srun
        ({"SLURM_JOB_ID": "7", "SLURM_STEP_NUM_TASKS": "4"}, True),
        ({"OMPI_COMM_WORLD_SIZE": "2"}, True),
        ({"OMPI_COMM_WORLD_SIZE": "1"}, False),
        ({"JAX_COORDINATOR_ADDRESS": "host0:1234"}, True),
        ({"JAX_COORDINATOR_ADDRESS": "host0:1234", "SQUIGGLES_DISTRIBUTED": "0"}, False),
        ({"SQUIGGLES_DISTRIBUTED": "1"}, True),
    ],
)
def test_a_multi_host_launch_is_recognised_from_the_launchers_variables(environ, several):
    assert parallel.launched_as_one_of_several(environ) is several
