"""What the experiments binaries print: usage text and which log lines reach the console.

The binaries' console as a whole is checked on real runs in test_eval_lib.py."""

import ast
import logging
import pathlib
import re

import pytest

from experiments import console

ROOT = pathlib.Path(__file__).resolve().parents[1]
BINARIES = ["train", "evaluate", "figures", "attack", "boundary_distance"]


@pytest.mark.parametrize("name", BINARIES)
def test_usage_text_shows_each_command_as_written(name):
    """absl prints the module docstring as --help/--helpshort text: a backslash at the
    end of a line inside a plain string joins the lines, leaving a run of spaces in the
    command. Each continued line must still end with a backslash."""
    source = (ROOT / "experiments" / f"{name}.py").read_text()
    usage = ast.get_docstring(ast.parse(source), clean=False)
    commands = [line.strip() for line in usage.splitlines() if "python -m" in line]
    assert commands
    for command in commands:
        assert not re.search(r"\S {3,}\S", command), command
    source_lines = [line for line in source.splitlines() if line.rstrip().endswith("\\")]
    assert len([line for line in usage.splitlines() if line.endswith("\\")]) == len(source_lines)


def record(level: int, message: str, pathname: str, name: str = "absl") -> logging.LogRecord:
    return logging.LogRecord(name, level, pathname, 1, message, (), None)


def test_only_our_info_lines_and_everyones_real_warnings_pass():
    keep = console.ProjectLinesFilter().filter
    ours = str(ROOT / "experiments" / "train_lib.py")
    orbax = "/venv/site-packages/orbax/checkpoint/checkpoint_manager.py"
    assert keep(record(logging.INFO, "step 2/6  loss 0.5", ours))
    assert keep(record(logging.INFO, "resumed", "x.py", name="experiments.train_lib"))
    assert not keep(record(logging.INFO, "Saving checkpoint at step 3", orbax))
    assert not keep(
        record(logging.INFO, "Unable to initialize backend 'tpu'", "xla_bridge.py", "jax")
    )
    assert keep(record(logging.WARNING, "Disk almost full", orbax))
    assert keep(record(logging.ERROR, "failed", orbax))
    assert not keep(record(logging.WARNING, "Given directory is read only=%s", orbax))
    assert not keep(record(logging.WARNING, "apitools not found, and bigquery", "x.py", "root"))
