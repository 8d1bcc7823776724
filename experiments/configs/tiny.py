"""A tiny ResNet for tests and smoke runs: seconds on a CPU.

python -m experiments.train --config experiments/configs/tiny.py --workdir /tmp/tiny
"""

from experiments.configs import cpu


def get_config():
    config = cpu.get_config()
    config.resolution = 16
    config.model.stage_sizes = (1, 1)
    config.model.width = 4
    config.model.stem = "small"
    config.optimizer.warmup_steps = 0
    config.batch_size = 8
    config.num_steps = 6
    config.log_every = 2
    config.eval_every = 3
    config.eval_examples = 24
    config.checkpoint_every = 3
    return config
