"""Session-wide fixtures: tiny trained runs, trained once per test session and shared.

Training even the tiny config costs seconds of compilation, so each run is trained once per
session, not once per test module. Under pytest-xdist every worker is its own process with its
own `tmp_path_factory` base directory (`<session>/popen-gw<i>`); the runs live in the session's
directory above them, and an OS file lock makes the first worker that needs a run train it while
the others wait and then reuse it. A marker file written after training marks a run complete, so
a worker that died mid-training leaves a run the next one trains again from scratch.
"""

import contextlib
import fcntl
import gc
import json
import os
import pathlib
import shutil
import tempfile
import time
from collections.abc import Iterator

import jax
import pytest

from experiments.configs import tiny
from experiments.configs.analyses import ford
from experiments.configs.analyses import tiny as tiny_analyses_config
from experiments.runs import ford_stages, runner
from experiments.training import trainer

DONE = "done.json"


def pytest_configure(config: pytest.Config) -> None:
    """One persistent JAX compilation cache per test session, shared by the xdist workers
    and the binaries that tests run in subprocesses (they inherit the variable): the same
    tiny models and attacks are compiled once, not once per process. A new empty
    directory each session, so no program compiled from other sources is ever reused."""
    if "workerinput" in dir(config) or os.environ.get(CACHE_VARIABLE):
        directory = os.environ.get(CACHE_VARIABLE)
    else:  # the controller (or a run without xdist): make it before any worker starts
        directory = tempfile.mkdtemp(prefix="squiggles-test-jax-cache-")
        _MADE.append(directory)
        os.environ[CACHE_VARIABLE] = directory
        os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
    if directory:  # jax was imported above, before the variable was read: tell it now
        jax.config.update("jax_compilation_cache_dir", directory)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Removes the session's compilation cache (only the process that made it)."""
    for directory in _MADE:
        shutil.rmtree(directory, ignore_errors=True)
        os.environ.pop(CACHE_VARIABLE, None)


CACHE_VARIABLE = "JAX_COMPILATION_CACHE_DIR"
_MADE: list[str] = []  # the cache directory this process made, if any


def session_directory(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The directory this test session's processes share: the xdist controller's base
    directory under xdist, this process's base directory without it."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextlib.contextmanager
def exclusive(lock_path: pathlib.Path) -> Iterator[None]:
    """Blocks until this process alone holds `lock_path` (released by the OS if it dies)."""
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def files_of(directory: pathlib.Path) -> dict[str, tuple[int, int]]:
    """Every file under `directory` with its size and modification time."""
    return {
        str(path.relative_to(directory)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def made_once(tmp_path_factory: pytest.TempPathFactory, name: str, make) -> pathlib.Path:
    """`make(path)` into `<session>/<name>/out` by the first process of the session that
    asks; later askers wait for it and reuse it. A marker written after `make` returns
    marks it complete: the leftovers of a process that died are made again."""
    directory = session_directory(tmp_path_factory) / name
    directory.mkdir(exist_ok=True)
    out, done = directory / "out", directory / DONE
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with exclusive(directory / "lock"):
        if done.exists():
            _log(directory, f"{worker} reused {name}")
        else:
            shutil.rmtree(out, ignore_errors=True)
            start = time.monotonic()
            make(out)
            seconds = time.monotonic() - start
            done.write_text(json.dumps({"made_by": worker, "seconds": round(seconds, 1)}))
            _log(directory, f"{worker} made {name} in {seconds:.1f} s")
    return out


def shared_run(tmp_path_factory: pytest.TempPathFactory, name: str, family: str) -> pathlib.Path:
    """The tiny config trained on `family`, once per session (`made_once`)."""

    def train(path: pathlib.Path) -> None:
        config = tiny.get_config()
        config.family = family
        trainer.train_and_evaluate(config, str(path))

    return made_once(tmp_path_factory, name, train)


def _log(directory: pathlib.Path, line: str) -> None:
    """Who trained and who reused the run, for checking the sharing (`<name>/log`)."""
    with open(directory / "log", "a") as log:
        log.write(line + "\n")


@contextlib.contextmanager
def read_only(run: pathlib.Path) -> Iterator[str]:
    """Yields the run's path and fails at the session's end if a test changed its files."""
    before = files_of(run)
    yield str(run)
    after = files_of(run)
    changed = sorted(
        name for name in before.keys() | after.keys() if before.get(name) != after.get(name)
    )
    assert not changed, (
        f"a test changed the shared run {run} (files {changed[:5]}): copy it with "
        "shutil.copytree before changing it"
    )


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Iterator[str]:
    """Path of a finished run of `experiments/configs/tiny.py` (Taylor family, 6 steps,
    checkpoints at steps 3 and 6), trained once per session and shared by all tests and
    xdist workers. Read-only: a test that changes a run copies it first
    (`shutil.copytree(tiny_run, tmp_path / "run")`); a change fails the session's teardown."""
    with read_only(shared_run(tmp_path_factory, "tiny_run", "taylor")) as path:
        yield path


@pytest.fixture(scope="session")
def tiny_sine_net_run(tmp_path_factory) -> Iterator[str]:
    """As `tiny_run`, with `config.family = "sine_net"`. Read-only: copy it to change it."""
    with read_only(shared_run(tmp_path_factory, "tiny_sine_net_run", "sine_net")) as path:
        yield path


@pytest.fixture
def collect_failed_restores() -> Iterator[None]:
    """Collects, at the end of a test that fails an orbax restore on purpose, the coroutines
    that orbax leaves unawaited, so that they are reported (and filtered) in that test and not
    in whichever test runs when they are collected."""
    yield
    gc.collect()


def shared_analyses(tmp_path_factory: pytest.TempPathFactory, run: str) -> pathlib.Path:
    """Every analysis of `experiments/configs/analyses/tiny.py` on `run`, once per
    session (`made_once`)."""

    def analyse(path: pathlib.Path) -> None:
        config = tiny_analyses_config.get_config(ALL_ANALYSES)
        runner.ChunkedRun(path, run, config).run(log=lambda line: None)

    return made_once(tmp_path_factory, "tiny_analyses", analyse)


ALL_ANALYSES = "pixel,noise,latent,boundary"


@pytest.fixture(scope="session")
def tiny_analyses(tiny_run, tmp_path_factory) -> Iterator[str]:
    """Path of an `experiments.analyse` run directory holding every analysis of
    `experiments/configs/analyses/tiny.py` (pixel, noise, latent and boundary on 10 test
    examples) on `tiny_run`, computed once per session. Read-only, like `tiny_run`: a
    test that runs analyses in it copies it first."""
    with read_only(shared_analyses(tmp_path_factory, tiny_run)) as path:
        yield path


FORD_ANALYSES = ford.FORD
# Whole chunks of 4 (tiny.py): every chunk of an analysis reuses the first one's programs.
FORD_EXAMPLES = {"examples": 8, "distance_examples": 8, "church_examples": 4}


def shared_ford(tmp_path_factory: pytest.TempPathFactory, run: str) -> pathlib.Path:
    """The Ford et al. analyses of `experiments/configs/analyses/tiny.py` on `run`, as
    `experiments.noise_analysis` runs them (`ford_stages.run_all`), once per session
    (`made_once`)."""

    def analyse(path: pathlib.Path) -> None:
        config = tiny_analyses_config.get_config(FORD_ANALYSES)
        ford_stages.run_all(str(path), run, config, FORD_EXAMPLES, log=lambda line: None)

    return made_once(tmp_path_factory, "tiny_ford", analyse)


@pytest.fixture(scope="session")
def tiny_ford(tiny_run, tmp_path_factory) -> Iterator[str]:
    """Path of an `experiments.noise_analysis` run directory on `tiny_run`: ford_rates on
    8 test examples, ford_distance and ford_latent on 8, ford_church on 4 (tiny sizes of
    `experiments/configs/analyses/tiny.py`), computed once per session. Read-only."""
    with read_only(shared_ford(tmp_path_factory, tiny_run)) as path:
        yield path
