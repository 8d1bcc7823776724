"""What the experiments binaries print: usage text and which log lines reach the console.

The binaries' console as a whole is checked on real runs in
tests/experiments/evaluation/test_clean_report.py."""

import ast
import logging
import pathlib
import re
import sys

import pytest
from absl import flags
from absl import logging as absl_logging

from experiments import console

ROOT = pathlib.Path(__file__).resolve().parents[2]
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
    ours = str(ROOT / "experiments" / "training" / "trainer.py")
    orbax = "/venv/site-packages/orbax/checkpoint/checkpoint_manager.py"
    assert keep(record(logging.INFO, "step 2/6  loss 0.5", ours))
    assert keep(record(logging.INFO, "resumed", "x.py", name="experiments.training.trainer"))
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


PREFIX = re.compile(r"^[IW]\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ trainer\.py:1\] ")


def test_our_info_lines_are_bare_and_warnings_keep_absl_prefix(absl_console):
    ours = str(ROOT / "experiments" / "training" / "trainer.py")
    line = "step 2/6  loss 0.5312  accuracy 0.812"
    assert PREFIX.match(absl_console(record(logging.INFO, line, ours)))  # absl's default
    console.setup()
    assert absl_console(record(logging.INFO, line, ours)) == line
    warning = absl_console(record(logging.WARNING, "the checkpoint at step 6 is bad", ours))
    assert PREFIX.match(warning) and warning.endswith("] the checkpoint at step 6 is bad")


def test_showprefixforinfo_given_on_the_command_line_is_kept(absl_console):
    flags.FLAGS["showprefixforinfo"].present = 1
    console.setup()
    ours = str(ROOT / "experiments" / "training" / "trainer.py")
    assert PREFIX.match(absl_console(record(logging.INFO, "step 2/6", ours)))


class Clock:
    """time.perf_counter for console.Progress, advanced by hand."""

    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_gives_the_rate_and_eta_over_the_session_or_the_last_interval(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(console.time, "perf_counter", clock)
    session = console.Progress(100, unit="examples")
    interval = console.Progress(5000, 1000, unit="steps", interval=True)
    clock.now += 10
    assert session.advance(20) == 2.0 and interval.update(1100) == 10.0
    assert session.rate_and_eta() == "2.00 examples/s, ETA 0:00:40"
    assert interval.rate_and_eta("  ") == "10.00 steps/s  ETA 0:06:30"
    clock.now += 40
    assert session.advance(30) == 1.0 and session.eta() == "0:00:50"  # 50 in 50 s
    assert interval.update(1300) == 5.0 and interval.eta() == "0:12:20"  # the last 40 s only
    assert session.update(120) == 2.4 and session.eta() == "0:00:00"  # never negative


def test_the_training_line_ends_with_the_progress_of_its_last_interval(monkeypatch):
    from experiments.training import metrics_log

    clock = Clock()
    monkeypatch.setattr(console.time, "perf_counter", clock)
    progress = metrics_log.Progress(200, 100)
    clock.now += 4
    summary = {"loss": 0.53125, "accuracy": 0.8125, "learning_rate": 0.001}
    summary.update(progress.update(150))
    assert summary["steps_per_second"] == 12.5
    assert progress.line(150, summary) == (
        "step 150/200  loss 0.5312  accuracy 0.812  lr 1.00e-03  12.50 steps/s  ETA 0:00:04"
    )
