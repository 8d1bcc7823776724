r"""Trains a ResNet on Squiggles.

    python -m experiments.train --config experiments/configs/cpu.py --workdir runs/cpu_taylor
    python -m experiments.train --config experiments/configs/cpu.py --config.noise.sigma=0.08 \
        --workdir runs/cpu_taylor_noise

Re-running with the same --workdir resumes from its latest checkpoint.
"""

import sys

from absl import app, flags
from ml_collections import config_flags

from experiments import config_overrides, console, parallel
from experiments.training import trainer

_CONFIG = config_flags.DEFINE_config_file("config", None, "Training config file.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints and metrics.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    console.setup()
    parallel.initialize()  # when launched as one process of several (docs/training.md)
    try:
        state = trainer.train_and_evaluate(_CONFIG.value, _WORKDIR.value)
    except (ValueError, FileNotFoundError, PermissionError, FloatingPointError) as error:
        sys.exit(f"error: {error}")
    print(f"trained to step {int(state.step)}; checkpoints and metrics.jsonl in {_WORKDIR.value}")


if __name__ == "__main__":
    config_overrides.run(main)
