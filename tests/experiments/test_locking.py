"""Tests of experiments.locking: one holder at a time, stale locks of dead processes never block."""

import os
import pathlib
import signal
import socket
import subprocess
import sys

import pytest

from experiments import locking

_HOLDER = """
import sys, time
from experiments import locking
with locking.locked_directory(sys.argv[1], "training run"):
    print("held", flush=True)
    time.sleep(600)
"""


@pytest.fixture
def holder(tmp_path):
    """A second process that holds the lock on tmp_path/run until killed."""
    directory = tmp_path / "run"
    repo = str(pathlib.Path(__file__).resolve().parents[2])
    process = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(directory)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=repo,
    )
    try:
        assert process.stdout.readline().strip() == "held"
        yield directory, process
    finally:
        process.kill()
        process.wait()


def test_a_second_holder_is_refused_naming_the_directory_and_the_holder(holder):
    directory, process = holder
    with pytest.raises(locking.DirectoryInUseError) as refused:
        with locking.locked_directory(directory, "evaluation"):
            pytest.fail("the lock was taken twice")
    message = str(refused.value)
    assert message.startswith(
        f"{directory} is in use by another training run "
        f"(pid {process.pid} on host {socket.gethostname()}, started "
    )
    assert message.endswith(
        "cannot start this evaluation: wait for that one to finish or stop it, "
        "or use another directory"
    )
    assert isinstance(refused.value, ValueError)


def test_the_lock_of_a_killed_process_does_not_block(holder):
    directory, process = holder
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert (directory / locking.LOCK_FILE).exists()  # the stale file stays behind
    with locking.locked_directory(directory, "training run"):
        pass


def test_the_lock_is_released_on_exit_and_on_exceptions(tmp_path):
    directory = tmp_path / "a" / "b"
    with locking.locked_directory(directory, "attack run"):
        assert directory.is_dir()
        with pytest.raises(locking.DirectoryInUseError):
            with locking.locked_directory(directory, "attack run"):
                pass
    with pytest.raises(KeyboardInterrupt):
        with locking.locked_directory(directory, "attack run"):
            raise KeyboardInterrupt
    with locking.locked_directory(directory, "attack run"):
        pass


def test_the_lock_file_names_its_holder(tmp_path):
    with locking.locked_directory(tmp_path, "attack run"):
        recorded = (tmp_path / locking.LOCK_FILE).read_text()
        assert f'"pid": {os.getpid()}' in recorded
        assert "attack run" in recorded
