"""benchmarks/train_throughput.py: bad settings are usage errors before any work."""

import importlib.util
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def benchmark():
    """The script as a module; it imports its neighbour timing.py, as when run."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ROOT / "benchmarks"))
        spec = importlib.util.spec_from_file_location(
            "train_throughput", ROOT / "benchmarks" / "train_throughput.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "args, message",
    [(["--steps", "0"], "--steps must be >= 1, got 0"),
     (["--source-batches", "-2"], "--source-batches must be >= 1, got -2"),
     (["--config", "tiny", "--batch", "0"], "batch_size must be an integer >= 1, got 0")],
)  # fmt: skip
def test_bad_settings_are_usage_errors_naming_the_flag(benchmark, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        benchmark.main(args)
    out, err = capsys.readouterr()
    assert exit_info.value.code == 2 and out == ""
    assert err.splitlines()[-1].endswith(f": error: {message}")  # after the program's name
