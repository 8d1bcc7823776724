"""Ford et al. (2019) on a Squiggles model, with the paper's settings: μ from 1,000 draws,
σ(x, 1 %) by bisection on 1,000 fixed draws, PGD of 200 steps that stops at the first
error, the median distance from 1,000 noisy samples, the same in latent space, and
church-window slices.

    python -m experiments.noise_analysis --workdir models/cpu_taylor --out runs/ford_cpu_taylor

runs every analysis named here with this config (`experiments/noise_analysis.py`); one at
a time with the analyse binary:

    python -m experiments.analyse --config experiments/configs/analyses/ford.py:ford_rates \
        --workdir models/cpu_taylor --out runs/ford_cpu_taylor --config.examples=200

The part after the colon names the analyses (default: all four); every field can be
overridden on the command line (`--config.ford_rates.samples=200`).
"""

import ml_collections

from experiments.configs.analyses import paper

FORD = "ford_rates,ford_distance,ford_latent,ford_church"


def get_config(names: str = FORD) -> ml_collections.ConfigDict:
    config = paper.get_config(names)
    config.examples = 200
    config.chunk_size = 100
    return config
