"""Analyses with the paper's settings: 100 PGD iterations of step ε/25 over the ε grid
0.01875 … 4.8, in pixel and latent space, on the first 2,000 test examples (500 for the
distance to the true decision boundary).

    python -m experiments.analyse --config experiments/configs/analyses/paper.py \
        --workdir models/cpu_taylor --out runs/attack_cpu_taylor
    python -m experiments.analyse --config experiments/configs/analyses/paper.py:boundary \
        --workdir models/cpu_taylor --out runs/boundary_cpu_taylor \
        --config.boundary.attack_results=runs/attack_cpu_taylor

The part after the colon names the analyses, comma-separated (default
pixel,noise,latent); every field can be overridden on the command line.
"""

import ml_collections

from experiments.analyses import registry

ATTACKS = "pixel,noise,latent"


def get_config(names: str = ATTACKS) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.analyses = tuple(name.strip() for name in names.split(",") if name.strip())
    config.examples = 500 if config.analyses == ("boundary",) else 2000
    config.chunk_size = 250  # examples per saved chunk, and the largest batch
    for name in config.analyses:
        config[name] = registry.load(name).default_settings()
    return config
