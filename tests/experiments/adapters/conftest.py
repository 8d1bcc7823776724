"""The committed training run models/cpu_taylor, restored once per test process: the
first restore costs seconds, and several test files of the adapters use it."""

import pathlib

import pytest

from experiments.training import trained_run

ROOT = pathlib.Path(__file__).resolve().parents[3]
CPU_TAYLOR = ROOT / "models" / "cpu_taylor"


@pytest.fixture(scope="session")
def cpu_taylor_state():
    """The restored train state of models/cpu_taylor (read-only)."""
    state, _ = trained_run.load_run(str(CPU_TAYLOR))
    return state
