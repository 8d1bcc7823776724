"""benchmarks/torch_adapter_cost.py: bad settings are usage errors before any work."""

import pytest

from tests.benchmarks.scripts import assert_usage_error, load_script


@pytest.fixture(scope="module")
def benchmark():
    return load_script("torch_adapter_cost")


@pytest.mark.parametrize(
    "args, message",
    [(["--batch", "0"], "--batch must be >= 1, got 0"),
     (["--repeats", "-1"], "--repeats must be >= 1, got -1")],
)  # fmt: skip
def test_bad_settings_are_usage_errors_naming_the_flag(benchmark, capsys, args, message):
    assert_usage_error(benchmark, capsys, args, message)
