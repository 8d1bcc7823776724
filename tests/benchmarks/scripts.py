"""What the benchmark scripts' tests share: a script loaded as a module (as when run, with
its neighbour timing.py importable), and the check that bad flags are usage errors."""

import importlib.util
import pathlib
from types import ModuleType

import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parents[2] / "benchmarks"


def load_script(name: str) -> ModuleType:
    """benchmarks/{name}.py as a module."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCHMARKS))
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module


def assert_usage_error(script: ModuleType, capsys, args: list[str], message: str) -> None:
    """`script.main(args)` exits with status 2 before printing anything, its last line
    of stderr saying `error: message` after the program's name."""
    with pytest.raises(SystemExit) as exit_info:
        script.main(args)
    out, err = capsys.readouterr()
    assert exit_info.value.code == 2 and out == ""
    assert f": error: {message}" in err.splitlines()[-1]
