"""Where training metrics go: a JSON-lines file, TensorBoard, and a progress line."""

from __future__ import annotations

import datetime
import json
import time

from etils import epath

from experiments import console


class MetricsWriter:
    """Appends {"step": s, ...} lines to metrics.jsonl and scalars to TensorBoard.

    On resume, lines after the restored step (written by the interrupted run past
    its last checkpoint) are dropped, so every step appears once.
    """

    def __init__(self, workdir: epath.Path, resume_step: int = 0):
        console.tensorflow_without_gpus()  # before TensorBoard's writer starts TensorFlow
        from flax.metrics import tensorboard

        self.path = workdir / "metrics.jsonl"
        if self.path.exists():
            kept = [
                line
                for line in self.path.read_text().splitlines()
                if line and json.loads(line)["step"] <= resume_step
            ]
            self.path.write_text("".join(line + "\n" for line in kept))
        self._file = self.path.open("a")
        self._tensorboard = tensorboard.SummaryWriter(str(workdir / "tensorboard"))

    def write(self, step: int, scalars: dict[str, float]) -> None:
        self._file.write(json.dumps({"step": step, **scalars}) + "\n")
        self._file.flush()
        for name, value in scalars.items():
            if value is not None:  # e.g. ROC-AUC of a batch with one class only
                self._tensorboard.scalar(name, value, step)
        self._tensorboard.flush()

    def close(self) -> None:
        self._file.close()
        self._tensorboard.close()


class Progress:
    """Steps/s over the last interval and the ETA of the run."""

    def __init__(self, total_steps: int, first_step: int):
        self.total = total_steps
        self._last_step, self._last_time = first_step, time.perf_counter()

    def update(self, step: int) -> dict[str, float]:
        now = time.perf_counter()
        rate = (step - self._last_step) / max(now - self._last_time, 1e-9)
        self._last_step, self._last_time = step, now
        return {"steps_per_second": rate}

    def line(self, step: int, summary: dict[str, float]) -> str:
        rate = summary["steps_per_second"]
        eta = datetime.timedelta(seconds=round((self.total - step) / max(rate, 1e-9)))
        return (
            f"step {step}/{self.total}  loss {summary['loss']:.4f}  "
            f"accuracy {summary['accuracy']:.3f}  lr {summary['learning_rate']:.2e}  "
            f"{rate:.2f} steps/s  ETA {eta}"
        )
