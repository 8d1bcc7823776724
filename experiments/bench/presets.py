"""The bench's presets: which analyses a report runs, on how many test examples, with
which budgets. `smoke` checks that a model runs through every analysis in a minute or two
(its figures mean nothing), `quick` measures a model in minutes on a laptop CPU,
`standard` is the setting of the committed leaderboard, `paper` the papers' sizes (for a
GPU).

Every preset runs the same analyses, so every report has the same sections:
  pixel        ℓ2 PGD (100 steps of ε/25), the project's baseline attack;
  ensemble     APGD-CE, APGD with the margin loss and Square, on the same ε grid, and the
               nearest curve of every adversarial image (off the manifold or not);
  latent       latent PGD through the renderer, each attacked latent relabelled (Shapely);
  boundary     the latent distance of each example to the true decision boundary;
  ford_rates   accuracy in Gaussian noise and σ(x, 1 %);
  squiggles_c  the Squiggles-C corruptions.
"""

from __future__ import annotations

import ml_collections

from experiments.analyses import registry

ANALYSES = ("pixel", "ensemble", "latent", "boundary", "ford_rates", "squiggles_c")
PRESETS = ("smoke", "quick", "standard", "paper")

# Per preset: the sizes of each analysis that differ from its defaults (the papers').
_SIZES = {
    "smoke": {
        "examples": 16,
        "chunk_size": 16,
        "pixel_epsilons": (0.3, 1.2),
        "latent_epsilons": (0.3, 1.2),
        "pixel": {"steps": 5, "block": 5},
        "ensemble": {"steps": 5, "restarts": 1, "queries": 10, "manifold_steps": 5},
        "latent": {"steps": 5, "block": 5},
        "boundary": {"epsilons": (0.6, 4.8), "steps": 5, "bisection_steps": 2, "block": 5},
        "ford_rates": {"sigmas": (0.1,), "samples": 10, "accuracy_sigmas": (0.1,),
                       "accuracy_draws": 2, "sigma_samples": 10, "sigma_tol": 0.1},
        "squiggles_c": {"corruptions": ("gaussian_noise", "contrast"), "severities": (3,)},
    },
    "quick": {
        "examples": 50,
        "chunk_size": 50,
        "pixel_epsilons": (0.15, 0.3, 0.6),
        "latent_epsilons": (0.3, 0.6, 1.2),
        "pixel": {"steps": 20},
        "ensemble": {"steps": 20, "restarts": 1, "queries": 100, "manifold_steps": 30},
        "latent": {"steps": 20},
        "boundary": {"epsilons": (0.15, 0.3, 0.6, 1.2, 2.4), "steps": 20,
                     "bisection_steps": 8},
        "ford_rates": {"sigmas": (0.1,), "samples": 10, "accuracy_sigmas": (0.05, 0.1, 0.2),
                       "accuracy_draws": 2, "sigma_samples": 50, "sigma_tol": 0.05},
        "squiggles_c": {"severities": (3,)},
    },
    "standard": {
        "examples": 100,
        "chunk_size": 100,
        "pixel_epsilons": (0.075, 0.15, 0.3, 0.6),
        "latent_epsilons": (0.15, 0.3, 0.6, 1.2),
        "pixel": {"steps": 25},
        "ensemble": {"steps": 25, "restarts": 1, "queries": 200, "manifold_steps": 30},
        "latent": {"steps": 25},
        "boundary": {"epsilons": (0.15, 0.3, 0.6, 1.2, 2.4, 4.8), "steps": 20,
                     "bisection_steps": 10},
        "ford_rates": {"sigmas": (0.1,), "samples": 10, "accuracy_sigmas": (0.05, 0.1, 0.2),
                       "accuracy_draws": 2, "sigma_samples": 50, "sigma_tol": 0.05},
        "squiggles_c": {"severities": (1, 3, 5)},
    },
    "paper": {
        "examples": 2000,
        "chunk_size": 250,
        "pixel_epsilons": (0.01875, 0.0375, 0.075, 0.15, 0.3, 0.6, 1.2, 2.4, 4.8),
        "latent_epsilons": (0.01875, 0.0375, 0.075, 0.15, 0.3, 0.6, 1.2, 2.4, 4.8),
        "pixel": {},
        "ensemble": {"steps": 100, "restarts": 5, "queries": 5000, "manifold_steps": 200},
        "latent": {},
        "boundary": {},
        "ford_rates": {},
        "squiggles_c": {},
    },
}  # fmt: skip


def check_preset(preset: str) -> None:
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; expected one of {', '.join(PRESETS)}")


def config(preset: str) -> ml_collections.ConfigDict:
    """The chunked-run config of a preset: every analysis of ANALYSES with its defaults
    and the preset's sizes; the pixel PGD and the ensemble share one ε grid, and the
    boundary analysis groups the examples that PGD fooled at the grid's middle ε."""
    check_preset(preset)
    sizes = _SIZES[preset]
    run = ml_collections.ConfigDict()
    run.analyses = ANALYSES
    run.examples, run.chunk_size = sizes["examples"], sizes["chunk_size"]
    for name in ANALYSES:
        settings = registry.load(name).default_settings()
        settings.update(sizes[name])
        run[name] = settings
    pixel_grid = sizes["pixel_epsilons"]
    run.pixel.epsilons = run.ensemble.epsilons = pixel_grid
    run.latent.epsilons = sizes["latent_epsilons"]
    run.boundary.attack_epsilon = pixel_grid[len(pixel_grid) // 2]
    return run
