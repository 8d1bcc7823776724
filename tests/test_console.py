"""What the experiments binaries print: usage text and which log lines reach the console.

The binaries' console as a whole is checked on real runs in test_eval_lib.py."""

import ast
import logging
import pathlib
import re
import sys

import pytest
from absl import flags
from absl import logging as absl_logging

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


@pytest.fixture
def absl_console(monkeypatch):
    """How absl's handler formats a record for the console of a binary after app.run
    (INFO verbosity, writing to stderr, --showprefixforinfo not given); setup()'s
    changes are undone afterwards."""
    handler = absl_logging.get_absl_handler()
    monkeypatch.setattr(handler, "filters", list(handler.filters))
    monkeypatch.setattr(flags.FLAGS["verbosity"], "value", 0)
    for name, value in (("value", True), ("present", 0)):
        monkeypatch.setattr(flags.FLAGS["showprefixforinfo"], name, value)
    monkeypatch.delenv(console.SHOW_ALL, raising=False)

    def format_for_stderr(record: logging.LogRecord) -> str:
        monkeypatch.setattr(handler.python_handler, "stream", sys.stderr)  # pytest's, now
        return handler.python_handler.format(record)

    return format_for_stderr


PREFIX = re.compile(r"^[IW]\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ train_lib\.py:1\] ")


def test_our_info_lines_are_bare_and_warnings_keep_absl_prefix(absl_console):
    ours = str(ROOT / "experiments" / "train_lib.py")
    line = "step 2/6  loss 0.5312  accuracy 0.812"
    assert PREFIX.match(absl_console(record(logging.INFO, line, ours)))  # absl's default
    console.setup()
    assert absl_console(record(logging.INFO, line, ours)) == line
    warning = absl_console(record(logging.WARNING, "the checkpoint at step 6 is bad", ours))
    assert PREFIX.match(warning) and warning.endswith("] the checkpoint at step 6 is bad")


def test_showprefixforinfo_given_on_the_command_line_is_kept(absl_console):
    flags.FLAGS["showprefixforinfo"].present = 1
    console.setup()
    ours = str(ROOT / "experiments" / "train_lib.py")
    assert PREFIX.match(absl_console(record(logging.INFO, "step 2/6", ours)))
