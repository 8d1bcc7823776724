"""A small ResNet on Taylor curves that trains on a 2-core CPU in about 30 minutes.

    python -m experiments.train --config experiments/configs/cpu.py --workdir runs/cpu_taylor

The paper's settings (Adam, cosine decay, online data never repeated) with a
ResNet of one basic block per stage and width 32 (1.2 M parameters), batch 128 and
4,000 steps: the run kept in models/cpu_taylor took 29.7 minutes on a 2-core CPU
(docs/training.md).
"""

from experiments.configs import base


def get_config():
    config = base.get_config()
    config.model.stage_sizes = (1, 1, 1, 1)
    config.model.width = 32
    config.model.stem = "imagenet"
    config.optimizer.learning_rate = 2e-3
    config.optimizer.warmup_steps = 200
    config.batch_size = 128
    config.num_steps = 4_000
    config.log_every = 50
    config.eval_every = 1_000
    config.eval_examples = 2_000
    config.checkpoint_every = 500
    return config
