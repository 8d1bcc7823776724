"""The analyses a run can compute, by name: every plug-in module imported here, so the
import graph shows them (no module found by a string), and each checked against the
contract (`experiments.analyses.contract`) as it is registered.

Adding an analysis is adding its module to `experiments/analyses/`, to this list, and its
settings to a config in `experiments/configs/analyses/`.
"""

from __future__ import annotations

from types import ModuleType

from experiments.analyses import (
    boundary,
    certify,
    ensemble,
    ford_church,
    ford_distance,
    ford_latent,
    ford_rates,
    latent,
    noise,
    pixel,
    squiggles_c,
)
from experiments.analyses.contract import Analysis, check_module


def register(*modules: ModuleType) -> dict[str, Analysis]:
    """{name: module} of analysis modules, named by their last dotted part, each checked."""
    return {module.__name__.rsplit(".", 1)[-1]: check_module(module) for module in modules}


ANALYSES = register(
    boundary, certify, ensemble, ford_church, ford_distance, ford_latent, ford_rates, latent, noise,
    pixel, squiggles_c,
)  # fmt: skip


def names() -> list[str]:
    """Every analysis available."""
    return sorted(ANALYSES)


def load(name: str) -> Analysis:
    """The module of the analysis `name`, or an error listing the available ones."""
    if not isinstance(name, str) or name not in ANALYSES:
        raise ValueError(f"unknown analysis {name!r}; expected one of {names()}")
    return ANALYSES[name]
