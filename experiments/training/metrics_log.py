"""Where training metrics go: a JSON-lines file, TensorBoard, and a progress line.

TensorBoard event files are written with the `tensorboard` package's own writer and
protos, which need no TensorFlow: training on the JAX path never imports it. Where
`tensorboard` is not installed, metrics.jsonl alone is written."""

from __future__ import annotations

import json
import os
import socket
import time

from absl import logging
from etils import epath

from experiments import console


class MetricsWriter:
    """Appends {"step": s, ...} lines to metrics.jsonl and scalars to TensorBoard.

    On resume, lines after the restored step (written by the interrupted run past
    its last checkpoint) are dropped, so every step appears once.
    """

    def __init__(self, workdir: epath.Path, resume_step: int = 0):
        self.path = workdir / "metrics.jsonl"
        if self.path.exists():
            kept = [
                line
                for line in self.path.read_text().splitlines()
                if line and json.loads(line)["step"] <= resume_step
            ]
            self.path.write_text("".join(line + "\n" for line in kept))
        self._file = self.path.open("a")
        self._tensorboard = _event_writer(workdir / "tensorboard")

    def write(self, step: int, scalars: dict[str, float]) -> None:
        self._file.write(json.dumps({"step": step, **scalars}) + "\n")
        self._file.flush()
        if self._tensorboard is None:
            return
        from tensorboard.compat.proto import event_pb2, summary_pb2

        values = [
            summary_pb2.Summary.Value(tag=name, simple_value=float(value))
            for name, value in scalars.items()
            if value is not None  # e.g. ROC-AUC of a batch with one class only
        ]
        event = event_pb2.Event(
            wall_time=time.time(), step=step, summary=summary_pb2.Summary(value=values)
        )
        self._tensorboard.write(event.SerializeToString())
        self._tensorboard.flush()

    def close(self) -> None:
        self._file.close()
        if self._tensorboard is not None:
            self._tensorboard.close()


class NoMetricsWriter:
    """What the processes other than process 0 of a multi-host run write: nothing."""

    def write(self, step: int, scalars: dict[str, float]) -> None:
        pass

    def close(self) -> None:
        pass


def _event_writer(directory: epath.Path):
    """A new TensorBoard event file in `directory`, framed by the `tensorboard`
    package's RecordWriter into a plain file (its EventFileWriter would import
    TensorFlow for tf.io.gfile when installed); None without `tensorboard`."""
    try:
        from tensorboard.compat.proto import event_pb2
        from tensorboard.summary.writer.record_writer import RecordWriter
    except ImportError:
        logging.warning("tensorboard is not installed: metrics go to metrics.jsonl only")
        return None
    directory.mkdir(parents=True, exist_ok=True)
    name = f"events.out.tfevents.{time.time():.0f}.{socket.gethostname()}.{os.getpid()}"
    writer = RecordWriter(open(directory / name, "ab"))  # noqa: SIM115 (closed in close())
    header = event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2")
    writer.write(header.SerializeToString())
    return writer


class Progress:
    """Training's progress line: steps/s over the last interval and the ETA of the run
    (`experiments.console.Progress`)."""

    def __init__(self, total_steps: int, first_step: int):
        self.total = total_steps
        self._progress = console.Progress(total_steps, first_step, unit="steps", interval=True)

    def update(self, step: int) -> dict[str, float]:
        return {"steps_per_second": self._progress.update(step)}

    def line(self, step: int, summary: dict[str, float]) -> str:
        return (
            f"step {step}/{self.total}  loss {summary['loss']:.4f}  "
            f"accuracy {summary['accuracy']:.3f}  lr {summary['learning_rate']:.2e}  "
            f"{self._progress.rate_and_eta('  ')}"
        )
