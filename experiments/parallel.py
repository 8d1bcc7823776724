"""Data parallelism over every device: a one-axis `Mesh` named "data", batches split
along it, parameters and optimizer state replicated. jit partitions the same
programs (GSPMD), so one device and many run the same code.

On several hosts (`jax.distributed.initialize()`, see `initialize`), each process
makes only its own slice of a global batch (`process_slice`) and the slices are
joined into one global array (`global_batch`), so the examples of a step are the
same whatever the number of processes.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "data"


def launched_as_one_of_several(environ: dict[str, str] | None = None) -> bool:
    """Whether this process was started as one of several: SQUIGGLES_DISTRIBUTED=1 (or 0
    to say no), a coordinator address given by hand, or a launcher's task count above
    one (srun of SLURM, mpirun of Open MPI). A lone process in a SLURM allocation is not."""
    environ = os.environ if environ is None else environ
    wanted = environ.get("SQUIGGLES_DISTRIBUTED")
    if wanted is not None:
        return wanted == "1"
    tasks = (environ.get("SLURM_STEP_NUM_TASKS"), environ.get("OMPI_COMM_WORLD_SIZE"))
    return "JAX_COORDINATOR_ADDRESS" in environ or any(int(n or 1) > 1 for n in tasks)


def initialize() -> bool:
    """Joins a multi-host run when launched as one (`launched_as_one_of_several`); True
    when this process is one of several. Started by hand, each process is given
    JAX_COORDINATOR_ADDRESS (host:port of process 0), JAX_NUM_PROCESSES and
    JAX_PROCESS_ID; under SLURM and Open MPI, JAX reads them from the launcher."""
    if launched_as_one_of_several() and not jax.distributed.is_initialized():
        ranks = {}
        for name, variable in (("num_processes", "JAX_NUM_PROCESSES"),
                               ("process_id", "JAX_PROCESS_ID")):  # fmt: skip
            if variable in os.environ:
                ranks[name] = int(os.environ[variable])
        jax.distributed.initialize(**ranks)
    return jax.process_count() > 1


def is_primary() -> bool:
    """Process 0, the one that writes a run's files (lock, config, metrics); orbax
    coordinates the checkpoints of all processes itself."""
    return jax.process_index() == 0


def barrier(name: str) -> None:
    """Waits until every process gets here (nothing to wait for with one)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def mesh() -> Mesh:
    """Every device of every process along the "data" axis."""
    return Mesh(np.array(jax.devices()), (AXIS,))


def replicated(data_mesh: Mesh) -> NamedSharding:
    return NamedSharding(data_mesh, PartitionSpec())


def split(data_mesh: Mesh) -> NamedSharding:
    """Leading axis split over the devices."""
    return NamedSharding(data_mesh, PartitionSpec(AXIS))


def along_data(batch: jax.Array) -> jax.Array:
    """`batch` with its leading axis split over every device. Called on a model's input
    inside a jitted program, it makes XLA partition the model's work (and whatever
    feeds it: noise draws, rendering, PGD steps) over the devices, so the attacks and
    noise analyses need no code of their own for it; there an uneven batch is padded
    by XLA. Eagerly, a batch that does not divide is left whole. One device: a no-op."""
    devices = jax.device_count()
    if devices == 1:
        return batch
    if batch.shape[0] % devices and not isinstance(batch, jax.core.Tracer):
        return batch
    return jax.lax.with_sharding_constraint(batch, split(mesh()))


def check_batch_size(batch_size: int, what: str = "batch_size") -> None:
    """A global batch must split evenly over the devices, and into whole slices per process."""
    devices = jax.device_count()
    if batch_size % devices:
        raise ValueError(
            f"{what} {batch_size} does not split evenly over {devices} devices: use a "
            f"multiple of {devices}"
        )


def process_slice(batch_size: int, index: int | None = None, count: int | None = None) -> slice:
    """The positions in a global batch that process `index` of `count` makes: a
    contiguous block, in process order, so the slices of all processes are the
    whole batch once."""
    index = jax.process_index() if index is None else index
    count = jax.process_count() if count is None else count
    if not 0 <= index < count:
        raise ValueError(f"process index must be in [0, {count}), got {index}")
    if batch_size % count:
        raise ValueError(f"a batch of {batch_size} does not split over {count} processes")
    share = batch_size // count
    return slice(index * share, (index + 1) * share)


def global_batch(local, data_mesh: Mesh):
    """This process's slice of a batch (a pytree of arrays, leading axis the batch) as
    one global array split over the mesh. With one process, the slice is the batch."""
    sharding = split(data_mesh)
    if jax.process_count() == 1:
        return jax.device_put(local, sharding)
    return jax.tree.map(
        lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)), local
    )


def global_copy(batch, data_mesh: Mesh) -> jax.Array:
    """A batch that every process holds whole (evaluation data, made the same by all)
    as one array split over the mesh: each process places its devices' rows."""
    if jax.process_count() == 1:
        return jax.device_put(batch, split(data_mesh))
    whole = np.asarray(batch)
    return jax.make_array_from_callback(whole.shape, split(data_mesh), lambda rows: whole[rows])


def gathered(array: jax.Array) -> np.ndarray:
    """The whole of an array split over the mesh, on every process, as NumPy."""
    if jax.process_count() == 1:
        return np.asarray(array)
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(array, tiled=True))


def padded(images, multiple: int | None = None):
    """`images` padded along the batch axis to a multiple of the device count (by
    repeating the last image), and how many are real, for evaluations whose batch
    does not divide."""
    multiple = multiple or jax.device_count()
    count = images.shape[0]
    extra = -count % multiple
    if extra:  # on the device a JAX array is on: no round trip through the host
        xp = jnp if isinstance(images, jax.Array) else np
        images = xp.concatenate([images, xp.repeat(images[-1:], extra, axis=0)])
    return images, count
