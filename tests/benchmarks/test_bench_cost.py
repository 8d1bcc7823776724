"""benchmarks/bench_cost.py: bad settings are usage errors before any work."""

import pytest

from tests.benchmarks.scripts import assert_usage_error, load_script


@pytest.fixture(scope="module")
def benchmark():
    return load_script("bench_cost")


@pytest.mark.parametrize(
    "args, message",
    [(["--batch", "0"], "--batch must be >= 1, got 0"),
     (["--steps", "-3"], "--steps must be >= 1, got -3"),
     (["--repeats", "0"], "--repeats must be >= 1, got 0"),
     (["--sections", "apgd,fab"],
      "--sections must name some of apgd, square, torch, presets, got 'apgd,fab'"),
     (["--workdir", "no/such/run"], "--workdir no/such/run is not a training run")],
)  # fmt: skip
def test_bad_settings_are_usage_errors_naming_the_flag(benchmark, capsys, args, message):
    assert_usage_error(benchmark, capsys, args, message)
