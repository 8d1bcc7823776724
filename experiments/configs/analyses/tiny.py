"""Every analysis in seconds on the tiny test model: 10 examples, 4 PGD iterations.

    python -m experiments.analyse --config experiments/configs/analyses/tiny.py \
        --workdir /tmp/tiny --out /tmp/tiny_analyses
"""

import ml_collections

from experiments.configs.analyses import paper


def get_config(names: str = paper.ATTACKS) -> ml_collections.ConfigDict:
    config = paper.get_config(names)
    config.examples = 10
    config.chunk_size = 4
    for name in config.analyses:
        settings = config[name]
        if name == "latent":
            settings.epsilons = (0.3, 2.4)
        elif name == "boundary":
            settings.epsilons = (0.6, 2.4, 4.8)
            settings.bisection_steps = 12
            settings.attack_epsilon = 1.2  # on the pixel grid below
        else:
            settings.epsilons = (0.3, 1.2, 4.8)
        if "steps" in settings:
            settings.steps = 4 if name != "boundary" else 10
    return config
