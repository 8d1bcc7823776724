"""benchmarks/train_throughput.py: bad settings are usage errors before any work."""

import pytest

from tests.benchmarks.scripts import assert_usage_error, load_script


@pytest.fixture(scope="module")
def benchmark():
    return load_script("train_throughput")


@pytest.mark.parametrize(
    "args, message",
    [(["--steps", "0"], "--steps must be >= 1, got 0"),
     (["--source-batches", "-2"], "--source-batches must be >= 1, got -2"),
     (["--config", "tiny", "--batch", "0"], "batch_size must be an integer >= 1, got 0")],
)  # fmt: skip
def test_bad_settings_are_usage_errors_naming_the_flag(benchmark, capsys, args, message):
    assert_usage_error(benchmark, capsys, args, message)
