"""Every analysis in seconds on the tiny test model: 10 examples, 4 PGD iterations, a few
dozen noise draws.

    python -m experiments.analyse --config experiments/configs/analyses/tiny.py \
        --workdir /tmp/tiny --out /tmp/tiny_analyses
    python -m experiments.analyse --config experiments/configs/analyses/tiny.py:ford_rates \
        --workdir /tmp/tiny --out /tmp/tiny_ford

The part after the colon names the analyses (default pixel,noise,latent); `ford` names
the four Ford et al. analyses, for experiments.noise_analysis, whose example counts are
its own flags:

    python -m experiments.noise_analysis --config experiments/configs/analyses/tiny.py:ford \
        --workdir /tmp/tiny --out /tmp/tiny_ford --examples 4 --distance_examples 4 \
        --church_examples 1
"""

import ml_collections

from experiments.configs.analyses import ford, paper

# Names that stand for several analyses.
GROUPS = {"ford": ford.FORD}

# The Ford et al. analyses with tiny sizes: tens of draws, a few PGD steps, small grids.
FORD = {
    "ford_rates": dict(sigmas=(0.1, 0.4), samples=40, accuracy_sigmas=(0.1, 0.4),
                       accuracy_draws=3, sigma_samples=40, sigma_tol=0.05, batch=64),
    "ford_distance": dict(steps=60, bisection_steps=6, radius_sigma=0.4, noisy_sigma=0.4,
                          noisy_points=3, manifold_steps=5, batch=64),
    "ford_latent": dict(sigmas=(0.1, 0.4), samples=8, sigma_samples=8, sigma_tol=0.25,
                        steps=10, bisection_steps=4, batch=64),
    "ford_church": dict(grid=5, latent_grid=4, noise_draws=16, noise_doublings=1, steps=10,
                        batch=64),
}  # fmt: skip


# Randomized smoothing with a few dozen draws and a short search for the other class.
CERTIFY = dict(selection_samples=8, samples=40, alpha=0.01, batch=64, epsilons=(0.6, 2.4, 4.8),
               steps=10, crossing_bisection_steps=8, search_iterations=3,
               search_bisection_steps=4)  # fmt: skip


def get_config(names: str = paper.ATTACKS) -> ml_collections.ConfigDict:
    names = ",".join(GROUPS.get(name.strip(), name) for name in names.split(","))
    config = paper.get_config(names)
    config.examples = 10
    config.chunk_size = 4
    for name in config.analyses:
        settings = config[name]
        if name in FORD:
            settings.update(FORD[name])
        elif name == "latent":
            settings.epsilons = (0.3, 2.4)
        elif name == "ensemble":
            settings.epsilons = (0.3, 1.2, 4.8)
            settings.update(queries=8, manifold_steps=3)
        elif name == "certify":
            settings.update(CERTIFY)
        elif name == "boundary":
            settings.epsilons = (0.6, 2.4, 4.8)
            settings.bisection_steps = 12
            settings.attack_epsilon = 1.2  # on the pixel grid below
        else:
            settings.epsilons = (0.3, 1.2, 4.8)
        if "steps" in settings:
            settings.steps = 4 if name != "boundary" else 10
    return config
