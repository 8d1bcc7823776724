"""The Ford et al. analyses at sizes that fit a 2-core CPU (docs/noise.md has the
figures): 100 test images; μ from 500 draws at σ = 0.05 and 0.1; σ(x, 1 %) on 200 fixed
draws to 4·10⁻³; 20 noisy points per image for Fig. 4; latent noise with 200 draws. The
results in docs/ ran the distances and the latent analyses on the first 50 images:

    python -m experiments.noise_analysis --config experiments/configs/analyses/ford_cpu.py \
        --workdir models/cpu_taylor --out runs/ford_cpu_taylor \
        --examples 100 --distance_examples 50 --church_examples 2
"""

import ml_collections

from experiments.configs.analyses import ford


def get_config(names: str = ford.FORD) -> ml_collections.ConfigDict:
    config = ford.get_config(names)
    config.examples = 100
    config.chunk_size = 50
    for name in config.analyses:
        settings = config[name]
        if name == "ford_rates":
            settings.samples = 500
            settings.accuracy_sigmas = (0.025, 0.05, 0.1, 0.2, 0.4, 0.8)
            settings.sigma_samples = 200
            settings.sigma_tol = 4e-3
        elif name == "ford_distance":
            settings.noisy_points = 20
        elif name == "ford_latent":
            settings.sigmas = (0.1, 0.2, 0.4)
            settings.samples = 200
            settings.sigma_samples = 100
    return config
