"""The analyses a run can compute, one plug-in module each.

What a module must define is the typed Protocol `contract.Analysis` (and the optional
members `contract.OPTIONAL`); `registry` imports every plug-in and checks it. Adding an
analysis is adding a module here, to `registry`, and its settings to a config in
`experiments/configs/analyses/`.
"""

from __future__ import annotations

from types import ModuleType


def names() -> list[str]:
    """Every analysis available (`registry.names`)."""
    from experiments.analyses import registry  # not at import: plug-ins import this package

    return registry.names()


def load(name: str) -> ModuleType:
    """The module of the analysis `name`, or an error listing the available ones."""
    from experiments.analyses import registry

    return registry.load(name)
